"""Helpers of the identity tests: the expected issuer and audience, a fixed clock, and ``Signer``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from jwt import PyJWS

from gateway.identity.keys import Algorithm
from gateway.identity.mint import PrivateKey, public_jwk

ISS = "https://auth.tta.example"
AUD = "tta-gateway"
NOW = 1_750_000_000.0
LEEWAY = 30.0


@dataclass(frozen=True)
class Signer:
    """One private key with its kid and pinned algorithm, and the JWK of its public half."""

    kid: str
    algorithm: Algorithm
    private: PrivateKey

    @property
    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.private.public_key(), kid=self.kid, alg=self.algorithm)

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, ttl: float = 900.0, now: float = NOW, **claims: Any) -> str:
        """A token with the good claims, changed by ``claims`` (a claim given as None is left out).

        Signed over exactly this JSON (PyJWT's ``jwt.encode`` would refuse some bad claims)."""
        payload = {"iat": int(now), "exp": int(now + ttl), **good_claims(), **claims}
        raw = json.dumps({k: v for k, v in payload.items() if v is not None}).encode()
        return PyJWS().encode(
            raw, self.private, algorithm=self.algorithm.value, headers={"kid": self.kid, "typ": "JWT"}
        )


def good_claims() -> dict[str, Any]:
    return {
        "iss": ISS,
        "aud": AUD,
        "sub": "pl_000001",
        "roles": ["player"],
        "permissions": ["player.read"],
        "sid": "ses_1",
        "tta_clearance": "standard",
        "jti": "tok_1",
    }


def jwks(*signers: Signer, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    keys = [s.jwk for s in signers]
    if extra is not None:
        keys.append(dict(extra))
    return {"keys": keys}
