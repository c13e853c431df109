"""Request bytes that do not parse answer INVALID_ARGUMENT, on every method of every reference server."""

from __future__ import annotations

import asyncio
import logging
import re

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tta.v1 import chat_pb2

from services._decoding import guard, request_types
from services.catalog import REFERENCE_SERVICES
from services.server import start_service
from services.state import World
from tests.integration.services.test_reference_services import WAIT, active_session, until

EXTRAS = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")  # on every server too
BODIES = {
    "truncated tag": b"\xff\xff\xff",  # a varint that never ends
    "field past the end": b"\x0a\x05ab",  # field 1 says 5 bytes, 2 follow
}


def every_method() -> list[tuple[str, MethodDescriptor]]:
    """(reference service short name, method) for every method a reference server hosts."""
    pool = descriptor_pool.Default()
    hosted = [(name, full_name) for name, svc in REFERENCE_SERVICES.items() for full_name in svc.full_names]
    hosted += [("diagnostics", full_name) for full_name in EXTRAS]
    return [(name, m) for name, full_name in hosted for m in pool.FindServiceByName(full_name).methods]


def raw_call(channel: grpc.aio.Channel, method: MethodDescriptor, body: bytes) -> grpc.aio.Call:
    """``method`` called with ``body`` as its only request message, unserialized; streams half-close."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    if method.client_streaming and method.server_streaming:
        return channel.stream_stream(path)(iter([body]))
    if method.client_streaming:
        return channel.stream_unary(path)(iter([body]))
    if method.server_streaming:
        return channel.unary_stream(path)(body)
    return channel.unary_unary(path)(body)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(
    ("name", "method"),
    every_method(),
    ids=lambda v: v.full_name.removeprefix("tta.") if isinstance(v, MethodDescriptor) else "",
)
async def test_a_body_that_does_not_parse_is_invalid_argument(
    name: str, method: MethodDescriptor, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_service([name], world=World(stream_delay=0))
    try:
        async with grpc.aio.insecure_channel(running.target) as channel:
            call = raw_call(channel, method, body)
            async with asyncio.timeout(WAIT):
                code, details = await call.code(), await call.details()
            # and the server goes on serving
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    finally:
        await running.stop()
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == f"the request is not a valid {method.input_type.full_name}"
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_an_import_fails_at_the_message_that_does_not_parse(
    channels: dict[str, grpc.aio.Channel], world: World
) -> None:
    session_id, _ = await active_session(channels)
    before = len(world.messages.get(session_id, []))
    good = chat_pb2.ImportMessagesRequest(session_id=session_id, sender_id="st_therapist", text="kept")
    call = channels["chat"].stream_unary("/tta.v1.ChatService/ImportMessages")(
        iter([good.SerializeToString(), b"\xff\xff\xff"])
    )
    async with asyncio.timeout(WAIT):
        assert await call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await call.details() == "the request is not a valid tta.v1.ImportMessagesRequest"
    assert [m.text for m in world.messages[session_id][before:]] == ["kept"]  # served until then


async def test_a_chat_fails_at_the_message_that_does_not_parse(
    channels: dict[str, grpc.aio.Channel], world: World
) -> None:
    session_id, _ = await active_session(channels)
    chat = channels["chat"].stream_stream("/tta.v1.ChatService/Chat")()
    await chat.write(chat_pb2.ChatRequest(session_id=session_id, text="first").SerializeToString())
    async with asyncio.timeout(WAIT):
        own = chat_pb2.ChatResponse.FromString(await chat.read())
    assert own.message.text == "first"
    await chat.write(b"\xff\xff\xff")
    async with asyncio.timeout(WAIT):
        assert await chat.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await chat.details() == "the request is not a valid tta.v1.ChatRequest"
    await until(lambda: world.rooms.subscriber_count() == 0)


def test_request_types_name_every_method_and_refuse_unknown_services() -> None:
    table = request_types(["tta.v1.ChatService"])
    assert table["/tta.v1.ChatService/Chat"] == "tta.v1.ChatRequest"
    assert table["/tta.v1.ChatService/ImportMessages"] == "tta.v1.ImportMessagesRequest"
    with pytest.raises(
        ValueError, match=re.escape("'tta.v1.NoService' is not in the default descriptor pool")
    ):
        request_types(["tta.v1.NoService"])


def test_guard_refuses_a_sync_handler_of_a_streamed_request() -> None:
    handler = grpc.stream_unary_rpc_method_handler(lambda requests, context: b"", bytes, bytes)
    with pytest.raises(TypeError, match="takes a streamed request but is not async"):
        guard(handler, "tta.v1.ImportMessagesRequest")
