"""The identity step with an external issuer beside TTA's, without sockets: each issuer's keys come from
its own ``KeySource`` (an in-memory fetch that counts), so the tests can tell whose keys were asked."""

from __future__ import annotations

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.errors import Refused
from gateway.identity.issuers import ClaimsMapping, Issuer
from gateway.identity.keys import Algorithm, parse_jwks
from gateway.identity.source import KeySource
from gateway.policies.identity import Identity, Trusted
from gateway.state.denylist import MemoryDenylist
from tests.unit.gateway.identity.signers import AUD, ISS, LEEWAY, NOW, Signer, jwks
from tests.unit.gateway.identity.test_source import FakeJwks

EXT = "https://login.example.org/realms/tta"
EXT_AUD = "tta-gateway"


def _signer(kid: str) -> Signer:
    return Signer(kid, Algorithm.EDDSA, ed25519.Ed25519PrivateKey.generate())


class World:
    """TTA's issuer and one Keycloak-like issuer, each with its fetch counter; a clock to move."""

    def __init__(self) -> None:
        self.tta_key, self.idp_key = _signer("tta-1"), _signer("kc-1")
        self.tta_jwks, self.idp_jwks = FakeJwks(jwks(self.tta_key)), FakeJwks(jwks(self.idp_key))
        self.now = NOW
        self.denylist = MemoryDenylist()

    async def identity(self) -> Identity:
        tta = await KeySource.open("/tta/jwks.json", now=NOW, fetch=self.tta_jwks)
        idp = await KeySource.open("https://login.example.org/certs", now=NOW, fetch=self.idp_jwks)
        mapping = ClaimsMapping(
            roles_claim="realm_access.roles",
            role_map={"tta-supervisors": ("clinical_supervisor",), "tta-players": ("player",)},
            permissions_claim="scope",
        )
        return Identity(
            tta,
            issuer=ISS,
            audience=AUD,
            leeway_seconds=LEEWAY,
            external=[Trusted(Issuer(EXT, EXT_AUD, LEEWAY, mapping), idp)],
            denylist=self.denylist,
            clock=lambda: self.now,
        )

    def ext_token(self, signer: Signer | None = None, **claims: object) -> str:
        base: dict[str, object] = {
            "iss": EXT,
            "aud": EXT_AUD,
            "sub": "kc-user-1",
            "roles": None,
            "permissions": None,
            "tta_clearance": None,
            "jti": "kc-jti-1",
            "sid": "kc-sid",
            "realm_access": {"roles": ["tta-supervisors", "offline_access"]},
            "scope": "openid tta.read",
        }
        return (signer or self.idp_key).token(**{**base, **claims})

    def fetches(self) -> tuple[int, int]:
        return self.tta_jwks.fetches, self.idp_jwks.fetches


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def refused(identity: Identity, token: str) -> Refused:
    with pytest.raises(Refused) as info:
        await identity.authenticate(bearer(token))
    return info.value


async def test_an_external_token_becomes_the_same_principal_model() -> None:
    world = World()
    identity = await world.identity()
    principal = await identity.authenticate(bearer(world.ext_token(tta_patients=["pl_bob"])))
    assert principal.subject == "ext:kc-user-1"
    assert principal.roles == {"clinical_supervisor", "therapist"}  # the hierarchy applies after mapping
    assert principal.permissions == {"openid", "tta.read"}
    assert principal.session_id == "kc-sid"
    assert principal.patients == frozenset()  # not this issuer's to state
    tta = await identity.authenticate(
        bearer(world.tta_key.token(roles=["therapist"], tta_patients=["pl_bob"]))
    )
    assert (tta.subject, tta.patients) == ("pl_000001", frozenset({"pl_bob"}))


async def test_an_unknown_kid_refreshes_only_its_own_issuers_keys() -> None:
    world = World()
    identity = await world.identity()
    assert world.fetches() == (1, 1)  # the first loads
    rotated = _signer("kc-2")
    world.idp_jwks.document = jwks(world.idp_key, rotated)
    principal = await identity.authenticate(bearer(world.ext_token(rotated)))
    assert principal.subject == "ext:kc-user-1"
    assert world.fetches() == (1, 2)  # the IdP's key set, not TTA's
    # TTA's token with a kid TTA lacks asks TTA's keys, never the IdP's (which now hold kc-2)
    forged = Signer("kc-2", Algorithm.EDDSA, rotated.private).token()  # TTA's claims, the IdP's key
    problem = await refused(identity, forged)
    assert (problem.code, problem.reason) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_UNKNOWN_KID")
    assert world.fetches() == (2, 2)


async def test_an_unknown_issuer_is_refused_without_asking_any_keys() -> None:
    world = World()
    identity = await world.identity()
    stranger = _signer("evil-1")
    problem = await refused(identity, world.ext_token(stranger, iss="https://evil.example"))
    assert (problem.code, problem.reason) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_BAD_ISSUER")
    assert world.fetches() == (1, 1)


async def test_an_external_tokens_jti_is_checked_against_the_one_denylist() -> None:
    world = World()
    identity = await world.identity()
    token = world.ext_token(jti="kc-jti-9")
    await identity.authenticate(bearer(token))  # verified and cached
    await world.denylist.revoke("kc-jti-9", NOW + 900, NOW)
    problem = await refused(identity, token)
    assert problem.reason == "TOKEN_REVOKED"


async def test_cached_external_tokens_end_when_their_issuers_keys_rotate() -> None:
    world = World()
    identity = await world.identity()
    ext, tta = world.ext_token(), world.tta_key.token()
    for _ in range(2):
        await identity.authenticate(bearer(ext))
        await identity.authenticate(bearer(tta))
    assert (identity.cache.hits, identity.cache.misses) == (2, 2)
    world.idp_jwks.document = jwks(_signer("kc-3"))  # kc-1 removed
    await identity.external[0].source.refresh(NOW + 1)
    problem = await refused(identity, ext)
    assert problem.reason == "TOKEN_UNKNOWN_KID"
    await identity.authenticate(bearer(tta))  # TTA's token is still a hit
    assert identity.cache.hits == 3


def test_an_issuer_listed_twice_is_refused() -> None:
    key = _signer("k")
    source = KeySource("/jwks.json", parse_jwks(jwks(key)), now=NOW)
    with pytest.raises(ValueError, match="once"):
        Identity(
            source,
            issuer=ISS,
            audience=AUD,
            leeway_seconds=LEEWAY,
            external=[Trusted(Issuer(ISS, "other", LEEWAY, ClaimsMapping()), source)],
        )
