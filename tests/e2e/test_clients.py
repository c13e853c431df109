"""Real client libraries through the running demo: generated grpcio stubs and the betterproto2 SDK
(its grpcio-based sync stub and its grpclib-based async stub), every call arity, reference answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from grpclib.client import Channel as GrpclibChannel
from tta.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    player_pb2,
    player_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)
from tta_sdk.tta import v1 as sdk

from tests.e2e._bearer import aio_channel, sync_channel
from tests.e2e.conftest import Demo


@pytest.fixture
async def channel(demo: Demo) -> AsyncIterator[grpc.aio.Channel]:
    """Every call carries a staff token (these tests are about the doors; access has its own)."""
    async with aio_channel(demo.target, demo.staff_token) as ch:
        yield ch


async def _new_session(channel: grpc.aio.Channel) -> str:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.org"
    players = player_pb2_grpc.PlayerServiceStub(channel)
    created = await players.CreatePlayer(
        player_pb2.CreatePlayerRequest(
            player=player_pb2.Player(display_name="E2E", email=email), password="pw"
        )
    )
    sessions = session_pb2_grpc.SessionServiceStub(channel)
    made = await sessions.CreateSession(
        session_pb2.CreateSessionRequest(
            session=session_pb2.Session(player_id=created.player.player_id, world_id="wd_quiet_harbour")
        )
    )
    return made.session.session_id


async def test_grpcio_unary_round_trip(channel: grpc.aio.Channel) -> None:
    players = player_pb2_grpc.PlayerServiceStub(channel)
    email = f"u-{uuid.uuid4().hex[:8]}@example.org"
    created = await players.CreatePlayer(
        player_pb2.CreatePlayerRequest(
            player=player_pb2.Player(display_name="Robin", email=email), password="pw"
        )
    )
    got = await players.GetPlayer(player_pb2.GetPlayerRequest(player_id=created.player.player_id))
    assert got.player.display_name == "Robin"
    assert got.player.email == email


async def test_grpcio_server_stream(channel: grpc.aio.Channel) -> None:
    agents = agent_pb2_grpc.AgentServiceStub(channel)
    chunks = [
        c
        async for c in agents.StreamAgentReply(
            agent_pb2.StreamAgentReplyRequest(agent_id="ag_guide", input="hi")
        )
    ]
    assert len(chunks) > 1
    whole = await agents.InvokeAgent(agent_pb2.InvokeAgentRequest(agent_id="ag_guide", input="hi"))
    assert "".join(c.text_delta for c in chunks).strip() == whole.reply.strip()


async def test_grpcio_error_mid_stream_carries_its_details(channel: grpc.aio.Channel) -> None:
    diagnostics = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel)
    call = diagnostics.StreamEcho(
        diagnostics_pb2.StreamEchoRequest(payload=b"\x00grpc", count=5, fail_after=2)
    )
    received = []
    try:
        async for reply in call:
            received.append(reply)
    except grpc.aio.AioRpcError as err:
        failed = err
    else:
        raise AssertionError("the stream ended without the error it was asked for")
    assert [(r.index, r.payload) for r in received] == [(0, b"\x00grpc"), (1, b"\x00grpc")]
    assert failed.code() == grpc.StatusCode.ABORTED
    assert failed.details() == "stream failed after 2 of 5 messages, as requested by fail_after"
    # Decodes grpc-status-details-bin, and checks its code and message match the call's own.
    status = await rpc_status.aio.from_call(call)
    assert status is not None
    assert status.code == grpc.StatusCode.ABORTED.value[0]
    info = error_details_pb2.ErrorInfo()
    assert [d.Unpack(info) for d in status.details] == [True]
    assert (info.reason, info.domain) == ("REQUESTED_FAILURE", "diagnostics.tta")
    assert dict(info.metadata) == {"failAfter": "2", "sent": "2"}


async def test_grpcio_client_stream(channel: grpc.aio.Channel) -> None:
    session_id = await _new_session(channel)
    chat = chat_pb2_grpc.ChatServiceStub(channel)

    async def history() -> AsyncIterator[chat_pb2.ImportMessagesRequest]:
        for i in range(5):
            yield chat_pb2.ImportMessagesRequest(
                session_id=session_id, external_id=f"x{i}", sender_id="pl_demo", text=f"line {i}"
            )

    result = await chat.ImportMessages(history())
    assert result.imported_count == 5
    listed = await chat.ListMessages(chat_pb2.ListMessagesRequest(session_id=session_id))
    assert [m.text for m in listed.messages][-5:] == [f"line {i}" for i in range(5)]


async def test_grpcio_bidi_chat_reaches_a_room_watcher(channel: grpc.aio.Channel) -> None:
    session_id = await _new_session(channel)
    chat = chat_pb2_grpc.ChatServiceStub(channel)
    async with asyncio.timeout(20):
        watcher = chat.WatchRoom(chat_pb2.WatchRoomRequest(session_id=session_id))
        await watcher.initial_metadata()  # the watch sends its headers once it has subscribed
        talk = chat.Chat()
        await talk.write(
            chat_pb2.ChatRequest(session_id=session_id, client_message_id="c1", text="hello room")
        )
        echoed = await talk.read()
        assert echoed.message.text == "hello room"
        seen = await watcher.read()
        assert seen.message.text == "hello room"
        assert seen.message.message_id == echoed.message.message_id
        await talk.done_writing()
        watcher.cancel()


def test_betterproto_sync_stub_through_the_gateway(demo: Demo) -> None:
    with sync_channel(demo.target, demo.staff_token) as ch:
        worlds = sdk.WorldServiceStub(ch).list_worlds(sdk.ListWorldsRequest())
        assert "The Quiet Harbour" in [w.title for w in worlds.worlds]
        echoed = sdk.DiagnosticsServiceStub(ch).echo(sdk.EchoRequest(payload=b"\x00sdk\xff"))
        assert echoed.payload == b"\x00sdk\xff"
        chunks = list(
            sdk.AgentServiceStub(ch).stream_agent_reply(
                sdk.StreamAgentReplyRequest(agent_id="ag_guide", input="hi")
            )
        )
        assert len(chunks) > 1


@pytest.fixture
async def grpclib_channel(demo: Demo) -> AsyncIterator[GrpclibChannel]:
    ch = GrpclibChannel("127.0.0.1", demo.grpc_port)
    yield ch
    ch.close()


async def test_betterproto_async_stub_over_grpclib(demo: Demo, grpclib_channel: GrpclibChannel) -> None:
    worlds = await sdk.WorldServiceAsyncStub(grpclib_channel).list_worlds(sdk.ListWorldsRequest())
    assert len(worlds.worlds) >= 3
    chunks = [
        c
        async for c in sdk.AgentServiceAsyncStub(grpclib_channel).stream_agent_reply(
            sdk.StreamAgentReplyRequest(agent_id="ag_guide", input="hi"),
            metadata={"authorization": f"Bearer {demo.player_token}"},
        )
    ]
    assert len(chunks) > 1


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/tta.v1.PlayerService/GetPlayer", "unary"),
        ("/tta.v1.DiagnosticsService/StreamEcho", "server stream"),
    ],
)
async def test_request_bytes_that_are_not_the_message_answer_invalid_argument(
    channel: grpc.aio.Channel, path: str, kind: str
) -> None:
    """A precise status, no Python class name, and the door goes on serving: from the gateway when a
    policy reads the request (GetPlayer names its owner), else from the reference service (the
    gateway forwards raw bytes)."""
    garbage = b"\xff\xff\xff"

    async def call() -> None:
        if kind == "unary":
            await channel.unary_unary(path)(garbage, timeout=10)
        else:
            async for _ in channel.unary_stream(path)(garbage, timeout=10):
                pass

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = info.value.details() or ""
    assert details.startswith(("the request is not a valid tta.v1.", "the message is not a valid tta.v1."))
    assert "class" not in (info.value.details() or "")
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
