"""What an exception becomes in a log line: its type in clear, its messages hashed.

An exception's *message* can quote user data (``int('I want to die')``, ``KeyError(<key>)``, a JSON
parse error naming the value), and no pattern recognises player text. So a rendered exception keeps
the whole traceback (frames and source lines are code, not data) and the chain of causes, but every
exception's message (and note) is replaced by its salted hash: ``ValueError: <redacted:0a1b2c...>``.
Equal messages hash equal, so repeated failures can still be grouped.

Separate from the rest of record rendering because both places that redact a record use it, the
record factory (:mod:`._records`, at creation) and the formatters (:mod:`._render`, at formatting),
and because the decision above is one policy, best read in one place.
"""

from __future__ import annotations

import traceback
from typing import Final

from gateway.telemetry.redact import Redactor

__all__ = ["exception_line", "format_exception", "type_name", "without_exception_messages"]

_SHORTEST_QUOTED: Final = 8  # an exception message this long is also hashed where the log text quotes it


def type_name(cls: type[BaseException]) -> str:
    """``ValueError`` for a builtin, ``package.module.Error`` for anything else."""
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def exception_line(exc: BaseException, redactor: Redactor) -> str:
    """``ValueError: <redacted:...>``: the type in clear, the message (which may quote data) hashed."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not take the log line down
        message = f"<{type(exc).__qualname__}.__str__ failed>"
    name = type_name(type(exc))
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
    lines.append(exception_line(exc, redactor) + "\n")
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, (list, tuple)):
        lines.extend(f"note: {redactor.hash(str(note))}\n" for note in notes)
    if isinstance(exc, BaseExceptionGroup):
        for i, sub in enumerate(exc.exceptions, 1):
            inner: list[str] = []
            _format_chain(sub, redactor, inner, seen)
            lines.append(f"  +---------------- {i} ----------------\n")
            lines.extend(f"  | {line}\n" for line in "".join(inner).splitlines())


def without_exception_messages(msg: str, exc: BaseException, redactor: Redactor) -> str:
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
