"""Streamed responses send their headers once the request is accepted; refused calls stay Trailers-Only.

The gateway's REST door starts its HTTP response when the upstream's headers arrive, and turns a
Trailers-Only answer (no headers, just the status: the gRPC over HTTP/2 protocol's ``Trailers-Only``)
into a plain 4xx. So an idle stream must show its headers at once, and a refused one must not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import h2.config
import h2.connection
import h2.events
import pytest
from google.protobuf.message import Message
from tta.v1 import (
    agent_pb2,
    chat_pb2,
    chat_pb2_grpc,
    diagnostics_pb2,
    gameplay_pb2,
    gameplay_pb2_grpc,
    session_pb2,
)

from services.agent import AgentServicer
from services.chat import ChatServicer
from services.diagnostics import DiagnosticsServicer
from services.gameplay import GameplayServicer
from services.server import RunningFleet
from services.state import World
from tests.integration.services.test_reference_services import WAIT, active_session

HEADERS_WITHIN = 2.0  # seconds: "at once", with room for a slow machine


# -- an idle stream shows its headers before any message ------------------------------------------

IDLE_STREAMS: dict[str, Callable[[dict[str, grpc.aio.Channel], str], Any]] = {
    "WatchRoom": lambda channels, session_id: chat_pb2_grpc.ChatServiceStub(channels["chat"]).WatchRoom(
        chat_pb2.WatchRoomRequest(session_id=session_id)
    ),
    "StreamNarrative": lambda channels, session_id: gameplay_pb2_grpc.GameplayServiceStub(
        channels["gameplay"]
    ).StreamNarrative(gameplay_pb2.StreamNarrativeRequest(session_id=session_id)),
}


async def post_one(channels: dict[str, grpc.aio.Channel], method: str, session_id: str) -> str:
    """Make the stream ``method`` of ``session_id`` send a message; the id of the thing it reports."""
    if method == "WatchRoom":
        sent = await chat_pb2_grpc.ChatServiceStub(channels["chat"]).SendMessage(
            chat_pb2.SendMessageRequest(session_id=session_id, text="now")
        )
        return sent.message.message_id
    played = await gameplay_pb2_grpc.GameplayServiceStub(channels["gameplay"]).SubmitAction(
        gameplay_pb2.SubmitActionRequest(session_id=session_id, choice_id="look")
    )
    return played.turn.turn_id


def reported_id(method: str, response: Any) -> str:
    return response.message.message_id if method == "WatchRoom" else response.turn_id


@pytest.mark.parametrize("method", IDLE_STREAMS)
async def test_an_idle_stream_sends_its_headers_before_any_message(
    channels: dict[str, grpc.aio.Channel], method: str
) -> None:
    session_id, _ = await active_session(channels)
    call = IDLE_STREAMS[method](channels, session_id)
    async with asyncio.timeout(HEADERS_WITHIN):
        await call.initial_metadata()
    assert not call.done()
    # Nothing had been sent: the first message is the one made after the headers arrived.
    made = await post_one(channels, method, session_id)
    async with asyncio.timeout(WAIT):
        first = await call.read()
    assert reported_id(method, first) == made
    call.cancel()


# -- on the wire: the first header block of the response ------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstHeaders:
    """The first header block of a response, and whether it ended the stream (Trailers-Only)."""

    headers: dict[str, str]
    ended: bool


async def first_headers(target: str, path: str, request: Message, half_close: bool = True) -> FirstHeaders:
    """Send one gRPC request over h2c by hand and return the first header block of the response.

    ``half_close=False`` leaves the request stream open, as a bidi client that has more to say.
    """
    host, port = target.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", target),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ],
    )
    body = request.SerializeToString()
    conn.send_data(stream_id, b"\x00" + len(body).to_bytes(4, "big") + body, end_stream=half_close)
    writer.write(conn.data_to_send())
    try:
        async with asyncio.timeout(WAIT):
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                        return FirstHeaders(dict(event.headers), event.stream_ended is not None)
                writer.write(conn.data_to_send())
    finally:
        writer.close()
        await writer.wait_closed()
    raise AssertionError("the connection closed before any response headers")


ACTIVE = "<an active session>"  # replaced by the id of a fresh active session


@dataclass(frozen=True, slots=True)
class WireCase:
    """One streaming call and how its response must begin: ``refused`` is the grpc-status of a
    Trailers-Only answer, or None for a response that opens with headers and goes on."""

    service: str  # reference service short name
    path: str
    request: Message
    refused: grpc.StatusCode | None
    half_close: bool = True


WATCH, NARRATE = "/tta.v1.ChatService/WatchRoom", "/tta.v1.GameplayService/StreamNarrative"
CHAT, AGENT, ECHO = (
    "/tta.v1.ChatService/Chat",
    "/tta.v1.AgentService/StreamAgentReply",
    "/tta.v1.DiagnosticsService/StreamEcho",
)
Code = grpc.StatusCode
WIRE_CASES = {
    "WatchRoom opens": WireCase("chat", WATCH, chat_pb2.WatchRoomRequest(session_id=ACTIVE), None),
    "WatchRoom unknown session": WireCase(
        "chat", WATCH, chat_pb2.WatchRoomRequest(session_id="se_gone"), Code.NOT_FOUND
    ),
    "WatchRoom negative after_sequence": WireCase(
        "chat", WATCH, chat_pb2.WatchRoomRequest(session_id=ACTIVE, after_sequence=-1), Code.INVALID_ARGUMENT
    ),
    "StreamNarrative opens": WireCase(
        "gameplay", NARRATE, gameplay_pb2.StreamNarrativeRequest(session_id=ACTIVE), None
    ),
    "StreamNarrative unknown session": WireCase(
        "gameplay", NARRATE, gameplay_pb2.StreamNarrativeRequest(session_id="se_gone"), Code.NOT_FOUND
    ),
    "StreamNarrative without session": WireCase(
        "gameplay", NARRATE, gameplay_pb2.StreamNarrativeRequest(), Code.INVALID_ARGUMENT
    ),
    "Chat unknown session": WireCase(
        "chat", CHAT, chat_pb2.ChatRequest(session_id="se_gone", text="hi"), Code.NOT_FOUND, half_close=False
    ),
    "Chat without text": WireCase(
        "chat", CHAT, chat_pb2.ChatRequest(session_id=ACTIVE), Code.INVALID_ARGUMENT, half_close=False
    ),
    "StreamAgentReply unknown agent": WireCase(
        "agent", AGENT, agent_pb2.StreamAgentReplyRequest(agent_id="ag_nobody", input="hi"), Code.NOT_FOUND
    ),
    "StreamAgentReply busy agent": WireCase(
        "agent",
        AGENT,
        agent_pb2.StreamAgentReplyRequest(agent_id="ag_world_builder", input="hi"),
        Code.FAILED_PRECONDITION,
    ),
    "StreamEcho count too big": WireCase(
        "diagnostics", ECHO, diagnostics_pb2.StreamEchoRequest(count=101), Code.INVALID_ARGUMENT
    ),
    "StreamEcho fails before its first message": WireCase(
        "diagnostics", ECHO, diagnostics_pb2.StreamEchoRequest(count=5, fail_after=0), Code.ABORTED
    ),
}


@pytest.mark.parametrize("case", WIRE_CASES.values(), ids=WIRE_CASES)
async def test_the_first_header_block_on_the_wire(
    fleet: RunningFleet, channels: dict[str, grpc.aio.Channel], case: WireCase
) -> None:
    request = type(case.request)()
    request.CopyFrom(case.request)
    if getattr(request, "session_id", None) == ACTIVE:
        request.session_id, _ = await active_session(channels)  # type: ignore[attr-defined]
    first = await first_headers(fleet.services[case.service].target, case.path, request, case.half_close)
    if case.refused is None:
        assert (first.headers[":status"], first.ended) == ("200", False)
        assert "grpc-status" not in first.headers
    else:
        assert first.ended, f"a refused call is Trailers-Only, got {first.headers}"
        assert first.headers["grpc-status"] == str(case.refused.value[0])


# -- streams that send at once still send their headers first --------------------------------------


class Aborted(Exception):
    """What the recording context raises from ``abort_with_status``, as grpc.aio raises AbortError."""


class RecordingContext:
    """Enough of a ``grpc.aio.ServicerContext`` to drive a servicer directly, recording what it did."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def send_initial_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.events.append("headers")

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.events.append(f"abort {status.code.name}")
        raise Aborted(status.details)


def world_with_a_busy_session() -> tuple[World, str]:
    """A world with an active session holding two chat messages and two turns."""
    world = World(stream_delay=0)
    session_id = "se_busy"
    world.sessions[session_id] = session_pb2.Session(
        session_id=session_id,
        player_id="pl_demo",
        world_id="wd_quiet_harbour",
        state=session_pb2.SESSION_STATE_ACTIVE,
    )
    for text in ("one", "two"):
        world.post_message(chat_pb2.ChatMessage(session_id=session_id, text=text))
    world.turns[session_id] = [
        gameplay_pb2.Turn(turn_id=f"tu_{n}", session_id=session_id, sequence=n) for n in (1, 2)
    ]
    return world, session_id


async def one_chat_request(session_id: str) -> AsyncIterator[chat_pb2.ChatRequest]:
    yield chat_pb2.ChatRequest(session_id=session_id, text="hello")


AT_ONCE: dict[str, Callable[[World, str, RecordingContext], AsyncIterator[Any]]] = {
    "StreamEcho": lambda world, _, context: DiagnosticsServicer().StreamEcho(
        diagnostics_pb2.StreamEchoRequest(payload=b"p", count=2), context
    ),
    "StreamAgentReply": lambda world, _, context: AgentServicer(world).StreamAgentReply(
        agent_pb2.StreamAgentReplyRequest(agent_id="ag_mara", input="hi"), context
    ),
    "WatchRoom replaying": lambda world, session_id, context: ChatServicer(world).WatchRoom(
        chat_pb2.WatchRoomRequest(session_id=session_id, after_sequence=1), context
    ),
    "StreamNarrative replaying": lambda world, session_id, context: GameplayServicer(world).StreamNarrative(
        gameplay_pb2.StreamNarrativeRequest(session_id=session_id, after_sequence=1), context
    ),
    "Chat": lambda world, session_id, context: ChatServicer(world).Chat(
        one_chat_request(session_id), context
    ),
}


@pytest.mark.parametrize("method", AT_ONCE)
async def test_a_stream_with_a_message_ready_sends_its_headers_first(method: str) -> None:
    world, session_id = world_with_a_busy_session()
    context = RecordingContext()
    responses = AT_ONCE[method](world, session_id, context)
    try:
        await anext(responses)
        assert context.events == ["headers"]
    finally:
        await responses.aclose()  # type: ignore[attr-defined]
