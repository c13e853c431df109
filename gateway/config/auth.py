"""The ``auth`` section: who may call, verified from signed tokens (JWT, RFC 7519 / RFC 8725)::

    auth:
      enabled: false             # true: every method that declares auth needs a valid bearer token
      issuer: "https://auth.tta.example"
      audience: "tta-gateway"
      jwks: /path/to/jwks.json   # or an https URL: the public keys, chosen by kid
      leeway_seconds: 30         # clock skew allowed on exp, nbf and iat
      allow_hs256: false         # an "oct" key in the JWKS: development only

``enabled`` is false by default while the demo and the reference AuthService are moved to signed tokens
(issue 9 is under way); the gateway then logs a warning at start-up that no door checks identity.
With ``enabled: true``, ``issuer``, ``audience`` and ``jwks`` are required: start-up stops otherwise.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from gateway.config._errors import Invalid
from gateway.config._types import Section

__all__ = ["AuthSettings"]


class AuthSettings(Section):
    enabled: bool = False
    issuer: Annotated[str, Field(min_length=1)] | None = None
    audience: Annotated[str, Field(min_length=1)] | None = None
    jwks: Annotated[str, Field(min_length=1)] | None = None
    leeway_seconds: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] = 30.0
    allow_hs256: bool = False

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> AuthSettings:
        if self.enabled:
            missing = [k for k in ("issuer", "audience", "jwks") if getattr(self, k) is None]
            if missing:
                raise Invalid(
                    "enabled needs "
                    + ", ".join(missing)
                    + " (the token issuer, this gateway's audience, and where its public keys are)",
                    show="none",
                )
        return self
