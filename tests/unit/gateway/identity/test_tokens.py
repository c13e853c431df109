"""``verify``, pure: the bad-token suite of issue 9 (each refusal with its exact reason), good tokens
with RS256, ES256 and EdDSA, and arbitrary strings that never raise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt import PyJWS

from gateway.identity import tokens
from gateway.identity.keys import Algorithm, KeySet
from gateway.identity.tokens import BearerError, Claims, Reason, TokenProblem, parse_authorization, verify
from tests.unit.gateway.identity.signers import AUD, ISS, LEEWAY, NOW, Signer


def check(token: str, keys: KeySet, now: float = NOW, **kw: Any) -> Claims | TokenProblem:
    return verify(token, keys, issuer=ISS, audience=AUD, leeway_seconds=LEEWAY, now=now, **kw)


def reason(token: str, keys: KeySet, now: float = NOW) -> Reason | None:
    result = check(token, keys, now)
    return result.reason if isinstance(result, TokenProblem) else None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def signed_raw(signer: Signer, payload: bytes, header: dict[str, Any] | None = None) -> str:
    """A token over an arbitrary payload (not necessarily a JSON object), properly signed."""
    return PyJWS().encode(
        payload,
        signer.private,
        algorithm=signer.algorithm.value,
        headers={"kid": signer.kid, **(header or {})},
    )


# ---------------------------------------------------------------------------------------- good tokens


@pytest.mark.parametrize("signer_name", ["rsa_signer", "ec_signer", "ed_signer"])
def test_a_good_token_verifies_with_each_algorithm(
    signer_name: str, keys: KeySet, request: pytest.FixtureRequest
) -> None:
    signer: Signer = request.getfixturevalue(signer_name)
    claims = check(signer.token(), keys)
    assert claims == Claims(
        subject="pl_000001",
        roles=("player",),
        permissions=("player.read",),
        session_id="ses_1",
        clearance="standard",
        patients=(),
        token_id="tok_1",
        expires_at=NOW + 900,
        issued_at=NOW,
        kid=signer.kid,
    )


def test_optional_claims_may_be_absent(ed_signer: Signer, keys: KeySet) -> None:
    token = ed_signer.token(iat=None, roles=None, permissions=None, sid=None, tta_clearance=None, jti=None)
    claims = check(token, keys)
    assert isinstance(claims, Claims)
    assert (claims.roles, claims.permissions, claims.session_id, claims.clearance, claims.token_id) == (
        (),
        (),
        None,
        None,
        None,
    )
    assert claims.issued_at is None


@pytest.mark.parametrize("claim", ["roles", "permissions", "sid", "tta_clearance", "jti", "nbf", "iat"])
def test_an_optional_claim_that_is_null_counts_as_absent(claim: str, ed_signer: Signer, keys: KeySet) -> None:
    payload = {"iss": ISS, "aud": AUD, "sub": "pl_1", "exp": NOW + 60, claim: None}
    assert isinstance(check(signed_raw(ed_signer, json.dumps(payload).encode()), keys), Claims)


@pytest.mark.parametrize(
    ("claims", "now"),
    [
        ({"aud": ["other", AUD]}, NOW),  # aud as a list naming us
        ({"type": "access"}, NOW),  # any type but refresh
        ({}, NOW + 900 + LEEWAY - 0.5),  # expired, within the leeway
        ({"nbf": NOW + LEEWAY - 1}, NOW),  # not before, within the leeway
        ({"iat": NOW + LEEWAY - 1}, NOW),  # issued "in the future", within the leeway
        ({"exp": NOW + 60.5}, NOW),  # a non-integer NumericDate
    ],
)
def test_tokens_within_the_rules_verify(
    claims: dict[str, Any], now: float, ed_signer: Signer, keys: KeySet
) -> None:
    assert isinstance(check(ed_signer.token(**claims), keys, now), Claims)


# ------------------------------------------------------------------------------------ the bad tokens


@pytest.mark.parametrize(
    ("claims", "now", "expected"),
    [
        ({}, NOW + 900 + LEEWAY, Reason.EXPIRED),
        ({"exp": NOW - 3600}, NOW, Reason.EXPIRED),
        ({"nbf": NOW + LEEWAY + 1}, NOW, Reason.NOT_YET_VALID),
        ({"iat": NOW + LEEWAY + 1}, NOW, Reason.NOT_YET_VALID),
        ({"iss": "https://evil.example"}, NOW, Reason.BAD_ISSUER),
        ({"iss": None}, NOW, Reason.BAD_ISSUER),
        ({"aud": "another-service"}, NOW, Reason.BAD_AUDIENCE),
        ({"aud": ["a", "b"]}, NOW, Reason.BAD_AUDIENCE),
        ({"aud": None}, NOW, Reason.BAD_AUDIENCE),
        ({"type": "refresh"}, NOW, Reason.REFRESH_NOT_ACCESS),
        ({"sub": None}, NOW, Reason.NO_SUBJECT),
        ({"sub": ""}, NOW, Reason.NO_SUBJECT),
        ({"sub": 42}, NOW, Reason.NO_SUBJECT),
        ({"exp": None}, NOW, Reason.BAD_CLAIM),
        ({"exp": "tomorrow"}, NOW, Reason.BAD_CLAIM),
        ({"exp": True}, NOW, Reason.BAD_CLAIM),
        ({"exp": 10**400}, NOW, Reason.BAD_CLAIM),
        ({"nbf": "now"}, NOW, Reason.BAD_CLAIM),
        ({"iat": [1]}, NOW, Reason.BAD_CLAIM),
        ({"roles": "admin"}, NOW, Reason.BAD_CLAIM),
        ({"permissions": [1, 2]}, NOW, Reason.BAD_CLAIM),
        ({"sid": 7}, NOW, Reason.BAD_CLAIM),
        ({"tta_clearance": {"level": 3}}, NOW, Reason.BAD_CLAIM),
        ({"jti": 1}, NOW, Reason.BAD_CLAIM),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v),
)
def test_claims_that_are_refused(
    claims: dict[str, Any], now: float, expected: Reason, ed_signer: Signer, keys: KeySet
) -> None:
    assert reason(ed_signer.token(**claims), keys, now) is expected


def test_a_missing_exp_is_refused(ed_signer: Signer, keys: KeySet) -> None:
    payload = {"iss": ISS, "aud": AUD, "sub": "pl_000001"}
    assert reason(signed_raw(ed_signer, json.dumps(payload).encode()), keys) is Reason.BAD_CLAIM


@pytest.mark.parametrize("token", ["", None])
def test_a_missing_token_is_refused_without_an_error_code(token: str | None, keys: KeySet) -> None:
    result = check(token or "", keys)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.MISSING
    assert result.error is None  # RFC 6750 §3.1: no error code when no credentials were sent


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(alg: str, ed_signer: Signer, keys: KeySet) -> None:
    payload = b64json({"iss": ISS, "aud": AUD, "sub": "pl_000001", "exp": NOW + 60})
    for signature in ("", b64(b"x" * 64)):
        token = f"{b64json({'alg': alg, 'kid': ed_signer.kid})}.{payload}.{signature}"
        assert reason(token, keys) is Reason.ALG_NONE


def test_hs256_signed_with_the_rsa_public_key_is_refused(rsa_signer: Signer, keys: KeySet) -> None:
    """The algorithm confusion of RFC 8725 §2.1: the public key (known to all) as an HMAC secret."""
    header = b64json({"alg": "HS256", "typ": "JWT", "kid": rsa_signer.kid})
    payload = b64json({"iss": ISS, "aud": AUD, "sub": "admin", "roles": ["admin"], "exp": NOW + 60})
    signing_input = f"{header}.{payload}".encode()
    for secret in (rsa_signer.public_pem, rsa_signer.public_pem.strip()):
        signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        assert reason(f"{header}.{payload}.{signature}", keys) is Reason.ALG_MISMATCH


@pytest.mark.parametrize(
    ("alg", "kid"), [("RS256", "ed-1"), ("ES256", "rsa-1"), ("EdDSA", "ec-1"), ("PS256", "rsa-1")]
)
def test_a_token_alg_other_than_the_keys_is_refused(alg: str, kid: str, keys: KeySet) -> None:
    token = f"{b64json({'alg': alg, 'kid': kid})}.{b64json({'sub': 'x'})}.{b64(b'sig')}"
    assert reason(token, keys) is Reason.ALG_MISMATCH


def test_an_unknown_kid_is_refused_and_named_for_a_refresh(ed_signer: Signer, keys: KeySet) -> None:
    stranger = Signer("ed-new", Algorithm.EDDSA, ed25519.Ed25519PrivateKey.generate())
    result = check(stranger.token(), keys)
    assert isinstance(result, TokenProblem)
    assert (result.reason, result.kid) == (Reason.UNKNOWN_KID, "ed-new")


@pytest.mark.parametrize(
    "header", [{"alg": "EdDSA"}, {"alg": "EdDSA", "kid": 7}, {"alg": "EdDSA", "kid": ""}]
)
def test_a_token_without_a_usable_kid_is_refused_without_a_refresh(
    header: dict[str, Any], keys: KeySet
) -> None:
    result = check(f"{b64json(header)}.{b64json({})}.{b64(b'sig')}", keys)
    assert isinstance(result, TokenProblem)
    assert (result.reason, result.kid) == (Reason.UNKNOWN_KID, None)


def test_a_signature_by_another_key_under_a_known_kid_is_refused(keys: KeySet) -> None:
    impostor = Signer("ed-1", Algorithm.EDDSA, ed25519.Ed25519PrivateKey.generate())
    assert reason(impostor.token(), keys) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("signer_name", ["rsa_signer", "ec_signer", "ed_signer"])
def test_a_tampered_payload_or_signature_is_refused(
    signer_name: str, keys: KeySet, request: pytest.FixtureRequest
) -> None:
    signer: Signer = request.getfixturevalue(signer_name)
    header, payload, signature = signer.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    assert reason(f"{header}.{b64json(claims)}.{signature}", keys) is Reason.BAD_SIGNATURE
    flipped = b64(bytes(b ^ 1 for b in base64.urlsafe_b64decode(signature + "==")))
    assert reason(f"{header}.{payload}.{flipped}", keys) is Reason.BAD_SIGNATURE
    assert reason(f"{header}.{payload}.", keys) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        ".e30.c2ln",
        "!!!.e30.c2ln",
        "eyJhbGciOiJFZERTQSJ9.e30=.c2ln",  # padding
        "eyJhbGciOiJFZERTQSJ9 .e30.c2ln",  # a space
        "eyJhbGciOiJFZERTQSJ9.e30.c2lnA",  # a segment of 4n+1 characters
        "ünïcode.e30.c2ln",
        b64(b"not json") + ".e30.c2ln",
        b64json([1, 2]) + ".e30.c2ln",  # header not an object
        b64json("EdDSA") + ".e30.c2ln",
        b64json({"kid": "ed-1"}) + ".e30.c2ln",  # no alg
        b64json({"alg": 256, "kid": "ed-1"}) + ".e30.c2ln",
        b64json({"alg": "", "kid": "ed-1"}) + ".e30.c2ln",
        b64(b'{"alg":"EdDSA","alg":"none","kid":"ed-1"}') + ".e30.c2ln",  # duplicate members
        b64(b'{"alg":"EdDSA","kid":"ed-1","x":NaN}') + ".e30.c2ln",
        b64(b"\xff\xfe") + ".e30.c2ln",  # not UTF-8
        b64(b"[" * 5000 + b"]" * 5000)[:6000] + ".e30.c2ln",
    ],
)
def test_malformed_segments_are_refused(token: str, keys: KeySet) -> None:
    assert reason(token, keys) is Reason.MALFORMED


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2]",
        b'"a string"',
        b"not json",
        b"",
        b'{"sub": "a", "sub": "b"}',
        b'{"exp": Infinity}',
        b"\xff",
    ],
)
def test_a_signed_payload_that_is_not_a_json_object_is_refused(
    payload: bytes, ed_signer: Signer, keys: KeySet
) -> None:
    assert reason(signed_raw(ed_signer, payload), keys) is Reason.MALFORMED


def test_a_critical_header_extension_is_refused(ed_signer: Signer, keys: KeySet) -> None:
    """RFC 7515 §4.1.11: an extension listed in ``crit`` that is not understood must be refused."""
    token = signed_raw(ed_signer, json.dumps({"sub": "a"}).encode(), {"crit": ["exp"], "exp": 1})
    assert reason(token, keys) is Reason.MALFORMED


def test_a_megabyte_token_is_refused_before_any_decoding(
    ed_signer: Signer, keys: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    header, _, signature = ed_signer.token().split(".")
    huge = f"{header}.{'A' * (1 << 20)}.{signature}"
    decoded: list[str] = []

    def spy(*args: Any, **kwargs: Any) -> bytes:
        decoded.append("base64")
        raise AssertionError("decoded a token that was too large")

    monkeypatch.setattr(base64, "urlsafe_b64decode", spy)
    monkeypatch.setattr(base64, "b64decode", spy)
    monkeypatch.setattr(tokens, "_json_object", spy)
    started = time.perf_counter()
    result = check(huge, keys)
    elapsed = time.perf_counter() - started
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.TOO_LARGE
    assert decoded == []
    assert elapsed < 0.01  # one length check: microseconds, not a megabyte of base64


def test_the_size_limit_is_configurable(ed_signer: Signer, keys: KeySet) -> None:
    token = ed_signer.token()
    assert isinstance(check(token, keys, max_bytes=len(token)), Claims)
    result = check(token, keys, max_bytes=len(token) - 1)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.TOO_LARGE


# ------------------------------------------------------------------------------------- the answers


@pytest.mark.parametrize("problem_reason", list(Reason))
def test_every_refusal_is_calm_unauthenticated_and_quotes_nothing(problem_reason: Reason) -> None:
    problem = TokenProblem(problem_reason, "detail for the log")
    refused = problem.refusal()
    assert refused.code is grpc.StatusCode.UNAUTHENTICATED
    assert refused.reason == problem_reason.value
    assert refused.message == problem.message
    assert "token" not in problem.message.lower()
    assert "detail" not in problem.message
    assert problem.error is (None if problem_reason is Reason.MISSING else BearerError.INVALID_TOKEN)


def test_no_detail_quotes_the_token_or_its_claims(ed_signer: Signer, keys: KeySet) -> None:
    secret_subject = "pl_secret_subject"
    for claims, now in (
        ({"sub": secret_subject, "iss": "https://iss.secret"}, NOW),
        ({"sub": secret_subject, "aud": "aud-secret"}, NOW),
        ({"sub": secret_subject}, NOW + 10_000),
    ):
        token = ed_signer.token(**claims)
        result = check(token, keys, now)
        assert isinstance(result, TokenProblem)
        for text in (result.detail, result.message):
            assert token not in text
            assert "secret" not in text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc.def.ghi", "abc.def.ghi"),
        ("  Bearer   abc.def.ghi  ", "abc.def.ghi"),
        (None, Reason.MISSING),
        ("", Reason.MISSING),
        ("Bearer", Reason.MISSING),
        ("Bearer   ", Reason.MISSING),
        ("Basic dXNlcjpwYXNz", Reason.MISSING),
    ],
)
def test_the_authorization_header(header: str | None, expected: str | Reason) -> None:
    result = parse_authorization(header)
    if isinstance(expected, Reason):
        assert isinstance(result, TokenProblem)
        assert result.reason is expected
    else:
        assert result == expected


# ------------------------------------------------------------------------------- arbitrary strings

_SEGMENT = st.from_regex(r"[A-Za-z0-9_\-]{0,60}", fullmatch=True)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "ES256", "EdDSA", "HS256", "none", "PS256"]) | _JSON,
        "kid": st.sampled_from(["rsa-1", "ec-1", "ed-1", "other"]) | _JSON,
        "crit": _JSON,
        "b64": _JSON,
    },
)
_CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.just(ISS) | _JSON,
        "aud": st.just(AUD) | _JSON,
        "exp": st.just(NOW + 60) | _JSON,
        "nbf": _JSON,
        "iat": _JSON,
        "sub": _JSON,
        "roles": _JSON,
        "type": _JSON,
    },
)


def _encoded(value: Any) -> str:
    return b64(json.dumps(value).encode())


_SHAPED = st.builds(
    lambda h, c, s: f"{_encoded(h)}.{_encoded(c)}.{b64(s)}", _HEADERS, _CLAIMS, st.binary(max_size=300)
)


@settings(max_examples=400, deadline=None)
@given(token=st.text(max_size=300) | st.lists(_SEGMENT, max_size=5).map(".".join) | _SHAPED)
def test_arbitrary_strings_never_raise(token: str, keys: KeySet) -> None:
    result = check(token, keys)
    assert isinstance(result, Claims | TokenProblem)
    # Without a private key, nothing random can verify.
    assert isinstance(result, TokenProblem)


@pytest.mark.parametrize(
    ("patients", "expected"),
    [
        (["pl_1", "pl_2"], ("pl_1", "pl_2")),
        (None, ()),
        ([], ()),
    ],
)
def test_a_therapists_caseload_is_read_from_tta_patients(
    ed_signer: Signer, keys: KeySet, patients: list[str] | None, expected: tuple[str, ...]
) -> None:
    claims = check(ed_signer.token(tta_patients=patients), keys)
    assert isinstance(claims, Claims)
    assert claims.patients == expected


@pytest.mark.parametrize("patients", [["pl_1", 2], "pl_1", [f"pl_{i}" for i in range(1001)]])
def test_a_malformed_or_oversized_caseload_is_a_bad_claim(
    ed_signer: Signer, keys: KeySet, patients: object
) -> None:
    # (a token that long is refused for its size first at the default limit: lifted here)
    problem = check(ed_signer.token(tta_patients=patients), keys, max_bytes=1 << 20)
    assert isinstance(problem, TokenProblem)
    assert problem.reason is Reason.BAD_CLAIM
