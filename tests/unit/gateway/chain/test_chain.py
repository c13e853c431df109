"""The chain, without sockets: what compiling puts in each route's plan, the order hooks run in, a
step answering the call itself, and a message seen through a MessageView."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import message_factory

from gateway.chain.call import Call, Door, MessageView, Reply
from gateway.chain.chain import Plans, Step, compile_plans
from gateway.config import Settings
from gateway.descriptors import build_pool, embedded_descriptor_set
from gateway.errors import Refused
from gateway.routes import Route, compile_routes
from gateway.telemetry.calls import Telemetry
from gateway.telemetry.logs import AccessLog
from gateway.upstream.pool import Upstream

ECHO = "/tta.v1.DiagnosticsService/Echo"
GET_PLAYER = "/tta.v1.PlayerService/GetPlayer"
CHAT = "/tta.v1.ChatService/Chat"


class Recorder(Step):
    """Records the hooks it runs, for the routes it is given."""

    def __init__(self, name: str, paths: tuple[str, ...], log: list[str], reply: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.paths = paths
        self.log = log
        self.reply = reply

    def for_route(self, route: Route) -> Step | None:
        return self if route.path in self.paths else None

    async def before(self, call: Call) -> Reply | None:
        self.log.append(f"{self.name}.before")
        return Reply((b"",)) if self.reply else None


class Decider(Step):
    name = "decider"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def decide(self, call: Call) -> Reply | None:
        self.log.append("decider.decide")
        return None


class Watcher(Step):
    name = "watcher"

    async def on_request(self, call: Call, view: MessageView) -> None:
        return None


@pytest.fixture
async def upstreams() -> AsyncIterator[dict[str, Upstream]]:
    settings = Settings.from_mapping(
        {"upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": ["127.0.0.1:1"]}]}
    )
    upstream = Upstream("tta.v1.*", settings.upstreams[0], [])
    yield {"tta.v1.*": upstream}
    await upstream.close()


def _plans(upstreams: dict[str, Upstream], steps: list[Step]) -> Plans:
    settings = Settings.from_mapping(
        {"upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": ["127.0.0.1:1"]}]}
    )
    fds = embedded_descriptor_set()
    table = compile_routes(fds, settings.upstreams)
    return compile_plans(table, upstreams, Telemetry(None, AccessLog(enabled=False)), build_pool(fds), steps)


async def test_a_step_is_compiled_only_into_the_routes_it_applies_to(upstreams: dict[str, Upstream]) -> None:
    log: list[str] = []
    plans = _plans(upstreams, [Recorder("a", (ECHO,), log), Watcher()])
    echo, player = plans.get(ECHO), plans.get(GET_PLAYER)
    assert echo is not None
    assert player is not None
    assert [s.name for s in echo.befores] == ["a"]
    assert player.befores == ()
    # a hook a step does not override is never part of a plan
    assert [s.name for s in echo.request_hooks] == ["watcher"]
    assert (echo.response_hooks, echo.afters) == ((), ())


async def test_hooks_run_in_chain_order_and_a_reply_ends_the_before_phase(
    upstreams: dict[str, Upstream],
) -> None:
    log: list[str] = []
    plans = _plans(
        upstreams, [Decider(log), Recorder("a", (ECHO,), log, reply=True), Recorder("b", (ECHO,), log)]
    )
    plan = plans.get(ECHO)
    assert plan is not None
    call = plan.open(Door.GRPC, [("x-request-id", "r1")], None)
    response = await plan.unary(call)  # answered by "a": no upstream is called
    call.finish(grpc.StatusCode.OK)
    assert response.payload == b""
    assert log == ["decider.decide", "a.before"]
    assert call.scope.finished


async def test_a_message_view_decodes_once_and_encodes_only_a_change(upstreams: dict[str, Upstream]) -> None:
    plan = _plans(upstreams, []).get(ECHO)
    assert plan is not None
    raw = plan.request_cls(payload=b"hi").SerializeToString()
    view = MessageView(raw, plan.request_cls)
    assert view.raw is raw  # untouched: the same bytes go on
    message = view.message
    assert view.message is message  # decoded once
    view.replace(plan.request_cls(payload=b"ho"))
    assert view.changed
    assert plan.request_cls.FromString(view.raw).payload == b"ho"


async def test_bytes_that_are_not_the_message_are_invalid_argument(upstreams: dict[str, Upstream]) -> None:
    plan = _plans(upstreams, []).get(CHAT)
    assert plan is not None
    view = MessageView(b"\xff\xff\xff", plan.request_cls)
    with pytest.raises(Refused) as info:
        _ = view.message
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.message == "the message is not a valid tta.v1.ChatRequest"


def test_message_classes_come_from_the_gateways_pool() -> None:
    pool = build_pool(embedded_descriptor_set())
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("tta.v1.EchoRequest"))
    assert cls.DESCRIPTOR.full_name == "tta.v1.EchoRequest"


async def test_a_response_that_is_not_the_message_is_the_upstreams_fault(
    upstreams: dict[str, Upstream],
) -> None:
    plan = _plans(upstreams, []).get(CHAT)
    assert plan is not None
    view = MessageView(b"\xff\xff\xff", plan.response_cls, from_upstream=True)
    with pytest.raises(Refused) as info:
        _ = view.message
    assert info.value.code is grpc.StatusCode.INTERNAL
    assert info.value.reason == "MALFORMED_UPSTREAM_MESSAGE"
