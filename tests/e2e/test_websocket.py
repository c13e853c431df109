"""The WebSocket door of the running demo, with the `websockets` client (docs/websocket-protocol.md):
a chat round trip, a room whose three participants see one order, refusals on connect, an oversized
frame and a flood, and the door serving others afterwards."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import Demo

WAIT = 15.0


def _url(demo: Demo, session_id: str, kind: str) -> str:
    return f"ws://127.0.0.1:{demo.http_port}/ws/v1/sessions/{session_id}/{kind}"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _session(demo: Demo, token: str) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{demo.http_port}", timeout=WAIT) as rest:
        made = await rest.post(
            "/api/v1/sessions",
            json={"playerId": "pl_demo", "worldId": "wd_quiet_harbour"},
            headers=_auth(token),
        )
    assert made.status_code == 200, made.text
    session_id: str = made.json()["session"]["sessionId"]
    return session_id


async def _next_message(ws: ClientConnection) -> dict[str, Any]:
    """The next `message` frame (skipping a `headers` frame); fails on an `error` frame."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert "error" not in frame, frame
        if "message" in frame:
            message: dict[str, Any] = frame["message"]
            return message


async def _closed(ws: ClientConnection) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the gateway closes: the close code and the JSON frames before it."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            raw = await asyncio.wait_for(ws.recv(), WAIT)
            if isinstance(raw, str):
                frames.append(json.loads(raw))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), frames


async def _round_trip(demo: Demo, token: str, session_id: str, text: str) -> dict[str, Any]:
    async with connect(_url(demo, session_id, "chat"), additional_headers=_auth(token)) as ws:
        await ws.send(json.dumps({"text": text, "clientMessageId": uuid.uuid4().hex}))
        return (await _next_message(ws))["message"]


async def test_a_chat_round_trip(demo: Demo) -> None:
    token = demo.player_token
    session_id = await _session(demo, token)
    text = f"hello from the websocket door {uuid.uuid4().hex[:6]}"
    demo.secrets.add(text)  # player text never reaches a log line
    echoed = await _round_trip(demo, token, session_id, text)
    assert echoed["text"] == text
    assert echoed["sessionId"] == session_id
    assert int(echoed["sequence"]) >= 1


async def test_a_room_of_three_sees_one_order(demo: Demo) -> None:
    player, therapist = demo.player_token, demo.banner_token("therapist")
    session_id = await _session(demo, player)
    tokens = [player, therapist, demo.staff_token]
    watchers = [await connect(_url(demo, session_id, "room"), additional_headers=_auth(t)) for t in tokens]
    talkers = [await connect(_url(demo, session_id, "chat"), additional_headers=_auth(t)) for t in tokens]
    try:
        await asyncio.sleep(0.5)  # the watches are open upstream before anyone speaks

        async def speak(i: int, ws: ClientConnection) -> None:
            for n in range(5):
                text = f"participant {i} says {n} {uuid.uuid4().hex[:4]}"
                demo.secrets.add(text)
                await ws.send(
                    json.dumps({"text": text, "clientMessageId": f"p{i}-{n}-{uuid.uuid4().hex[:6]}"})
                )

        await asyncio.gather(*(speak(i, ws) for i, ws in enumerate(talkers)))

        async def seen(ws: ClientConnection) -> list[tuple[int, str]]:
            got = []
            while len(got) < 15:
                message = (await _next_message(ws))["message"]
                got.append((int(message["sequence"]), message["text"]))
            return got

        views = await asyncio.gather(*(seen(ws) for ws in watchers))
    finally:
        for ws in (*watchers, *talkers):
            await ws.close()
    first = views[0]
    assert all(view == first for view in views[1:])  # one order for everyone
    sequences = [s for s, _ in first]
    assert sequences == list(range(sequences[0], sequences[0] + 15))  # consecutive, no gap
    assert len({t for _, t in first}) == 15


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_missing_or_bad_token_closes_1008(demo: Demo, token: str | None) -> None:
    session_id = await _session(demo, demo.player_token)
    headers = _auth(token) if token else {}
    async with connect(_url(demo, session_id, "chat"), additional_headers=headers) as ws:
        code, frames = await _closed(ws)
    assert code == 1008
    assert frames[-1]["error"]["code"] == 16  # UNAUTHENTICATED, as on the other doors
    assert (
        "token" not in frames[-1]["error"]["message"].lower()
        or "sign" in frames[-1]["error"]["message"].lower()
    )


async def test_an_oversized_frame_closes_1009_and_others_are_served(demo: Demo) -> None:
    token = demo.player_token
    session_id = await _session(demo, token)
    async with connect(_url(demo, session_id, "chat"), additional_headers=_auth(token), max_size=None) as ws:
        await ws.send(json.dumps({"text": "x" * (128 * 1024), "clientMessageId": "big"}))
        code, _ = await _closed(ws)
    assert code == 1009
    assert (await _round_trip(demo, token, session_id, "still here"))["text"] == "still here"


async def test_a_flood_gets_its_documented_close_and_others_are_served(demo: Demo) -> None:
    token = demo.player_token
    session_id = await _session(demo, token)
    bystander = demo.staff_token
    async with connect(_url(demo, session_id, "chat"), additional_headers=_auth(token)) as ws:
        try:
            for n in range(5000):  # as fast as the socket takes them, never reading
                await ws.send(json.dumps({"text": f"flood {n}", "clientMessageId": f"f{n}"}))
        except ConnectionClosed:
            pass
        code, frames = await _closed(ws)
    assert code == 1008, (code, frames[-1:] if frames else None)
    errors = [f["error"] for f in frames if "error" in f]
    assert errors, frames[-3:]
    reasons = {d.get("reason") for e in errors for d in e.get("details", [])}
    assert reasons & {"WEBSOCKET_FLOOD", "WEBSOCKET_SLOW_CONSUMER"}, errors
    # the door goes on serving another user
    assert (await _round_trip(demo, bystander, session_id, "after the flood"))["text"] == "after the flood"
