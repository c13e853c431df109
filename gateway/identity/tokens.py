"""Access-token verification, pure: a compact JWS (RFC 7515) JWT (RFC 7519) in, ``Claims`` or a
``TokenProblem`` out. The clock is passed in; no I/O.

A refusal is an expected outcome, so it is a value, not an exception (STYLE, habit 3). Each
``TokenProblem`` has a stable ``reason`` (the ``ErrorInfo.reason`` clients branch on), the RFC 6750
§3.1 error code for ``WWW-Authenticate``, a calm message for the person on the other end, and a
``detail`` for the log. Neither the message nor the detail ever quotes the token or a claim's value.

The checks, in order (RFC 8725, "JSON Web Token Best Current Practices")::

    size (before any decoding) ─► three base64url segments ─► header: a JSON object, ``alg``, ``kid``
    ─► ``alg: none`` refused (§3.1) ─► the key by ``kid`` ─► the token's ``alg`` must be the key's
    pinned one (§2.1, §3.1: no HS256 made from an RSA public key) ─► signature (PyJWT, with the key's
    algorithm) ─► payload: a JSON object ─► ``iss`` (§3.8) ─► ``aud`` (§3.9) ─► not a refresh token
    (§3.12, TTA's ``type`` claim) ─► ``exp``, ``nbf``, ``iat`` with leeway ─► ``sub`` ─► claim types

Everything up to the times is ``verify_signed`` and holds for every issuer; the last two steps are
``read_claims``, TTA's own claims. A token of an external OIDC issuer passes the same
``verify_signed`` and then that issuer's claims mapping instead (``gateway.identity.issuers``).

Header members that point at keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are never followed: the keys
come from the configured JWKS only. JSON with duplicate member names, ``NaN`` or ``Infinity`` is
malformed (RFC 7519 §4, RFC 8259).

Example::

    >>> verify(token, keys, issuer="https://auth.tta.example", audience="tta-gateway",
    ...        leeway_seconds=30, now=time.time())
    Claims(subject='pl_000001', roles=('player',), permissions=(), session_id='s1', ...)
    >>> verify("abc", keys, issuer=..., audience=..., leeway_seconds=30, now=...).reason
    <Reason.MALFORMED: 'TOKEN_MALFORMED'>
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import grpc
from jwt import PyJWS
from jwt.exceptions import InvalidAlgorithmError, InvalidSignatureError, PyJWTError

from gateway.errors import Refused
from gateway.identity.keys import MAX_KID_CHARS, Algorithm, KeySet

DEFAULT_MAX_BYTES = 8192
CLEARANCE_CLAIM = "tta_clearance"  # TTA's therapeutic clearance (docs/decisions/0009-jwt-verification.md)
TYPE_CLAIM = "type"  # TTA's token type: "refresh" marks a refresh token (issue 9)
# The players a therapist is assigned to, as the issuer (which holds the assignments) states them.
PATIENTS_CLAIM = "tta_patients"
MAX_PATIENTS = 1000  # a caseload, not a directory: a longer list is refused as a bad claim

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # base64url without padding (RFC 7515 §2, §C)
_NONE = "none"
# The signature check is PyJWT's, limited to the algorithms a key can be pinned to.
_JWS = PyJWS(algorithms=[a.value for a in Algorithm])


class Reason(enum.StrEnum):
    """Why a token was refused: the stable ``ErrorInfo.reason``."""

    MISSING = "TOKEN_MISSING"
    TOO_LARGE = "TOKEN_TOO_LARGE"
    MALFORMED = "TOKEN_MALFORMED"
    ALG_NONE = "TOKEN_ALG_NONE"
    UNKNOWN_KID = "TOKEN_UNKNOWN_KID"
    ALG_MISMATCH = "TOKEN_ALG_MISMATCH"
    BAD_SIGNATURE = "TOKEN_BAD_SIGNATURE"
    BAD_ISSUER = "TOKEN_BAD_ISSUER"
    BAD_AUDIENCE = "TOKEN_BAD_AUDIENCE"
    REFRESH_NOT_ACCESS = "TOKEN_REFRESH_NOT_ACCESS"
    EXPIRED = "TOKEN_EXPIRED"
    NOT_YET_VALID = "TOKEN_NOT_YET_VALID"
    NO_SUBJECT = "TOKEN_NO_SUBJECT"
    BAD_CLAIM = "TOKEN_BAD_CLAIM"  # a required claim missing (exp) or a claim of the wrong type


class BearerError(enum.StrEnum):
    """RFC 6750 §3.1 error codes, for ``WWW-Authenticate: Bearer error="..."``."""

    INVALID_REQUEST = "invalid_request"
    INVALID_TOKEN = "invalid_token"
    INSUFFICIENT_SCOPE = "insufficient_scope"


_SIGN_IN_AGAIN = "We couldn't confirm that you're signed in. Please sign in again to continue."
_MESSAGES: Mapping[Reason, str] = {
    Reason.MISSING: "Please sign in to continue.",
    Reason.EXPIRED: "Your session has ended. Please sign in again to continue.",
    Reason.NOT_YET_VALID: "Your sign-in isn't active yet. Please try again in a moment.",
    Reason.REFRESH_NOT_ACCESS: "This sign-in can't be used here. Please sign in again to continue.",
}


@dataclass(frozen=True, slots=True)
class TokenProblem:
    """A refused token: why (``reason``), and for whom (``message``, ``error``, ``detail``)."""

    reason: Reason
    detail: str  # for the log: names checks and claims, never their values or the token
    kid: str | None = None  # the header's kid when the key set lacks it (a refresh may find it)

    @property
    def error(self) -> BearerError | None:
        # RFC 6750 §3.1: a request without credentials gets no error code at all.
        if self.reason is Reason.MISSING:
            return None
        return BearerError.INVALID_TOKEN

    @property
    def message(self) -> str:
        return _MESSAGES.get(self.reason, _SIGN_IN_AGAIN)

    def refusal(self) -> Refused:
        """The error a door renders: UNAUTHENTICATED, the reason, and the RFC 6750 code."""
        info = {"bearer_error": self.error.value} if self.error is not None else {}
        return Refused(grpc.StatusCode.UNAUTHENTICATED, self.message, reason=self.reason.value, info=info)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified access token says about its bearer."""

    subject: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    session_id: str | None  # sid
    clearance: str | None  # tta_clearance
    patients: tuple[str, ...]  # tta_patients: the players a therapist is assigned to
    token_id: str | None  # jti: what a denylist names
    expires_at: float  # exp, seconds since the epoch
    issued_at: float | None  # iat
    kid: str  # the key that verified it


@dataclass(frozen=True, slots=True)
class Verified:
    """A token whose signature, issuer, audience, type and times are verified; its claims not yet read."""

    payload: Mapping[str, Any]  # the whole payload, for the claims mapping; never logged
    kid: str  # the key that verified it
    expires_at: float  # exp
    issued_at: float | None  # iat


def parse_authorization(value: str | None) -> str | TokenProblem:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1).

    >>> parse_authorization("Bearer eyJ...")
    'eyJ...'
    """
    if value is None or not value.strip():
        return TokenProblem(Reason.MISSING, "no Authorization header")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return TokenProblem(Reason.MISSING, "the Authorization scheme is not Bearer")
    token = token.strip(" ")
    if not token:
        return TokenProblem(Reason.MISSING, "the Bearer credentials are empty")
    return token


def verify(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    leeway_seconds: float,
    now: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Claims | TokenProblem:
    """Verify an access token of TTA's own issuer; never raises for any string ``token``."""
    verified = verify_signed(
        token,
        keys,
        issuer=issuer,
        audience=audience,
        leeway_seconds=leeway_seconds,
        now=now,
        max_bytes=max_bytes,
    )
    return verified if isinstance(verified, TokenProblem) else read_claims(verified)


def verify_signed(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    leeway_seconds: float,
    now: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Verified | TokenProblem:
    """Every check that does not depend on whose claims these are: the size, the form, the signature
    with the key's pinned algorithm, ``iss``, ``aud``, not a refresh token, and the times. What the
    payload then says about the bearer is read by ``read_claims`` (TTA's claims) or by an external
    issuer's claims mapping (``gateway.identity.issuers``). Never raises for any string ``token``."""
    if not token:
        return TokenProblem(Reason.MISSING, "the token is empty")
    # Before anything is decoded: a huge token costs one length check, nothing more.
    if len(token) > max_bytes:
        return TokenProblem(Reason.TOO_LARGE, f"the token is longer than {max_bytes} bytes")
    if not token.isascii():
        return TokenProblem(Reason.MALFORMED, "the token is not ASCII")
    segments = token.split(".")
    if len(segments) != 3:
        return TokenProblem(Reason.MALFORMED, f"{len(segments)} segments, a JWS has 3")
    if not all(_SEGMENT.fullmatch(s) and len(s) % 4 != 1 for s in segments) or not segments[0]:
        return TokenProblem(Reason.MALFORMED, "a segment is not base64url")
    header = _json_object(segments[0])
    if header is None:
        return TokenProblem(Reason.MALFORMED, "the header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        return TokenProblem(Reason.MALFORMED, "the header has no alg")
    if alg.lower() == _NONE:
        return TokenProblem(Reason.ALG_NONE, "alg none (an unsigned token)")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
        return TokenProblem(Reason.UNKNOWN_KID, "the header has no usable kid")
    key = keys.get(kid)
    if key is None:
        return TokenProblem(Reason.UNKNOWN_KID, "no key with this kid", kid=kid)
    if alg != key.algorithm.value:
        # RFC 8725 §2.1: the key decides the algorithm. This is where an HS256 token "signed" with
        # an RSA public key as the HMAC secret stops.
        return TokenProblem(Reason.ALG_MISMATCH, f"the token's alg is not the key's ({key.algorithm.value})")
    try:
        verified = _JWS.decode_complete(
            token,
            key.jwk,
            algorithms=[key.algorithm.value],
            options={"verify_signature": True, "enforce_minimum_key_length": True},
        )
    except InvalidSignatureError:
        return TokenProblem(Reason.BAD_SIGNATURE, "the signature does not verify")
    except InvalidAlgorithmError:
        return TokenProblem(Reason.ALG_MISMATCH, "the token's alg is not the key's")
    except PyJWTError as exc:
        return TokenProblem(Reason.MALFORMED, f"the JWS could not be read ({type(exc).__name__})")
    payload = _loads_object(verified["payload"])
    if payload is None:
        return TokenProblem(Reason.MALFORMED, "the payload is not a JSON object")
    return _check_registered(payload, kid, issuer=issuer, audience=audience, leeway=leeway_seconds, now=now)


def _check_registered(
    payload: Mapping[str, Any], kid: str, *, issuer: str, audience: str, leeway: float, now: float
) -> Verified | TokenProblem:
    if payload.get("iss") != issuer:
        return TokenProblem(Reason.BAD_ISSUER, "iss is missing or not the configured issuer")
    aud = payload.get("aud")
    # RFC 7519 §4.1.3: a string or an array of strings; ours must be among them.
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        return TokenProblem(Reason.BAD_AUDIENCE, "aud is missing or does not name this gateway")
    if payload.get(TYPE_CLAIM) == "refresh":
        return TokenProblem(Reason.REFRESH_NOT_ACCESS, "a refresh token presented as an access token")
    exp = payload.get("exp")
    if not _is_time(exp):
        return TokenProblem(Reason.BAD_CLAIM, "exp is missing or not a NumericDate")
    if now >= exp + leeway:
        return TokenProblem(Reason.EXPIRED, f"expired {now - exp:.0f} s ago (leeway {leeway:g} s)")
    nbf = payload.get("nbf")
    if nbf is not None:
        if not _is_time(nbf):
            return TokenProblem(Reason.BAD_CLAIM, "nbf is not a NumericDate")
        if now + leeway < nbf:
            return TokenProblem(Reason.NOT_YET_VALID, f"nbf is {nbf - now:.0f} s ahead (leeway {leeway:g} s)")
    iat = payload.get("iat")
    if iat is not None:
        if not _is_time(iat):
            return TokenProblem(Reason.BAD_CLAIM, "iat is not a NumericDate")
        if iat > now + leeway:
            return TokenProblem(Reason.NOT_YET_VALID, f"iat is {iat - now:.0f} s ahead (leeway {leeway:g} s)")
    return Verified(
        payload=payload, kid=kid, expires_at=float(exp), issued_at=float(iat) if iat is not None else None
    )


def read_claims(verified: Verified) -> Claims | TokenProblem:
    """TTA's own claims of a verified payload: ``sub``, ``roles``, ``permissions``, ``sid``,
    ``tta_clearance``, ``tta_patients``, ``jti``, each of its documented type (decision 0009)."""
    payload = verified.payload
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject:
        return TokenProblem(Reason.NO_SUBJECT, "sub is missing or not a non-empty string")
    roles = _strings(payload, "roles")
    permissions = _strings(payload, "permissions")
    patients = _strings(payload, PATIENTS_CLAIM)
    if roles is None or permissions is None or patients is None:
        return TokenProblem(
            Reason.BAD_CLAIM, f"roles, permissions or {PATIENTS_CLAIM} is not an array of strings"
        )
    if len(patients) > MAX_PATIENTS:
        return TokenProblem(Reason.BAD_CLAIM, f"{PATIENTS_CLAIM} names more than {MAX_PATIENTS} players")
    optional: dict[str, str | None] = {}
    for name in ("sid", CLEARANCE_CLAIM, "jti"):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            return TokenProblem(Reason.BAD_CLAIM, f"{name} is not a string")
        optional[name] = value
    return Claims(
        subject=subject,
        roles=roles,
        permissions=permissions,
        session_id=optional["sid"],
        clearance=optional[CLEARANCE_CLAIM],
        patients=patients,
        token_id=optional["jti"],
        expires_at=verified.expires_at,
        issued_at=verified.issued_at,
        kid=verified.kid,
    )


def unverified_issuer(token: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """The ``iss`` a token's payload states, read WITHOUT verifying anything, or None when the token is
    too large, not three segments, its payload not a JSON object (duplicate members, ``NaN``: the same
    parser as ``verify``) or ``iss`` not a string. Only for choosing which issuer's keys and rules then
    verify the token (RFC 8725 §3.10: a received claim selects among configured things, nothing more);
    that verification checks ``iss`` again, under the signature."""
    if len(token) > max_bytes or not token.isascii():
        return None
    segments = token.split(".")
    if len(segments) != 3 or not segments[1]:
        return None
    payload = _json_object(segments[1])
    issuer = payload.get("iss") if payload is not None else None
    return issuer if isinstance(issuer, str) else None


def _is_time(value: object) -> TypeGuard[float]:
    # RFC 7519 §2 NumericDate: a JSON number. bool is an int in Python and is not one.
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _strings(payload: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = payload.get(name)
    if value is None:  # absent, or JSON null: as for every optional claim, no value
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _json_object(segment: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    return _loads_object(raw)


def _loads_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")  # RFC 7519 §4: reject, never "last one wins"
    return members


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259 has no NaN or Infinity
