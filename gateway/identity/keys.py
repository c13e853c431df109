"""Verification keys: a JWKS document (RFC 7517) parsed once into an immutable ``KeySet``.

Each key is found by its ``kid`` and carries the one algorithm it may verify, pinned here, at load
time: from the key's ``alg`` member, or derived from ``kty``/``crv``. A token never chooses the
algorithm (RFC 8725 §2.1, §3.1); ``gateway.identity.tokens`` refuses a token whose ``alg`` disagrees.

Example::

    >>> keys = parse_jwks('{"keys": [{"kid": "k1", "kty": "OKP", "crv": "Ed25519", "x": "..."}]}')
    >>> keys.get("k1").algorithm
    <Algorithm.EDDSA: 'EdDSA'>

What is refused, each error naming the key's index and the field: a missing or duplicate ``kid``; an
unsupported ``kty``, ``crv`` or ``alg`` (or an ``alg`` that does not fit the key type); an RSA modulus
under 2048 bits (RFC 7518 §3.3); a private member (``d``, ``p``, ``q``, ...) in a JWKS that is meant
to be public; a symmetric (``oct``) key unless development explicitly allows it, and then shorter
than 32 bytes (RFC 7518 §3.2). A key with ``"use": "enc"`` is an encryption key, not a signing key:
it is left out and listed in ``KeySet.ignored`` (identity providers such as Keycloak publish one).

I/O lives in ``gateway.identity.source``; this module is pure.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from gateway.errors import ConfigError

MIN_RSA_BITS = 2048  # RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used"
MIN_HMAC_BYTES = 32  # RFC 7518 §3.2: at least the hash output size for HS256
MAX_KID_CHARS = 256  # a bound on what a token header may name; real kids are short


class Algorithm(enum.StrEnum):
    """The JWS algorithms a key may be pinned to (RFC 7518 names)."""

    RS256 = "RS256"
    ES256 = "ES256"
    EDDSA = "EdDSA"
    HS256 = "HS256"  # symmetric: development only (allow_symmetric)


# (kty, crv) of each algorithm, and the algorithm a key gets when it has no ``alg`` member.
_KEY_TYPE: Mapping[Algorithm, tuple[str, str | None]] = {
    Algorithm.RS256: ("RSA", None),
    Algorithm.ES256: ("EC", "P-256"),
    Algorithm.EDDSA: ("OKP", "Ed25519"),
    Algorithm.HS256: ("oct", None),
}
_DERIVED: Mapping[tuple[str, str | None], Algorithm] = {kc: alg for alg, kc in _KEY_TYPE.items()}
_CURVES: Mapping[str, frozenset[str]] = {"EC": frozenset({"P-256"}), "OKP": frozenset({"Ed25519"})}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")  # RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2
# The members that make up the public key, for the key set's fingerprint.
_PUBLIC_MEMBERS = ("kid", "kty", "alg", "crv", "n", "e", "x", "y", "k")


class JwksError(ConfigError):
    """A JWKS document cannot be used: names the source, the key's index and the field."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One key of a key set: its ``kid``, the one algorithm it verifies, and the key itself."""

    kid: str
    algorithm: Algorithm
    jwk: PyJWK = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class KeySet:
    """Verification keys by ``kid``; immutable. A refresh builds a new one.

    ``fingerprint`` changes exactly when the public key material does, so a cache of verified
    tokens can tell a real rotation from a refresh that fetched the same document.
    """

    keys: Mapping[str, VerificationKey]
    fingerprint: str
    ignored: tuple[str, ...] = ()  # "keys[3] (kid 'enc-1'): use 'enc'" for keys left out on purpose

    def get(self, kid: str) -> VerificationKey | None:
        return self.keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self.keys)


def parse_jwks(
    document: str | bytes | Mapping[str, Any],
    *,
    source: str = "JWKS",
    allow_symmetric: bool = False,
) -> KeySet:
    """Parse a JWKS document into a ``KeySet``, refusing anything doubtful with a ``JwksError``.

    ``source`` names the document in errors (a path or a URL). ``allow_symmetric`` admits ``oct``
    keys (HS256): an explicit development choice, since whoever can verify can also sign.
    """
    if isinstance(document, str | bytes):
        try:
            parsed = json.loads(document)
        except (ValueError, RecursionError) as exc:
            raise JwksError(f"{source}: not a JSON document ({type(exc).__name__})") from None
    else:
        parsed = document
    if not isinstance(parsed, Mapping):
        raise JwksError(f"{source}: a JWKS is a JSON object with a 'keys' array")
    members = parsed.get("keys")
    if not isinstance(members, list):
        raise JwksError(f"{source}: field 'keys' must be an array of keys")
    found: dict[str, VerificationKey] = {}
    ignored: list[str] = []
    public: list[dict[str, Any]] = []
    for index, member in enumerate(members):
        where = f"{source}: keys[{index}]"
        if not isinstance(member, Mapping):
            raise JwksError(f"{where}: a key must be a JSON object")
        key = _parse_key(member, where, allow_symmetric=allow_symmetric)
        if key is None:
            ignored.append(f"keys[{index}] (kid {member.get('kid')!r}): use 'enc'")
            continue
        if key.kid in found:
            raise JwksError(f"{where}: field 'kid' {key.kid!r} is a duplicate (kids must be unique)")
        found[key.kid] = key
        public.append({name: member[name] for name in _PUBLIC_MEMBERS if name in member})
    if not found:
        raise JwksError(f"{source}: field 'keys' holds no signing key")
    canonical = json.dumps(sorted(public, key=lambda m: str(m["kid"])), sort_keys=True).encode()
    return KeySet(
        keys=MappingProxyType(found),
        fingerprint=hashlib.sha256(canonical).hexdigest()[:32],
        ignored=tuple(ignored),
    )


def _parse_key(member: Mapping[str, Any], where: str, *, allow_symmetric: bool) -> VerificationKey | None:
    kid = member.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JwksError(f"{where}: field 'kid' is missing (every key needs a non-empty string kid)")
    if len(kid) > MAX_KID_CHARS:
        raise JwksError(f"{where}: field 'kid' is longer than {MAX_KID_CHARS} characters")
    where = f"{where} (kid {kid!r})"
    use = member.get("use")
    if use == "enc":
        return None
    if use is not None and use != "sig":
        raise JwksError(f"{where}: field 'use' must be 'sig' (or 'enc' for a key to leave out)")
    kty = member.get("kty")
    if kty not in ("RSA", "EC", "OKP", "oct"):
        raise JwksError(f"{where}: field 'kty' {kty!r} is not supported (RSA, EC, OKP)")
    if kty == "oct" and not allow_symmetric:
        raise JwksError(
            f"{where}: field 'kty' 'oct' (a shared secret, HS256) is allowed only as an explicit "
            "development choice"
        )
    crv = member.get("crv")
    if kty in _CURVES and crv not in _CURVES[kty]:
        raise JwksError(f"{where}: field 'crv' {crv!r} is not supported for {kty} ({_supported_curves(kty)})")
    for name in _PRIVATE_MEMBERS:
        if name in member and kty != "oct":
            raise JwksError(
                f"{where}: field {name!r} is a private key part; a JWKS for verification holds public keys only"
            )
    algorithm = _algorithm(member.get("alg"), kty, crv if kty in _CURVES else None, where)
    try:
        jwk = PyJWK(dict(member), algorithm.value)
    except (PyJWTError, ValueError, TypeError) as exc:
        # The library's message may quote the key's members (a secret, for oct): name the type only.
        raise JwksError(
            f"{where}: the key material is not a valid {kty} key ({type(exc).__name__})"
        ) from None
    if isinstance(jwk.key, RSAPublicKey) and jwk.key.key_size < MIN_RSA_BITS:
        raise JwksError(
            f"{where}: field 'n' is a {jwk.key.key_size}-bit modulus; RSA keys need at least {MIN_RSA_BITS} bits"
        )
    if algorithm is Algorithm.HS256 and isinstance(jwk.key, bytes) and len(jwk.key) < MIN_HMAC_BYTES:
        raise JwksError(f"{where}: field 'k' is shorter than {MIN_HMAC_BYTES} bytes")
    return VerificationKey(kid=kid, algorithm=algorithm, jwk=jwk)


def _algorithm(alg: object, kty: str, crv: str | None, where: str) -> Algorithm:
    if alg is None:
        return _DERIVED[(kty, crv)]
    try:
        algorithm = Algorithm(alg if isinstance(alg, str) else "")
    except ValueError:
        supported = ", ".join(a.value for a in Algorithm)
        raise JwksError(f"{where}: field 'alg' {alg!r} is not supported ({supported})") from None
    if _KEY_TYPE[algorithm] != (kty, crv):
        raise JwksError(f"{where}: field 'alg' {alg!r} does not fit a key of kty {kty!r}, crv {crv!r}")
    return algorithm


def _supported_curves(kty: str) -> str:
    return ", ".join(sorted(_CURVES[kty]))
