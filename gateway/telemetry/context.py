"""The call being served, as a context variable, so every log line about a call carries its ids.

A door sets ``current`` when it starts a call (asyncio copies context into the call's task, so
concurrent calls never see each other's ids) and the log formatter reads it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class CallInfo:
    """Identifiers of one call; no payloads, nothing sensitive."""

    request_id: str
    trace_id: str  # 32 lower-case hex digits (W3C trace-context)
    span_id: str  # 16 lower-case hex digits: the gateway's span for this call
    door: str  # "grpc", "http", "websocket"
    method: str  # "/tta.v1.PlayerService/GetPlayer", or an HTTP route template
    principal: str | None = None  # set once identity exists (the auth issue)


current: ContextVar[CallInfo | None] = ContextVar("tta_gateway_call", default=None)
