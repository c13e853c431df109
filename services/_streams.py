"""Streamed responses send their headers as soon as the call is known to stream.

grpc.aio sends a call's initial metadata (HTTP/2 Response-Headers) with its first message unless the
handler sends it itself. A stream that waits for something to happen (a quiet chat room, a session
with no new turn) would show its caller nothing until then, not even that the call was accepted. The
gateway's REST door starts its HTTP response (status line and headers) when the upstream's headers
arrive, so a browser ``EventSource`` opens at once and idle proxies see a live response.

Handlers call :func:`open_stream` after validating the request and looking up what it names, never
before: a call refused before that answers Trailers-Only (the gRPC over HTTP/2 protocol's
``Trailers-Only`` response), which the REST door turns into a plain 4xx instead of a 200 whose body
carries the error.
"""

from __future__ import annotations

from services._errors import Context

__all__ = ["open_stream"]


async def open_stream(context: Context) -> None:
    """Send the (empty) response headers now, ahead of any message."""
    await context.send_initial_metadata(())
