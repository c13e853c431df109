"""Rooms from the room log, in one gateway process: one order with consecutive sequence numbers for
every participant, messages from every door, resume by sequence, and an explicit gap beyond retention
(issue 10 items 4-5; docs/websocket-protocol.md "Rooms"). Real reference services, auth on, the real
``websockets`` client, the log in a real Redis (and in memory for the order).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from tta.v1 import chat_pb2, session_pb2
from websockets.asyncio.client import ClientConnection, connect

from gateway.app import Gateway
from gateway.config import Settings
from services.server import RunningFleet, start_all
from services.state import World

PLAYER = "pl_demo"
SEND = "/tta.v1.ChatService/SendMessage"


@dataclass
class Stack:
    gateway: Gateway
    fleet: RunningFleet
    world: World
    session: str

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.http_port}/ws/v1/sessions/{self.session}"

    def token(self, subject: str = PLAYER, roles: tuple[str, ...] = ("player",)) -> str:
        token, _, _ = self.world.issuer.sign("access", subject, now=time.time(), ttl=600, roles=list(roles))
        return token

    def headers(self, subject: str = PLAYER, roles: tuple[str, ...] = ("player",)) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, roles)}"}


@asynccontextmanager
async def running(tmp_path: Path, redis_url: str | None, **websocket: Any) -> AsyncIterator[Stack]:
    world = World(stream_delay=0)
    session = f"se_{uuid.uuid4().hex[:12]}"  # a new room: the Redis log outlives a test run
    world.sessions[session] = session_pb2.Session(
        session_id=session, player_id=PLAYER, state=session_pb2.SESSION_STATE_ACTIVE
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
            "redis": {"url": redis_url},
            "websocket": websocket,
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    try:
        yield Stack(gateway, fleet, world, session)
    finally:
        await gateway.stop(0.5)
        await fleet.stop()


async def frame(ws: ClientConnection, within: float = 5) -> dict[str, Any]:
    """The next JSON frame, headers frames skipped."""
    while True:
        value: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
        if "headers" not in value:
            return value


async def messages(ws: ClientConnection, count: int) -> list[tuple[int, str]]:
    """``count`` message frames as (the frame's seq, the text), after checking the message's own
    sequence is the frame's."""
    out = []
    for _ in range(count):
        got = await frame(ws)
        assert "message" in got, got
        message = got["message"]["message"]
        assert int(message["sequence"]) == got["seq"]
        out.append((got["seq"], message["text"]))
    return out


async def nothing_more(ws: ClientConnection, within: float = 0.4) -> None:
    with pytest.raises(TimeoutError):
        await frame(ws, within)


async def post_rest(stack: Stack, text: str, key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.gateway.http_port}") as client:
        resp = await client.post(
            f"/api/v1/sessions/{stack.session}/messages",
            json={"text": text, "clientMessageId": key},
            headers=stack.headers(),
        )
    assert resp.status_code == 200, resp.text
    message: dict[str, Any] = resp.json()["message"]
    return message


async def post_grpc(stack: Stack, text: str, key: str) -> chat_pb2.ChatMessage:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.grpc_port}") as channel:
        send = channel.unary_unary(
            SEND,
            request_serializer=chat_pb2.SendMessageRequest.SerializeToString,
            response_deserializer=chat_pb2.SendMessageResponse.FromString,
        )
        request = chat_pb2.SendMessageRequest(session_id=stack.session, text=text, client_message_id=key)
        answer = await send(request, metadata=(("authorization", f"Bearer {stack.token()}"),), timeout=10)
    return answer.message


PARTICIPANTS = [(PLAYER, ("player",)), ("st_therapist", ("therapist",)), ("st_staff", ("admin",))]


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_three_participants_see_one_order_with_consecutive_sequences(
    tmp_path: Path, redis_url: str, backend: str
) -> None:
    async with running(tmp_path, redis_url if backend == "redis" else None) as stack:
        watchers = [
            await connect(f"{stack.base}/room", additional_headers=stack.headers(*p)) for p in PARTICIPANTS
        ]
        talkers = [
            await connect(f"{stack.base}/chat", additional_headers=stack.headers(*p)) for p in PARTICIPANTS
        ]
        try:
            await asyncio.sleep(0.3)  # the room paths follow the log

            async def speak(i: int, ws: ClientConnection) -> None:
                for n in range(5):
                    await ws.send(json.dumps({"text": f"p{i} says {n}", "clientMessageId": f"p{i}-{n}"}))

            await asyncio.gather(*(speak(i, ws) for i, ws in enumerate(talkers)))
            seen = [await messages(ws, 15) for ws in (*watchers, *talkers)]
            assert [seq for seq, _ in seen[0]] == list(range(1, 16))
            for other in seen[1:]:
                assert other == seen[0]  # one order, the same numbers, for every participant
            assert sorted(text for _, text in seen[0]) == sorted(
                f"p{i} says {n}" for i in range(3) for n in range(5)
            )
            for i in range(3):  # each speaker's own messages in the order it sent them
                assert [t for _, t in seen[0] if t.startswith(f"p{i} ")] == [
                    f"p{i} says {n}" for n in range(5)
                ]
            for ws in (*watchers, *talkers):
                await nothing_more(ws, 0.2)  # and each message once
        finally:
            for ws in (*watchers, *talkers):
                await ws.close()


async def test_messages_sent_over_rest_and_grpc_reach_websocket_watchers_with_the_log_sequence(
    tmp_path: Path, redis_url: str
) -> None:
    async with running(tmp_path, redis_url) as stack:
        player = await connect(f"{stack.base}/room", additional_headers=stack.headers())
        therapist = await connect(f"{stack.base}/room", additional_headers=stack.headers(*PARTICIPANTS[1]))
        await asyncio.sleep(0.2)
        rest = await post_rest(stack, "over rest", "r1")
        over_grpc = await post_grpc(stack, "over grpc", "g1")
        # The sender's answer carries the room's sequence, the one every watcher sees.
        assert (int(rest["sequence"]), over_grpc.sequence) == (1, 2)
        expected = [(1, "over rest"), (2, "over grpc")]
        assert await messages(player, 2) == expected
        assert await messages(therapist, 2) == expected
        # A resend with the same client message id is the same message: stored and delivered once.
        again = await post_rest(stack, "over rest", "r1")
        assert (again["messageId"], int(again["sequence"])) == (rest["messageId"], 1)
        await nothing_more(player)
        await player.close()
        await therapist.close()


async def test_resume_after_a_disconnect_returns_the_missed_messages_once(
    tmp_path: Path, redis_url: str
) -> None:
    async with running(tmp_path, redis_url) as stack:
        async with connect(f"{stack.base}/room", additional_headers=stack.headers()) as ws:
            await asyncio.sleep(0.2)
            for n in (1, 2):
                await post_rest(stack, f"m{n}", f"k{n}")
            assert await messages(ws, 2) == [(1, "m1"), (2, "m2")]
        for n in (3, 4, 5):  # while away
            await post_rest(stack, f"m{n}", f"k{n}")
        async with connect(f"{stack.base}/room?after_sequence=2", additional_headers=stack.headers()) as ws:
            assert await messages(ws, 3) == [(3, "m3"), (4, "m4"), (5, "m5")]
            await post_rest(stack, "m6", "k6")
            assert await messages(ws, 1) == [(6, "m6")]  # then live, with no seam
            await nothing_more(ws)
        # The chat path resumes the same way; then its own message comes back with the next number.
        async with connect(f"{stack.base}/chat?after_sequence=4", additional_headers=stack.headers()) as ws:
            await ws.send(json.dumps({"text": "m7", "clientMessageId": "k7"}))
            assert await messages(ws, 3) == [(5, "m5"), (6, "m6"), (7, "m7")]
            await ws.send(json.dumps({"end": {}}))
            assert await frame(ws) == {"end": {}}


async def test_a_position_beyond_retention_gets_a_gap_frame_then_what_is_left(
    tmp_path: Path, redis_url: str
) -> None:
    async with running(tmp_path, redis_url, room_max_messages=3) as stack:
        for n in range(1, 7):
            await post_rest(stack, f"m{n}", f"k{n}")
        async with connect(f"{stack.base}/room?after_sequence=1", additional_headers=stack.headers()) as ws:
            gap = await frame(ws)
            assert gap == {"gap": {"after": 1, "firstAvailable": 4, "missed": 2, "reason": "retention"}}
            assert await messages(ws, 3) == [(4, "m4"), (5, "m5"), (6, "m6")]
            await nothing_more(ws)
        # within the window: no gap
        async with connect(f"{stack.base}/room?after_sequence=4", additional_headers=stack.headers()) as ws:
            assert await messages(ws, 2) == [(5, "m5"), (6, "m6")]


async def test_the_room_path_keeps_the_services_access_check(tmp_path: Path, redis_url: str) -> None:
    """The log does no authorisation: another player is refused by the service that owns the session
    before anything is read from the log."""
    async with running(tmp_path, redis_url) as stack:
        await post_rest(stack, "private", "p1")
        path = f"{stack.base}/room?after_sequence=0"
        async with connect(path, additional_headers=stack.headers("pl_other")) as ws:
            got = await frame(ws)
            await asyncio.sleep(0.1)
        assert got["error"]["code"] == 7, got  # PERMISSION_DENIED
        assert ws.close_code == 1008
