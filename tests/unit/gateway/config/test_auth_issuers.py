"""``auth.external_issuers``: the documented example loads; an issuer listed twice (or again as
``auth.issuer``), a shared subject prefix, a role that is not TTA's and a missing issuer, audience or
jwks are refused when the settings are read, each naming the entry and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import Settings, load_settings
from gateway.config.auth import ExternalIssuer
from gateway.errors import ConfigError
from gateway.identity.roles import ROLES
from tests.unit.gateway.config._support import NO_ENV, problems, write

# The example of docs/configuration.md: a Keycloak realm and an Azure AD tenant.
EXAMPLE = """
auth:
  issuer: "https://auth.tta.example"
  audience: "tta-gateway"
  jwks: /etc/tta/jwks.json
  external_issuers:
    - issuer: "https://login.example.org/realms/tta"
      audience: "tta-gateway"
      jwks: "https://login.example.org/realms/tta/protocol/openid-connect/certs"
      subject_prefix: "kc:"
      roles_claim: realm_access.roles
      role_map: {tta-therapists: therapist, tta-players: player}
      permissions_claim: scope
    - issuer: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
      audience: "11111111-2222-3333-4444-555555555555"   # the gateway API's application id
      jwks: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/discovery/v2.0/keys"
      subject_claim: oid
      subject_prefix: "aad:"
      roles_claim: roles
      role_map: {TTA.Supervisor: clinical_supervisor, TTA.Staff: [therapist, moderator]}
      leeway_seconds: 60
"""

TTA = {"issuer": "https://auth.tta.example", "audience": "tta-gateway", "jwks": "/etc/tta/jwks.json"}
KC = {"issuer": "https://kc.example/realms/tta", "audience": "tta-gateway", "jwks": "/etc/tta/kc.json"}


def settings(*external: dict[str, Any], **auth: Any) -> Settings:
    return Settings.from_mapping({"auth": {**TTA, **auth, "external_issuers": list(external)}})


def refusal(*external: dict[str, Any], **auth: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings(*external, **auth)
    return problems(info)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    auth = load_settings(write(tmp_path, EXAMPLE), environ=NO_ENV).auth
    keycloak, azure = auth.external_issuers
    assert keycloak.role_map == {"tta-therapists": ("therapist",), "tta-players": ("player",)}
    assert (keycloak.subject_claim, keycloak.permissions_claim, keycloak.leeway_seconds) == (
        "sub",
        "scope",
        None,
    )
    assert azure.role_map["TTA.Staff"] == ("therapist", "moderator")
    assert (azure.subject_claim, azure.subject_prefix, azure.leeway_seconds) == ("oid", "aad:", 60.0)


def test_the_defaults_of_an_external_issuer() -> None:
    (entry,) = settings(KC).auth.external_issuers
    assert entry == ExternalIssuer(
        issuer=KC["issuer"],
        audience="tta-gateway",
        jwks="/etc/tta/kc.json",
        subject_claim="sub",
        subject_prefix="ext:",
        roles_claim="roles",
        role_map={},
        permissions_claim=None,
        leeway_seconds=None,
        clinical_claims=False,
    )
    assert Settings().auth.external_issuers == ()


@pytest.mark.parametrize("missing", ["issuer", "audience", "jwks"])
def test_an_external_issuer_needs_issuer_audience_and_jwks(missing: str) -> None:
    entry = {k: v for k, v in KC.items() if k != missing}
    assert refusal(entry) == [f"settings: auth.external_issuers[0].{missing}: required key is missing"]


def test_the_same_issuer_as_auth_issuer_is_refused() -> None:
    assert refusal({**KC, "issuer": TTA["issuer"]}) == [
        "settings: auth: external_issuers[0].issuer: 'https://auth.tta.example' is already auth.issuer;"
        " each issuer is listed once"
    ]


def test_an_external_issuer_listed_twice_is_refused() -> None:
    assert refusal(KC, {**KC, "subject_prefix": "kc2:"}) == [
        "settings: auth: external_issuers[1].issuer: 'https://kc.example/realms/tta' is already"
        " external_issuers[0].issuer; each issuer is listed once"
    ]


def test_two_issuers_may_not_share_a_subject_prefix() -> None:
    other = {**KC, "issuer": "https://other.example"}
    (line,) = refusal(KC, other)  # both default to "ext:"
    assert line.startswith(
        "settings: auth: external_issuers[1].subject_prefix: 'ext:' is already external_issuers[0].subject_prefix"
    )
    assert len(settings(KC, {**other, "subject_prefix": "o:"}).auth.external_issuers) == 2


def test_role_map_targets_must_be_tta_roles() -> None:
    lines = refusal({**KC, "role_map": {"tta-docs": "doctor", "tta-staff": ["therapist", "superuser"]}})
    known = ", ".join(ROLES)
    assert lines == [
        f'settings: auth.external_issuers[0].role_map.tta-docs[0]: "doctor" is not a TTA role ({known})',
        f'settings: auth.external_issuers[0].role_map.tta-staff[1]: "superuser" is not a TTA role ({known})',
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"jwks": "http://kc.example/certs"}, "jwks"),
        ({"subject_prefix": "ext: "}, "subject_prefix"),
        ({"subject_prefix": "é:"}, "subject_prefix"),
        ({"roles_claim": " roles"}, "roles_claim"),
        ({"permissions_claim": "."}, "permissions_claim"),
        ({"leeway_seconds": 301}, "leeway_seconds"),
        ({"clinical": True}, "clinical"),
    ],
)
def test_doubtful_values_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    (line,) = refusal({**KC, **change})
    assert line.startswith(f"settings: auth.external_issuers[0].{field}: "), line


def test_an_empty_prefix_and_no_roles_claim_are_allowed() -> None:
    (entry,) = settings({**KC, "subject_prefix": "", "roles_claim": None}).auth.external_issuers
    assert (entry.subject_prefix, entry.roles_claim) == ("", None)


def test_incomplete_is_unchanged_by_external_issuers() -> None:
    auth = Settings.from_mapping({"auth": {"external_issuers": [KC]}}).auth
    problem = auth.incomplete()
    assert problem is not None
    assert problem.startswith("auth.enabled is true (the default) but auth.issuer, auth.audience, auth.jwks")
