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
        admin: [clinical_supervisor, moderator]
      methods:                   # operator overrides of the contract, per method or service
        "/tta.v1.SafetyService/AcknowledgeEscalation": {roles: [therapist]}
        "tta.v1.DiagnosticsService": {mode: required, permissions: [diagnostics.read]}

``enabled`` is true by default. Then ``issuer``, ``audience`` and ``jwks`` are required: start-up stops
with the reason otherwise. ``enabled: false`` runs every door without identity, and the gateway logs a
loud warning at start-up saying so.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from gateway.config._errors import Invalid
from gateway.config._types import SERVICE_NAME, Section
from gateway.identity.roles import DEFAULT_HIERARCHY, hierarchy_cycle

__all__ = ["AuthSettings", "MethodAuth"]

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


class AuthSettings(Section):
    enabled: bool = True
    issuer: Annotated[str, Field(min_length=1)] | None = None
    audience: Annotated[str, Field(min_length=1)] | None = None
    jwks: Annotated[str, Field(min_length=1)] | None = None
    leeway_seconds: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] = 30.0
    allow_hs256: bool = False
    role_hierarchy: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_HIERARCHY))
    methods: dict[MethodKey, MethodAuth] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_cycle(self) -> AuthSettings:
        cycle = hierarchy_cycle(self.role_hierarchy)
        if cycle:
            raise Invalid(f"role_hierarchy: a role includes itself ({' -> '.join(cycle)})", show="none")
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
