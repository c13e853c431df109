"""Reference ``tta.v1.DiagnosticsService``: ``Echo`` returns the payload byte for byte;
``InspectCall`` reports the correlation ids the call arrived with; ``StreamEcho`` streams the payload
back ``count`` times and, when asked with ``fail_after``, ends the stream with ``ABORTED`` part-way, so
a client (or an end-to-end test) can see an error arrive in the middle of a stream.

It touches no state, so benchmarks can measure transport and gateway policy cost alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from tta.v1 import diagnostics_pb2, diagnostics_pb2_grpc

from services._errors import Context, aborted, invalid_argument, translate_errors
from services._streams import open_stream
from services.state import World

__all__ = [
    "ERROR_DOMAIN",
    "MAX_STREAM_ECHO_COUNT",
    "MAX_STREAM_ECHO_PAYLOAD",
    "REQUESTED_FAILURE",
    "DiagnosticsServicer",
    "register",
]

# The most messages one StreamEcho may ask for: the endpoint is public, so a call must stay cheap.
MAX_STREAM_ECHO_COUNT = 100
# And the largest payload it repeats: at most 100 × 4 KiB goes out for one request (no amplification
# beyond a few hundred KiB from a public endpoint).
MAX_STREAM_ECHO_PAYLOAD = 4096
# google.rpc.ErrorInfo of the failure StreamEcho was asked for (the gateway's own is "gateway.tta").
ERROR_DOMAIN = "diagnostics.tta"
REQUESTED_FAILURE = "REQUESTED_FAILURE"


@translate_errors
class DiagnosticsServicer(diagnostics_pb2_grpc.DiagnosticsServiceServicer):
    """Echoes payloads."""

    async def Echo(
        self, request: diagnostics_pb2.EchoRequest, context: Context
    ) -> diagnostics_pb2.EchoResponse:
        """The request's payload, unchanged."""
        return diagnostics_pb2.EchoResponse(payload=request.payload)

    async def InspectCall(
        self, request: diagnostics_pb2.InspectCallRequest, context: Context
    ) -> diagnostics_pb2.InspectCallResponse:
        """The correlation ids this call arrived with, and nothing else of its metadata."""
        seen = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        return diagnostics_pb2.InspectCallResponse(
            request_id=seen.get("x-request-id", ""),
            traceparent=seen.get("traceparent", ""),
            tracestate=seen.get("tracestate", ""),
        )

    async def StreamEcho(
        self, request: diagnostics_pb2.StreamEchoRequest, context: Context
    ) -> AsyncIterator[diagnostics_pb2.StreamEchoResponse]:
        """``count`` copies of the payload, then, when ``fail_after`` is set, ``ABORTED``."""
        if request.count > MAX_STREAM_ECHO_COUNT:
            raise invalid_argument("count", f"must be at most {MAX_STREAM_ECHO_COUNT}, got {request.count}")
        if len(request.payload) > MAX_STREAM_ECHO_PAYLOAD:
            raise invalid_argument(
                "payload", f"must be at most {MAX_STREAM_ECHO_PAYLOAD} bytes, got {len(request.payload)}"
            )
        fail = request.HasField("fail_after")
        sent = min(request.count, request.fail_after) if fail else request.count
        if sent or not fail:
            # A stream that fails before its first message stays Trailers-Only, like any refused call,
            # so the REST door answers it with a plain error status (409) rather than a 200 stream.
            await open_stream(context)
        for index in range(sent):
            yield diagnostics_pb2.StreamEchoResponse(index=index, payload=request.payload)
        if fail:
            raise aborted(
                f"stream failed after {sent} of {request.count} messages, as requested by fail_after",
                reason=REQUESTED_FAILURE,
                domain=ERROR_DOMAIN,
                metadata={"failAfter": str(request.fail_after), "sent": str(sent)},
            )


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the diagnostics service to ``server`` (``world`` is unused: echo is stateless)."""
    del world
    diagnostics_pb2_grpc.add_DiagnosticsServiceServicer_to_server(DiagnosticsServicer(), server)
