"""Reload: new contracts swap in atomically (admin call and SIGHUP); a bad reload keeps the old table."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tta.gateway.v1 import options_pb2

from gateway.app import Gateway
from gateway.config import Settings
from gateway.telemetry.logs import configure_logging
from tests.e2e.conftest import free_port
from tests.integration.gateway.test_descriptor_sources import (
    ECHO,
    acme_file,
    acme_request,
    api_files,
    list_services,
    timestamp_file,
)
from tests.unit.gateway.telemetry.test_logs import restore_logging  # noqa: F401 - a fixture

SHOUT = "/acme/v1/shout"


def with_shout() -> descriptor_pb2.FileDescriptorProto:
    """acme/v1/echo.proto with a second method, Shout, bound to GET /acme/v1/shout, and a second
    service, acme.v1.LoudService."""
    f = acme_file()
    f.service.add(name="LoudService").method.add(
        name="Roar", input_type=".acme.v1.EchoRequest", output_type=".acme.v1.EchoResponse"
    )
    method = f.service[0].method.add(
        name="Shout", input_type=".acme.v1.EchoRequest", output_type=".acme.v1.EchoResponse"
    )
    rule: Any = method.options.Extensions
    rule[annotations_pb2.http].get = SHOUT
    return f


class AnyAcme(grpc.GenericRpcHandler):
    """Answers every acme.v1 unary method with ``b"echo:" + request``."""

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if not details.method.startswith("/acme.v1."):
            return None

        async def echo(request: bytes, context: Any) -> bytes:
            return b"echo:" + request

        return grpc.unary_unary_rpc_method_handler(echo)


async def start_acme() -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([AnyAcme()])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


def write_set(path: Path, acme: descriptor_pb2.FileDescriptorProto) -> None:
    path.write_bytes(
        descriptor_pb2.FileDescriptorSet(file=[timestamp_file(), *api_files(), acme]).SerializeToString()
    )


async def assert_health_unknown(channel: grpc.aio.Channel, service: str) -> None:
    """``service`` is unknown to the gateway's grpc.health.v1: NOT_FOUND to Check, SERVICE_UNKNOWN
    as the first reply to Watch."""
    stub = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=5)
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    watch.cancel()


async def test_admin_reload_swaps_in_new_methods_and_refuses_a_broken_set(tmp_path: Path) -> None:
    contracts = tmp_path / "acme.binpb"
    write_set(contracts, acme_file())
    server, port = await start_acme()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "descriptors": [{"file": str(contracts)}],
            "upstreams": [{"services": ["acme.v1.*"], "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    try:
        async with (
            httpx.AsyncClient(timeout=10) as client,
            grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
        ):
            http = f"http://127.0.0.1:{gateway.http_port}"
            admin = f"http://127.0.0.1:{gateway.admin_port}"
            assert (await client.get(http + SHOUT)).status_code == 404
            write_set(contracts, with_shout())
            resp = await client.post(admin + "/reload")
            assert resp.status_code == 200, resp.text
            assert resp.json()["summary"] == "2 services, 3 methods, 2 http bindings"
            # Reflection and health know the service the reload added.
            assert "acme.v1.LoudService" in await list_services(channel)
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="acme.v1.LoudService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            # A watcher of the added service, to see it forgotten below.
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="acme.v1.LoudService"), timeout=10
            )
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            assert (await client.get(http + SHOUT, params={"payload": "aGk="})).json() == {"payload": "aGk="}
            request = acme_request(b"x")
            assert (
                await channel.unary_unary("/acme.v1.EchoService/Shout")(request, timeout=5)
                == b"echo:" + request
            )
            # A broken set is refused with the reason; the running table keeps serving.
            contracts.write_bytes(b"not a descriptor set")
            refused = await client.post(admin + "/reload")
            assert refused.status_code == 409
            assert "not a binary FileDescriptorSet" in refused.json()["reason"]
            assert (await client.get(http + SHOUT, params={"payload": "aGk="})).status_code == 200
            assert await channel.unary_unary(ECHO)(request, timeout=5) == b"echo:" + request
            # Dropping a method: it answers UNIMPLEMENTED, over gRPC and REST alike.
            write_set(contracts, acme_file())
            assert (await client.post(admin + "/reload")).status_code == 200
            assert (await client.get(http + SHOUT)).status_code == 404
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await channel.unary_unary("/acme.v1.EchoService/Shout")(request, timeout=5)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
            # Dropping a service: health forgets it as if it never existed (grpc.health.v1: Check on an
            # unknown service is NOT_FOUND, Watch sees SERVICE_UNKNOWN); the services left are SERVING.
            await assert_health_unknown(channel, "acme.v1.LoudService")
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
            watch.cancel()
            await assert_health_unknown(channel, "acme.v1.NeverDeclared")  # answered the same way
            for service in ("acme.v1.EchoService", ""):
                kept = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=5
                )
                assert kept.status == health_pb2.HealthCheckResponse.SERVING, service
            assert "acme.v1.LoudService" not in await list_services(channel)
            assert "acme.v1.EchoService" in await list_services(channel)
    finally:
        await gateway.stop(0)
        await server.stop(0)


async def test_sighup_reloads_a_running_process(tmp_path: Path) -> None:
    contracts = tmp_path / "acme.binpb"
    write_set(contracts, acme_file())
    server, port = await start_acme()
    http_port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"grpc: {{host: 127.0.0.1, port: 0}}\nhttp: {{host: 127.0.0.1, port: {http_port}}}\nadmin: {{port: 0}}\n"
        f"descriptors: [{{file: {contracts}}}]\n"
        f'upstreams: [{{services: ["acme.v1.*"], targets: ["127.0.0.1:{port}"]}}]\n'
        "auth: {enabled: false}\n"
    )
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once; the test then only polls it
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            url = f"http://127.0.0.1:{http_port}{SHOUT}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert (await client.get(url)).status_code == 404
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the gateway did not start"
                    await asyncio.sleep(0.1)
            write_set(contracts, with_shout())
            os.kill(proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while (await client.get(url)).status_code != 200:
                assert time.monotonic() < deadline, "SIGHUP did not reload"
                await asyncio.sleep(0.1)
            assert proc.poll() is None  # reloading did not stop the process
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        await server.stop(0)


def with_phi_note() -> list[descriptor_pb2.FileDescriptorProto]:
    """acme/v1/echo.proto plus acme/v1/notes.proto: NotesService/Keep(NoteRequest), whose ``note``
    the contract marks PHI (``(tta.gateway.v1.field_policy).phi``)."""
    notes = descriptor_pb2.FileDescriptorProto(
        name="acme/v1/notes.proto",
        package="acme.v1",
        syntax="proto3",
        dependency=["acme/v1/echo.proto", "tta/gateway/v1/options.proto"],
    )
    field = descriptor_pb2.FieldDescriptorProto
    request = notes.message_type.add(name="NoteRequest")
    note = request.field.add(
        name="note", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL, json_name="note"
    )
    policy: Any = note.options.Extensions
    policy[options_pb2.field_policy].phi = True
    notes.service.add(name="NotesService").method.add(
        name="Keep", input_type=".acme.v1.NoteRequest", output_type=".acme.v1.EchoResponse"
    )
    own = [
        descriptor_pb2.FileDescriptorProto.FromString(d.serialized_pb)
        for d in (descriptor_pb2.DESCRIPTOR, options_pb2.DESCRIPTOR)
    ]
    return [*own, acme_file(), notes]


@pytest.mark.usefixtures("restore_logging")
async def test_a_reload_that_adds_phi_fields_redacts_them_in_the_logs(tmp_path: Path) -> None:
    contracts = tmp_path / "acme.binpb"
    write_set(contracts, acme_file())
    server, port = await start_acme()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "descriptors": [{"file": str(contracts)}],
            "upstreams": [{"services": ["acme.v1.*"], "targets": [f"127.0.0.1:{port}"]}],
            "log": {"level": "debug"},
        }
    )
    gateway = await Gateway.build(settings)
    stream = io.StringIO()
    configure_logging(settings.log, gateway.redactor, stream)
    await gateway.start()
    secret = "I-told-my-therapist-about-the-night-of-the-fire"
    try:
        contracts.write_bytes(
            descriptor_pb2.FileDescriptorSet(
                file=[timestamp_file(), *api_files(), *with_phi_note()]
            ).SerializeToString()
        )
        await gateway.reload()
        note_cls = message_factory.GetMessageClass(gateway.pool.FindMessageTypeByName("acme.v1.NoteRequest"))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
            request = note_cls(note=secret).SerializeToString()
            assert (
                await channel.unary_unary("/acme.v1.NotesService/Keep")(request, timeout=5)
                == b"echo:" + request
            )
    finally:
        await gateway.stop(0)
        await server.stop(0)
    received = [json.loads(line) for line in stream.getvalue().splitlines() if '"call received"' in line]
    assert received, "no debug line of the call: the check below would prove nothing"
    assert received[-1]["request"]["note"].startswith("<redacted:")
    assert secret not in stream.getvalue()
