"""The ``auth`` section: who may call, verified from signed tokens (JWT, RFC 7519 / RFC 8725)::

    auth:
      enabled: true              # false: no door checks identity (a loud warning at start-up)
      issuer: "https://auth.tta.example"
      audience: "tta-gateway"
      jwks: /path/to/jwks.json   # or an https URL: the public keys, chosen by kid
      leeway_seconds: 30         # clock skew allowed on exp, nbf and iat
      allow_hs256: false         # an "oct" key in the JWKS: development only
      role_hierarchy:            # a role includes others (this is the default)
        clinical_supervisor: [therapist]
        admin: [moderator]            # platform operations, not clinical (decision 0012)
      methods:                   # operator overrides of the contract, per method or service
        "/tta.v1.SafetyService/AcknowledgeEscalation": {roles: [therapist]}
        "tta.v1.DiagnosticsService": {mode: required, permissions: [diagnostics.read]}
      external_issuers:          # further trusted OIDC issuers, each with its own keys and claims mapping
        - issuer: "https://login.example.org/realms/tta"
          audience: "tta-gateway"
          jwks: "https://login.example.org/realms/tta/protocol/openid-connect/certs"
          subject_prefix: "kc:"            # default "ext:"; every issuer's prefix is its own
          roles_claim: realm_access.roles  # default "roles"; a dotted path, a string or an array
          role_map: {tta-therapists: therapist, tta-players: player}   # unmapped roles are dropped
          permissions_claim: scope         # default none: no permissions from this issuer
          clinical_claims: false           # default: tta_patients and tta_clearance are ignored

``enabled`` is true by default. Then ``issuer``, ``audience`` and ``jwks`` are required: start-up stops
with the reason otherwise. ``enabled: false`` runs every door without identity, and the gateway logs a
loud warning at start-up saying so.

An external issuer needs ``issuer``, ``audience`` and ``jwks``; an issuer may be listed once (not also as
``auth.issuer``), two external issuers may not share a ``subject_prefix``, and ``role_map`` may name only
TTA's roles: each is refused when the settings are read, naming the entry. How a token's issuer is
chosen and its claims mapped: ``gateway.identity.issuers`` and decision 0011.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from gateway.config._errors import Invalid
from gateway.config._types import SERVICE_NAME, Section
from gateway.identity.issuers import DEFAULT_SUBJECT_PREFIX
from gateway.identity.roles import DEFAULT_HIERARCHY, ROLES, hierarchy_cycle

__all__ = ["AuthSettings", "ExternalIssuer", "MethodAuth"]

_METHOD_KEY = re.compile(rf"/{SERVICE_NAME}/[A-Za-z_]\w*|{SERVICE_NAME}", re.ASCII)


def _check_method_key(key: str) -> str:
    if not _METHOD_KEY.fullmatch(key):
        raise Invalid(
            "is not a method or a service (like /tta.v1.PlayerService/GetPlayer or tta.v1.ChatService)",
            show="before",
        )
    return key


MethodKey = Annotated[str, AfterValidator(_check_method_key)]


class MethodAuth(Section):
    """An operator's override of a method's (or a service's) auth policy; what is unset comes from the
    contract. A method's entry beats its service's."""

    mode: Literal["required", "optional", "none"] | None = None
    roles: tuple[str, ...] | None = None  # any one of them
    permissions: tuple[str, ...] | None = None  # every one of them


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"is not a TTA role ({', '.join(ROLES)})", show="before")
    return role


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


def _check_prefix(prefix: str) -> str:
    # It becomes part of x-tta-subject, gRPC metadata: printable ASCII without spaces.
    if len(prefix) > 64 or not all("!" <= c <= "~" for c in prefix):
        raise Invalid("must be printable ASCII without spaces, at most 64 characters")
    return prefix


def _check_jwks(location: str) -> str:
    if "://" in location and not location.startswith("https://"):
        raise Invalid("is not a file path or an https:// URL (keys decide who gets in)", show="before")
    return location


def _check_claim(path: str) -> str:
    if path != path.strip() or not path.strip("."):
        raise Invalid("is not a claim name or a dotted path into the token (like realm_access.roles)")
    return path


TtaRoles = Annotated[
    tuple[Annotated[str, AfterValidator(_check_role)], ...],
    BeforeValidator(_one_or_many),
    Field(min_length=1),
]
ClaimPath = Annotated[str, Field(min_length=1), AfterValidator(_check_claim)]


class ExternalIssuer(Section):
    """A further trusted token issuer (an OIDC identity provider): its own keys, audience and leeway,
    and how its claims become TTA's (``gateway.identity.issuers.ClaimsMapping``)."""

    issuer: Annotated[str, Field(min_length=1)]
    audience: Annotated[str, Field(min_length=1)]
    jwks: Annotated[str, Field(min_length=1), AfterValidator(_check_jwks)]
    subject_claim: ClaimPath = "sub"
    subject_prefix: Annotated[str, AfterValidator(_check_prefix)] = DEFAULT_SUBJECT_PREFIX
    roles_claim: ClaimPath | None = "roles"
    role_map: dict[Annotated[str, Field(min_length=1)], TtaRoles] = Field(default_factory=dict)
    permissions_claim: ClaimPath | None = None
    leeway_seconds: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] | None = None  # auth's
    clinical_claims: bool = False


class AuthSettings(Section):
    enabled: bool = True
    issuer: Annotated[str, Field(min_length=1)] | None = None
    audience: Annotated[str, Field(min_length=1)] | None = None
    jwks: Annotated[str, Field(min_length=1)] | None = None
    leeway_seconds: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] = 30.0
    allow_hs256: bool = False
    role_hierarchy: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_HIERARCHY))
    methods: dict[MethodKey, MethodAuth] = Field(default_factory=dict)
    external_issuers: tuple[ExternalIssuer, ...] = ()

    @model_validator(mode="after")
    def _no_cycle(self) -> AuthSettings:
        cycle = hierarchy_cycle(self.role_hierarchy)
        if cycle:
            raise Invalid(f"role_hierarchy: a role includes itself ({' -> '.join(cycle)})", show="none")
        return self

    @model_validator(mode="after")
    def _issuers_distinct(self) -> AuthSettings:
        """An issuer once (its tokens meet one set of keys and rules), and a subject prefix per issuer
        (two issuers' accounts never become one subject)."""
        issuers: dict[str, str] = {self.issuer: "auth.issuer"} if self.issuer is not None else {}
        prefixes: dict[str, str] = {}
        for i, entry in enumerate(self.external_issuers):
            where = f"external_issuers[{i}]"
            if entry.issuer in issuers:
                raise Invalid(
                    f"{where}.issuer: {entry.issuer!r} is already {issuers[entry.issuer]}; each issuer is"
                    " listed once",
                    show="none",
                )
            issuers[entry.issuer] = f"{where}.issuer"
            if entry.subject_prefix in prefixes:
                raise Invalid(
                    f"{where}.subject_prefix: {entry.subject_prefix!r} is already"
                    f" {prefixes[entry.subject_prefix]}; give each issuer its own prefix so that two"
                    " issuers' accounts never become one subject",
                    show="none",
                )
            prefixes[entry.subject_prefix] = f"{where}.subject_prefix"
        return self

    def for_method(self, path: str, service: str) -> MethodAuth:
        """The override of one method: its own entry's keys, else its service's."""
        mine, theirs = self.methods.get(path), self.methods.get(service)
        merged: dict[str, object] = {}
        for entry in (theirs, mine):
            if entry is not None:
                merged.update({k: v for k, v in entry.model_dump().items() if v is not None})
        return MethodAuth.model_validate(merged)

    def incomplete(self) -> str | None:
        """Why identity cannot start, or None: with ``enabled``, the issuer, the audience and the keys
        must be configured. Checked at start-up (``Gateway.build``), not when settings are made, so
        that ``enabled: true`` can be the default of a section nobody has filled in yet."""
        if not self.enabled:
            return None
        missing = [k for k in ("issuer", "audience", "jwks") if getattr(self, k) is None]
        if not missing:
            return None
        return (
            "auth.enabled is true (the default) but auth."
            + ", auth.".join(missing)
            + " is not set: give the token issuer, this gateway's audience and where the issuer's public"
            " keys are (docs/configuration.md), or set auth.enabled: false to run every door without"
            " identity"
        )
