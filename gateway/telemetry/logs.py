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

Every record, whichever logger made it and whichever handler writes it, passes the redactor twice:

- **at creation**, by a record factory (``logging.setLogRecordFactory``, installed when this module is
  imported, so records logged before :func:`configure_logging` are covered too): each argument is
  redacted (plain ones stay arguments, for formatters that read ``record.args``; otherwise the
  message is rendered, redacted, and the arguments dropped); the exception is rendered into
  ``exc_text`` (messages hashed, frames scrubbed) and ``exc_info`` dropped, so no handler can reach
  the frames and their locals; the stack is scrubbed. A handler a library adds later (uvicorn's, for
  one) or logging's last-resort stderr handler sees only redacted values. A factory cannot see
  ``extra={...}`` (``logging`` sets extras after it), so
- **at formatting**, by :class:`JsonFormatter`/:class:`TextFormatter`: extras, and records the
  factory never saw (``logging.makeLogRecord``), pass the redactor there; the rest passes again
  (redacting twice changes nothing).

Bytes passed as an argument on their own are hashed whole: nothing names what they are (grpc logs
an undecodable metadata value as ``Invalid encoding on b'...'``, whichever header it came in).

:func:`configure_logging` also takes every library logger's own handlers away and makes it propagate
(grpc, asyncio, uvicorn's ``uvicorn.error``/``uvicorn.access`` when configured with a ``log_config``),
so their records are written, as JSON, by the one root handler. The redactor in use is swapped with
:func:`set_redactor` (a reload with new contracts), without touching handlers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Final, TextIO

import orjson

from gateway.config import LogSettings
from gateway.telemetry.context import current
from gateway.telemetry.redact import Redactor

__all__ = [
    "ACCESS_LOGGER",
    "AccessLog",
    "JsonFormatter",
    "TextFormatter",
    "access_log",
    "configure_logging",
    "current_redactor",
    "set_redactor",
]

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
_EXC_TYPE: Final = "_tta_exc_type"  # on a record whose exception was rendered at creation: its type
_SHORTEST_QUOTED: Final = 8  # an exception message this long is also hashed where the log text quotes it

_SysExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


# --- the redactor in use ----------------------------------------------------------------------------

# Before configure_logging: credential-shaped text and sensitive keys only (no contracts yet), with a
# random salt. Read once per record; replaced whole by set_redactor.
_redactor: Redactor = Redactor()


def set_redactor(redactor: Redactor) -> None:
    """Make ``redactor`` the one every later record passes: the record factory, and every formatter
    built without a redactor of its own (those :func:`configure_logging` installs). For a reload with
    new contracts: build the new redactor (:meth:`Redactor.with_contracts` keeps the salt), then call
    this; no handler is reconfigured. One reference assignment, so safe from any thread; a record
    already being rendered finishes with the redactor it started with."""
    global _redactor  # noqa: PLW0603 - the process's one redaction layer, replaced as a whole
    _redactor = redactor


def current_redactor() -> Redactor:
    """The redactor records pass now (the last :func:`set_redactor` or :func:`configure_logging`)."""
    return _redactor


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
    exc_info = record.exc_info
    exc = exc_info[1] if exc_info is not None else None
    out: dict[str, Any] = {
        "ts": _timestamp(record.created, int(record.msecs)),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": _message(record, redactor, exc),
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
    if exc is not None:
        out["exc_type"] = _type_name(type(exc))
        out["exc"] = format_exception(exc, redactor)
    elif record.exc_text:
        kind = record.__dict__.get(_EXC_TYPE)
        if isinstance(kind, str):  # rendered and redacted by the record factory
            out["exc_type"] = kind
            out["exc"] = redactor.text(record.exc_text)
        else:  # rendered by someone else, from who knows what: only its hash
            out["exc"] = redactor.hash(record.exc_text)
    if record.stack_info:
        out["stack"] = redactor.text(record.stack_info)  # frames: code, but a literal can be a secret
    return out


def _message(record: logging.LogRecord, redactor: Redactor, exc: BaseException | None = None) -> str:
    """``record.getMessage()``, with the arguments redacted before they are interpolated, and the
    messages of ``exc`` (the record's exception) hashed where the text quotes them."""
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
    if exc is not None:
        text = _without_exception_messages(text, exc, redactor)
    return redactor.text(text)


def _safe_arg(arg: Any, redactor: Redactor) -> Any:
    if isinstance(arg, BaseException):
        return _exception_line(arg, redactor)
    if isinstance(arg, (bytes, bytearray, memoryview)):
        # Bytes on their own name nothing: grpc logs an undecodable metadata value this way
        # ("Invalid encoding on %s"), whichever header it came in; hpack its encoded header blocks.
        return redactor.hash(bytes(arg))
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
        # Frames are code, not data; but a source line can hold a literal credential.
        lines.extend(redactor.text(frame) for frame in traceback.extract_tb(exc.__traceback__).format())
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


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor | None = None) -> None:
        """``redactor`` None: the one in use (:func:`set_redactor`), looked up for every record."""
        super().__init__()
        self._own = redactor

    @property
    def redactor(self) -> Redactor:
        return self._own if self._own is not None else _redactor


class JsonFormatter(_RedactingFormatter):
    """One orjson object per record: ``ts``, ``level``, ``logger``, ``msg``, the call's ids, the
    (redacted) extras, then ``exc_type``/``exc`` for an exception and ``stack`` for ``stack_info``."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            return _dumps(_render(record, self.redactor))
        except Exception as exc:
            return _dumps(_failed(record, exc))


class TextFormatter(_RedactingFormatter):
    """For people at a terminal, the same redacted content on one line (plus the traceback)::

    2024-05-01T12:00:00.123Z WARNING gateway.upstream: endpoint down request_id=r-1 target=10.0.0.7:50061
    """

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


# --- redaction at record creation ------------------------------------------------------------------


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Make ``record`` safe for any handler, in place (see the module docstring). Never raises: the
    factory runs inside the caller's ``log.info(...)``."""
    try:
        exc = record.exc_info[1] if record.exc_info else None
        msg, args = _redacted_message(record, redactor, exc)
        if exc is not None:
            record.exc_text = format_exception(exc, redactor)
            record.__dict__[_EXC_TYPE] = _type_name(type(exc))
        record.msg, record.args, record.exc_info = msg, args, None
        if record.stack_info:
            record.stack_info = redactor.text(record.stack_info)
    except Exception as err:
        record.msg, record.args = _RECORD_FAILED.format(type(err).__qualname__), ()
        record.exc_info = record.exc_text = record.stack_info = None


def _redacted_message(
    record: logging.LogRecord, redactor: Redactor, exc: BaseException | None
) -> tuple[Any, tuple[Any, ...]]:
    """(msg, args), redacted. The format and its arguments are kept, each argument redacted, when
    they are plain values whose rendering holds nothing more to redact: a formatter that reads
    ``record.args`` (uvicorn's access formatter unpacks them) still works. Otherwise (a secret split
    between format and argument, ``"Bearer %s"``; structured arguments; a record with an exception,
    whose message the text may quote) the rendered, redacted message, without arguments."""
    template, args = record.msg, record.args
    if exc is None and isinstance(template, str) and isinstance(args, tuple) and args:
        safe = tuple(_plain_arg(a, redactor) for a in args)
        if all(a is None or isinstance(a, (str, int, float)) for a in safe):
            try:
                shown = template % safe
            except (TypeError, ValueError, KeyError):
                shown = None
            if shown is not None and redactor.text(shown) == shown:
                return template, safe
    return _message(record, redactor, exc), ()


def _plain_arg(arg: Any, redactor: Redactor) -> Any:
    return redactor.text(arg) if isinstance(arg, str) else _safe_arg(arg, redactor)


def _without_exception_messages(msg: str, exc: BaseException, redactor: Redactor) -> str:
    """``msg`` with the messages of ``exc`` and its causes hashed where it quotes them: asyncio's
    "Task exception was never retrieved" line carries ``exception=ValueError('<the message>')``."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen or len(seen) >= 16:
            continue
        seen.add(id(current))
        pending += (current.__cause__, current.__context__)
        try:
            text = str(current)
        except Exception:
            continue
        if len(text) >= _SHORTEST_QUOTED:
            hashed = redactor.hash(text)
            msg = msg.replace(text, hashed).replace(repr(text)[1:-1], hashed)
    return msg


def _redacting_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record, _redactor)
        return record

    factory.__dict__["redacts"] = True
    return factory


def _install_record_factory() -> None:
    """Wrap the current record factory (kept: OpenTelemetry's, say) in one that redacts; once."""
    current_factory = logging.getLogRecordFactory()
    if not current_factory.__dict__.get("redacts", False):
        logging.setLogRecordFactory(_redacting_factory(current_factory))


_install_record_factory()


def _route_to_root() -> list[str]:
    """Take every other logger's own handlers away (a NullHandler, which writes nothing, may stay)
    and make it propagate, so its records reach the root handler and nothing else writes them.
    Returns the names of the loggers changed."""
    changed = []
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):  # a PlaceHolder: a parent no one has asked for
            continue
        writers = [h for h in logger.handlers if not isinstance(h, logging.NullHandler)]
        if writers or not logger.propagate:
            for handler in writers:
                logger.removeHandler(handler)
            logger.propagate = True
            changed.append(name)
    return sorted(changed)


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
    the stream and the handler's lock. Every other logger's own handlers are taken away and it is
    made to propagate (libraries' records are written by the root handler too), and ``redactor``
    becomes the one in use (:func:`set_redactor`). Idempotent: a second call replaces, never adds, a
    handler."""
    global _handler  # noqa: PLW0603 - the process's one log handler, replaced as a whole
    set_redactor(redactor)
    _install_record_factory()  # again, should something have set a factory of its own since import
    target = stream if stream is not None else sys.stderr
    handler = _Handler(target)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
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
    rerouted = _route_to_root()
    if rerouted:
        logging.getLogger(__name__).debug("these loggers now write through the root handler: %s", rerouted)
    tracing = _grpc_core_tracing(os.environ)
    if tracing:
        logging.getLogger(__name__).warning(
            "grpc's core traces %s to stderr, past this redaction layer: header values in clear "
            "(GRPC_VERBOSITY=ERROR before grpc is imported keeps them out)",
            tracing,
        )


def _grpc_core_tracing(env: Mapping[str, str]) -> str | None:
    """The ``GRPC_TRACE`` setting when grpc's C core will print its traces: any tracer on, and
    ``GRPC_VERBOSITY`` unset or below ERROR. Its tracers (``chttp2_hpack_parser``, ``all``) write
    every header, values included, to stderr, outside Python logging (measured with grpcio 1.85, see
    tests/integration/telemetry/test_library_logs.py); at ERROR or NONE they write nothing."""
    trace = env.get("GRPC_TRACE", "").strip()
    if not trace or env.get("GRPC_VERBOSITY", "").strip().upper() in ("ERROR", "NONE"):
        return None
    return trace
