"""OpenTelemetry set-up: exporter (none, console, OTLP when its package is installed) and sampling.

With the ``none`` exporter no spans are created at all (correlation ids still flow: see
``correlation``); the SDK's cost is paid only when someone collects the spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from gateway.config import TracingSettings
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from gateway.telemetry.correlation import TraceParent


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(
            "tracing.exporter: otlp needs the OTLP exporter package: install tta-gateway[otlp] "
            "(opentelemetry-exporter-otlp-proto-grpc)"
        ) from exc
    exporter: SpanExporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, insecure=True)
    return exporter


def tracer_provider(settings: TracingSettings) -> TracerProvider | None:
    """A provider for the configured exporter, or None when tracing is off (exporter ``none``)."""
    if settings.exporter == "none":
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        # Parent-based: a caller's sampling decision is honoured, new traces sampled at the ratio.
        sampler=ParentBased(TraceIdRatioBased(settings.sampling_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    return provider


def remote_parent(parent: TraceParent) -> Context:
    """The caller's span as the remote parent context of the gateway's server span."""
    span_context = SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.parent_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT),
    )
    return set_span_in_context(NonRecordingSpan(span_context))
