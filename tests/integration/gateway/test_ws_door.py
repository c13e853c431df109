"""The WebSocket door against the real reference services, auth on, with the real ``websockets`` client.

A gateway on loopback in front of ``services.server.start_all``; tokens are signed by the reference
AuthService's key (the gateway reads its JWKS). Every close code and frame checked here is the one
docs/websocket-protocol.md promises.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tta.v1 import chat_pb2, session_pb2
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.app import Gateway
from gateway.config import Settings
from gateway.doors._ws_routes import compile_ws_routes
from gateway.errors import ConfigError
from gateway.telemetry.logs import AccessLog
from services.server import RunningFleet, start_all
from services.state import World
from transcoder.template import parse_template

SESSION = "se_ws_1"
PLAYER = "pl_demo"


@dataclass
class Stack:
    gateway: Gateway
    fleet: RunningFleet
    world: World
    access: io.StringIO

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.http_port}"

    def token(self, subject: str = PLAYER, roles: tuple[str, ...] = ("player",), ttl: float = 600) -> str:
        """A token signed by the AuthService's key; a negative ``ttl`` is an expired one."""
        now = time.time()
        extra = {"exp": int(now + ttl)} if ttl <= 0 else {}
        token, _, _ = self.world.issuer.sign(
            "access", subject, now=now, ttl=max(ttl, 1), roles=list(roles), **extra
        )
        return token

    def access_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.access.getvalue().splitlines()]


@asynccontextmanager
async def running(tmp_path: Path, **websocket: Any) -> AsyncIterator[Stack]:
    world = World(stream_delay=0)
    world.sessions[SESSION] = session_pb2.Session(
        session_id=SESSION, player_id=PLAYER, state=session_pb2.SESSION_STATE_ACTIVE
    )
    fleet = await start_all(world=world)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(world.issuer.jwks()))
    settings = Settings.from_mapping(
        {
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": fleet.upstreams(),
            "auth": {"issuer": world.issuer.issuer, "audience": world.issuer.audience, "jwks": str(jwks)},
            "websocket": {"max_message_bytes": 4096, **websocket},
        }
    )
    gateway = await Gateway.build(settings)
    access = io.StringIO()
    gateway.telemetry.access = AccessLog(access)
    logging.getLogger("tta_gateway.access").setLevel(logging.INFO)
    await gateway.start()
    try:
        yield Stack(gateway, fleet, world, access)
    finally:
        await gateway.stop(0.5)
        await fleet.stop()
        logging.getLogger("tta_gateway.access").setLevel(logging.NOTSET)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as s:
        yield s


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def frame(ws: ClientConnection, within: float = 5) -> dict[str, Any]:
    """The next JSON frame, headers frames skipped."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), within)
        value: dict[str, Any] = json.loads(raw)
        if "headers" not in value:
            return value


async def closed(ws: ClientConnection, within: float = 5) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the connection closes: its close code and the JSON frames before it."""
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(within):
            async for raw in ws:
                if isinstance(raw, str):
                    frames.append(json.loads(raw))
    except ConnectionClosed:
        pass
    return (ws.close_code, frames)


async def chat_round_trip(stack: Stack, text: str = "hello") -> None:
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat"
    async with connect(path, additional_headers=bearer(stack.token())) as ws:
        await ws.send(json.dumps({"text": text, "clientMessageId": "c1"}))
        got = await frame(ws)
        assert got["message"]["message"]["text"] == text
        assert got["message"]["message"]["sessionId"] == SESSION  # filled in from the path
        await ws.send(json.dumps({"end": {}}))
        code, frames = await closed(ws)
        assert code == 1000
        assert frames[-1] == {"end": {}}, frames


# --- the conversation ------------------------------------------------------------------------------


async def test_a_chat_round_trip_over_json(stack: Stack) -> None:
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat"
    async with connect(path, additional_headers=bearer(stack.token())) as ws:
        assert ws.response.headers["x-request-id"]
        assert ws.subprotocol is None
        for i, text in enumerate(("one", "two"), start=1):
            await ws.send(json.dumps({"text": text, "clientMessageId": f"c{i}"}))
            got = (await frame(ws))["message"]["message"]
            assert (got["text"], got["clientMessageId"], got["senderId"]) == (text, f"c{i}", PLAYER)
            assert got["sequence"] == str(i)
        await ws.send(json.dumps({"end": {}}))
        code, _ = await closed(ws)
        assert code == 1000
    assert [m.text for m in stack.world.messages[SESSION]] == ["one", "two"]
    line = next(x for x in stack.access_lines() if x["method"] == "WS /ws/v1/sessions/{session_id}/chat")
    assert (line["door"], line["status"]) == ("websocket", "OK")
    metrics = stack.gateway.metrics
    assert metrics is not None
    total = metrics.registry.get_sample_value(
        "tta_gateway_requests_total",
        {"door": "websocket", "method": "WS /ws/v1/sessions/{session_id}/chat", "code": "OK"},
    )
    assert total == 1


async def test_a_chat_round_trip_over_the_protobuf_subprotocol(stack: Stack) -> None:
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat"
    async with connect(path, additional_headers=bearer(stack.token()), subprotocols=["tta.v1.proto"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "tta.v1.proto"
        await ws.send(chat_pb2.ChatRequest(text="binary hello").SerializeToString())
        while isinstance(raw := await asyncio.wait_for(ws.recv(), 5), str):
            assert "headers" in json.loads(raw)  # control frames stay JSON text
        got = chat_pb2.ChatResponse.FromString(raw)
        assert (got.message.text, got.message.session_id) == ("binary hello", SESSION)
        await ws.send(json.dumps({"end": {}}))
        code, frames = await closed(ws)
        assert code == 1000
        assert frames[-1] == {"end": {}}


async def test_the_room_watch_receives_a_message_sent_over_rest(stack: Stack) -> None:
    token = stack.token()
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/room"
    async with connect(path, additional_headers=bearer(token)) as ws:
        await asyncio.sleep(0.2)  # subscribed upstream before the message is posted
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.gateway.http_port}") as client:
            resp = await client.post(
                f"/api/v1/sessions/{SESSION}/messages", json={"text": "over rest"}, headers=bearer(token)
            )
            assert resp.status_code == 200, resp.text
        got = await frame(ws)
        assert got["message"]["message"]["text"] == "over rest"


# --- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "bad", "expired", "wrong role"])
async def test_a_refused_token_closes_1008_with_the_status(stack: Stack, case: str) -> None:
    tokens = {
        "missing": None,
        "bad": "not.a.token",
        "expired": stack.token(ttl=-120),
        "wrong role": stack.token(roles=("researcher",)),
    }
    token = tokens[case]
    headers = bearer(token) if token else {}
    async with connect(f"{stack.base}/ws/v1/sessions/{SESSION}/chat", additional_headers=headers) as ws:
        code, frames = await closed(ws)
    assert code == 1008
    error = frames[0]["error"]
    assert error["code"] == (7 if case == "wrong role" else 16)
    assert "eyJ" not in json.dumps(frames)  # never the token
    assert ws.close_reason in ("unauthenticated", "permission denied")
    assert stack.world.messages.get(SESSION, []) == []


async def test_a_token_in_the_query_or_the_subprotocol_works_and_is_never_logged(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = stack.token()
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat?token={token}"
    async with connect(path) as ws:
        await ws.send(json.dumps({"text": "via query"}))
        assert (await frame(ws))["message"]["message"]["text"] == "via query"
    offered = ["tta.v1.json", f"bearer.{token}"]
    async with connect(f"{stack.base}/ws/v1/sessions/{SESSION}/chat", subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "tta.v1.json"  # the token is never the selected subprotocol
        await ws.send(json.dumps({"text": "via subprotocol"}))
        assert (await frame(ws))["message"]["message"]["text"] == "via subprotocol"
    await asyncio.sleep(0.1)
    assert any("WebSocket" in r.getMessage() for r in caplog.records)  # uvicorn's line was captured
    everything = stack.access.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert token not in everything
    assert token.split(".")[1] not in everything


# --- limits -------------------------------------------------------------------------------------------


async def test_an_oversize_frame_closes_1009_and_another_client_is_served(stack: Stack) -> None:
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat"
    async with connect(path, additional_headers=bearer(stack.token())) as ws:
        await ws.send(json.dumps({"text": "x" * 5000}))
        code, _ = await closed(ws)
    assert code == 1009
    assert stack.world.messages.get(SESSION, []) == []
    await chat_round_trip(stack)


async def test_a_flood_closes_1008_and_another_client_is_served(tmp_path: Path) -> None:
    async with running(tmp_path, receive_queue=2) as stack:
        path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat"
        async with connect(path, additional_headers=bearer(stack.token())) as ws:
            # back to back: the frames reach the gateway faster than any upstream takes them
            for i in range(200):
                await ws.send(json.dumps({"text": f"m{i}"}))
            code, frames = await closed(ws)
        assert code == 1008, frames
        assert ws.close_reason == "too many messages"
        error = next(f["error"] for f in frames if "error" in f)
        assert error["code"] == 8
        assert error["details"][0]["reason"] == "WEBSOCKET_FLOOD"
        await chat_round_trip(stack)


async def test_a_slow_consumer_is_closed_1008_and_another_client_is_served(tmp_path: Path) -> None:
    async with running(tmp_path, send_queue=4) as stack:
        token = stack.token()
        path = f"{stack.base}/ws/v1/sessions/{SESSION}/room"
        # the client reads nothing: its library stops reading the socket after one message
        slow = await connect(path, additional_headers=bearer(token), max_queue=1, max_size=None)
        await asyncio.sleep(0.2)
        text = "y" * 60_000
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.gateway.http_port}") as client:
            for _ in range(400):
                resp = await client.post(
                    f"/api/v1/sessions/{SESSION}/messages", json={"text": text}, headers=bearer(token)
                )
                assert resp.status_code == 200
                if any(x.get("status") == "RESOURCE_EXHAUSTED" for x in stack.access_lines()):
                    break
        assert any(x.get("status") == "RESOURCE_EXHAUSTED" for x in stack.access_lines())
        await chat_round_trip(stack)  # served meanwhile
        code, frames = await closed(slow, within=20)  # now it reads: what got out, then the close
        assert code == 1008
        assert slow.close_reason == "client too slow"
        assert frames[-1]["error"]["details"][0]["reason"] == "WEBSOCKET_SLOW_CONSUMER"


async def test_an_origin_not_allowed_is_refused_403_before_the_handshake(tmp_path: Path) -> None:
    async with running(tmp_path, allowed_origins=["https://app.example.org"]) as stack:
        path = f"{stack.base}/ws/v1/sessions/{SESSION}/chat"
        headers = bearer(stack.token())
        with pytest.raises(InvalidStatus) as refused:
            await connect(path, additional_headers=headers, origin="https://evil.example")  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        assert (
            json.loads(refused.value.response.body or b"{}")["details"][0]["reason"] == "ORIGIN_NOT_ALLOWED"
        )
        for allowed in ("https://app.example.org", f"http://127.0.0.1:{stack.gateway.http_port}", None):
            async with connect(path, additional_headers=headers, origin=allowed) as ws:  # type: ignore[arg-type]
                await ws.send(json.dumps({"text": "hi"}))
                assert (await frame(ws))["message"]["message"]["text"] == "hi"


async def test_the_per_user_connection_cap_closes_1013(tmp_path: Path) -> None:
    async with running(tmp_path, max_connections_per_user=2) as stack:
        path = f"{stack.base}/ws/v1/sessions/{SESSION}/room"
        token = stack.token()
        first = await connect(path, additional_headers=bearer(token))
        second = await connect(path, additional_headers=bearer(token))
        async with connect(path, additional_headers=bearer(token)) as third:
            code, frames = await closed(third)
        assert code == 1013
        assert frames[0]["error"]["details"][0]["reason"] == "WEBSOCKET_CONNECTION_LIMIT"
        other = stack.token(subject="st_therapist", roles=("therapist",))
        async with connect(path, additional_headers=bearer(other)) as ws:  # another user is not capped
            await asyncio.sleep(0.2)
            assert ws.close_code is None
        await first.close()
        await asyncio.sleep(0.2)
        async with connect(path, additional_headers=bearer(token)) as again:  # a slot came free
            await asyncio.sleep(0.2)
            assert again.close_code is None
        await second.close()


async def test_the_per_ip_connection_cap_closes_1013(tmp_path: Path) -> None:
    async with running(tmp_path, max_connections_per_ip=1) as stack:
        path = f"{stack.base}/ws/v1/sessions/{SESSION}/room"
        async with connect(path, additional_headers=bearer(stack.token())):
            async with connect(path, additional_headers=bearer(stack.token())) as second:
                code, _ = await closed(second)
            assert code == 1013


async def test_shutdown_closes_every_connection_1001(stack: Stack) -> None:
    token = stack.token()
    room = await connect(f"{stack.base}/ws/v1/sessions/{SESSION}/room", additional_headers=bearer(token))
    chat = await connect(f"{stack.base}/ws/v1/sessions/{SESSION}/chat", additional_headers=bearer(token))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    stopping = asyncio.ensure_future(stack.gateway.stop(3))
    for ws in (room, chat):
        code, frames = await closed(ws)
        assert code == 1001
        assert frames[-1]["error"]["code"] == 14
    assert time.monotonic() - started < 3
    await stopping


async def test_an_expiring_token_closes_4001_unless_renewed(stack: Stack) -> None:
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/room"
    async with connect(path, additional_headers=bearer(stack.token(ttl=2))) as ws:
        code, frames = await closed(ws, within=6)
    assert (code, ws.close_reason) == (4001, "token expired")
    assert frames[-1]["error"]["details"][0]["reason"] == "TOKEN_EXPIRED"

    async with connect(path, additional_headers=bearer(stack.token(ttl=2))) as ws:
        await ws.send(json.dumps({"reauthenticate": stack.token(ttl=600)}))
        renewed = await frame(ws)
        assert renewed["reauthenticated"]["expiresAt"] > time.time() + 500
        await asyncio.sleep(2.5)
        assert ws.close_code is None  # past the first token's exp, still open

    async with connect(path, additional_headers=bearer(stack.token(ttl=600))) as ws:
        await ws.send(json.dumps({"reauthenticate": stack.token(subject="pl_other", ttl=600)}))
        code, frames = await closed(ws)
    assert code == 1008
    assert frames[-1]["error"]["details"][0]["reason"] == "REAUTHENTICATION_MISMATCH"


async def test_a_revoked_token_ends_its_open_connections_at_once(stack: Stack) -> None:
    """Sign-out or an administrator's revocation reaches an open socket through the denylist's
    listeners (1008, TOKEN_REVOKED), long before the token's exp; another token's socket goes on."""
    path = f"{stack.base}/ws/v1/sessions/{SESSION}/room"
    revoked, jti, _ = stack.world.issuer.sign("access", PLAYER, now=time.time(), roles=["player"])
    kept = stack.token(ttl=600)
    async with (
        connect(path, additional_headers=bearer(revoked)) as ws,
        connect(path, additional_headers=bearer(kept)) as other,
    ):
        await asyncio.sleep(0.3)  # both admitted by the chain
        denylist = stack.gateway.denylist
        assert denylist is not None
        now = time.time()
        await denylist.revoke(jti, now + 600, now)
        code, frames = await closed(ws, within=3)
        assert (code, ws.close_reason) == (1008, "signed out")
        assert frames[-1]["error"]["details"][0]["reason"] == "TOKEN_REVOKED"
        await asyncio.sleep(0.2)
        assert other.close_code is None


# --- routes ---------------------------------------------------------------------------------------


async def test_no_route_is_a_404_and_a_colliding_websocket_path_is_refused(stack: Stack) -> None:
    with pytest.raises(InvalidStatus) as missing:
        await connect(f"{stack.base}/ws/v1/nowhere")
    assert missing.value.response.status_code == 404
    snap = stack.gateway.snapshot
    rest = [b.template for b in snap.bindings]
    with pytest.raises(ConfigError) as clash:
        compile_ws_routes(
            snap.table,
            snap.plans,
            snap.pool,
            snap.router,
            [*rest, parse_template("/ws/v1/sessions/{id}/chat")],
        )
    assert "/ws/v1/sessions/{session_id}/chat" in clash.value.message
    assert "/ws/v1/sessions/{id}/chat" in clash.value.message
