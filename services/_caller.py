"""Who is calling, as the gateway's identity hop states it (``x-tta-subject``, ``x-tta-roles``), and the
object-level check every lookup of a player's record makes with it.

The reference services take these on trust from the gateway (decision 0010 says how a deployment
earns that trust). A call without them came from a test or a backend talking to the service directly,
and is treated as a trusted internal caller.

The gateway refuses a request whose ``owner`` fields name another player; it cannot know who owns a
record reached by its own id (``/sessions/{session_id}``, ``/characters/{character_id}``). The
service that holds the record can, so it checks: ``services._errors`` sets the caller of each call in
``CURRENT`` and ``World.get_session`` / ``World.get_character`` call :func:`check_access`. A player
(a caller with no staff role) reaches their own records, and a session they take part in.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# Roles that may reach other players' records; a caller with none of them reaches only their own.
_STAFF = frozenset({"therapist", "clinical_supervisor", "admin", "service", "researcher", "moderator"})


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str  # "" when the gateway stated none
    roles: frozenset[str]

    @property
    def is_player_only(self) -> bool:
        """A signed-in caller with no staff role: their reach is limited to themselves."""
        return bool(self.subject) and not (self.roles & _STAFF)


INTERNAL = Caller("", frozenset())
CURRENT: ContextVar[Caller] = ContextVar("tta_caller", default=INTERNAL)


def caller(context: Any) -> Caller:
    """The caller of the call ``context`` belongs to, from the gateway's identity hop."""
    subject, roles = "", ""
    for key, value in context.invocation_metadata() or ():
        if key == "x-tta-subject" and isinstance(value, str):
            subject = value
        elif key == "x-tta-roles" and isinstance(value, str):
            roles = value
    return Caller(subject, frozenset(r for r in roles.split(",") if r))


def may_reach(owners: Iterable[str]) -> bool:
    """Whether the current caller may reach a record belonging to any of ``owners``."""
    who = CURRENT.get()
    return not who.is_player_only or who.subject in owners
