"""The two ``logging.Formatter``\\ s the root handler uses: :class:`JsonFormatter` and
:class:`TextFormatter` (for people at a terminal).

Separate because a formatter is the second of the two places every record passes the redactor (the
first is the record factory, :mod:`._records`): it sees ``extra={...}`` values, which ``logging``
sets after the factory has run, and records the factory never saw (``logging.makeLogRecord``).
What a record renders to is :func:`._render.render`; a formatter only picks the redactor (its own, or
the one in use, looked up per record) and the layout, and never raises. Both classes are
re-exported by :mod:`gateway.telemetry.logs`.
"""

from __future__ import annotations

import logging

from gateway.telemetry._current_redactor import current_redactor
from gateway.telemetry._render import dumps, failed, render, text_line
from gateway.telemetry.redact import Redactor

__all__ = ["JsonFormatter", "TextFormatter"]


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor | None = None) -> None:
        """``redactor`` None: the one in use (:func:`set_redactor`), looked up for every record."""
        super().__init__()
        self._own = redactor

    @property
    def redactor(self) -> Redactor:
        return self._own if self._own is not None else current_redactor()


class JsonFormatter(_RedactingFormatter):
    """One orjson object per record: ``ts``, ``level``, ``logger``, ``msg``, the call's ids, the
    (redacted) extras, then ``exc_type``/``exc`` for an exception and ``stack`` for ``stack_info``."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            return dumps(render(record, self.redactor))
        except Exception as exc:
            return dumps(failed(record, exc))


class TextFormatter(_RedactingFormatter):
    """For people at a terminal, the same redacted content on one line (plus the traceback)::

    2024-05-01T12:00:00.123Z WARNING gateway.upstream: endpoint down request_id=r-1 target=10.0.0.7:50061
    """

    def format(self, record: logging.LogRecord) -> str:
        try:
            fields = render(record, self.redactor)
        except Exception as exc:
            fields = failed(record, exc)
        ts, level, logger, msg = (fields.pop(k) for k in ("ts", "level", "logger", "msg"))
        exc_text, stack = fields.pop("exc", None), fields.pop("stack", None)
        fields.pop("exc_type", None)  # it ends the traceback anyway
        line = text_line(ts, level, logger, msg, fields)
        return "\n".join(part for part in (line, exc_text, stack) if part)
