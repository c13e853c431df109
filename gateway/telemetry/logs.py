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

Where each part lives (this module keeps the configuration and re-exports the rest, so every name
is imported from here):

- :mod:`._current_redactor`: the redactor in use, :func:`set_redactor` and :func:`current_redactor`;
- :mod:`._records`: the record factory, redaction at creation;
- :mod:`._render` and :mod:`._exceptions`: a record (and its exception) as redacted JSON-ready values;
- :mod:`._formatters`: :class:`JsonFormatter` and :class:`TextFormatter`;
- :mod:`._access`: :class:`AccessLog` and :func:`access_log`, the hot path;
- here: :func:`configure_logging`, the one root handler, and taking libraries' handlers away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import Final, TextIO

from gateway.config import LogSettings
from gateway.telemetry._access import ACCESS_LOGGER, AccessLog, access_log
from gateway.telemetry._current_redactor import current_redactor, set_redactor
from gateway.telemetry._exceptions import format_exception
from gateway.telemetry._formatters import JsonFormatter, TextFormatter
from gateway.telemetry._records import install_record_factory
from gateway.telemetry._render import dumps
from gateway.telemetry.redact import Redactor

__all__ = [
    "ACCESS_LOGGER",
    "AccessLog",
    "JsonFormatter",
    "TextFormatter",
    "access_log",
    "configure_logging",
    "current_redactor",
    "format_exception",
    "set_redactor",
]

_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_NOISY: Final = ("grpc", "asyncio", "uvicorn")

# Records logged from here on, before configure_logging too, pass the redactor at creation.
install_record_factory()


# --- the handler ---------------------------------------------------------------------------------------


class _Handler(logging.StreamHandler[TextIO]):
    """A StreamHandler whose error report does not print the record's message and arguments."""

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:
            return
        kind = sys.exc_info()[0]
        line = {"level": "error", "logger": __name__, "msg": "a log line could not be written"}
        with contextlib.suppress(Exception):  # stderr itself is gone: nothing left to tell
            sys.stderr.write(dumps({**line, "error": kind.__qualname__ if kind else None}) + "\n")


_handler: _Handler | None = None


# --- configuration -------------------------------------------------------------------------------------


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


def configure_logging(settings: LogSettings, redactor: Redactor, stream: TextIO | None = None) -> None:
    """Route every log line through ``redactor``: ONE handler on the root logger, writing to
    ``stream`` (default stderr) in ``settings.format``, at ``settings.level``; the access log shares
    the stream and the handler's lock. Every other logger's own handlers are taken away and it is
    made to propagate (libraries' records are written by the root handler too), and ``redactor``
    becomes the one in use (:func:`set_redactor`). Idempotent: a second call replaces, never adds, a
    handler."""
    global _handler  # noqa: PLW0603 - the process's one log handler, replaced as a whole
    set_redactor(redactor)
    install_record_factory()  # again, should something have set a factory of its own since import
    target = stream if stream is not None else sys.stderr
    handler = _Handler(target)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(_client_faults_are_warnings)
    handler.addFilter(_no_frame_dumps)
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
    access_log()._reconfigure(target, settings.access, settings.format == "text", lock)
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


def _no_frame_dumps(record: logging.LogRecord) -> bool:
    """The WebSocket engine (websockets, under uvicorn's ``uvicorn.error`` logger) logs every frame it
    reads or writes at debug, bytes included: a player's message, or a token in a ``reauthenticate``
    frame. Its debug lines are dropped, whatever the level; its warnings and errors pass."""
    return not (record.levelno <= logging.DEBUG and f"{os.sep}websockets{os.sep}" in record.pathname)


def _client_faults_are_warnings(record: logging.LogRecord) -> bool:
    """grpc logs a caller's metadata value that is not UTF-8 ("Invalid encoding on <key>") at ERROR,
    once per look at the metadata. It is the caller's fault, answered INVALID_ARGUMENT by the chain's
    metadata step: a WARNING, so ERROR stays for the gateway's own failures."""
    if (
        record.levelno == logging.ERROR
        and record.name.startswith("grpc._cython")
        and str(record.msg).startswith("Invalid encoding on")
    ):
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


def _grpc_core_tracing(env: Mapping[str, str]) -> str | None:
    """The ``GRPC_TRACE`` setting when grpc's C core will print its traces: any tracer on, and
    ``GRPC_VERBOSITY`` unset or below ERROR. Its tracers (``chttp2_hpack_parser``, ``all``) write
    every header, values included, to stderr, outside Python logging (measured with grpcio 1.85, see
    tests/integration/telemetry/test_library_logs.py); at ERROR or NONE they write nothing."""
    trace = env.get("GRPC_TRACE", "").strip()
    if not trace or env.get("GRPC_VERBOSITY", "").strip().upper() in ("ERROR", "NONE"):
        return None
    return trace
