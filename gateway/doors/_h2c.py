"""uvicorn's HTTP/1.1 + HTTP/2 protocol (zttp), with one fix: an HTTP/2 request without a body ends.

``http.http2`` serves the HTTP door with uvicorn's zttp protocol: each connection is sniffed for the
HTTP/2 connection preface (prior-knowledge h2c) and handed to ``ZttpH2Protocol``, anything else to
the HTTP/1.1 ``ZttpProtocol``. Since zttp 0.0.22 a request whose HEADERS frame carries END_STREAM
(every GET and DELETE) is complete on the ``Request`` event itself (``Request.end_stream``: "no
``Data`` or ``EndOfMessage`` event follows"). uvicorn 0.54.0's HTTP/1.1 zttp protocol reads
``end_stream``; its HTTP/2 protocol does not, and waits for an ``EndOfMessage`` that never comes, so
the app's first ``receive()`` blocks until the client gives up. :class:`H2cProtocol` is uvicorn's
dispatcher handing HTTP/2 connections to a subclass that ends such a request's body.

Drop this module once uvicorn's ``ZttpH2Protocol.handle_request`` reads ``end_stream``; the GET tests
in tests/integration/gateway/test_http_door.py (run over h2c too) fail without the fix.
"""

from __future__ import annotations

import asyncio

import zttp
from uvicorn.protocols.http.auto_zttp_impl import AutoZttpProtocol
from uvicorn.protocols.http.zttp_h2_impl import ZttpH2Protocol
from uvicorn.protocols.http.zttp_impl import ZttpProtocol

__all__ = ["H2cProtocol"]


class _H2Protocol(ZttpH2Protocol):
    def handle_request(self, event: zttp.Request) -> None:
        super().handle_request(event)
        cycle = self.cycles.get(event.stream_id)
        if event.end_stream and cycle is not None:
            # What the EndOfMessage branch of handle_events does; the app's task has not run yet.
            cycle.more_body = False
            cycle.message_event.set()


class H2cProtocol(AutoZttpProtocol):
    """``AutoZttpProtocol`` (HTTP/1.1, or HTTP/2 on its preface or ALPN ``h2``) with the fixed
    HTTP/2 side; pass it to ``uvicorn.Config(http=...)``."""

    def _switch(self, http2: bool, initial_data: bytes = b"") -> None:
        # AutoZttpProtocol._switch with _H2Protocol in place of ZttpH2Protocol.
        protocol_class: type[ZttpH2Protocol | ZttpProtocol] = _H2Protocol if http2 else ZttpProtocol
        protocol: asyncio.Protocol = protocol_class(
            config=self.config, server_state=self.server_state, app_state=self.app_state, _loop=self.loop
        )
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if initial_data:
            protocol.data_received(initial_data)
