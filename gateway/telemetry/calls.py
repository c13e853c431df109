"""One object per call that every door uses the same way: correlate, trace, count, log.

``Telemetry.begin`` runs when a call arrives (it is the first step of the policy chain: correlate and
trace); ``CallScope.finish`` runs once when it ends, whatever the outcome. Between them the door
asks the scope for the metadata to send upstream and to return to the client.

Cost matters here (every call pays it): ids come from a per-process ``random.Random`` seeded from
``os.urandom`` (no system call per id; ids are correlation handles, not secrets: a caller may send any
request id it likes, and OpenTelemetry's own id generator uses ``random`` too), metric children are bound once
per route, the access line is one ``orjson`` write, and with the ``none`` exporter no span exists.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context

from gateway.routes import Route
from gateway.telemetry import context as call_context
from gateway.telemetry.context import CallInfo
from gateway.telemetry.correlation import Correlation, correlate, keep_or_mint_request_id, parse_traceparent
from gateway.telemetry.logs import AccessLog
from gateway.telemetry.metrics import GatewayMetrics, RouteMetrics
from gateway.telemetry.redact import Redactor
from gateway.telemetry.tracing import remote_parent

log = logging.getLogger("gateway.calls")
_ids = random.Random(os.urandom(32))
# A forked child must not repeat its parent's ids (the gateway never forks, but a host process may).
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))

REQUEST_ID = "x-request-id"
TRACEPARENT = "traceparent"
Metadata = tuple[tuple[str, str | bytes], ...]


class CallScope:
    """The telemetry of one call in flight."""

    __slots__ = (
        "_client_span",
        "_metrics",
        "_server_span",
        "_start",
        "_telemetry",
        "_token",
        "_upstream_done",
        "correlation",
        "door",
        "finished",
        "method",
        "response_metadata",
        "upstream",
        "upstream_traceparent",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        door: str,
        method: str,
        upstream: str,
        metrics: RouteMetrics | None,
        correlation: Correlation,
        upstream_traceparent: str,
        server_span: Span | None,
        client_span: Span | None,
    ) -> None:
        self._telemetry = telemetry
        self.door = door
        self.method = method
        self.upstream = upstream
        self._metrics = metrics
        self.correlation = correlation
        self.upstream_traceparent = upstream_traceparent
        self._server_span = server_span
        self._client_span = client_span
        self._start = time.perf_counter()
        self._upstream_done: float | None = None
        self.finished = False
        # Returned to the client on every outcome: in the headers, or the trailers of an error.
        self.response_metadata: Metadata = (
            (REQUEST_ID, correlation.request_id),
            (TRACEPARENT, correlation.traceparent),
        )
        self._token = call_context.current.set(
            CallInfo(correlation.request_id, correlation.trace_id, correlation.span_id, door, method)
        )
        if metrics is not None:
            metrics.started()

    def upstream_metadata(self, forwarded: Metadata) -> Metadata:
        """The caller's metadata with the gateway's ids in place of the caller's."""
        kept = tuple((k, v) for k, v in forwarded if k not in (REQUEST_ID, TRACEPARENT))
        return (*kept, (REQUEST_ID, self.correlation.request_id), (TRACEPARENT, self.upstream_traceparent))

    def upstream_finished(self) -> None:
        if self._upstream_done is None:
            self._upstream_done = time.perf_counter()

    def finish(self, code: grpc.StatusCode, message: str | None = None) -> None:
        """Record the outcome once: metrics, the access line, span status, log context."""
        if self.finished:
            return
        self.finished = True
        end = time.perf_counter()
        status = code.name
        upstream_s = None if self._upstream_done is None else self._upstream_done - self._start
        if self._metrics is not None:
            self._metrics.finished(status, end - self._start, upstream_s)
        self._telemetry.access.write(
            door=self.door,
            method=self.method,
            status=status,
            duration_s=end - self._start,
            request_id=self.correlation.request_id,
            trace_id=self.correlation.trace_id,
            upstream=self.upstream,
        )
        for span in (self._client_span, self._server_span):
            if span is not None:
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code != grpc.StatusCode.OK:
                    # The status name only: an upstream's message may quote player text.
                    span.set_status(Status(StatusCode.ERROR, status))
                span.end()
        call_context.current.reset(self._token)


class Telemetry:
    """Process-wide: metrics, access log and tracer, shared by every door."""

    def __init__(
        self,
        metrics: GatewayMetrics | None,
        access: AccessLog,
        provider: TracerProvider | None = None,
        redactor: Redactor | None = None,
        pool: descriptor_pool.DescriptorPool | None = None,
    ) -> None:
        self.metrics = metrics
        self.access = access
        self.provider = provider
        self.redactor = redactor or Redactor()
        self.pool = pool  # swapped by a reload, to decode requests at debug level
        self._tracer = provider.get_tracer("tta-gateway") if provider is not None else None
        self._route_metrics: dict[tuple[str, str], RouteMetrics] = {}

    def set_provider(self, provider: TracerProvider | None) -> None:
        """Trace with ``provider`` from the next call on (tests install an in-memory exporter)."""
        self.provider = provider
        self._tracer = provider.get_tracer("tta-gateway") if provider is not None else None

    def _bound(self, door: str, route: Route, label: str) -> RouteMetrics | None:
        if self.metrics is None:
            return None
        key = (door, label)
        found = self._route_metrics.get(key)
        if found is None:
            found = self._route_metrics[key] = self.metrics.route(door, label, route.upstream)
        return found

    def begin(
        self, door: str, route: Route, metadata: Iterable[tuple[str, Any]], label: str | None = None
    ) -> CallScope:
        """Start a call: keep or mint its ids, open its spans, count it in flight.

        ``label`` names the call in metrics and logs: the gRPC method path by default, the route
        template (``GET /api/v1/players/{player_id}``) on the HTTP door — never a raw path."""
        label = label or route.path
        request_id: str | None = None
        traceparent: str | None = None
        for key, value in metadata:
            if key == REQUEST_ID and isinstance(value, str):
                request_id = value
            elif key == TRACEPARENT and isinstance(value, str):
                traceparent = value
        if self._tracer is None:
            corr = correlate(request_id, traceparent, _ids.randbytes)
            return CallScope(
                self,
                door,
                label,
                route.upstream,
                self._bound(door, route, label),
                corr,
                corr.traceparent,
                None,
                None,
            )
        parent = parse_traceparent(traceparent)
        name = route.path[1:]
        server = self._tracer.start_span(
            name,
            context=remote_parent(parent) if parent is not None else None,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": route.service,
                "rpc.method": route.method,
                "tta.door": door,
            },
        )
        client = self._tracer.start_span(
            name,
            context=set_span_in_context(server),
            kind=SpanKind.CLIENT,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": route.service,
                "rpc.method": route.method,
                "tta.upstream": route.upstream,
            },
        )
        sc, cc = server.get_span_context(), client.get_span_context()
        sampled = bool(sc.trace_flags.sampled)
        corr = Correlation(
            keep_or_mint_request_id(request_id, _ids.randbytes),
            f"{sc.trace_id:032x}",
            f"{sc.span_id:016x}",
            parent.parent_id if parent is not None else None,
            sampled,
        )
        upstream_tp = f"00-{cc.trace_id:032x}-{cc.span_id:016x}-{'01' if sampled else '00'}"
        return CallScope(
            self,
            door,
            label,
            route.upstream,
            self._bound(door, route, label),
            corr,
            upstream_tp,
            server,
            client,
        )

    def debug_request(self, route: Route, metadata: Iterable[tuple[str, Any]], request: bytes | None) -> None:
        """At debug level only: what arrived, through the redaction layer (decoding costs; never at info)."""
        extra: dict[str, Any] = {"metadata": self.redactor.metadata(metadata)}
        if request is not None and self.pool is not None:
            try:
                cls = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(route.input_type))
                body = json_format.MessageToDict(cls.FromString(request), preserving_proto_field_name=True)
                extra["request"] = self.redactor.message(route.input_type, body)
            except (KeyError, DecodeError) as exc:
                extra["request"] = f"<undecodable {route.input_type}: {type(exc).__name__}>"
        log.debug("call received", extra=extra)

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
