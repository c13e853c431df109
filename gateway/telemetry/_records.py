"""Redaction at record creation: a ``logging`` record factory that redacts every record.

The factory (installed by :func:`install_record_factory`, which :mod:`gateway.telemetry.logs` calls
when it is imported, so records logged before ``configure_logging`` are covered too) makes each
record safe for any handler, in place: each argument is redacted (plain ones stay arguments, for
formatters that read ``record.args``; otherwise the message is rendered, redacted, and the arguments
dropped); the exception is rendered into ``exc_text`` (messages hashed, frames scrubbed) and
``exc_info`` dropped, so no handler can reach the frames and their locals; the stack is scrubbed. A
handler a library adds later (uvicorn's, for one) or logging's last-resort stderr handler sees only
redacted values. It uses the redactor in use (:mod:`._current_redactor`), looked up per record.

Separate from the formatters because it acts on a different object at a different time: the record
as it is made, inside the caller's ``log.info(...)`` (so it must never raise), rather than the line
as one handler writes it. It cannot see ``extra={...}`` (``logging`` sets extras after it); the
formatters redact those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gateway.telemetry._current_redactor import current_redactor
from gateway.telemetry._exceptions import format_exception, type_name
from gateway.telemetry._render import EXC_TYPE, RECORD_FAILED, message, safe_arg
from gateway.telemetry.redact import Redactor

__all__ = ["install_record_factory", "redact_record"]


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Make ``record`` safe for any handler, in place (see the module docstring). Never raises: the
    factory runs inside the caller's ``log.info(...)``."""
    try:
        exc = record.exc_info[1] if record.exc_info else None
        msg, args = _redacted_message(record, redactor, exc)
        if exc is not None:
            record.exc_text = format_exception(exc, redactor)
            record.__dict__[EXC_TYPE] = type_name(type(exc))
        record.msg, record.args, record.exc_info = msg, args, None
        if record.stack_info:
            record.stack_info = redactor.text(record.stack_info)
    except Exception as err:
        record.msg, record.args = RECORD_FAILED.format(type(err).__qualname__), ()
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
    return message(record, redactor, exc), ()


def _plain_arg(arg: Any, redactor: Redactor) -> Any:
    return redactor.text(arg) if isinstance(arg, str) else safe_arg(arg, redactor)


def _redacting_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record, current_redactor())
        return record

    factory.__dict__["redacts"] = True
    return factory


def install_record_factory() -> None:
    """Wrap the current record factory (kept: OpenTelemetry's, say) in one that redacts; once."""
    current_factory = logging.getLogRecordFactory()
    if not current_factory.__dict__.get("redacts", False):
        logging.setLogRecordFactory(_redacting_factory(current_factory))
