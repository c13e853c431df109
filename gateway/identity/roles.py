"""Roles and what they include: a hierarchy, pure.

TTA's roles (R4): ``player``, ``therapist``, ``clinical_supervisor``, ``moderator``, ``researcher``,
``admin``, ``service``. A role may include others: a clinical supervisor may do what a therapist may,
so a method that asks for ``therapist`` admits a supervisor too. An admin runs the platform (accounts,
token revocation, reloads) and may do what a moderator may, but is not a clinician: crisis handling and
the escalation queue are for therapists and supervisors only (R4.4), so ``admin`` does not include
``clinical_supervisor`` or ``therapist`` (decision 0012). The default hierarchy is below; operators
may replace it (``auth.role_hierarchy``).

    >>> sorted(expand_roles({"admin"}, DEFAULT_HIERARCHY))
    ['admin', 'moderator']
    >>> sorted(expand_roles({"clinical_supervisor"}, DEFAULT_HIERARCHY))
    ['clinical_supervisor', 'therapist']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ROLES = ("player", "therapist", "clinical_supervisor", "moderator", "researcher", "admin", "service")

DEFAULT_HIERARCHY: Mapping[str, tuple[str, ...]] = {
    "clinical_supervisor": ("therapist",),
    "admin": ("moderator",),  # platform operations, not clinical work (decision 0012)
}


def expand_roles(roles: Iterable[str], hierarchy: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """The roles held and every role they include, transitively."""
    held: set[str] = set()
    pending = list(roles)
    while pending:
        role = pending.pop()
        if role not in held:
            held.add(role)
            pending.extend(hierarchy.get(role, ()))
    return frozenset(held)


def hierarchy_cycle(hierarchy: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in the hierarchy (``["a", "b", "a"]``), or None: a role may not include itself."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(role: str) -> list[str] | None:
        if role in visiting:
            return [*visiting[visiting.index(role) :], role]
        if role in done:
            return None
        visiting.append(role)
        for included in hierarchy.get(role, ()):
            found = visit(included)
            if found:
                return found
        visiting.pop()
        done.add(role)
        return None

    for role in hierarchy:
        cycle = visit(role)
        if cycle:
            return cycle
    return None
