"""Who is calling, as the gateway's identity hop states it (``x-tta-subject``, ``x-tta-roles``).

The reference services take these on trust from the gateway (decision 0010 says how a deployment
earns that trust). A call without them came from a test or a backend talking to the service directly,
and is treated as a trusted internal caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from services._errors import Context

# Roles that may see other players' records in a listing; a caller with none of them sees only their own.
_STAFF = frozenset({"therapist", "clinical_supervisor", "admin", "service", "researcher", "moderator"})


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str  # "" when the gateway stated none
    roles: frozenset[str]

    @property
    def is_player_only(self) -> bool:
        """A signed-in caller with no staff role: their listings are limited to themselves."""
        return bool(self.subject) and not (self.roles & _STAFF)


def caller(context: Context) -> Caller:
    subject, roles = "", ""
    for key, value in context.invocation_metadata() or ():
        if key == "x-tta-subject" and isinstance(value, str):
            subject = value
        elif key == "x-tta-roles" and isinstance(value, str):
            roles = value
    return Caller(subject, frozenset(r for r in roles.split(",") if r))
