"""Structured logs: one JSON object per line, every line through the :class:`Redactor`.

Two kinds of line share one stream:

- **event lines**, from ordinary ``logging`` calls, formatted by :class:`JsonFormatter` (or
  :class:`TextFormatter` for people at a terminal)::

      {"ts":"2024-05-01T12:00:00.123Z","level":"warning","logger":"gateway.upstream","msg":"endpoint down",
       "request_id":"r-1","trace_id":"4bf9...","span_id":"00f0...","door":"grpc","method":"/tta.v1...",
       "target":"10.0.0.7:50061"}

- **access lines**, one per call, written by :class:`AccessLog` straight to the stream (the hot path
  skips the ``logging`` machinery)::

      {"ts":"...","level":"info","logger":"tta_gateway.access","msg":"access","door":"http",
       "method":"/api/v1/players/{player_id}","status":"OK","duration_ms":1.234,"request_id":"r-1",
       "trace_id":"4bf9...","principal":"pl_1"}

Levels: expected outcomes (a denied call, an unavailable upstream) are logged at info or warning
without a stack; bugs with ``log.exception`` (a stack trace). ``log.level`` sets the root level; the
chatty ``grpc``, ``asyncio`` and ``uvicorn`` loggers stay at warning unless it is debug.

What is redacted, and the decision about exceptions:

- ``extra={...}`` values, and dict/message/dataclass arguments of ``%``-style calls, pass
  :meth:`Redactor.mapping` (sensitive keys, phi/scan fields of messages hashed); the formatted
  message passes :meth:`Redactor.text` (bearer tokens, JWTs hashed).
- An exception's *message* can quote user data (``int('I want to die')``, ``KeyError(<key>)``, a JSON
  parse error naming the value), and no pattern recognises player text. So ``exc`` keeps the whole
  traceback (frames and source lines are code, not data) and the chain of causes, but every
  exception's message (and note) is replaced by its salted hash: ``ValueError: <redacted:0a1b2c...>``.
  Equal messages hash equal, so repeated failures can still be grouped. Exceptions passed as ``%``
  arguments are rendered the same way.
- A record that cannot be rendered yields a short line saying so, never its arguments; the handler's
  error report (which stock ``logging`` prints with the record's message and arguments) is replaced
  by one line without them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Final, TextIO

import orjson

from gateway.config import LogSettings
from gateway.telemetry.context import current
from gateway.telemetry.redact import Redactor

__all__ = ["ACCESS_LOGGER", "AccessLog", "JsonFormatter", "TextFormatter", "access_log", "configure_logging"]

ACCESS_LOGGER: Final = "tta_gateway.access"
_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_NOISY: Final = ("grpc", "asyncio", "uvicorn")
# Attributes every LogRecord has; anything else on a record came from `extra={...}`.
# uvicorn adds an ANSI-coloured copy of its message as `color_message`: never useful in JSON.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_CORE: Final = frozenset({"ts", "level", "logger", "msg", "exc_type", "exc", "stack"})
_CONTEXT: Final = ("request_id", "trace_id", "span_id", "door", "method", "principal")
_RECORD_FAILED: Final = "<log record could not be rendered: {}>"

_SysExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


# --- timestamps ---------------------------------------------------------------------------------------

_second: tuple[int, str] = (-1, "")  # (epoch second, its "YYYY-MM-DDTHH:MM:SS"), replaced atomically
_MILLIS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))  # formatting is a third of the cost


def _timestamp(epoch: float, millis: int | None = None) -> str:
    """RFC 3339, UTC, milliseconds, ``Z``: ``2024-05-01T12:00:00.123Z``."""
    global _second  # noqa: PLW0603 - a one-entry cache; a race only recomputes the same value
    sec = int(epoch)
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    # epoch - sec is in [0, 1), so ms is in [0, 999]; logging's msecs likewise.
    return cached[1] + _MILLIS[int((epoch - sec) * 1000) if millis is None else millis]


# --- rendering one record -----------------------------------------------------------------------------


def _render(record: logging.LogRecord, redactor: Redactor) -> dict[str, Any]:
    """The record as an ordered dict of JSON-ready values, everything redacted."""
    out: dict[str, Any] = {
        "ts": _timestamp(record.created, int(record.msecs)),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": _message(record, redactor),
    }
    extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
    call = current.get()
    if call is not None:
        for key in _CONTEXT:
            value = getattr(call, key)
            if value is not None and key not in extras:
                out[key] = value
    if extras:
        for key, value in redactor.mapping(extras).items():
            # An extra must not overwrite the line's own keys (`extra={"level": ...}`); keep it aside.
            out[f"extra_{key}" if key in _CORE else key] = value
    exc_info = record.exc_info
    if exc_info is not None and exc_info[1] is not None:
        out["exc_type"] = _type_name(type(exc_info[1]))
        out["exc"] = format_exception(exc_info[1], redactor)
    if record.stack_info:
        out["stack"] = record.stack_info  # frames only: code, not data
    return out


def _message(record: logging.LogRecord, redactor: Redactor) -> str:
    """``record.getMessage()``, with the arguments redacted before they are interpolated."""
    msg = record.msg
    text = str(redactor.mapping(msg)) if isinstance(msg, Mapping) else str(msg)
    args = record.args
    if args:
        safe: Any
        if isinstance(args, Mapping):
            safe = redactor.mapping(args)
        else:
            safe = tuple(_safe_arg(a, redactor) for a in args)
        try:
            text = text % safe
        except (TypeError, ValueError, KeyError):
            text = f"{text} <arguments did not match the format>"
    return redactor.text(text)


def _safe_arg(arg: Any, redactor: Redactor) -> Any:
    if isinstance(arg, BaseException):
        return _exception_line(arg, redactor)
    if arg is None or isinstance(arg, (str, int, float)):
        return arg  # strings are scrubbed with the whole message
    return redactor.mapping({"v": arg})["v"]


def _type_name(cls: type[BaseException]) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _exception_line(exc: BaseException, redactor: Redactor) -> str:
    """``ValueError: <redacted:...>``: the type in clear, the message (which may quote data) hashed."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not take the log line down
        message = f"<{type(exc).__qualname__}.__str__ failed>"
    name = _type_name(type(exc))
    return f"{name}: {redactor.hash(message)}" if message else name


def format_exception(exc: BaseException, redactor: Redactor) -> str:
    """The traceback of ``exc`` and its causes, as ``traceback`` prints it, with messages hashed."""
    lines: list[str] = []
    _format_chain(exc, redactor, lines, set())
    return "".join(lines).rstrip("\n")


def _format_chain(exc: BaseException, redactor: Redactor, lines: list[str], seen: set[int]) -> None:
    seen.add(id(exc))
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        _format_chain(cause, redactor, lines, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        _format_chain(context, redactor, lines, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if exc.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.extract_tb(exc.__traceback__).format())
    lines.append(_exception_line(exc, redactor) + "\n")
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, (list, tuple)):
        lines.extend(f"note: {redactor.hash(str(note))}\n" for note in notes)
    if isinstance(exc, BaseExceptionGroup):
        for i, sub in enumerate(exc.exceptions, 1):
            inner: list[str] = []
            _format_chain(sub, redactor, inner, seen)
            lines.append(f"  +---------------- {i} ----------------\n")
            lines.extend(f"  | {line}\n" for line in "".join(inner).splitlines())


def _dumps(obj: Mapping[str, Any]) -> str:
    try:
        return orjson.dumps(obj, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        # orjson refuses integers past 64 bits and lone surrogates; the stdlib encodes both.
        return json.dumps(obj, default=str, separators=(",", ":"))


# --- formatters -----------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One orjson object per record: ``ts``, ``level``, ``logger``, ``msg``, the call's ids, the
    (redacted) extras, then ``exc_type``/``exc`` for an exception and ``stack`` for ``stack_info``."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        try:
            return _dumps(_render(record, self.redactor))
        except Exception as exc:
            return _dumps(_failed(record, exc))


class TextFormatter(logging.Formatter):
    """For people at a terminal, the same redacted content on one line (plus the traceback)::

    2024-05-01T12:00:00.123Z WARNING gateway.upstream: endpoint down request_id=r-1 target=10.0.0.7:50061
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        try:
            fields = _render(record, self.redactor)
        except Exception as exc:
            fields = _failed(record, exc)
        ts, level, logger, msg = (fields.pop(k) for k in ("ts", "level", "logger", "msg"))
        exc_text, stack = fields.pop("exc", None), fields.pop("stack", None)
        fields.pop("exc_type", None)  # it ends the traceback anyway
        line = _text_line(ts, level, logger, msg, fields)
        return "\n".join(part for part in (line, exc_text, stack) if part)


def _text_line(ts: str, level: str, logger: str, msg: str, fields: Mapping[str, Any]) -> str:
    pairs = "".join(f" {k}={_text_value(v)}" for k, v in fields.items())
    return f"{ts} {level.upper():<7} {logger}: {msg}{pairs}"


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c in value for c in ' "=\n\t'):
        return value
    return _dumps({"v": value})[5:-1]


def _failed(record: logging.LogRecord, exc: Exception) -> dict[str, Any]:
    # Only the logger, level and the rendering error's type: nothing of the record's content.
    return {
        "ts": _timestamp(record.created, int(record.msecs)),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": _RECORD_FAILED.format(type(exc).__qualname__),
    }


# --- the handler ---------------------------------------------------------------------------------------


class _Handler(logging.StreamHandler[TextIO]):
    """A StreamHandler whose error report does not print the record's message and arguments."""

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:
            return
        kind = sys.exc_info()[0]
        line = {"level": "error", "logger": __name__, "msg": "a log line could not be written"}
        with contextlib.suppress(Exception):  # stderr itself is gone: nothing left to tell
            sys.stderr.write(_dumps({**line, "error": kind.__qualname__ if kind else None}) + "\n")


_handler: _Handler | None = None


# --- access lines --------------------------------------------------------------------------------------


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
            "ts": _timestamp(time.time()),
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
            fields = {k: v for k, v in line.items() if k not in _CORE}
            data = _text_line(line["ts"], "info", ACCESS_LOGGER, "access", fields) + "\n"
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
    return _handler.stream if _handler is not None else sys.stderr


# Before configure_logging: a disabled instance, so early calls (and tests) write nothing.
_access = AccessLog(stream=sys.stderr, enabled=False)


def access_log() -> AccessLog:
    """The process-wide access log. The same object before and after :func:`configure_logging`
    (which reconfigures it in place), so it may be looked up once and kept."""
    return _access


# --- configuration -------------------------------------------------------------------------------------


def configure_logging(settings: LogSettings, redactor: Redactor, stream: TextIO | None = None) -> None:
    """Route every log line through ``redactor``: ONE handler on the root logger, writing to
    ``stream`` (default stderr) in ``settings.format``, at ``settings.level``; the access log shares
    the stream and the handler's lock. Idempotent: a second call replaces, never adds, a handler."""
    global _handler  # noqa: PLW0603 - the process's one log handler, replaced as a whole
    target = stream if stream is not None else sys.stderr
    handler = _Handler(target)
    handler.setFormatter(JsonFormatter(redactor) if settings.format == "json" else TextFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if old is _handler:
            old.close()
    root.addHandler(handler)
    level = _LEVELS[settings.level]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
    # grpc's cython layer logs every event-loop lookup at debug: noise even when debugging the gateway.
    logging.getLogger("grpc._cython").setLevel(logging.INFO)
    _handler = handler
    lock = handler.lock if handler.lock is not None else threading.RLock()
    _access._reconfigure(target, settings.access, settings.format == "text", lock)
