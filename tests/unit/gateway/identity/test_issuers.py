"""Trusted issuers, pure: the claims mapping of an external OIDC issuer (dotted paths, strings and
arrays, unmapped roles dropped, clinical claims ignored unless opted in, the subject prefixed), the
issuer chosen by the token's unverified ``iss``, and one cache holding several issuers' tokens."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.identity import cache as cache_module
from gateway.identity.cache import VerifiedTokens
from gateway.identity.issuers import (
    ClaimsMapping,
    Issuer,
    choose,
    claim_at,
    map_claims,
    map_roles,
    names_at,
)
from gateway.identity.keys import Algorithm, KeySet, parse_jwks
from gateway.identity.tokens import (
    DEFAULT_MAX_BYTES,
    Claims,
    Reason,
    TokenProblem,
    Verified,
    unverified_issuer,
    verify,
)
from tests.unit.gateway.identity.signers import AUD, ISS, LEEWAY, NOW, Signer, jwks

EXT = "https://login.example.org/realms/tta"
EXT_AUD = "tta-gateway-kc"
KEYCLOAK = ClaimsMapping(
    roles_claim="realm_access.roles",
    role_map={"tta-therapists": ("therapist",), "tta-players": ("player",)},
    permissions_claim="scope",
)
SPACES = re.compile(r"\s+")


@pytest.fixture(scope="module")
def idp_signer() -> Signer:
    """The external identity provider's signing key: a kid of its own."""
    return Signer("kc-1", Algorithm.EDDSA, ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def idp_keys(idp_signer: Signer) -> KeySet:
    return parse_jwks(jwks(idp_signer))


def external(mapping: ClaimsMapping = KEYCLOAK, leeway: float = LEEWAY) -> Issuer:
    return Issuer(EXT, EXT_AUD, leeway, mapping)


def ext_token(signer: Signer, **claims: Any) -> str:
    """A Keycloak-like access token: none of TTA's own claims unless given."""
    base: dict[str, Any] = {
        "iss": EXT,
        "aud": EXT_AUD,
        "sub": "f3c1-kc-user",
        "roles": None,
        "permissions": None,
        "sid": None,
        "tta_clearance": None,
        "jti": None,
    }
    return signer.token(**{**base, **claims})


def payload(**claims: Any) -> Verified:
    """A verified payload as ``verify_signed`` hands it on, for the mapping alone."""
    return Verified(payload={"sub": "u1", **claims}, kid="kc-1", expires_at=NOW + 900, issued_at=NOW)


# ----------------------------------------------------------------------------------- claim paths


def test_a_dotted_path_walks_nested_objects() -> None:
    document = {"realm_access": {"roles": ["a", "b"]}, "resource_access": {"tta": {"roles": ["c"]}}}
    assert claim_at(document, "realm_access.roles") == ["a", "b"]
    assert claim_at(document, "resource_access.tta.roles") == ["c"]


def test_a_claim_named_with_dots_is_taken_literally_first() -> None:
    """Auth0 namespaces its custom claims as URLs, dots and all."""
    document = {"https://tta.example/roles": ["x"], "https://tta": {"example/roles": ["y"]}}
    assert claim_at(document, "https://tta.example/roles") == ["x"]


@pytest.mark.parametrize(
    "document",
    [{}, {"realm_access": None}, {"realm_access": {}}, {"realm_access": {"roles": None}}],
)
def test_an_absent_path_is_none(document: dict[str, Any]) -> None:
    assert claim_at(document, "realm_access.roles") is None
    assert names_at(document, "realm_access.roles", SPACES) == ()


@pytest.mark.parametrize("value", [7, True, {"roles": []}, ["a", 1], ["a", None], [["a"]], "realm"])
def test_a_claim_of_the_wrong_shape_is_no_list_of_names(value: Any) -> None:
    # "realm" as realm_access makes the path run through a string: the wrong shape too
    document = {"realm_access": value} if value == "realm" else {"realm_access": {"roles": value}}
    assert names_at(document, "realm_access.roles", SPACES) is None


def test_roles_as_a_string_are_split_at_spaces_and_commas() -> None:
    verified = payload(groups="tta-players, tta-therapists  offline_access,,")
    mapping = ClaimsMapping(
        roles_claim="groups", role_map={"tta-players": ("player",), "tta-therapists": ("therapist",)}
    )
    claims = map_claims(verified, mapping)
    assert isinstance(claims, Claims)
    assert claims.roles == ("player", "therapist")


def test_scope_is_split_at_spaces_only() -> None:
    """RFC 6749 §3.3: a scope token may hold a comma; scopes are space-delimited."""
    claims = map_claims(
        payload(scope="openid tta.read,x  tta.write"), ClaimsMapping(permissions_claim="scope")
    )
    assert isinstance(claims, Claims)
    assert claims.permissions == ("openid", "tta.read,x", "tta.write")


# ------------------------------------------------------------------------------------ role map


def test_unmapped_roles_are_dropped_and_mapped_ones_deduplicated() -> None:
    role_map = {"staff": ("therapist", "moderator"), "clinicians": ("therapist",)}
    assert map_roles(["clinicians", "uma_authorization", "staff", "admin"], role_map) == (
        "moderator",
        "therapist",
    )
    assert map_roles([], role_map) == ()
    assert map_roles(["admin", "therapist"], role_map) == ()  # TTA's own names mean nothing unmapped


def test_keycloak_realm_roles_map_to_tta_roles(idp_signer: Signer, idp_keys: KeySet) -> None:
    token = ext_token(
        idp_signer,
        realm_access={"roles": ["tta-therapists", "offline_access", "default-roles-tta"]},
        scope="openid profile",
        sid="kc-session-1",
        jti="kc-jti-1",
    )
    claims = external().verify(token, idp_keys, now=NOW)
    assert claims == Claims(
        subject="ext:f3c1-kc-user",
        roles=("therapist",),
        permissions=("openid", "profile"),
        session_id="kc-session-1",
        clearance=None,
        patients=(),
        token_id="kc-jti-1",
        expires_at=NOW + 900,
        issued_at=NOW,
        kid="kc-1",
    )


def test_azure_style_roles_array_and_another_subject_claim(idp_signer: Signer, idp_keys: KeySet) -> None:
    mapping = ClaimsMapping(
        subject_claim="oid",
        subject_prefix="aad:",
        roles_claim="roles",
        role_map={"TTA.Player": ("player",), "TTA.Supervisor": ("clinical_supervisor",)},
    )
    token = ext_token(idp_signer, sub="pairwise-xyz", oid="0b5e-oid", roles=["TTA.Supervisor", "Reader"])
    claims = external(mapping).verify(token, idp_keys, now=NOW)
    assert isinstance(claims, Claims)
    assert (claims.subject, claims.roles) == ("aad:0b5e-oid", ("clinical_supervisor",))


def test_a_missing_roles_claim_gives_no_roles(idp_signer: Signer, idp_keys: KeySet) -> None:
    claims = external().verify(ext_token(idp_signer), idp_keys, now=NOW)
    assert isinstance(claims, Claims)
    assert (claims.roles, claims.permissions) == ((), ())


def test_ttas_own_roles_and_permissions_claims_are_not_read_from_an_external_issuer(
    idp_signer: Signer, idp_keys: KeySet
) -> None:
    token = ext_token(idp_signer, roles=["admin"], permissions=["diagnostics.read"])
    claims = external(ClaimsMapping(roles_claim="realm_access.roles")).verify(token, idp_keys, now=NOW)
    assert isinstance(claims, Claims)
    assert (claims.roles, claims.permissions) == ((), ())


@pytest.mark.parametrize(
    "claims",
    [
        {"realm_access": {"roles": ["tta-players", 3]}},
        {"realm_access": {"roles": {"tta-players": True}}},
        {"realm_access": ["tta-players"]},
        {"scope": ["openid", None]},
        {"sid": 12},
        {"jti": ["a"]},
    ],
)
def test_a_mapped_claim_of_the_wrong_type_is_a_bad_claim(
    claims: dict[str, Any], idp_signer: Signer, idp_keys: KeySet
) -> None:
    result = external().verify(ext_token(idp_signer, **claims), idp_keys, now=NOW)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.BAD_CLAIM
    assert "tta-players" not in result.detail
    assert "openid" not in result.detail


# ------------------------------------------------------------------------------------- subject


def test_the_subject_is_prefixed_and_an_empty_prefix_is_the_operators_choice(
    idp_signer: Signer, idp_keys: KeySet
) -> None:
    token = ext_token(idp_signer, sub="pl_000001")
    prefixed = external().verify(token, idp_keys, now=NOW)
    bare = external(ClaimsMapping(subject_prefix="")).verify(token, idp_keys, now=NOW)
    assert isinstance(prefixed, Claims)
    assert isinstance(bare, Claims)
    assert (prefixed.subject, bare.subject) == ("ext:pl_000001", "pl_000001")


@pytest.mark.parametrize(
    ("sub", "reason"), [(None, Reason.NO_SUBJECT), ("", Reason.NO_SUBJECT), (42, Reason.NO_SUBJECT)]
)
def test_no_usable_subject_is_no_subject(
    sub: Any, reason: Reason, idp_signer: Signer, idp_keys: KeySet
) -> None:
    result = external().verify(ext_token(idp_signer, sub=sub), idp_keys, now=NOW)
    assert isinstance(result, TokenProblem)
    assert result.reason is reason


@pytest.mark.parametrize("sub", ["two words", "zoë", "tab\there", "x" * 253])
def test_a_subject_that_cannot_travel_as_metadata_is_a_bad_claim(
    sub: str, idp_signer: Signer, idp_keys: KeySet
) -> None:
    """x-tta-subject is gRPC metadata: printable ASCII, bounded (253 + "ext:" is over 256)."""
    result = external().verify(ext_token(idp_signer, sub=sub), idp_keys, now=NOW)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.BAD_CLAIM
    assert sub not in result.detail


def test_a_subject_under_a_dotted_path(idp_signer: Signer, idp_keys: KeySet) -> None:
    mapping = ClaimsMapping(subject_claim="ext.id")
    good = external(mapping).verify(ext_token(idp_signer, ext={"id": "u-9"}), idp_keys, now=NOW)
    bad = external(mapping).verify(ext_token(idp_signer, ext="u-9"), idp_keys, now=NOW)
    assert isinstance(good, Claims)
    assert good.subject == "ext:u-9"
    assert isinstance(bad, TokenProblem)
    assert bad.reason is Reason.BAD_CLAIM


# ------------------------------------------------------------------------------ clinical claims


def test_clinical_claims_of_an_external_issuer_are_ignored_by_default(
    idp_signer: Signer, idp_keys: KeySet
) -> None:
    token = ext_token(idp_signer, tta_patients=["pl_bob"], tta_clearance="clinical")
    claims = external().verify(token, idp_keys, now=NOW)
    assert isinstance(claims, Claims)
    assert (claims.patients, claims.clearance) == ((), None)
    # ignored means not read at all: an ill-typed one does not refuse the token either
    odd = external().verify(ext_token(idp_signer, tta_patients="pl_bob", tta_clearance=3), idp_keys, now=NOW)
    assert isinstance(odd, Claims)


def test_clinical_claims_are_honoured_when_the_issuer_opts_in(idp_signer: Signer, idp_keys: KeySet) -> None:
    trusting = external(ClaimsMapping(clinical_claims=True))
    token = ext_token(idp_signer, tta_patients=["pl_bob"], tta_clearance="clinical")
    claims = trusting.verify(token, idp_keys, now=NOW)
    assert isinstance(claims, Claims)
    assert (claims.patients, claims.clearance) == (("pl_bob",), "clinical")
    for bad in ({"tta_patients": "pl_bob"}, {"tta_clearance": 3}):
        result = trusting.verify(ext_token(idp_signer, **bad), idp_keys, now=NOW)
        assert isinstance(result, TokenProblem)
        assert result.reason is Reason.BAD_CLAIM
    # a caseload, not a directory (no token this long fits the size limit; the mapping alone)
    too_many = map_claims(
        payload(tta_patients=[f"p{n}" for n in range(1001)]), ClaimsMapping(clinical_claims=True)
    )
    assert isinstance(too_many, TokenProblem)
    assert too_many.reason is Reason.BAD_CLAIM


# --------------------------------------------------------------- the checks every issuer shares


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"type": "refresh"}, Reason.REFRESH_NOT_ACCESS),
        ({"aud": AUD}, Reason.BAD_AUDIENCE),  # TTA's audience is not what this issuer says for us
        ({"exp": int(NOW) - 3600}, Reason.EXPIRED),
        ({"nbf": int(NOW) + 3600}, Reason.NOT_YET_VALID),
    ],
)
def test_the_shared_checks_apply_to_external_tokens(
    claims: dict[str, Any], reason: Reason, idp_signer: Signer, idp_keys: KeySet
) -> None:
    result = external().verify(ext_token(idp_signer, **claims), idp_keys, now=NOW)
    assert isinstance(result, TokenProblem)
    assert result.reason is reason


def test_alg_none_is_refused_for_an_external_issuer(idp_signer: Signer, idp_keys: KeySet) -> None:
    _, body, _ = ext_token(idp_signer).split(".")
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "kc-1"}).encode()).rstrip(b"=").decode()
    result = external().verify(f"{none}.{body}.", idp_keys, now=NOW)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.ALG_NONE


def test_each_issuer_has_its_own_leeway(idp_signer: Signer, idp_keys: KeySet) -> None:
    token = ext_token(idp_signer, exp=int(NOW) - 40)
    assert isinstance(external(leeway=60).verify(token, idp_keys, now=NOW), Claims)
    late = external(leeway=30).verify(token, idp_keys, now=NOW)
    assert isinstance(late, TokenProblem)
    assert late.reason is Reason.EXPIRED


def test_ttas_own_issuer_reads_its_claims_as_verify_does(ed_signer: Signer, keys: KeySet) -> None:
    token = ed_signer.token(roles=["therapist"], tta_patients=["pl_bob"])
    tta = Issuer(ISS, AUD, LEEWAY)
    assert tta.verify(token, keys, now=NOW) == verify(
        token, keys, issuer=ISS, audience=AUD, leeway_seconds=LEEWAY, now=NOW
    )


# ------------------------------------------------------------------------------ choosing issuers


def test_the_unverified_issuer_is_read_but_nothing_else_is_trusted(idp_signer: Signer) -> None:
    assert unverified_issuer(ext_token(idp_signer)) == EXT
    assert unverified_issuer(ext_token(idp_signer, iss=None)) is None
    assert unverified_issuer(ext_token(idp_signer, iss=["https://a", "https://b"])) is None
    assert unverified_issuer("not.a-token") is None
    assert unverified_issuer("a.b") is None
    assert unverified_issuer(ext_token(idp_signer) + "x" * DEFAULT_MAX_BYTES) is None


def test_a_payload_with_two_iss_members_names_no_issuer(idp_signer: Signer) -> None:
    """The same strict parser as verification: never "last one wins" between choosing and checking."""
    body = base64.urlsafe_b64encode(b'{"iss": "https://a", "iss": "https://b"}').rstrip(b"=").decode()
    assert unverified_issuer(f"eyJhbGciOiJFZERTQSJ9.{body}.sig") is None


def test_the_token_chooses_among_the_trusted_issuers_by_iss(ed_signer: Signer, idp_signer: Signer) -> None:
    tta, ext = Issuer(ISS, AUD, LEEWAY), external()
    trusted = {ISS: tta, EXT: ext}
    assert choose(ed_signer.token(), trusted, tta) is tta
    assert choose(ext_token(idp_signer), trusted, tta) is ext
    unknown = choose(ext_token(idp_signer, iss="https://evil.example"), trusted, tta)
    assert isinstance(unknown, TokenProblem)
    assert unknown.reason is Reason.BAD_ISSUER
    assert "evil" not in unknown.detail
    # nothing readable to choose by: TTA's own issuer, whose verification names the problem
    assert choose("garbage", trusted, tta) is tta
    assert choose(ext_token(idp_signer, iss=None), trusted, tta) is tta


def test_a_key_of_one_issuer_never_verifies_another_issuers_token(
    ed_signer: Signer, keys: KeySet, idp_signer: Signer, idp_keys: KeySet
) -> None:
    """Signed by the IdP's key but claiming TTA's iss: chosen as TTA's, looked up among TTA's keys only."""
    tta, ext = Issuer(ISS, AUD, LEEWAY), external()
    trusted = {ISS: (tta, keys), EXT: (ext, idp_keys)}
    forged = idp_signer.token()  # the good TTA claims (iss, aud, roles), the IdP's signature
    chosen = choose(forged, trusted, trusted[ISS])
    assert not isinstance(chosen, TokenProblem)
    rules, chosen_keys = chosen
    assert rules is tta
    result = rules.verify(forged, chosen_keys, now=NOW)
    assert isinstance(result, TokenProblem)
    assert (result.reason, result.kid) == (Reason.UNKNOWN_KID, "kc-1")
    # the same kid in both sets: still TTA's key, and the signature does not verify
    impostor = Signer(ed_signer.kid, Algorithm.EDDSA, idp_signer.private)
    clash = tta.verify(impostor.token(), keys, now=NOW)
    assert isinstance(clash, TokenProblem)
    assert clash.reason is Reason.BAD_SIGNATURE
    # and the other way round: TTA's key does not verify a token naming the IdP
    reverse = ext.verify(ext_token(Signer("kc-1", Algorithm.EDDSA, ed_signer.private)), idp_keys, now=NOW)
    assert isinstance(reverse, TokenProblem)
    assert reverse.reason is Reason.BAD_SIGNATURE


# ----------------------------------------------------------------------------- one shared cache


def test_one_cache_holds_several_issuers_tokens_each_on_its_own_keys(
    ed_signer: Signer, keys: KeySet, idp_signer: Signer, idp_keys: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = VerifiedTokens()
    current = {ISS: keys.fingerprint, EXT: idp_keys.fingerprint}
    tta_token, ext_tok = ed_signer.token(), ext_token(idp_signer, realm_access={"roles": ["tta-players"]})
    tta_claims = Issuer(ISS, AUD, LEEWAY).verify(tta_token, keys, now=NOW)
    ext_claims = external().verify(ext_tok, idp_keys, now=NOW)
    assert isinstance(tta_claims, Claims)
    assert isinstance(ext_claims, Claims)
    cache.remember(tta_token, tta_claims, origin=ISS, basis=keys.fingerprint, leeway_seconds=LEEWAY)
    cache.remember(ext_tok, ext_claims, origin=EXT, basis=idp_keys.fingerprint, leeway_seconds=LEEWAY)
    monkeypatch.setattr(cache_module, "verify", None)  # a recall never verifies
    # what comes back is the mapped claims: the prefix and the TTA role, as verified
    recalled = cache.recall(ext_tok, NOW + 1, current.get, max_bytes=DEFAULT_MAX_BYTES)
    assert recalled is ext_claims
    assert recalled is not None
    assert (recalled.subject, recalled.roles) == ("ext:f3c1-kc-user", ("player",))
    assert cache.recall(tta_token, NOW + 1, current.get, max_bytes=DEFAULT_MAX_BYTES) is tta_claims
    # the IdP rotates its keys: its tokens are misses from now on, TTA's stay
    current[EXT] = "another-fingerprint"
    assert cache.recall(ext_tok, NOW + 2, current.get, max_bytes=DEFAULT_MAX_BYTES) is None
    assert cache.recall(tta_token, NOW + 2, current.get, max_bytes=DEFAULT_MAX_BYTES) is tta_claims
    # an issuer no longer trusted: a miss
    del current[ISS]
    assert cache.recall(tta_token, NOW + 3, current.get, max_bytes=DEFAULT_MAX_BYTES) is None
    assert len(cache) == 0


def test_a_cached_token_ends_with_its_issuers_leeway(idp_signer: Signer, idp_keys: KeySet) -> None:
    cache = VerifiedTokens()
    token = ext_token(idp_signer, exp=int(NOW) + 60)
    claims = external(leeway=5).verify(token, idp_keys, now=NOW)
    assert isinstance(claims, Claims)
    cache.remember(token, claims, origin=EXT, basis=idp_keys.fingerprint, leeway_seconds=5)
    current = {EXT: idp_keys.fingerprint}.get
    assert cache.recall(token, NOW + 64.9, current, max_bytes=DEFAULT_MAX_BYTES) is claims
    assert cache.recall(token, NOW + 65, current, max_bytes=DEFAULT_MAX_BYTES) is None
