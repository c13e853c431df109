"""Reference ``tta.v1.DiagnosticsService``: ``Echo`` returns the payload byte for byte;
``InspectCall`` reports the correlation ids the call arrived with.

It touches no state, so benchmarks can measure transport and gateway policy cost alone.
"""

from __future__ import annotations

import grpc
from tta.v1 import diagnostics_pb2, diagnostics_pb2_grpc

from services._errors import Context, translate_errors
from services.state import World

__all__ = ["DiagnosticsServicer", "register"]


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


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the diagnostics service to ``server`` (``world`` is unused: echo is stateless)."""
    del world
    diagnostics_pb2_grpc.add_DiagnosticsServiceServicer_to_server(DiagnosticsServicer(), server)
