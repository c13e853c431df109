"""Two real gateway processes (``python -m gateway serve``) sharing one real Redis, in front of one set
of reference services, auth on (issue 10, "Must show"): a client on process A receives, in order, what
a client on process B sends; A is killed (SIGKILL) mid-conversation while B keeps taking messages; A's
client reconnects to B with its last sequence and receives every message it missed, once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from tta.v1 import session_pb2
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.server import start_service
from services.state import World
from tests.integration.gateway.test_shutdown import free_port, gateway_process

PLAYER = "pl_demo"
THERAPIST = "st_therapist"


async def frame(ws: ClientConnection, within: float = 10) -> dict[str, Any]:
    while True:
        value: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
        if "headers" not in value:
            return value


async def messages(ws: ClientConnection, count: int) -> list[tuple[int, str]]:
    out = []
    for _ in range(count):
        got = await frame(ws)
        assert "message" in got, got
        assert int(got["message"]["message"]["sequence"]) == got["seq"]
        out.append((got["seq"], got["message"]["message"]["text"]))
    return out


async def test_a_room_spans_two_processes_and_survives_one_being_killed(
    tmp_path: Path, redis_url: str
) -> None:
    world = World(stream_delay=0)
    session = f"se_{uuid.uuid4().hex[:12]}"
    world.sessions[session] = session_pb2.Session(
        session_id=session, player_id=PLAYER, state=session_pb2.SESSION_STATE_ACTIVE
    )
    services = await start_service(["all"], world=world)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(world.issuer.jwks()))
    extra = (
        f"auth:\n  enabled: true\n  issuer: {world.issuer.issuer}\n  audience: {world.issuer.audience}\n"
        f"  jwks: {jwks}\n"
        f"redis: {{url: '{redis_url}'}}\n"
    )

    def headers(subject: str, role: str) -> dict[str, str]:
        token, _, _ = world.issuer.sign("access", subject, now=time.time(), ttl=600, roles=[role])
        return {"Authorization": f"Bearer {token}"}

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    port_a, port_b = free_port(), free_port()
    try:
        async with (
            gateway_process(tmp_path / "a", services.port, http_port=port_a, extra=extra) as process_a,
            gateway_process(tmp_path / "b", services.port, http_port=port_b, extra=extra),
        ):
            room_on_a = f"ws://127.0.0.1:{port_a}/ws/v1/sessions/{session}/room"
            room_on_b = f"ws://127.0.0.1:{port_b}/ws/v1/sessions/{session}/room"
            chat_on_b = f"ws://127.0.0.1:{port_b}/ws/v1/sessions/{session}/chat"
            listener = await connect(room_on_a, additional_headers=headers(PLAYER, "player"))
            async with connect(chat_on_b, additional_headers=headers(THERAPIST, "therapist")) as speaker:
                await asyncio.sleep(0.3)  # A follows the room
                for n in range(1, 4):
                    await speaker.send(json.dumps({"text": f"m{n}", "clientMessageId": f"c{n}"}))
                received = await messages(listener, 3)
                assert received == [(1, "m1"), (2, "m2"), (3, "m3")]  # B's sends, on A, in order
                last = received[-1][0]

                process_a.proc.kill()  # SIGKILL: no 1001, no goodbye
                await process_a.proc.wait()
                with pytest.raises(ConnectionClosed):
                    await frame(listener)
                for n in range(4, 8):  # B keeps taking messages while A's client is away
                    await speaker.send(json.dumps({"text": f"m{n}", "clientMessageId": f"c{n}"}))
                assert [t for _, t in await messages(speaker, 7)] == [f"m{n}" for n in range(1, 8)]

                resumed = await connect(
                    f"{room_on_b}?after_sequence={last}", additional_headers=headers(PLAYER, "player")
                )
                try:
                    assert await messages(resumed, 4) == [(4, "m4"), (5, "m5"), (6, "m6"), (7, "m7")]
                    await speaker.send(json.dumps({"text": "m8", "clientMessageId": "c8"}))
                    assert await messages(resumed, 1) == [(8, "m8")]  # then live
                    with pytest.raises(TimeoutError):  # every missed message once, nothing twice
                        await frame(resumed, 0.5)
                finally:
                    await resumed.close()
    finally:
        await services.stop()
