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
        ({"admin"}, {"admin", "clinical_supervisor", "therapist", "moderator"}),
        ({"researcher", "player"}, {"researcher", "player"}),
        (set(), set()),
    ],
)
def test_the_default_hierarchy(held: set[str], expanded: set[str]) -> None:
    assert expand_roles(held, DEFAULT_HIERARCHY) == expanded


def test_a_role_never_gains_what_includes_it() -> None:
    assert "admin" not in expand_roles({"therapist"}, DEFAULT_HIERARCHY)


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
