"""Spans of a call through a real gateway with tracing on: the caller's trace continues through the
gateway's SERVER span and CLIENT span, and the upstream sees the CLIENT span as its parent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.app import Gateway
from gateway.config import Settings
from gateway.telemetry.logs import AccessLog
from tests.integration.gateway.test_passthrough import ALL_TTA, UNARY, _start_double

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
async def traced() -> AsyncIterator[tuple[grpc.aio.Channel, InMemorySpanExporter]]:
    server, _, port = await _start_double()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": [{**ALL_TTA, "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gateway.telemetry.set_provider(provider)
    gateway.telemetry.access = AccessLog(enabled=False)
    await gateway.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
        yield channel, exporter
    await gateway.stop(0)
    await server.stop(0)


async def test_the_callers_trace_continues_through_the_gateway(
    traced: tuple[grpc.aio.Channel, InMemorySpanExporter],
) -> None:
    channel, exporter = traced
    md = (("x-behaviour", "metadata"), ("traceparent", f"00-{TRACE}-{CALLER_SPAN}-01"))
    call = channel.unary_unary(UNARY)(b"", metadata=md)
    seen = (await call).decode()
    spans = {s.kind: s for s in exporter.get_finished_spans()}
    server, client = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
    assert f"{server.context.trace_id:032x}" == TRACE
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    assert server.name == "tta.v1.DiagnosticsService/Echo"
    assert server.attributes is not None
    assert server.attributes["rpc.system"] == "grpc"
    assert server.attributes["rpc.service"] == "tta.v1.DiagnosticsService"
    # The upstream's parent is the gateway's CLIENT span.
    assert f"traceparent='00-{TRACE}-{client.context.span_id:016x}-01'" in seen
    # The client gets the gateway's SERVER span as the next hop back.
    returned = dict(await call.initial_metadata())["traceparent"]
    assert returned == f"00-{TRACE}-{server.context.span_id:016x}-01"


async def test_an_upstream_error_marks_the_spans_without_its_message(
    traced: tuple[grpc.aio.Channel, InMemorySpanExporter],
) -> None:
    channel, exporter = traced
    with pytest.raises(grpc.aio.AioRpcError):
        await channel.unary_unary(UNARY)(b"", metadata=(("x-behaviour", "error"),))
    spans = exporter.get_finished_spans()
    assert {s.kind for s in spans} == {SpanKind.SERVER, SpanKind.CLIENT}
    for span in spans:
        assert span.status.description == "INVALID_ARGUMENT"
        assert "player_id" not in str(span.status.description)
        assert span.attributes is not None
        assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
