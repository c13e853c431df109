"""Access lines: one per finished call, written straight to the log stream by :class:`AccessLog`::

    {"ts":"...","level":"info","logger":"tta_gateway.access","msg":"access","door":"http",
     "method":"/api/v1/players/{player_id}","status":"OK","duration_ms":1.234,"request_id":"r-1",
     "trace_id":"4bf9...","principal":"pl_1"}

Separate because this is the hot path: it skips the ``logging`` machinery (record, factory,
formatter, handler) entirely and builds its line from values the caller already holds, none of which
needs redacting (``method`` is a gRPC method or a route template, never a raw path). It shares only
the timestamp and text layout with event lines (:mod:`._render`), and the stream and lock of the
handler :func:`gateway.telemetry.logs.configure_logging` installs (which reconfigures the one
process-wide instance, :func:`access_log`, in place). Re-exported by :mod:`gateway.telemetry.logs`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextlib import AbstractContextManager
from typing import Any, Final, TextIO

import orjson

from gateway.telemetry._render import CORE, text_line, timestamp

__all__ = ["ACCESS_LOGGER", "AccessLog", "access_log"]

ACCESS_LOGGER: Final = "tta_gateway.access"


class AccessLog:
    """One line per call, written straight to the log stream (no ``logging`` machinery: hot path).

    Lines are written whole under the log handler's lock, so they never interleave with event lines.
    Skipped when disabled (``log.access: false``) or when ``tta_gateway.access`` is not enabled for
    info (the root level above info, or that logger's own level). ``method`` must be the gRPC method
    or the HTTP *route template*, never a raw path (a path can hold ids and e-mail addresses).
    """

    __slots__ = ("_enabled", "_lock", "_logger", "_stream", "_text", "dropped")

    def __init__(
        self,
        stream: TextIO | None = None,
        enabled: bool = True,
        *,
        text: bool = False,
        lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        """``stream`` None: the stream of the handler :func:`configure_logging` installed, else
        stderr. ``text``: a readable line instead of JSON (the ``text`` log format)."""
        self._stream: TextIO = stream if stream is not None else _default_stream()
        self._enabled = enabled
        self._text = text
        self._lock: AbstractContextManager[Any] = lock if lock is not None else threading.Lock()
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self.dropped = 0  # lines lost to a failing stream (closed, full disk); for metrics

    @property
    def enabled(self) -> bool:
        return self._enabled and self._logger.isEnabledFor(logging.INFO)

    def write(
        self,
        *,
        door: str,
        method: str,
        status: str,
        duration_s: float,
        request_id: str,
        trace_id: str,
        upstream: str | None = None,
        principal: str | None = None,
        peer: str | None = None,
    ) -> None:
        """Write the access line of one finished call (``status``: the gRPC status code name)."""
        if not self._enabled or not self._logger.isEnabledFor(logging.INFO):
            return
        line: dict[str, Any] = {
            "ts": timestamp(time.time()),
            "level": "info",
            "logger": ACCESS_LOGGER,
            "msg": "access",
            "door": door,
            "method": method,
            "status": status,
            "duration_ms": int(duration_s * 1_000_000.0 + 0.5) / 1000,  # 3 decimals; round() is 4x slower
            "request_id": request_id,
            "trace_id": trace_id,
        }
        if upstream is not None:
            line["upstream"] = upstream
        if principal is not None:
            line["principal"] = principal
        if peer is not None:
            line["peer"] = peer
        if self._text:
            fields = {k: v for k, v in line.items() if k not in CORE}
            data = text_line(line["ts"], "info", ACCESS_LOGGER, "access", fields) + "\n"
        else:
            try:
                data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE).decode()
            except orjson.JSONEncodeError:  # a lone surrogate in an id
                data = json.dumps(line, separators=(",", ":")) + "\n"
        try:
            with self._lock:
                self._stream.write(data)
                self._stream.flush()
        except (OSError, ValueError):  # ValueError: write to a closed file
            self.dropped += 1

    def _reconfigure(
        self, stream: TextIO, enabled: bool, text: bool, lock: AbstractContextManager[Any]
    ) -> None:
        self._stream, self._enabled, self._text, self._lock = stream, enabled, text, lock


def _default_stream() -> TextIO:
    # The installed handler is `logs._handler`, which configure_logging replaces (and tests reset)
    # there; read it at call time. Imported here, not at the top: `logs` imports this module.
    from gateway.telemetry import logs

    handler = logs._handler
    return handler.stream if handler is not None else sys.stderr


# Before configure_logging: a disabled instance, so early calls (and tests) write nothing.
_access = AccessLog(stream=sys.stderr, enabled=False)


def access_log() -> AccessLog:
    """The process-wide access log. The same object before and after :func:`configure_logging`
    (which reconfigures it in place), so it may be looked up once and kept."""
    return _access
