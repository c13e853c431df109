"""The gRPC door against a real upstream on loopback: all four arities byte-exact, metadata both
ways, errors relayed unchanged, deadlines and cancellation propagated, unknown methods and stopped
upstreams answered precisely; reflection lists every service the door serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from gateway.app import Gateway
from gateway.config import Settings
from gateway.descriptors import embedded_descriptor_set
from gateway.routes import compile_routes
from tests.integration.gateway.test_descriptor_sources import file_containing, list_services
from tests.integration.gateway.upstream_double import BAD_REQUEST, UpstreamDouble, status_details

UNARY = "/tta.v1.DiagnosticsService/Echo"
SERVER_STREAM = "/tta.v1.ChatService/WatchRoom"
CLIENT_STREAM = "/tta.v1.ChatService/ImportMessages"
BIDI = "/tta.v1.ChatService/Chat"
ALL_TTA = {"services": ["tta.v1.*", "tta.v2.*"]}
REFLECTION_V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


async def _start_double() -> tuple[grpc.aio.Server, UpstreamDouble, int]:
    probe = Settings.from_mapping({"upstreams": [{**ALL_TTA, "targets": ["127.0.0.1:1"]}]})
    double = UpstreamDouble(compile_routes(embedded_descriptor_set(), probe.upstreams))
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([double])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, double, port


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[UpstreamDouble, int]]:
    server, double, port = await _start_double()
    yield double, port
    await server.stop(0)


async def _gateway(upstreams: list[dict[str, object]]) -> Gateway:
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": upstreams,
            "shutdown": {"grace_period_seconds": 1},
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    return gateway


@pytest.fixture
async def channel(upstream: tuple[UpstreamDouble, int]) -> AsyncIterator[grpc.aio.Channel]:
    _, port = upstream
    gateway = await _gateway([{**ALL_TTA, "targets": [f"127.0.0.1:{port}"]}])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as ch:
        yield ch
    await gateway.stop(0)


PAYLOAD = bytes(range(256)) * 3


async def test_unary_is_byte_exact_with_metadata_both_ways(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary(UNARY)(PAYLOAD, metadata=(("x-behaviour", "echo"), ("x-caller", "c1")))
    assert await call == PAYLOAD
    assert ("x-up-initial", "hello") in tuple(await call.initial_metadata())
    trailing = tuple(await call.trailing_metadata())
    assert ("x-up-trailer", "bye") in trailing
    assert ("x-up-bin", b"\x00\xff") in trailing
    assert await call.code() == grpc.StatusCode.OK


async def test_request_metadata_reaches_upstream_without_hop_headers(channel: grpc.aio.Channel) -> None:
    md = (("x-behaviour", "metadata"), ("x-request-id", "r-123"), ("x-blob-bin", b"\x01\x02"))
    seen = (await channel.unary_unary(UNARY)(b"", metadata=md)).decode()
    assert "x-request-id='r-123'" in seen
    assert "x-blob-bin=b'\\x01\\x02'" in seen
    assert "grpc-timeout" not in seen


async def test_server_stream_is_byte_exact(channel: grpc.aio.Channel) -> None:
    call = channel.unary_stream(SERVER_STREAM)(PAYLOAD)
    got = [m async for m in call]
    assert got == [PAYLOAD] * 3
    assert ("x-up-trailer", "bye") in tuple(await call.trailing_metadata())


async def test_client_stream_is_byte_exact(channel: grpc.aio.Channel) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for p in (b"a", b"\x00b", PAYLOAD):
            yield p

    assert await channel.stream_unary(CLIENT_STREAM)(parts()) == b"a|\x00b|" + PAYLOAD


async def test_bidi_stream_is_byte_exact(channel: grpc.aio.Channel) -> None:
    call = channel.stream_stream(BIDI)()
    replies = []
    for p in (b"one", PAYLOAD, b""):
        await call.write(p)
        replies.append(await call.read())
    await call.done_writing()
    assert replies == [b"one", PAYLOAD, b""]
    assert await call.read() is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_upstream_error_arrives_unchanged(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary(UNARY)(b"x", metadata=(("x-behaviour", "error"),))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "player_id: must not be empty"
    trailing = dict(err.trailing_metadata())
    assert trailing["x-up-trailer"] == "error-trailer"
    assert trailing["grpc-status-details-bin"] == status_details()
    status = status_pb2.Status.FromString(trailing["grpc-status-details-bin"])
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad == BAD_REQUEST
    assert ("x-up-initial", "before-error") in tuple(err.initial_metadata())


@pytest.mark.parametrize("path", [SERVER_STREAM, BIDI])
async def test_error_mid_stream_arrives_after_the_first_message(channel: grpc.aio.Channel, path: str) -> None:
    md = (("x-behaviour", "stream-error"),)
    if path == BIDI:
        call = channel.stream_stream(BIDI)(metadata=md)
        await call.write(b"first")
    else:
        call = channel.unary_stream(SERVER_STREAM)(b"first", metadata=md)
    assert await call.read() == b"first"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(info.value.trailing_metadata())["grpc-status-details-bin"] == status_details()


async def test_client_deadline_reaches_upstream(channel: grpc.aio.Channel) -> None:
    seen = float(await channel.unary_unary(UNARY)(b"", timeout=5.0, metadata=(("x-behaviour", "deadline"),)))
    # grpc encodes the timeout in whole units and rounds up, so allow a few milliseconds over.
    assert 3.0 < seen <= 5.05


async def test_deadline_exceeded_is_reported(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await channel.unary_unary(UNARY)(b"", timeout=0.3, metadata=(("x-behaviour", "hang"),))
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("path", [UNARY, SERVER_STREAM, BIDI])
async def test_cancelling_the_client_cancels_the_upstream(
    channel: grpc.aio.Channel, upstream: tuple[UpstreamDouble, int], path: str
) -> None:
    double, _ = upstream
    md = (("x-behaviour", "hang"),)
    if path == BIDI:
        call = channel.stream_stream(path)(metadata=md)
        await call.write(b"go")
    elif path == SERVER_STREAM:
        call = channel.unary_stream(path)(b"go", metadata=md)
    else:
        call = channel.unary_unary(path)(b"go", metadata=md)
    await asyncio.sleep(0.3)  # let the call reach the upstream
    assert double.calls[-1] == path
    call.cancel()
    assert await asyncio.wait_for(double.cancelled.get(), timeout=5) == path


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await channel.unary_unary("/tta.v1.PlayerService/NoSuchMethod")(b"")
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("protocol", [REFLECTION_V1ALPHA, REFLECTION_V1])
async def test_reflection_lists_every_served_service_under_both_protocols(
    channel: grpc.aio.Channel, protocol: str
) -> None:
    # Reflection is served under both names (grpcurl and buf curl ask v1 first, older clients
    # v1alpha), so both are listed, as grpc-go and grpc-java servers list them.
    listed = await list_services(channel, protocol)
    assert len(listed) == len(set(listed))
    served = {REFLECTION_V1ALPHA, REFLECTION_V1, "grpc.health.v1.Health"}
    assert served | {"tta.v1.DiagnosticsService", "tta.v2.PlayerService"} <= set(listed)
    # Every listed service resolves to the file that defines it, the v1 one included.
    files = {f.name: f for f in await file_containing(channel, REFLECTION_V1)}
    v1 = files["grpc/reflection/v1/reflection.proto"]
    assert v1.package == "grpc.reflection.v1"
    [info] = v1.service[0].method
    assert (info.input_type, info.output_type) == (
        ".grpc.reflection.v1.ServerReflectionRequest",
        ".grpc.reflection.v1.ServerReflectionResponse",
    )


async def test_stopped_upstream_is_unavailable_naming_the_service_while_others_work() -> None:
    live_server, _, live_port = await _start_double()
    dead_server, _, dead_port = await _start_double()
    gateway = await _gateway(
        [
            {"services": ["tta.v1.ChatService"], "targets": [f"127.0.0.1:{dead_port}"]},
            {"services": ["tta.v1.*", "tta.v2.*"], "targets": [f"127.0.0.1:{live_port}"]},
        ]
    )
    try:
        await dead_server.stop(0)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.stream_unary(CLIENT_STREAM)(iter([b"x"]), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "tta.v1.ChatService" in info.value.details()
            assert f"127.0.0.1:{dead_port}" in info.value.details()
            assert await ch.unary_unary(UNARY)(b"still here", timeout=5) == b"still here"
    finally:
        await gateway.stop(0)
        await live_server.stop(0)
