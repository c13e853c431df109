"""The role hierarchy, pure: what each role includes, and cycles refused."""

from __future__ import annotations

import pytest

from gateway.identity.roles import DEFAULT_HIERARCHY, expand_roles, hierarchy_cycle


@pytest.mark.parametrize(
    ("held", "expanded"),
    [
        ({"player"}, {"player"}),
        ({"therapist"}, {"therapist"}),
        ({"clinical_supervisor"}, {"clinical_supervisor", "therapist"}),
        ({"admin"}, {"admin", "moderator"}),  # platform operations, not a clinician (decision 0012)
        ({"admin", "therapist"}, {"admin", "moderator", "therapist"}),
        ({"researcher", "player"}, {"researcher", "player"}),
        (set(), set()),
    ],
)
def test_the_default_hierarchy(held: set[str], expanded: set[str]) -> None:
    assert expand_roles(held, DEFAULT_HIERARCHY) == expanded


def test_a_role_never_gains_what_includes_it() -> None:
    assert "admin" not in expand_roles({"therapist"}, DEFAULT_HIERARCHY)


def test_no_default_role_reaches_the_clinical_roles_but_a_supervisor() -> None:
    """Escalations and crisis handling are therapist methods (R4.4): only a clinician reaches them."""
    for role in ("player", "moderator", "researcher", "admin", "service"):
        assert not expand_roles({role}, DEFAULT_HIERARCHY) & {"therapist", "clinical_supervisor"}, role


@pytest.mark.parametrize(
    ("hierarchy", "cycle"),
    [
        ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
        ({"a": ["a"]}, ["a", "a"]),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, ["a", "b", "c", "a"]),
        (dict(DEFAULT_HIERARCHY), None),
        ({"a": ["b", "c"], "b": ["c"]}, None),
    ],
)
def test_cycles_are_found(hierarchy: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert hierarchy_cycle(hierarchy) == cycle
