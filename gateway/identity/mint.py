"""Minting tokens and keys for development and tests (and, later, ``tta-gateway token``).

The gateway only verifies; TTA's AuthService issues the real tokens. This module signs tokens the
verifier accepts, with a development key pair whose public half is a JWKS the gateway can load.

Example::

    >>> pair = generate_dev_keypair(Algorithm.EDDSA)
    >>> pair.jwks()
    {'keys': [{'kty': 'OKP', 'crv': 'Ed25519', 'x': '...', 'kid': '...', 'alg': 'EdDSA', 'use': 'sig'}]}
    >>> mint({"iss": ISS, "aud": AUD, "sub": "pl_000001", "roles": ["player"]},
    ...      pair.private_pem, kid=pair.kid, alg=pair.algorithm, ttl_seconds=900, now=time.time())
    'eyJ...'
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from gateway.identity.keys import Algorithm

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
SigningKey = PrivateKey | bytes | str | Mapping[str, Any]  # a key, PEM (or an HS256 secret), or a JWK

# RFC 7638 §3.2 (and RFC 8037 §2 for OKP): the members a thumbprint is computed over.
_THUMBPRINT_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}


def mint(
    claims: Mapping[str, Any],
    key: SigningKey,
    *,
    kid: str,
    alg: Algorithm | str,
    ttl_seconds: float,
    now: float,
) -> str:
    """A signed compact JWT: ``iat`` = now, ``exp`` = now + ttl, then ``claims`` (which win, so a
    test can mint an expired or future token). The header carries ``kid`` and ``typ: JWT``."""
    algorithm = Algorithm(alg)  # never "none": ValueError
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    payload = {"iat": int(now), "exp": int(now + ttl_seconds), **claims}
    signing: Any = jwt.PyJWK(dict(key), algorithm.value).key if isinstance(key, Mapping) else key
    return jwt.encode(payload, signing, algorithm=algorithm.value, headers={"kid": kid, "typ": "JWT"})


@dataclass(frozen=True, slots=True)
class DevKeyPair:
    """A development signing key (PEM, PKCS#8) and its public JWK."""

    kid: str
    algorithm: Algorithm
    private_pem: bytes
    public_jwk: Mapping[str, Any]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS (RFC 7517 §5) holding the public key, for ``auth.jwks``."""
        return {"keys": [dict(self.public_jwk)]}


def generate_dev_keypair(algorithm: Algorithm = Algorithm.EDDSA, *, kid: str | None = None) -> DevKeyPair:
    """A new Ed25519 (EdDSA) or P-256 (ES256) key pair; the ``kid`` defaults to the RFC 7638
    thumbprint of the public key."""
    private: PrivateKey
    if algorithm is Algorithm.EDDSA:
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm is Algorithm.ES256:
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"development key pairs are EdDSA or ES256, not {algorithm.value}")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = public_jwk(private.public_key(), kid=kid, alg=algorithm)
    return DevKeyPair(kid=public["kid"], algorithm=algorithm, private_pem=pem, public_jwk=public)


def public_jwk(key: PublicKey, *, kid: str | None = None, alg: Algorithm | None = None) -> dict[str, Any]:
    """The public JWK of ``key`` with ``kid`` (default: its RFC 7638 thumbprint), ``alg`` and
    ``use: sig``."""
    members: dict[str, Any]
    if isinstance(key, rsa.RSAPublicKey):
        members = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        members = ECAlgorithm.to_jwk(key, as_dict=True)
    else:
        members = OKPAlgorithm.to_jwk(key, as_dict=True)
    members["kid"] = kid or thumbprint(members)
    if alg is not None:
        members["alg"] = Algorithm(alg).value
    members["use"] = "sig"
    return members


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url without padding)."""
    required = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
