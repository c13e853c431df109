"""Door parity: one table of scenarios, run through every door, with the same outcome on each.

A real gateway in front of a real typed upstream (grpc.aio on loopback), driven through the gRPC
door (grpc.aio client) and the REST door (httpx). Each scenario runs on every door and its
``Outcome`` — status, message, details, messages, returned metadata — must meet the scenario's
expectations *and* match the other doors'. A door joins by adding an adapter in ``doors.py`` and a
fixture entry below.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest

from gateway.app import Gateway
from gateway.chain.call import Call, MessageView, Reply
from gateway.chain.chain import Step
from gateway.config import Settings
from gateway.errors import Refused
from gateway.routes import Route
from gateway.telemetry.logs import AccessLog
from tests.integration.parity.doors import (
    DoorClient,
    GrpcClient,
    HttpClient,
    Outcome,
    WsClient,
    raw_grpc_unary,
)
from tests.integration.parity.typed_upstream import (
    CHAT,
    ECHO,
    ERROR_MESSAGE,
    GET_PLAYER,
    WATCH,
    TypedUpstream,
    start_typed_upstream,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ECHO_DEFAULT_S = 7.0


class Marker(Step):
    """A test step declared for three routes: it changes Echo's request and response, renames every
    streamed message, drops and refuses chat messages by their text — and is absent elsewhere."""

    name = "marker"
    ROUTES = (ECHO, WATCH, CHAT)

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.responses: dict[tuple[str, str], int] = {}

    def for_route(self, route: Route) -> Step | None:
        return self if route.path in self.ROUTES else None

    async def before(self, call: Call) -> Reply | None:
        # Answers the call itself (as a cache hit would) when asked to by the caller.
        if ("x-marker", "reply") in call.metadata and call.route.path == ECHO:
            return Reply((b"\x0a\x0dfrom the step",))
        # Refuses as an identity step will: no valid token, or a missing permission.
        if ("x-marker", "unauthenticated") in call.metadata:
            raise Refused(
                grpc.StatusCode.UNAUTHENTICATED,
                "Please sign in again to continue.",
                reason="TOKEN_EXPIRED",
                info={"bearer_error": "invalid_token"},
            )
        if ("x-marker", "forbidden") in call.metadata:
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                "This needs the permission sessions.read.",
                reason="PERMISSION_MISSING",
                info={"permission": "sessions.read"},
            )
        return None

    @staticmethod
    def _count(seen: dict[tuple[str, str], int], call: Call) -> None:
        key = (call.door.value, call.route.path)
        seen[key] = seen.get(key, 0) + 1

    async def on_request(self, call: Call, view: MessageView) -> None:
        self._count(self.requests, call)
        message: Any = view.message  # of the gateway's own descriptor pool: compare by name
        kind = message.DESCRIPTOR.full_name
        if kind == "tta.v1.EchoRequest" and message.payload == b"mark":
            view.replace(type(message)(payload=b"marked:" + message.payload))
        if kind == "tta.v1.ChatRequest":
            if message.text == "drop me":
                view.drop()
            elif message.text == "refuse me":
                raise Refused(
                    grpc.StatusCode.PERMISSION_DENIED, "message refused by the marker", reason="MARKED"
                )

    async def on_response(self, call: Call, view: MessageView) -> None:
        self._count(self.responses, call)
        message: Any = view.message
        if message.DESCRIPTOR.full_name == "tta.v1.EchoResponse" and message.payload == b"from the step":
            view.replace(type(message)(payload=b"from the step+seen"))
        if message.DESCRIPTOR.full_name in ("tta.v1.WatchRoomResponse", "tta.v1.ChatResponse"):
            changed = type(message)()
            changed.CopyFrom(message)
            changed.message.text = message.message.text + "!"
            view.replace(changed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    gateway: Gateway
    upstream: TypedUpstream
    spare: grpc.aio.Server  # the second live target of tta.v1.*, stopped by the failover scenario
    marker: Marker
    access: io.StringIO
    doors: dict[str, DoorClient]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    server, upstream, port = await start_typed_upstream()
    spare, _, spare_port = await start_typed_upstream(upstream)
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": [
                {
                    "services": ["tta.v1.*"],
                    "targets": [f"127.0.0.1:{spare_port}", f"127.0.0.1:{port}"],
                    # health must not notice the stopped target before the calls do
                    "health_check_interval_seconds": 600,
                },
                {"services": ["tta.v2.*"], "targets": [f"127.0.0.1:{_free_port()}"]},
            ],
            "deadlines": {"routes": {ECHO: {"default_seconds": ECHO_DEFAULT_S}}},
            # The typed upstream's WatchRoom and Chat are scripted streams, not rooms: this suite compares
            # how every door relays a stream. Rooms delivered from the room log (the WebSocket door's
            # default) have their own tests, tests/integration/gateway/test_ws_rooms.py.
            "websocket": {"room_log": False},
        }
    )
    marker = Marker()
    gateway = await Gateway.build(settings, steps=[marker])
    access = io.StringIO()
    gateway.telemetry.access = AccessLog(access)
    logging.getLogger("tta_gateway.access").setLevel(logging.INFO)
    await gateway.start()
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client,
    ):
        yield World(
            gateway,
            upstream,
            spare,
            marker,
            access,
            {
                "grpc": GrpcClient(channel),
                "http": HttpClient(client),
                "websocket": WsClient(f"ws://127.0.0.1:{gateway.http_port}"),
            },
        )
    await gateway.stop(0)
    await server.stop(0)
    await spare.stop(0)
    logging.getLogger("tta_gateway.access").setLevel(logging.NOTSET)


DOORS = ("grpc", "http", "websocket")
# The WebSocket door bridges only the streaming methods the contracts give a WebSocket path (Chat,
# WatchRoom): every scenario built on a unary call (Echo, GetPlayer) has no WebSocket path to run on.
WEBSOCKET_SCENARIOS = frozenset(
    {
        "step_sees_every_message_of_a_server_stream",
        "step_sees_every_message_of_a_bidi_stream",
        "step_refuses_one_message_mid_stream",
        "trailers_only_failure_of_a_stream",
    }
)


def _payload(outcome: Outcome) -> bytes:
    return base64.b64decode(outcome.messages[0]["payload"])


# --- the scenarios: each returns the outcome per door, after checking each door's own ---------------

Scenario = Callable[[World, DoorClient], Awaitable[Outcome]]


async def success(w: World, door: DoorClient) -> Outcome:
    out = await door.echo(b"hello", metadata=[("x-request-id", f"rid-{door.name}")])
    assert out.code == 0, out
    assert _payload(out) == b"hello"
    assert out.metadata["x-request-id"] == f"rid-{door.name}"
    assert out.metadata["x-up-trailer"] == "bye"
    return out


async def upstream_error_with_details(w: World, door: DoorClient) -> Outcome:
    out = await door.get_player("p1", metadata=[("x-behaviour", "error")])
    assert (out.code, out.message) == (3, ERROR_MESSAGE)
    assert out.detail("google.rpc.BadRequest")["fieldViolations"][0]["field"] == "player_id"
    assert out.metadata["x-up-trailer"] == "error-trailer"
    if out.http_status is not None:
        assert out.http_status == 400
    return out


async def failover_with_a_dead_target(w: World, door: DoorClient) -> Outcome:
    await w.spare.stop(0)  # killed after start: health has not noticed, calls must fail over
    outs = [await door.echo(f"call {i}".encode()) for i in range(6)]
    assert [o.code for o in outs] == [0] * 6, [o.message for o in outs]
    return outs[-1]


async def no_target_answers(w: World, door: DoorClient) -> Outcome:
    out = await door.get_player("p1", version=2)
    assert out.code == 14, out
    info = out.detail("google.rpc.ErrorInfo")
    assert (info["reason"], info["domain"]) == ("UPSTREAM_UNAVAILABLE", "gateway.tta")
    assert info["metadata"]["service"] == "tta.v2.PlayerService"
    assert out.detail("google.rpc.RequestInfo")["requestId"] == out.metadata["x-request-id"]
    if out.http_status is not None:
        assert out.http_status == 503
    return out


async def deadline_exceeded(w: World, door: DoorClient) -> Outcome:
    out = await door.echo(b"", metadata=[("x-behaviour", "hang")], grpc_timeout="300m")
    assert out.code == 4, out
    assert await asyncio.wait_for(w.upstream.cancelled.get(), 5) == ECHO
    if out.http_status is not None:
        assert out.http_status == 504
    return out


async def default_deadline_on_every_door(w: World, door: DoorClient) -> Outcome:
    out = await door.echo(b"", metadata=[("x-behaviour", "deadline")])
    assert out.code == 0
    seen = float(_payload(out))
    # grpc-timeout travels rounded up to its unit: a few milliseconds over the default at most
    assert ECHO_DEFAULT_S - 1 < seen <= ECHO_DEFAULT_S + 0.05, seen
    return Outcome(0)  # the figure itself differs by a few microseconds between doors


async def metadata_allowlist(w: World, door: DoorClient) -> Outcome:
    md = [
        ("x-behaviour", "metadata"),
        ("x-custom", "kept"),
        ("x-request-id", "rid-md"),
        ("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01"),
        ("x-tta-subject", "pl_somebody_else"),  # only the gateway may vouch for an identity
        ("x-tta-roles", "admin"),
    ]
    out = await door.echo(b"", metadata=md)
    assert out.code == 0
    seen = dict(line.split("=", 1) for line in _payload(out).decode().splitlines())
    assert seen["x-custom"] == "kept"
    assert not any(k.startswith("x-tta-") for k in seen), seen
    assert seen["x-request-id"] == "rid-md"
    assert seen["traceparent"].split("-")[1] == TRACE
    assert seen["traceparent"].split("-")[2] != "00f067aa0ba902b7"  # the gateway's span is the parent
    assert not any(k.startswith("grpc-") and k != "grpc-accept-encoding" for k in seen)
    assert out.metadata["traceparent"].split("-")[1] == TRACE
    return Outcome(0, messages=[{"seen": sorted(k for k in seen if k.startswith("x-"))}])


@pytest.mark.parametrize("value", ["tab\there", "obs\xfftext", "del\x7f", "nul\x00", "cr\rlf"])
async def test_a_metadata_value_grpc_forbids_is_refused_and_the_door_keeps_serving(
    world: World, value: str
) -> None:
    """grpc's clients refuse to send such values, other HTTP/2 peers do not; gRPC's ASCII-Value is
    printable ASCII. The gRPC door answers INVALID_ARGUMENT naming the key (it once never answered),
    the REST door 400 — and both go on serving."""
    port = world.gateway.grpc_port
    raw = await raw_grpc_unary(port, ECHO, b"", [("x-custom", value)])
    if raw.code == -1:
        # grpc core itself refused the header block before the gateway saw it (a stream reset): the
        # door still has to go on serving, which the calls below check
        assert "\x00" in value or "\r" in value, raw
    else:
        assert raw.code == 3, raw
        assert "x-custom" in raw.message
    if not any(c in value for c in "\x00\r\x7f"):  # what an HTTP/1.1 client can send at all
        client = world.doors["http"].client  # type: ignore[attr-defined]
        resp = await client.post(
            "/api/v1/diagnostics:echo",
            json={},
            headers=[(b"grpc-metadata-x-custom", value.encode("latin-1"))],
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["details"][0]["reason"] == "INVALID_METADATA"
    assert world.upstream.calls.get(ECHO, 0) == 0
    for name in ("grpc", "http"):  # Echo is unary: it has no WebSocket path
        assert (await world.doors[name].echo(b"still here")).code == 0


async def step_changes_a_unary_call(w: World, door: DoorClient) -> Outcome:
    out = await door.echo(b"mark")
    assert _payload(out) == b"marked:mark"
    assert w.marker.requests[(door.name, ECHO)] == 1
    assert w.marker.responses[(door.name, ECHO)] == 1
    return out


async def step_sees_every_message_of_a_server_stream(w: World, door: DoorClient) -> Outcome:
    out = await door.watch("se_1")
    assert out.code == 0, out
    assert [m["message"]["text"] for m in out.messages] == ["m0!", "m1!", "m2!"]
    assert w.marker.requests[(door.name, WATCH)] == 1
    assert w.marker.responses[(door.name, WATCH)] == 3
    assert out.metadata["x-up-initial"] == "hello"
    return out


async def step_sees_every_message_of_a_bidi_stream(w: World, door: DoorClient) -> Outcome:
    out = await door.chat("se_1", ["one", "drop me", "two"])
    assert out.code == 0, out
    assert [m["message"]["text"] for m in out.messages] == ["one!", "two!"]
    assert w.upstream.received == ["one", "two"]
    assert w.marker.requests[(door.name, CHAT)] == 3
    assert w.marker.responses[(door.name, CHAT)] == 2
    return out


async def step_refuses_one_message_mid_stream(w: World, door: DoorClient) -> Outcome:
    out = await door.chat("se_1", ["one", "refuse me", "two"])
    assert (out.code, out.message) == (7, "message refused by the marker"), out
    assert out.detail("google.rpc.ErrorInfo")["reason"] == "MARKED"
    assert "two" not in w.upstream.received
    return Outcome(out.code, out.message, out.details)  # how many answers got out first is a race


async def step_answers_the_call_itself(w: World, door: DoorClient) -> Outcome:
    out = await door.echo(b"ignored", metadata=[("x-marker", "reply")])
    assert out.code == 0, out
    assert _payload(out) == b"from the step+seen"  # the step's own answer passed the response hooks
    assert w.upstream.calls.get(ECHO, 0) == 0
    return out


async def refusals_of_identity_and_access(w: World, door: DoorClient) -> Outcome:
    """UNAUTHENTICATED and PERMISSION_DENIED from a step: the status, the reason, and on REST 401 with
    an RFC 6750 challenge and 403 — before any upstream call."""
    unauthenticated = await door.echo(b"", metadata=[("x-marker", "unauthenticated")])
    forbidden = await door.echo(b"", metadata=[("x-marker", "forbidden")])
    assert (unauthenticated.code, forbidden.code) == (16, 7)
    assert unauthenticated.detail("google.rpc.ErrorInfo")["reason"] == "TOKEN_EXPIRED"
    assert forbidden.detail("google.rpc.ErrorInfo")["metadata"] == {"permission": "sessions.read"}
    if unauthenticated.http_status is not None:
        assert (unauthenticated.http_status, forbidden.http_status) == (401, 403)
        assert unauthenticated.metadata["www-authenticate"] == 'Bearer realm="tta", error="invalid_token"'
        assert "www-authenticate" not in forbidden.metadata
    assert w.upstream.calls.get(ECHO, 0) == 0
    return Outcome(unauthenticated.code, unauthenticated.message, unauthenticated.details)


async def trailers_only_failure_of_a_stream(w: World, door: DoorClient) -> Outcome:
    """An upstream that fails before any message: an ordinary error on every door (REST: a 4xx
    status, not a 200 with an in-band item), for a server stream and a bidirectional one."""
    outs = [
        await door.watch("se_1", metadata=[("x-behaviour", "fail-first")]),
        await door.chat("se_1", ["one"], metadata=[("x-behaviour", "fail-first")]),
    ]
    for out in outs:
        assert (out.code, out.message, out.messages) == (3, ERROR_MESSAGE, []), out
        if out.http_status is not None:
            assert out.http_status == 400
    return outs[1]


async def step_costs_nothing_where_undeclared(w: World, door: DoorClient) -> Outcome:
    out = await door.get_player("p1")
    assert out.code == 0
    assert not any(path == GET_PLAYER for _, path in (*w.marker.requests, *w.marker.responses))
    plan = w.gateway.snapshot.plans.get(GET_PLAYER)
    assert plan is not None
    assert (plan.request_hooks, plan.response_hooks) == ((), ())
    assert [s.name for s in plan.befores] == ["metadata", "deadline"]  # the marker's is left out too
    return out


async def access_line_and_metrics(w: World, door: DoorClient) -> Outcome:
    rid = f"rid-access-{door.name}"
    out = await door.echo(b"x", metadata=[("x-request-id", rid)])
    lines = [json.loads(line) for line in w.access.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == rid]
    assert len(mine) == 1, lines
    assert (mine[0]["door"], mine[0]["status"]) == (door.name, "OK")
    metrics = w.gateway.metrics
    assert metrics is not None
    label = ECHO if door.name == "grpc" else "POST /api/v1/diagnostics:echo"
    total = metrics.registry.get_sample_value(
        "tta_gateway_requests_total", {"door": door.name, "method": label, "code": "OK"}
    )
    assert total == 1
    return Outcome(out.code, messages=[{"line": sorted(mine[0])}])


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in (
        success,
        upstream_error_with_details,
        failover_with_a_dead_target,
        no_target_answers,
        deadline_exceeded,
        default_deadline_on_every_door,
        metadata_allowlist,
        step_changes_a_unary_call,
        step_sees_every_message_of_a_server_stream,
        step_sees_every_message_of_a_bidi_stream,
        step_refuses_one_message_mid_stream,
        step_answers_the_call_itself,
        refusals_of_identity_and_access,
        trailers_only_failure_of_a_stream,
        step_costs_nothing_where_undeclared,
        access_line_and_metrics,
    )
}


def _comparable(out: Outcome) -> dict[str, Any]:
    """What must be equal across doors: code, message, the details but their request ids, messages."""
    details = [{k: v for k, v in d.items() if k != "requestId"} for d in out.details]
    return {"code": out.code, "message": out.message, "details": details, "messages": out.messages}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_door_gives_the_same_outcome(world: World, scenario: str) -> None:
    outcomes: dict[str, dict[str, Any]] = {}
    doors = [d for d in DOORS if d != "websocket" or scenario in WEBSOCKET_SCENARIOS]
    for name in doors:
        # each door starts from the same state: the scenario's own upstream and counters
        world.upstream.received.clear()
        world.upstream.calls.clear()
        outcomes[name] = _comparable(await SCENARIOS[scenario](world, world.doors[name]))
        if scenario == "failover_with_a_dead_target":
            continue  # the spare stays down for the next door: it must fail over too
    first, *others = outcomes.values()
    for name, outcome in zip(doors[1:], others, strict=True):
        assert outcome == first, f"{name} differs from {doors[0]}"


async def test_spent_deadlines_are_refused_the_same_way_every_time(world: World) -> None:
    http = world.doors["http"]
    for timeout in ("0S", "1n", "0S", "1n", "1u"):
        out = await http.echo(b"", grpc_timeout=timeout)
        assert (out.code, out.http_status) == (4, 504), (timeout, out)
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "DEADLINE_SPENT"
    assert world.upstream.calls.get(ECHO, 0) == 0
