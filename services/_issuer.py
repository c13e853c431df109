"""The reference AuthService's token issuer: signed JWTs (RFC 7519) the gateway verifies.

One ``Issuer`` holds the signing key (private; it never leaves the auth service), the issuer and
audience names, and the token lifetimes. It signs three kinds of token, told apart by TTA's ``type``
claim:

- ``access`` (15 minutes): ``sub``, ``roles``, ``permissions``, ``sid`` (the sign-in it belongs to),
  ``jti`` (what the gateway's denylist revokes), and for a therapist ``tta_patients`` (the players
  whose care team names them). Every TTA service accepts it through the gateway (R4.1).
- ``refresh`` (30 days): ``sub``, ``sid``, ``jti``; only the AuthService reads it. The gateway
  refuses it as a bearer token (``type: refresh``).
- service tokens (1 hour) are access tokens with the ``service`` role, ``client_id`` and ``scope``.

The public half is :meth:`Issuer.jwks`, which is what the gateway's ``auth.jwks`` must hold. Where the
key lives and how the gateway gets the JWKS: docs/decisions/0013-token-issuing.md.

The signing helpers come from ``gateway.identity.mint`` (development keys, RFC 7638 ``kid``): TTA's
production AuthService signs with its own code; this reference keeps one implementation of the JOSE
details in the repository.

Example::

    >>> issuer = Issuer.generate()
    >>> token, jti, exp = issuer.sign("access", "pl_demo", now=time.time(), sid="si_1", roles=["player"])
    >>> issuer.verify(token, "access", now=time.time())["sub"]
    'pl_demo'
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization

from gateway.identity.keys import Algorithm
from gateway.identity.mint import generate_dev_keypair, mint, public_jwk

__all__ = ["DEMO_AUDIENCE", "DEMO_ISSUER", "Issuer", "Kind"]

DEMO_ISSUER = "https://auth.tta.example"
DEMO_AUDIENCE = "tta-gateway"

Kind = Literal["access", "refresh"]


@dataclass(frozen=True)
class Issuer:
    """Signs and checks the AuthService's tokens. ``generate`` makes a fresh development key;
    ``from_pem`` loads an operator's (PKCS#8 PEM: Ed25519, P-256 or RSA)."""

    issuer: str
    audience: str
    kid: str
    algorithm: Algorithm
    private_pem: bytes = field(repr=False)
    public: Mapping[str, Any] = field(repr=False)
    access_ttl: float = 15 * 60
    refresh_ttl: float = 30 * 24 * 3600
    service_ttl: float = 60 * 60
    leeway: float = 30.0

    @classmethod
    def generate(cls, issuer: str = DEMO_ISSUER, audience: str = DEMO_AUDIENCE) -> Issuer:
        """A new EdDSA (Ed25519) key: for the demo and the tests, gone when the process ends."""
        pair = generate_dev_keypair(Algorithm.EDDSA)
        return cls(issuer, audience, pair.kid, pair.algorithm, pair.private_pem, pair.public_jwk)

    @classmethod
    def from_pem(cls, path: Path, issuer: str = DEMO_ISSUER, audience: str = DEMO_AUDIENCE) -> Issuer:
        """The key in ``path`` (PKCS#8 PEM, unencrypted; keep the file mode 0600)."""
        pem = path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        jwk = public_jwk(key.public_key())  # type: ignore[arg-type]  # DH/DSA keys fail below
        algorithm = {"OKP": Algorithm.EDDSA, "EC": Algorithm.ES256, "RSA": Algorithm.RS256}.get(jwk["kty"])
        if algorithm is None:
            raise ValueError(f"{path}: the key must be Ed25519, P-256 or RSA")
        jwk["alg"] = algorithm.value
        return cls(issuer, audience, jwk["kid"], algorithm, pem, jwk)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public key set (RFC 7517 §5), for the gateway's ``auth.jwks``."""
        return {"keys": [dict(self.public)]}

    def sign(
        self,
        kind: Kind,
        subject: str,
        *,
        now: float,
        sid: str = "",
        ttl: float | None = None,
        **claims: Any,
    ) -> tuple[str, str, float]:
        """A signed token of ``kind`` for ``subject``: ``(token, jti, expires_at)``."""
        lifetime = ttl if ttl is not None else (self.access_ttl if kind == "access" else self.refresh_ttl)
        jti = secrets.token_urlsafe(16)
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "jti": jti,
            "type": kind,
            **({"sid": sid} if sid else {}),
            **{
                k: list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
                for k, v in claims.items()
            },
        }
        token = mint(
            payload, self.private_pem, kid=self.kid, alg=self.algorithm, ttl_seconds=lifetime, now=now
        )
        return token, jti, float(int(now + lifetime))

    def verify(self, token: str, kind: Kind, *, now: float) -> dict[str, Any] | None:
        """The claims of one of this issuer's live tokens of ``kind``, else None (forged, another
        issuer's, expired, or the other kind). Says nothing about why: the caller answers the same
        for all of them."""
        try:
            key = jwt.PyJWK(dict(self.public), self.algorithm.value).key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm.value],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                # the world's clock decides expiry (tests move it), not the wall clock PyJWT would read
                options={"require": ["exp", "sub", "jti"], "verify_exp": False, "verify_iat": False},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        if claims.get("type") != kind or claims["exp"] + self.leeway <= now:
            return None
        return claims
