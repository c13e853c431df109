"""Real keys for the identity tests, generated once per module (RSA generation is slow)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gateway.identity.keys import Algorithm, KeySet, parse_jwks
from tests.unit.gateway.identity.signers import Signer, jwks


@pytest.fixture(scope="module")
def rsa_signer() -> Signer:
    return Signer("rsa-1", Algorithm.RS256, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_signer() -> Signer:
    return Signer("ec-1", Algorithm.ES256, ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def ed_signer() -> Signer:
    return Signer("ed-1", Algorithm.EDDSA, ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def keys(rsa_signer: Signer, ec_signer: Signer, ed_signer: Signer) -> KeySet:
    return parse_jwks(jwks(rsa_signer, ec_signer, ed_signer))
