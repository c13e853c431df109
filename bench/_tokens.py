"""A development key, its JWKS file and one access token, for the phases that call a method whose
contract requires auth (bench/cost.py, bench/identity_step.py). Made fresh for every run, in the run's
work directory; the token lives an hour, longer than any run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from gateway.identity.mint import generate_dev_keypair, mint

ISSUER = "https://auth.tta.bench"
AUDIENCE = "tta-gateway"
SUBJECT = "pl_bench"  # the token's subject, and the player the calls ask for (ownership passes)
ROLES = ("player",)
TTL_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class DevAuth:
    jwks: Path
    token: str

    @property
    def header(self) -> str:
        """The ``Authorization`` header's value."""
        return f"Bearer {self.token}"

    def settings(self) -> dict[str, Any]:
        """The gateway's ``auth`` section that accepts the token."""
        return {"enabled": True, "issuer": ISSUER, "audience": AUDIENCE, "jwks": str(self.jwks)}


def dev_auth(workdir: Path) -> DevAuth:
    """A new key pair (EdDSA, the development default), its public JWKS written to ``workdir``, and a
    token for ``SUBJECT`` with the player role and a ``jti``."""
    key = generate_dev_keypair()
    jwks = workdir / "jwks.json"
    jwks.write_text(json.dumps(key.jwks()))
    private = serialization.load_pem_private_key(key.private_pem, None)
    # With a jti, as the AuthService's tokens carry: the denylist (in memory) is asked on every call.
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": SUBJECT, "roles": list(ROLES), "jti": "bench-token-1"}
    token = mint(claims, private, kid=key.kid, alg=key.algorithm, ttl_seconds=TTL_SECONDS, now=time.time())
    return DevAuth(jwks, token)
