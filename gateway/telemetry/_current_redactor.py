"""The redactor in use: the one every log record passes unless a formatter was given its own.

Separate because two independent readers share it, the record factory (:mod:`._records`) and the
formatters (:mod:`._formatters`), and one writer replaces it (:func:`set_redactor`, from
:func:`gateway.telemetry.logs.configure_logging` or a reload). Keeping the one mutable reference
here lets both readers depend on it without depending on each other. Both functions are
re-exported by :mod:`gateway.telemetry.logs`.
"""

from __future__ import annotations

from gateway.telemetry.redact import Redactor

__all__ = ["current_redactor", "set_redactor"]

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
