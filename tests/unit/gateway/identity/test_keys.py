"""``parse_jwks``: algorithms pinned per key, and every doubtful key refused with its index and field."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.identity.keys import Algorithm, JwksError, KeySet, parse_jwks
from gateway.identity.mint import public_jwk
from tests.unit.gateway.identity.signers import Signer, jwks


def test_each_key_is_found_by_kid_with_its_algorithm(keys: KeySet) -> None:
    assert {kid: keys.keys[kid].algorithm for kid in keys.kids} == {
        "rsa-1": Algorithm.RS256,
        "ec-1": Algorithm.ES256,
        "ed-1": Algorithm.EDDSA,
    }
    assert "ed-1" in keys
    assert "nope" not in keys
    assert keys.get("nope") is None
    assert len(keys) == 3


def test_the_algorithm_is_derived_from_kty_and_crv_when_alg_is_absent(
    rsa_signer: Signer, ec_signer: Signer, ed_signer: Signer
) -> None:
    members = [{k: v for k, v in s.jwk.items() if k != "alg"} for s in (rsa_signer, ec_signer, ed_signer)]
    parsed = parse_jwks({"keys": members})
    assert [parsed.keys[k].algorithm for k in ("rsa-1", "ec-1", "ed-1")] == [
        Algorithm.RS256,
        Algorithm.ES256,
        Algorithm.EDDSA,
    ]


def test_a_document_as_text_or_bytes(ed_signer: Signer) -> None:
    text = json.dumps(jwks(ed_signer))
    assert parse_jwks(text).kids == parse_jwks(text.encode()).kids == ("ed-1",)


def test_the_fingerprint_follows_the_key_material_not_the_order(
    rsa_signer: Signer, ec_signer: Signer, ed_signer: Signer
) -> None:
    one = parse_jwks(jwks(rsa_signer, ec_signer, ed_signer))
    assert parse_jwks(jwks(ed_signer, rsa_signer, ec_signer)).fingerprint == one.fingerprint
    assert parse_jwks(jwks(rsa_signer, ec_signer)).fingerprint != one.fingerprint


def test_an_encryption_key_is_left_out_and_listed(ed_signer: Signer) -> None:
    enc = {"kid": "enc-1", "kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}
    parsed = parse_jwks(jwks(ed_signer, extra=enc))
    assert parsed.kids == ("ed-1",)
    assert parsed.ignored == ("keys[1] (kid 'enc-1'): use 'enc'",)


def test_a_symmetric_key_only_when_allowed() -> None:
    secret = {"kid": "dev", "kty": "oct", "k": base64.urlsafe_b64encode(b"s" * 32).rstrip(b"=").decode()}
    with pytest.raises(JwksError, match=r"keys\[0\] \(kid 'dev'\): field 'kty' 'oct'"):
        parse_jwks({"keys": [secret]})
    assert parse_jwks({"keys": [secret]}, allow_symmetric=True).keys["dev"].algorithm is Algorithm.HS256


def _with(signer: Signer, **changes: Any) -> dict[str, Any]:
    member = signer.jwk
    for name, value in changes.items():
        if value is None:
            member.pop(name, None)
        else:
            member[name] = value
    return member


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kid": None}, r"keys\[1\]: field 'kid' is missing"),
        ({"kid": ""}, r"keys\[1\]: field 'kid' is missing"),
        ({"kid": 5}, r"keys\[1\]: field 'kid' is missing"),
        ({"kid": "k" * 300}, r"keys\[1\]: field 'kid' is longer than 256"),
        ({"kid": "ed-1"}, r"keys\[1\]: field 'kid' 'ed-1' is a duplicate"),
        ({"kty": "EC2"}, r"keys\[1\] \(kid 'x'\): field 'kty' 'EC2' is not supported"),
        ({"kty": None}, r"field 'kty' None is not supported"),
        ({"crv": "Ed448"}, r"keys\[1\] \(kid 'x'\): field 'crv' 'Ed448' is not supported for OKP"),
        ({"alg": "HS512"}, r"keys\[1\] \(kid 'x'\): field 'alg' 'HS512' is not supported"),
        ({"alg": "ES256"}, r"field 'alg' 'ES256' does not fit a key of kty 'OKP'"),
        ({"alg": "none"}, r"field 'alg' 'none' is not supported"),
        ({"d": "c2VjcmV0"}, r"keys\[1\] \(kid 'x'\): field 'd' is a private key part"),
        ({"use": "other"}, r"field 'use' must be 'sig'"),
        ({"x": "not-a-key"}, r"keys\[1\] \(kid 'x'\): the key material is not a valid OKP key"),
    ],
)
def test_doubtful_keys_are_refused_naming_index_and_field(
    change: dict[str, Any], message: str, ed_signer: Signer
) -> None:
    second = Signer("x", ed_signer.algorithm, ed_signer.private)
    with pytest.raises(JwksError, match=message):
        parse_jwks({"keys": [ed_signer.jwk, _with(second, **change)]}, source="jwks.json")


def test_an_ec_key_on_another_curve_is_refused(ec_signer: Signer) -> None:
    with pytest.raises(
        JwksError, match=r"keys\[0\] \(kid 'ec-1'\): field 'crv' 'P-384' is not supported for EC"
    ):
        parse_jwks({"keys": [_with(ec_signer, crv="P-384")]})


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi"])
def test_a_private_rsa_member_is_refused(member: str, rsa_signer: Signer) -> None:
    with pytest.raises(
        JwksError, match=rf"keys\[0\] \(kid 'rsa-1'\): field '{member}' is a private key part"
    ):
        parse_jwks({"keys": [_with(rsa_signer, **{member: "AQAB"})]})


def test_an_rsa_key_under_2048_bits_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    member = public_jwk(small.public_key(), kid="small", alg=Algorithm.RS256)
    with pytest.raises(JwksError, match=r"keys\[0\] \(kid 'small'\): field 'n' is a 1024-bit modulus"):
        parse_jwks({"keys": [member]})


def test_a_short_hmac_secret_is_refused_even_when_allowed() -> None:
    short = {"kid": "dev", "kty": "oct", "k": base64.urlsafe_b64encode(b"s" * 16).rstrip(b"=").decode()}
    with pytest.raises(JwksError, match=r"field 'k' is shorter than 32 bytes"):
        parse_jwks({"keys": [short]}, allow_symmetric=True)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", r"jwks.json: not a JSON document"),
        ("[]", r"jwks.json: a JWKS is a JSON object"),
        ("{}", r"jwks.json: field 'keys' must be an array"),
        ('{"keys": {}}', r"jwks.json: field 'keys' must be an array"),
        ('{"keys": []}', r"jwks.json: field 'keys' holds no signing key"),
        ('{"keys": [7]}', r"jwks.json: keys\[0\]: a key must be a JSON object"),
    ],
)
def test_documents_that_are_not_a_jwks(document: str, message: str) -> None:
    with pytest.raises(JwksError, match=message):
        parse_jwks(document, source="jwks.json")


def test_a_refused_symmetric_key_never_quotes_its_secret() -> None:
    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"
    with pytest.raises(JwksError) as info:
        parse_jwks(
            {"keys": [{"kid": "dev", "kty": "oct", "alg": "RS256", "k": secret}]}, allow_symmetric=True
        )
    assert secret not in info.value.message
