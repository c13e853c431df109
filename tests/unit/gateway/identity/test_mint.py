"""Development minting: key pairs whose JWKS the verifier loads, and tokens it accepts."""

from __future__ import annotations

import pytest

from gateway.identity.keys import Algorithm, parse_jwks
from gateway.identity.mint import generate_dev_keypair, mint, thumbprint
from gateway.identity.tokens import Claims, verify
from tests.unit.gateway.identity.signers import AUD, ISS, NOW


@pytest.mark.parametrize("algorithm", [Algorithm.EDDSA, Algorithm.ES256])
def test_a_dev_key_pair_mints_tokens_the_verifier_accepts(algorithm: Algorithm) -> None:
    pair = generate_dev_keypair(algorithm)
    keys = parse_jwks(pair.jwks())
    assert keys.get(pair.kid) is not None
    assert pair.kid == thumbprint(pair.public_jwk)
    assert "d" not in pair.public_jwk
    for key in (pair.private_pem, pair.private_pem.decode()):
        token = mint(
            {"iss": ISS, "aud": AUD, "sub": "th_000001", "roles": ["therapist"]},
            key,
            kid=pair.kid,
            alg=pair.algorithm,
            ttl_seconds=900,
            now=NOW,
        )
        claims = verify(token, keys, issuer=ISS, audience=AUD, leeway_seconds=0, now=NOW + 1)
        assert isinstance(claims, Claims)
        assert (claims.subject, claims.roles, claims.expires_at, claims.issued_at) == (
            "th_000001",
            ("therapist",),
            NOW + 900,
            NOW,
        )


def test_a_given_kid_is_kept() -> None:
    assert generate_dev_keypair(kid="dev-1").kid == "dev-1"


def test_a_private_jwk_signs_too() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from jwt.algorithms import OKPAlgorithm

    private = ed25519.Ed25519PrivateKey.generate()
    jwk = OKPAlgorithm.to_jwk(private, as_dict=True)
    public = {k: v for k, v in jwk.items() if k != "d"} | {"kid": "j1", "alg": "EdDSA"}
    token = mint({"iss": ISS, "aud": AUD, "sub": "a"}, jwk, kid="j1", alg="EdDSA", ttl_seconds=60, now=NOW)
    keys = parse_jwks({"keys": [public]})
    assert isinstance(verify(token, keys, issuer=ISS, audience=AUD, leeway_seconds=0, now=NOW), Claims)


@pytest.mark.parametrize(
    ("alg", "ttl", "message"),
    [
        ("none", 60.0, "not a valid Algorithm"),
        ("HS512", 60.0, "not a valid Algorithm"),
        ("EdDSA", 0.0, "ttl"),
    ],
)
def test_minting_refuses_no_algorithm_and_no_lifetime(alg: str, ttl: float, message: str) -> None:
    pair = generate_dev_keypair()
    with pytest.raises(ValueError, match=message):
        mint({}, pair.private_pem, kid=pair.kid, alg=alg, ttl_seconds=ttl, now=NOW)


def test_dev_key_pairs_are_eddsa_or_es256() -> None:
    with pytest.raises(ValueError, match="EdDSA or ES256"):
        generate_dev_keypair(Algorithm.RS256)


def test_the_thumbprint_ignores_order_and_optional_members() -> None:
    jwk = generate_dev_keypair().public_jwk
    reordered = dict(reversed(list(jwk.items())))
    bare = {k: jwk[k] for k in ("kty", "crv", "x")}
    assert thumbprint(jwk) == thumbprint(reordered) == thumbprint(bare)
