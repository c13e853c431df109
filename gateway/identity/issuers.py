"""Trusted issuers: which issuer's keys and rules verify a token, and how an external OIDC identity
provider's claims become TTA's (issue 9; decision 0011). Pure: the keys and the clock are passed in.

TTA's own AuthService is one issuer; operators may trust further ones (``auth.external_issuers``: a
Keycloak realm, an Azure AD tenant). As Envoy's ``jwt_authn`` does with several providers, the token's
``iss`` — read from the payload without trusting it (``tokens.unverified_issuer``) — only *selects*
the issuer (``choose``); that issuer's own key set, audience and leeway then verify the whole token,
``iss`` included, under the signature. So a key of one issuer never verifies another issuer's token:
a token signed by an external key but naming TTA's ``iss`` is looked up among TTA's keys only.

Every issuer gets the same ``tokens.verify_signed`` (size, form, ``alg: none``, pinned algorithms,
signature, ``iss``, ``aud``, ``type: refresh`` refused, times). Then:

- TTA's own issuer (``mapping`` None): ``tokens.read_claims``, TTA's claims as they are.
- an external issuer: ``map_claims`` with its ``ClaimsMapping``. The subject comes from a chosen claim
  with a prefix (``ext:`` by default) so an outside account can never be taken for a TTA account
  (ownership compares subjects); its roles come from a chosen claim through ``role_map`` only (an
  unmapped name is dropped, so an IdP cannot hand out a TTA role nobody mapped); its permissions only
  when the operator names a claim for them; and the clinical claims ``tta_patients`` and
  ``tta_clearance`` are ignored unless the operator opts in (``clinical_claims``): a caseload and a
  clearance are TTA's clinical facts, which an outside directory does not hold.

Example (a Keycloak access token)::

    >>> rules = ClaimsMapping(roles_claim="realm_access.roles", role_map={"tta-therapists": ("therapist",)})
    >>> map_claims(verified, rules).roles
    ('therapist',)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.identity.keys import KeySet
from gateway.identity.tokens import (
    CLEARANCE_CLAIM,
    DEFAULT_MAX_BYTES,
    MAX_PATIENTS,
    PATIENTS_CLAIM,
    Claims,
    Reason,
    TokenProblem,
    Verified,
    read_claims,
    unverified_issuer,
    verify_signed,
)

DEFAULT_SUBJECT_PREFIX = "ext:"  # TTA's own ids (pl_..., th_...) never hold a colon
MAX_SUBJECT_CHARS = 256
# The subject travels upstream as gRPC metadata (x-tta-subject): printable ASCII, no spaces.
_SUBJECT = re.compile(r"[\x21-\x7e]+", re.ASCII)
_ROLE_SEPARATORS = re.compile(r"[\s,]+")  # "a b", "a,b", "a, b"
_SCOPE_SEPARATORS = re.compile(r"\s+")  # RFC 6749 §3.3: scope tokens are space-delimited

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClaimsMapping:
    """How an external issuer's claims become TTA's. Claim names are dotted paths into the payload
    (``realm_access.roles``); a name the payload holds as it is (``https://tta.example/roles``, as Auth0
    namespaces claims) is taken literally first."""

    subject_claim: str = "sub"
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX
    roles_claim: str | None = "roles"  # None: no roles from this issuer
    role_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # IdP role → TTA roles
    permissions_claim: str | None = None  # None: no permissions from this issuer
    clinical_claims: bool = False  # True: honour tta_patients and tta_clearance from this issuer


@dataclass(frozen=True, slots=True)
class Issuer:
    """One trusted issuer: what its tokens must say, and how their claims are read."""

    issuer: str
    audience: str
    leeway_seconds: float
    mapping: ClaimsMapping | None = None  # None: TTA's own issuer

    def verify(
        self, token: str, keys: KeySet, *, now: float, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> Claims | TokenProblem:
        """Verify ``token`` with this issuer's ``keys`` and rules; never raises for any string."""
        verified = verify_signed(
            token,
            keys,
            issuer=self.issuer,
            audience=self.audience,
            leeway_seconds=self.leeway_seconds,
            now=now,
            max_bytes=max_bytes,
        )
        if isinstance(verified, TokenProblem):
            return verified
        return read_claims(verified) if self.mapping is None else map_claims(verified, self.mapping)


def choose(
    token: str, issuers: Mapping[str, T], default: T, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> T | TokenProblem:
    """Which of ``issuers`` (by their ``iss``) verifies ``token``: the one its unverified ``iss`` names.

    A payload that cannot be read, or an ``iss`` that is not a string, goes to ``default`` (TTA's own
    issuer), whose verification then names the problem as it always has (``TOKEN_MALFORMED``,
    ``TOKEN_BAD_ISSUER``, ...). A string ``iss`` no issuer has is ``TOKEN_BAD_ISSUER`` at once, before
    any key is looked up: an unknown issuer's token never sets off a key refresh."""
    iss = unverified_issuer(token, max_bytes=max_bytes)
    if iss is None:
        return default
    chosen = issuers.get(iss)
    if chosen is None:
        return TokenProblem(Reason.BAD_ISSUER, "iss names no trusted issuer")
    return chosen


def map_claims(verified: Verified, mapping: ClaimsMapping) -> Claims | TokenProblem:
    """The ``Claims`` of an external issuer's verified token, read through ``mapping``.

    A claim that is absent (or JSON null, or under an absent object) gives nothing: no roles, no
    permissions. A claim of the wrong type is ``TOKEN_BAD_CLAIM`` — a roles claim that is a number,
    an array holding a non-string, a path running through a string — since it means the mapping and
    the issuer disagree about the token's shape, which an operator should hear about rather than
    see quietly as "no roles". Problems name claims, never their values."""
    payload = verified.payload
    raw_subject = claim_at(payload, mapping.subject_claim)
    if raw_subject is _WRONG_SHAPE:
        return TokenProblem(
            Reason.BAD_CLAIM, f"the subject claim ({mapping.subject_claim}) is under a non-object"
        )
    if not isinstance(raw_subject, str) or not raw_subject:
        return TokenProblem(
            Reason.NO_SUBJECT,
            f"the subject claim ({mapping.subject_claim}) is missing or not a non-empty string",
        )
    subject = mapping.subject_prefix + raw_subject
    if len(subject) > MAX_SUBJECT_CHARS or not _SUBJECT.fullmatch(subject):
        return TokenProblem(
            Reason.BAD_CLAIM,
            f"the subject claim ({mapping.subject_claim}) is not printable ASCII of at most "
            f"{MAX_SUBJECT_CHARS} characters with its prefix",
        )
    roles: tuple[str, ...] = ()
    if mapping.roles_claim is not None:
        names = names_at(payload, mapping.roles_claim, _ROLE_SEPARATORS)
        if names is None:
            return TokenProblem(
                Reason.BAD_CLAIM,
                f"the roles claim ({mapping.roles_claim}) is not a string or an array of strings",
            )
        roles = map_roles(names, mapping.role_map)
    permissions: tuple[str, ...] = ()
    if mapping.permissions_claim is not None:
        granted = names_at(payload, mapping.permissions_claim, _SCOPE_SEPARATORS)
        if granted is None:
            return TokenProblem(
                Reason.BAD_CLAIM,
                f"the permissions claim ({mapping.permissions_claim}) is not a string or an array of strings",
            )
        permissions = tuple(dict.fromkeys(granted))
    patients: tuple[str, ...] = ()
    clearance: str | None = None
    if mapping.clinical_claims:
        clinical = _clinical(payload)
        if isinstance(clinical, TokenProblem):
            return clinical
        patients, clearance = clinical
    optional: dict[str, str | None] = {}
    for name in ("sid", "jti"):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            return TokenProblem(Reason.BAD_CLAIM, f"{name} is not a string")
        optional[name] = value
    return Claims(
        subject=subject,
        roles=roles,
        permissions=permissions,
        session_id=optional["sid"],
        clearance=clearance,
        patients=patients,
        token_id=optional["jti"],
        expires_at=verified.expires_at,
        issued_at=verified.issued_at,
        kid=verified.kid,
    )


def map_roles(names: Iterable[str], role_map: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The TTA roles an issuer's role names map to, sorted and each once; unmapped names are dropped.

    >>> map_roles(["tta-therapists", "offline_access"], {"tta-therapists": ("therapist",)})
    ('therapist',)
    """
    return tuple(sorted({role for name in names for role in role_map.get(name, ())}))


class _WrongShape:
    """A dotted path that runs through something other than a JSON object."""


_WRONG_SHAPE = _WrongShape()


def claim_at(payload: Mapping[str, Any], path: str) -> Any:
    """The value at a claim path: the top-level member named ``path`` when there is one, else the
    dotted path walked through nested objects. None when absent (or null) anywhere along the way;
    ``_WRONG_SHAPE`` when the path runs through a value that is not an object.

    >>> claim_at({"realm_access": {"roles": ["a"]}}, "realm_access.roles")
    ['a']
    """
    if path in payload:
        return payload[path]
    node: Any = payload
    for part in path.split("."):
        if node is None:
            return None
        if not isinstance(node, Mapping):
            return _WRONG_SHAPE
        node = node.get(part)
    return node


def names_at(payload: Mapping[str, Any], path: str, separators: re.Pattern[str]) -> tuple[str, ...] | None:
    """The names a claim holds: an array of strings as it is, a string split at ``separators``
    (``"a b"``, ``"a,b"``), nothing when absent; None when it is anything else."""
    value = claim_at(payload, path)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(name for name in separators.split(value) if name)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    return None


def _clinical(payload: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None] | TokenProblem:
    """``tta_patients`` and ``tta_clearance``, by the rules of TTA's own tokens (decision 0009)."""
    patients = payload.get(PATIENTS_CLAIM)
    if patients is None:
        patients = []
    if not isinstance(patients, list) or not all(isinstance(p, str) for p in patients):
        return TokenProblem(Reason.BAD_CLAIM, f"{PATIENTS_CLAIM} is not an array of strings")
    if len(patients) > MAX_PATIENTS:
        return TokenProblem(Reason.BAD_CLAIM, f"{PATIENTS_CLAIM} names more than {MAX_PATIENTS} players")
    clearance = payload.get(CLEARANCE_CLAIM)
    if clearance is not None and not isinstance(clearance, str):
        return TokenProblem(Reason.BAD_CLAIM, f"{CLEARANCE_CLAIM} is not a string")
    return tuple(patients), clearance
