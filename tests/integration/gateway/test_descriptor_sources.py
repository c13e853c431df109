"""Contracts the gateway has no generated code for: a FileDescriptorSet file, or an upstream's own
gRPC reflection, is enough to front a service; the gateway then forwards raw bytes to a real upstream
on loopback and lists the service in its own reflection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from gateway.app import Gateway
from gateway.config import Settings
from gateway.errors import ConfigError

ECHO = "/acme.v1.EchoService/Echo"
ACME = "acme.v1.EchoService"


def acme_file() -> descriptor_pb2.FileDescriptorProto:
    """acme/v1/echo.proto, as protoc would describe it; it imports a well-known type so that the
    gateway must gather imports too::

        syntax = "proto3";
        package acme.v1;
        import "google/protobuf/timestamp.proto";
        message EchoRequest { bytes payload = 1; google.protobuf.Timestamp sent = 2; }
        message EchoResponse { bytes payload = 1; }
        service EchoService {
          rpc Echo(EchoRequest) returns (EchoResponse) {
            option (google.api.http) = {post: "/acme/v1/echo:shout" body: "*"};
          }
        }
    """
    f = descriptor_pb2.FileDescriptorProto(
        name="acme/v1/echo.proto",
        package="acme.v1",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/api/annotations.proto"],
    )
    field = descriptor_pb2.FieldDescriptorProto
    req = f.message_type.add(name="EchoRequest")
    req.field.add(
        name="payload", number=1, type=field.TYPE_BYTES, label=field.LABEL_OPTIONAL, json_name="payload"
    )
    req.field.add(
        name="sent",
        number=2,
        type=field.TYPE_MESSAGE,
        type_name=".google.protobuf.Timestamp",
        label=field.LABEL_OPTIONAL,
        json_name="sent",
    )
    resp = f.message_type.add(name="EchoResponse")
    resp.field.add(
        name="payload", number=1, type=field.TYPE_BYTES, label=field.LABEL_OPTIONAL, json_name="payload"
    )
    method = f.service.add(name="EchoService").method.add(
        name="Echo", input_type=".acme.v1.EchoRequest", output_type=".acme.v1.EchoResponse"
    )
    rule: Any = method.options.Extensions
    rule[annotations_pb2.http].post = "/acme/v1/echo:shout"
    rule[annotations_pb2.http].body = "*"
    return f


def timestamp_file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(f)
    return f


def api_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """google/api/http.proto and annotations.proto, which the http rule option needs."""
    out = []
    for module in (http_pb2, annotations_pb2, descriptor_pb2):
        f = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(f)
        out.append(f)
    return [out[2], out[0], out[1]]  # descriptor.proto, then http.proto, then annotations.proto


class RawEcho(grpc.GenericRpcHandler):
    """Serves only /acme.v1.EchoService/Echo, raw bytes: answers ``b"echo:" + request``."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != ECHO:
            return None

        async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            self.calls.append(request)
            return b"echo:" + request

        return grpc.unary_unary_rpc_method_handler(echo)


async def start_upstream(with_reflection: bool) -> tuple[grpc.aio.Server, RawEcho, int]:
    server = grpc.aio.server()
    echo = RawEcho()
    server.add_generic_rpc_handlers([echo])
    if with_reflection:
        # A private pool: the test process has no generated code for acme.v1 either.
        pool = descriptor_pool.DescriptorPool()
        pool.Add(timestamp_file())
        for f in api_files():
            pool.Add(f)
        pool.Add(acme_file())
        reflection.enable_server_reflection([ACME, reflection.SERVICE_NAME], server, pool=pool)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, echo, port


async def start_gateway(descriptors: list[dict[str, Any]], upstream_port: int) -> Gateway:
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "descriptors": descriptors,
            "upstreams": [{"services": ["acme.v1.*"], "targets": [f"127.0.0.1:{upstream_port}"]}],
            "shutdown": {"grace_period_seconds": 1},
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    return gateway


async def list_services(channel: grpc.aio.Channel, protocol: str = reflection.SERVICE_NAME) -> list[str]:
    """ListServices over ``protocol``: grpc.reflection.v1alpha.ServerReflection or, with the same
    (wire-identical) messages, grpc.reflection.v1.ServerReflection."""
    info = channel.stream_stream(
        f"/{protocol}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    responses = info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    found = [r async for r in responses]
    assert len(found) == 1
    return [s.name for s in found[0].list_services_response.service]


async def file_containing(channel: grpc.aio.Channel, symbol: str) -> list[descriptor_pb2.FileDescriptorProto]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
    found = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=5)]
    assert not found[0].HasField("error_response"), found[0].error_response.error_message
    return [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in found[0].file_descriptor_response.file_descriptor_proto
    ]


def acme_request(payload: bytes) -> bytes:
    """An EchoRequest built from the descriptor alone, as a client without generated code would."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(timestamp_file())
    for f in api_files():
        pool.Add(f)
    pool.Add(acme_file())
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("acme.v1.EchoRequest"))
    return bytes(cls(payload=payload).SerializeToString())


@pytest.fixture
def descriptor_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.binpb"
    path.write_bytes(
        descriptor_pb2.FileDescriptorSet(
            file=[timestamp_file(), *api_files(), acme_file()]
        ).SerializeToString()
    )
    return path


@pytest.fixture
async def plain_upstream() -> AsyncIterator[tuple[RawEcho, int]]:
    server, echo, port = await start_upstream(with_reflection=False)
    yield echo, port
    await server.stop(0)


@pytest.fixture
async def reflecting_upstream() -> AsyncIterator[tuple[RawEcho, int]]:
    server, echo, port = await start_upstream(with_reflection=True)
    yield echo, port
    await server.stop(0)


async def _assert_fronts_acme(gateway: Gateway, echo: RawEcho) -> None:
    assert gateway.table.services == (ACME,)
    assert list(gateway.table.routes) == [ECHO]
    request = acme_request(b"\x00hello\xff")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
        assert await channel.unary_unary(ECHO)(request, timeout=5) == b"echo:" + request
        assert echo.calls == [request]
        # Nothing but the configured contracts is fronted: the embedded TTA set is not loaded.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channel.unary_unary("/tta.v1.DiagnosticsService/Echo")(b"", timeout=5)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        services = await list_services(channel)
        assert ACME in services
        assert not any(s.startswith("tta.") for s in services)
        files = {f.name: f for f in await file_containing(channel, ACME)}
        assert files["acme/v1/echo.proto"] == acme_file()
        assert "google/protobuf/timestamp.proto" in files
    # REST from the same descriptors: the http rule in the file is served, no generated code anywhere.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client:
        resp = await client.post(
            "/acme/v1/echo:shout", json={"payload": "aGk=", "sent": "2026-11-28T10:00:00Z"}
        )
        assert resp.status_code == 200, resp.text
        # The upstream prefixes "echo:" (an unknown fixed32 field to the parser) and echoes the request,
        # whose payload is field 1 of EchoResponse too.
        assert resp.json() == {"payload": "aGk="}
        assert await client.get("/acme/v1/echo:shout") is not None
        wrong = await client.get("/acme/v1/echo:shout")
        assert wrong.status_code == 405


async def test_a_descriptor_file_alone_fronts_a_service_without_generated_code(
    descriptor_file: Path, plain_upstream: tuple[RawEcho, int]
) -> None:
    echo, port = plain_upstream
    gateway = await start_gateway([{"file": str(descriptor_file)}], port)
    try:
        await _assert_fronts_acme(gateway, echo)
    finally:
        await gateway.stop(0)


async def test_descriptors_learned_from_upstream_reflection(reflecting_upstream: tuple[RawEcho, int]) -> None:
    echo, port = reflecting_upstream
    gateway = await start_gateway([{"reflection": True}], port)
    try:
        # The import came over reflection too, and imports precede their dependants.
        names = [f.name for f in gateway.fds.file]
        assert set(names) == {
            "google/protobuf/timestamp.proto",
            "google/protobuf/descriptor.proto",
            "google/api/http.proto",
            "google/api/annotations.proto",
            "acme/v1/echo.proto",
        }
        for f in gateway.fds.file:
            assert all(names.index(dep) < names.index(f.name) for dep in f.dependency)
        await _assert_fronts_acme(gateway, echo)
    finally:
        await gateway.stop(0)


async def test_reflection_on_an_upstream_without_reflection_is_a_config_error(
    plain_upstream: tuple[RawEcho, int],
) -> None:
    _, port = plain_upstream
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "descriptors": [{"reflection": True}],
            "upstreams": [{"services": ["acme.v1.*"], "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    with pytest.raises(ConfigError) as info:
        await Gateway.build(settings)
    message = info.value.message
    assert message.startswith(f"descriptors: reflection on 127.0.0.1:{port}: ")
    # UNIMPLEMENTED, except about 1 time in 100 when grpc's client write races the server's immediate
    # trailers-only answer and reports INTERNAL (grpc/grpc#36066); reported as a gateway issue.
    assert message.removeprefix(f"descriptors: reflection on 127.0.0.1:{port}: ").startswith(
        ("UNIMPLEMENTED: ", "INTERNAL: ")
    ), message
