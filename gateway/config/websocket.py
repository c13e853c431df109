"""The ``websocket`` section: the WebSocket door's limits (docs/websocket-protocol.md).

The door shares the HTTP door's listener (``http.host``/``http.port``); this section bounds what one
connection may cost and who may open one::

    websocket:
      enabled: true
      max_message_bytes: 65536         # a larger frame or message is closed 1009
      receive_queue: 16                # client messages waiting for the upstream; more: closed 1008
      send_queue: 64                   # messages waiting for a slow client; more: closed 1008
      ping_interval_seconds: 20        # 0: no pings
      ping_timeout_seconds: 20         # no pong within this: the connection is idle/dead, closed 1011
      allowed_origins: []              # besides the same host; ["*"]: any
      max_connections_per_ip: 100      # 0: no cap; beyond: closed 1013
      max_connections_per_user: 20     # 0: no cap; beyond: closed 1013
      per_message_deflate: false
      room_log: true                   # the room and chat paths deliver from the gateway's room log
      room_max_messages: 1000          # retained per room, for resume (same on every process)
      room_max_age_seconds: 21600      # no message older than this is retained (6 h)
      room_max_payload_bytes: 65536    # a stored message larger than this is refused

Every bound is finite by default: a connection is a long-lived resource, and a gateway that lets one
client hold unbounded queues or sockets is one slow or hostile client away from running out of memory.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from gateway.config._errors import Invalid
from gateway.config._types import Section

__all__ = ["WebSocketSettings"]

_Count = Annotated[int, Field(ge=1, le=100_000)]
_Cap = Annotated[int, Field(ge=0, le=1_000_000)]
_Interval = Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)]


class WebSocketSettings(Section):
    """The WebSocket door: message size, queues, keepalive, Origin allowlist and connection caps."""

    enabled: bool = True
    # 64 KiB: a chat message is a few hundred bytes; the engine (websockets) enforces it, after
    # reassembling fragments and after decompression.
    max_message_bytes: Annotated[int, Field(ge=128, le=16 * 1024 * 1024)] = 65_536
    receive_queue: _Count = 16
    send_queue: _Count = 64
    ping_interval_seconds: _Interval = 20.0
    ping_timeout_seconds: _Interval = 20.0
    allowed_origins: tuple[str, ...] = ()
    max_connections_per_ip: _Cap = 100
    max_connections_per_user: _Cap = 20
    # Off by default: each compressed connection holds zlib state (tens of KiB), which dominates the
    # memory of an idle connection; chat messages are short.
    per_message_deflate: bool = False
    # The room log (decision 0014): Redis when redis.url is set, else this process's memory. Every
    # process of one deployment must use the same retention: it defines the window clients resume in.
    # Off: no room step in the chain; the room and chat paths relay the upstream's streams, with the
    # upstream's sequence numbers, as gRPC and REST do.
    room_log: bool = True
    room_max_messages: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    room_max_age_seconds: Annotated[float, Field(ge=1, le=30 * 86400, allow_inf_nan=False)] = 6 * 3600.0
    room_max_payload_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 65_536

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise Invalid("each entry is an origin like https://app.example.org, or *")
            if origin != "*" and origin.rstrip("/") != origin:
                raise Invalid("an origin has no path: drop the trailing /")
        return tuple(o.lower() for o in origins)
