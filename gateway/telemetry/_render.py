"""Rendering one log record (or access line) into redacted, JSON-ready values.

:func:`render` turns a ``logging.LogRecord`` into the ordered dict a formatter writes: ``ts``,
``level``, ``logger``, ``msg``, the current call's ids, the (redacted) ``extra={...}`` values, then
``exc_type``/``exc`` and ``stack``. :func:`text_line` lays the same fields out on one line for the
``text`` format. :func:`timestamp` and :func:`dumps` are shared with the access log.

Separate from the formatters (:mod:`._formatters`, which only choose the redactor and the layout) and
from the record factory (:mod:`._records`, which redacts at creation and reuses :func:`message` and
:func:`safe_arg`): this is the pure part, a record and a redactor in, values out, with no state but a
one-entry timestamp cache.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Final

import orjson

from gateway.telemetry._exceptions import (
    exception_line,
    format_exception,
    type_name,
    without_exception_messages,
)
from gateway.telemetry.context import current
from gateway.telemetry.redact import Redactor

__all__ = [
    "CORE",
    "EXC_TYPE",
    "RECORD_FAILED",
    "dumps",
    "failed",
    "message",
    "render",
    "safe_arg",
    "text_line",
    "timestamp",
]

# Attributes every LogRecord has; anything else on a record came from `extra={...}`.
# uvicorn adds an ANSI-coloured copy of its message as `color_message`: never useful in JSON.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
CORE: Final = frozenset({"ts", "level", "logger", "msg", "exc_type", "exc", "stack"})
_CONTEXT: Final = ("request_id", "trace_id", "span_id", "door", "method", "principal")
RECORD_FAILED: Final = "<log record could not be rendered: {}>"
EXC_TYPE: Final = "_tta_exc_type"  # on a record whose exception was rendered at creation: its type


# --- timestamps ---------------------------------------------------------------------------------------

_second: tuple[int, str] = (-1, "")  # (epoch second, its "YYYY-MM-DDTHH:MM:SS"), replaced atomically
_MILLIS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))  # formatting is a third of the cost


def timestamp(epoch: float, millis: int | None = None) -> str:
    """RFC 3339, UTC, milliseconds, ``Z``: ``2024-05-01T12:00:00.123Z``."""
    global _second  # noqa: PLW0603 - a one-entry cache; a race only recomputes the same value
    sec = int(epoch)
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    # epoch - sec is in [0, 1), so ms is in [0, 999]; logging's msecs likewise.
    return cached[1] + _MILLIS[int((epoch - sec) * 1000) if millis is None else millis]


# --- one record -----------------------------------------------------------------------------------------


def render(record: logging.LogRecord, redactor: Redactor) -> dict[str, Any]:
    """The record as an ordered dict of JSON-ready values, everything redacted."""
    exc_info = record.exc_info
    exc = exc_info[1] if exc_info is not None else None
    out: dict[str, Any] = {
        "ts": timestamp(record.created, int(record.msecs)),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": message(record, redactor, exc),
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
            out[f"extra_{key}" if key in CORE else key] = value
    if exc is not None:
        out["exc_type"] = type_name(type(exc))
        out["exc"] = format_exception(exc, redactor)
    elif record.exc_text:
        kind = record.__dict__.get(EXC_TYPE)
        if isinstance(kind, str):  # rendered and redacted by the record factory
            out["exc_type"] = kind
            out["exc"] = redactor.text(record.exc_text)
        else:  # rendered by someone else, from who knows what: only its hash
            out["exc"] = redactor.hash(record.exc_text)
    if record.stack_info:
        out["stack"] = redactor.text(record.stack_info)  # frames: code, but a literal can be a secret
    return out


def message(record: logging.LogRecord, redactor: Redactor, exc: BaseException | None = None) -> str:
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
            safe = tuple(safe_arg(a, redactor) for a in args)
        try:
            text = text % safe
        except (TypeError, ValueError, KeyError):
            text = f"{text} <arguments did not match the format>"
    if exc is not None:
        text = without_exception_messages(text, exc, redactor)
    return redactor.text(text)


def safe_arg(arg: Any, redactor: Redactor) -> Any:
    """One ``%``-style argument, redacted: exceptions as their (hashed) line, bytes hashed whole,
    structured values through :meth:`Redactor.mapping`; strings are left for the whole message."""
    if isinstance(arg, BaseException):
        return exception_line(arg, redactor)
    if isinstance(arg, (bytes, bytearray, memoryview)):
        # Bytes on their own name nothing: grpc logs an undecodable metadata value this way
        # ("Invalid encoding on %s"), whichever header it came in; hpack its encoded header blocks.
        return redactor.hash(bytes(arg))
    if arg is None or isinstance(arg, (str, int, float)):
        return arg  # strings are scrubbed with the whole message
    return redactor.mapping({"v": arg})["v"]


def failed(record: logging.LogRecord, exc: Exception) -> dict[str, Any]:
    """The line of a record that could not be rendered: only the logger, level and the rendering
    error's type, nothing of the record's content."""
    return {
        "ts": timestamp(record.created, int(record.msecs)),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": RECORD_FAILED.format(type(exc).__qualname__),
    }


# --- serialising ----------------------------------------------------------------------------------------


def dumps(obj: Mapping[str, Any]) -> str:
    """``obj`` as compact JSON (orjson; the stdlib for what orjson refuses)."""
    try:
        return orjson.dumps(obj, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        # orjson refuses integers past 64 bits and lone surrogates; the stdlib encodes both.
        return json.dumps(obj, default=str, separators=(",", ":"))


def text_line(ts: str, level: str, logger: str, msg: str, fields: Mapping[str, Any]) -> str:
    """``2024-05-01T12:00:00.123Z WARNING gateway.upstream: endpoint down target=10.0.0.7:50061``"""
    pairs = "".join(f" {k}={_text_value(v)}" for k, v in fields.items())
    return f"{ts} {level.upper():<7} {logger}: {msg}{pairs}"


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c in value for c in ' "=\n\t'):
        return value
    return dumps({"v": value})[5:-1]
