"""Observability of the running demo: correlation ids end to end, /metrics counts, the access log,
health endpoints, and the redaction of everything sensitive the calls carry."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tta.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    player_pb2,
    player_pb2_grpc,
    safety_pb2,
    safety_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)

from tests.e2e._bearer import aio_channel
from tests.e2e.conftest import Demo

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
ECHO = "/tta.v1.DiagnosticsService/Echo"


@pytest.fixture
async def channel(demo: Demo) -> AsyncIterator[grpc.aio.Channel]:
    """Every call carries a staff token (these tests are about the doors; access has its own)."""
    async with aio_channel(demo.target, demo.staff_token) as ch:
        yield ch


def samples(demo: Demo) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body = httpx.get(f"http://127.0.0.1:{demo.admin_port}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(snapshot: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return snapshot.get((name, frozenset(labels.items())), 0.0)


def access_lines(demo: Demo) -> list[dict[str, object]]:
    out = []
    for line in demo.log_lines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "tta_gateway.access":
                out.append(record)
    return out


async def test_upstream_sees_the_callers_trace_with_the_gateway_as_parent(channel: grpc.aio.Channel) -> None:
    stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel)
    call = stub.InspectCall(
        diagnostics_pb2.InspectCallRequest(),
        metadata=(("traceparent", f"00-{TRACE}-{CALLER_SPAN}-01"), ("x-request-id", "e2e-req-1")),
    )
    seen = await call
    version, trace_id, parent_id, flags = seen.traceparent.split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "01")
    assert parent_id != CALLER_SPAN  # the gateway's own span sits between caller and upstream
    assert seen.request_id == "e2e-req-1"
    returned = dict(await call.initial_metadata())
    assert returned["x-request-id"] == "e2e-req-1"
    assert returned["traceparent"].split("-")[1] == TRACE


async def test_request_id_returned_is_the_one_in_the_access_log(
    demo: Demo, channel: grpc.aio.Channel
) -> None:
    call = channel.unary_unary(ECHO)(diagnostics_pb2.EchoRequest(payload=b"x").SerializeToString())
    await call
    request_id = dict(await call.initial_metadata())["x-request-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", request_id)
    lines = [r for r in access_lines(demo) if r.get("request_id") == request_id]
    assert len(lines) == 1, f"expected one access line for {request_id}"
    line = lines[0]
    assert line["door"] == "grpc"
    assert line["method"] == ECHO
    assert line["status"] == "OK"
    assert isinstance(line["duration_ms"], float)
    assert re.fullmatch(r"[0-9a-f]{32}", str(line["trace_id"]))


async def test_an_error_carries_the_request_id_and_is_logged(demo: Demo, channel: grpc.aio.Channel) -> None:
    players = player_pb2_grpc.PlayerServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await players.GetPlayer(
            player_pb2.GetPlayerRequest(player_id="pl_nobody"), metadata=(("x-request-id", "e2e-err-1"),)
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert dict(info.value.trailing_metadata())["x-request-id"] == "e2e-err-1"
    lines = [r for r in access_lines(demo) if r.get("request_id") == "e2e-err-1"]
    assert [r["status"] for r in lines] == ["NOT_FOUND"]


async def test_metrics_count_the_traffic(demo: Demo, channel: grpc.aio.Channel) -> None:
    before = samples(demo)
    echo = channel.unary_unary(ECHO)
    for _ in range(7):
        await echo(diagnostics_pb2.EchoRequest(payload=b"m").SerializeToString())
    with pytest.raises(grpc.aio.AioRpcError):
        await player_pb2_grpc.PlayerServiceStub(channel).GetPlayer(
            player_pb2.GetPlayerRequest(player_id="pl_none")
        )
    after = samples(demo)
    ok = {"door": "grpc", "method": ECHO, "code": "OK"}
    assert (
        value(after, "tta_gateway_requests_total", **ok) - value(before, "tta_gateway_requests_total", **ok)
        == 7
    )
    nf = {"door": "grpc", "method": "/tta.v1.PlayerService/GetPlayer", "code": "NOT_FOUND"}
    assert (
        value(after, "tta_gateway_requests_total", **nf) - value(before, "tta_gateway_requests_total", **nf)
        == 1
    )
    count = {"door": "grpc", "method": ECHO}
    assert (
        value(after, "tta_gateway_request_duration_seconds_count", **count)
        - value(before, "tta_gateway_request_duration_seconds_count", **count)
        == 7
    )
    assert value(after, "tta_gateway_requests_in_flight", door="grpc") == 0
    assert value(after, "tta_gateway_upstream_healthy", upstream="diagnostics") == 1
    # Label values are bounded: methods from the route table, never ids or raw paths.
    labelled = {
        (dict(labels).get("door"), dict(labels).get("method"))
        for (name, labels) in after
        if name == "tta_gateway_requests_total"
    }
    for door, method in labelled:
        if door == "grpc":
            assert str(method).startswith("/tta.")
        else:  # the HTTP and WebSocket doors label by route template, e.g. "GET /api/v1/players/{player_id}"
            assert re.fullmatch(
                r"(GET|POST|PUT|PATCH|DELETE) /api/v\d/[^?]*|WS /ws/v\d/[^?]*", str(method)
            ), method
            assert "pl_" not in str(method)


def test_health_endpoints(demo: Demo) -> None:
    alive = httpx.get(f"http://127.0.0.1:{demo.admin_port}/healthz", timeout=10)
    assert alive.status_code == 200
    ready = httpx.get(f"http://127.0.0.1:{demo.admin_port}/readyz", timeout=10)
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert body["checks"]["upstream diagnostics"] == "ok"


@pytest.fixture
async def plain_channel(demo: Demo) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(demo.target) as ch:
        yield ch


async def test_sensitive_values_are_redacted_in_debug_logs(
    demo: Demo, plain_channel: grpc.aio.Channel
) -> None:
    """Send tokens, PHI and scanned player text through every kind of call; the demo fixture's
    teardown asserts none of them appears in any log line of the whole run (debug level)."""
    channel = plain_channel  # each call below carries its token explicitly
    marker = uuid.uuid4().hex[:10]
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    password = "demo"
    login = await auth.Login(auth_pb2.LoginRequest(username=f"player-{marker}", password=password))
    demo.secrets.update({login.tokens.access_token, login.tokens.refresh_token})
    # a player's own token, on a call a player may make: the token passes the gateway and the upstream
    player_bearer = (("authorization", f"Bearer {login.tokens.access_token}"),)
    refreshed = await auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=login.tokens.refresh_token)
    )
    demo.secrets.update({refreshed.tokens.access_token, refreshed.tokens.refresh_token})
    await auth.Logout(
        auth_pb2.LogoutRequest(),
        metadata=(("authorization", f"Bearer {refreshed.tokens.access_token}"),),
    )
    with pytest.raises(grpc.aio.AioRpcError) as ended:  # signed out: the token is on the denylist
        await auth.Logout(auth_pb2.LogoutRequest(), metadata=player_bearer)
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    bearer = (("authorization", f"Bearer {demo.staff_token}"),)

    players = player_pb2_grpc.PlayerServiceStub(channel)
    secret_password = f"pw-{marker}-hunter2"
    demo.secrets.add(secret_password)
    player = await players.CreatePlayer(
        player_pb2.CreatePlayerRequest(
            player=player_pb2.Player(display_name="Sam", email=f"sam-{marker}@example.org"),
            password=secret_password,
        ),
        metadata=bearer,
    )
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    notes = f"session notes {marker}: feeling low since the move"
    goal = f"goal {marker}: sleep before midnight"
    demo.secrets.update({notes, goal})
    session = await sessions.CreateSession(
        session_pb2.CreateSessionRequest(
            session=session_pb2.Session(
                player_id=player.player.player_id, world_id="wd_quiet_harbour", notes=notes, goals=[goal]
            )
        ),
        metadata=bearer,
    )
    chat = chat_pb2_grpc.ChatServiceStub(channel)
    said = f"chat {marker}: I have not told anyone this"
    demo.secrets.add(said)
    await chat.SendMessage(
        chat_pb2.SendMessageRequest(
            session_id=session.session.session_id, client_message_id=marker, text=said
        ),
        metadata=bearer,
    )
    talk = chat.Chat(metadata=bearer)
    streamed = f"bidi {marker}: still here"
    demo.secrets.add(streamed)
    await talk.write(
        chat_pb2.ChatRequest(
            session_id=session.session.session_id, client_message_id=f"b{marker}", text=streamed
        )
    )
    await talk.read()
    await talk.done_writing()
    crisis = f"crisis {marker}: I want to die"
    demo.secrets.add(crisis)
    await safety_pb2_grpc.SafetyServiceStub(channel).AssessContent(
        safety_pb2.AssessContentRequest(text=crisis), metadata=bearer
    )
    # The debug lines exist (so the check is not vacuous) and carry redacted placeholders.
    debug = [line for line in demo.log_lines() if '"call received"' in line]
    assert debug, "no debug lines: the redaction check would prove nothing"
    assert any("<redacted:" in line for line in debug)
