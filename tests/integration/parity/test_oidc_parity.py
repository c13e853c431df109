"""An external OIDC issuer beside TTA's own, on every door: its tokens verified with its own keys, its
roles mapped to TTA's, its subjects prefixed, its clinical claims ignored — the same answers over gRPC
and REST.

A real gateway with ``auth.enabled``: TTA's issuer (as in ``test_identity_parity``) and one Keycloak-
like issuer, each with a JWKS file of a freshly generated key, in front of the typed upstream (whose
GetPlayer names the identity the gateway vouched for: ``<x-tta-subject>|<x-tta-roles>``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.app import Gateway
from gateway.config import Settings
from gateway.identity.mint import DevKeyPair, generate_dev_keypair, mint
from tests.integration.parity.doors import DoorClient, GrpcClient, HttpClient, Outcome
from tests.integration.parity.test_identity_parity import AUDIENCE, ISSUER, _auth
from tests.integration.parity.typed_upstream import GET_PLAYER, TypedUpstream, start_typed_upstream

IDP = "https://login.example.test/realms/tta"
IDP_AUDIENCE = "tta-gateway-kc"  # what the IdP puts in aud for us
PREFIX = "ext:"  # the default subject_prefix


@dataclass
class Oidc:
    gateway: Gateway
    upstream: TypedUpstream
    tta_key: DevKeyPair
    idp_key: DevKeyPair
    doors: dict[str, DoorClient]

    def idp_token(self, key: DevKeyPair | None = None, **claims: Any) -> str:
        """A Keycloak-style access token: realm roles under realm_access.roles, scope, sid, jti."""
        body = {
            "iss": IDP,
            "aud": IDP_AUDIENCE,
            "sub": "kc-alice",
            "realm_access": {"roles": ["tta-players", "offline_access"]},
            "scope": "openid profile",
            "sid": "kc-session",
            "jti": f"kc-{time.time_ns()}",
            **claims,
        }
        return _signed(key or self.idp_key, body)

    def tta_token(self, key: DevKeyPair | None = None, **claims: Any) -> str:
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "pl_alice", "roles": ["player"], **claims}
        return _signed(key or self.tta_key, body)


def _signed(key: DevKeyPair, body: dict[str, Any]) -> str:
    signing = serialization.load_pem_private_key(key.private_pem, password=None)
    return mint(body, signing, kid=key.kid, alg=key.algorithm, ttl_seconds=300, now=time.time())  # type: ignore[arg-type]


@pytest.fixture
async def oidc(tmp_path: Path) -> AsyncIterator[Oidc]:
    server, upstream, port = await start_typed_upstream()
    tta_key, idp_key = generate_dev_keypair(), generate_dev_keypair()
    (tmp_path / "tta.json").write_text(json.dumps(tta_key.jwks()))
    (tmp_path / "idp.json").write_text(json.dumps(idp_key.jwks()))
    settings = Settings.from_mapping(
        {
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [f"127.0.0.1:{port}"]}],
            "auth": {
                "enabled": True,
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "jwks": str(tmp_path / "tta.json"),
                "external_issuers": [
                    {
                        "issuer": IDP,
                        "audience": IDP_AUDIENCE,
                        "jwks": str(tmp_path / "idp.json"),
                        "roles_claim": "realm_access.roles",
                        "role_map": {"tta-players": "player", "tta-therapists": "therapist"},
                        "permissions_claim": "scope",
                    }
                ],
            },
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client,
    ):
        yield Oidc(
            gateway, upstream, tta_key, idp_key, {"grpc": GrpcClient(channel), "http": HttpClient(client)}
        )
    await gateway.stop(0)
    await server.stop(0)


async def test_an_external_token_with_a_mapped_role_reaches_the_method(oidc: Oidc) -> None:
    """GetPlayer needs player, therapist or admin; the IdP's tta-players maps to player. The upstream
    sees the prefixed subject and the mapped role only (offline_access is dropped)."""
    token = oidc.idp_token()
    for name, door in oidc.doors.items():
        out = await door.get_player(f"{PREFIX}kc-alice", metadata=_auth(token))
        assert out.code == 0, (name, out)
        assert out.messages[0]["player"]["displayName"] == f"{PREFIX}kc-alice|player", name
    assert oidc.upstream.calls[GET_PLAYER] == len(oidc.doors)


async def _refused_alike(oidc: Oidc, token: str, player_id: str = f"{PREFIX}kc-alice") -> dict[str, Outcome]:
    """The call on every door; the answers must be the same (code, message, details) on each."""
    outcomes = {
        name: await door.get_player(player_id, metadata=_auth(token)) for name, door in oidc.doors.items()
    }
    first, *rest = outcomes.values()
    for other in rest:
        assert (other.code, other.message, other.details) == (first.code, first.message, first.details)
    return outcomes


async def test_an_external_token_whose_roles_are_all_unmapped_is_denied(oidc: Oidc) -> None:
    # "admin" is TTA's name, but this IdP's admin is not mapped: it means nothing here
    token = oidc.idp_token(realm_access={"roles": ["offline_access", "admin", "uma_authorization"]})
    for name, out in (await _refused_alike(oidc, token)).items():
        assert out.code == 7, (name, out)
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "ROLE_MISSING"
        if out.http_status is not None:
            assert out.http_status == 403
    # no roles claim at all: no roles, the same answer
    bare = oidc.idp_token(realm_access=None)
    for out in (await _refused_alike(oidc, bare)).values():
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "ROLE_MISSING"
    assert oidc.upstream.calls.get(GET_PLAYER, 0) == 0


def _as_tta(oidc: Oidc) -> str:
    """The IdP's key signs a token that claims to be TTA's (TTA's iss and aud, an admin)."""
    return oidc.tta_token(oidc.idp_key, sub="pl_alice", roles=["admin"])


def _as_tta_same_kid(oidc: Oidc) -> str:
    """The same, the header naming TTA's kid: TTA's key is looked up, and the signature fails it."""
    return oidc.tta_token(replace(oidc.idp_key, kid=oidc.tta_key.kid), sub="pl_alice", roles=["admin"])


def _as_idp_signed_by_tta(oidc: Oidc) -> str:
    """The other way round: TTA's key signs a token naming the IdP."""
    return oidc.idp_token(oidc.tta_key)


BAD_TOKENS: dict[str, tuple[Callable[[Oidc], str], str]] = {
    "IdP key, TTA's iss": (_as_tta, "TOKEN_UNKNOWN_KID"),
    "IdP key, TTA's iss and kid": (_as_tta_same_kid, "TOKEN_BAD_SIGNATURE"),
    "TTA key, the IdP's iss": (_as_idp_signed_by_tta, "TOKEN_UNKNOWN_KID"),
    "unknown iss": (lambda o: o.idp_token(iss="https://login.evil.test/realms/tta"), "TOKEN_BAD_ISSUER"),
    "unknown iss, TTA-signed": (lambda o: o.tta_token(iss="https://login.evil.test"), "TOKEN_BAD_ISSUER"),
    "TTA's audience from the IdP": (lambda o: o.idp_token(aud=AUDIENCE), "TOKEN_BAD_AUDIENCE"),
    "IdP refresh token": (lambda o: o.idp_token(type="refresh"), "TOKEN_REFRESH_NOT_ACCESS"),
    "no subject": (lambda o: o.idp_token(sub=None), "TOKEN_NO_SUBJECT"),
    "roles not strings": (
        lambda o: o.idp_token(realm_access={"roles": ["tta-players", 7]}),
        "TOKEN_BAD_CLAIM",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_token_no_trusted_issuer_vouches_for_is_refused_alike(oidc: Oidc, case: str) -> None:
    make, reason = BAD_TOKENS[case]
    token = make(oidc)
    for name, out in (await _refused_alike(oidc, token, "pl_alice")).items():
        assert out.code == 16, (name, out)
        assert out.detail("google.rpc.ErrorInfo")["reason"] == reason, (name, out.details)
        assert token not in json.dumps(out.details) + out.message
        if out.http_status is not None:
            assert out.http_status == 401
            assert out.metadata["www-authenticate"] == 'Bearer realm="tta", error="invalid_token"'
    assert oidc.upstream.calls.get(GET_PLAYER, 0) == 0


async def test_an_external_token_claiming_a_caseload_does_not_gain_one(oidc: Oidc) -> None:
    """tta_patients from an outside issuer is ignored: its therapist reaches no player but by the
    ordinary rules. The same claim in TTA's own token works (the control)."""
    external = oidc.idp_token(
        realm_access={"roles": ["tta-therapists"]}, tta_patients=["pl_bob"], tta_clearance="clinical"
    )
    for name, out in (await _refused_alike(oidc, external, "pl_bob")).items():
        assert out.code == 7, (name, out)
        info = out.detail("google.rpc.ErrorInfo")
        assert (info["reason"], info["metadata"]["field"]) == ("NOT_OWNER", "player_id")
    own = oidc.tta_token(sub="th_dana", roles=["therapist"], tta_patients=["pl_bob"])
    for name, door in oidc.doors.items():
        out = await door.get_player("pl_bob", metadata=_auth(own))
        assert out.code == 0, (name, out)
        assert out.messages[0]["player"]["displayName"] == "th_dana|therapist"
    assert oidc.upstream.calls[GET_PLAYER] == len(oidc.doors)


async def test_tta_tokens_still_work_beside_the_external_issuer(oidc: Oidc) -> None:
    token = oidc.tta_token()
    for door in oidc.doors.values():
        out = await door.get_player("pl_alice", metadata=_auth(token))
        assert out.code == 0, out
        assert out.messages[0]["player"]["displayName"] == "pl_alice|player"


async def test_an_external_tokens_jti_is_on_the_same_denylist(oidc: Oidc) -> None:
    jti = f"kc-jti-{time.time_ns()}"
    token = oidc.idp_token(jti=jti)
    for door in oidc.doors.values():
        assert (await door.get_player(f"{PREFIX}kc-alice", metadata=_auth(token))).code == 0
    assert oidc.gateway.denylist is not None
    await oidc.gateway.denylist.revoke(jti, time.time() + 300, time.time())
    for name, out in (await _refused_alike(oidc, token)).items():
        assert out.code == 16, (name, out)
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "TOKEN_REVOKED"


async def test_each_issuers_keys_rotate_on_their_own_and_show_in_readiness(
    oidc: Oidc, tmp_path: Path
) -> None:
    old = oidc.idp_token()
    for door in oidc.doors.values():
        assert (await door.get_player(f"{PREFIX}kc-alice", metadata=_auth(old))).code == 0
    rotated = generate_dev_keypair()
    (tmp_path / "idp.json").write_text(json.dumps(rotated.jwks()))  # the IdP rotates; TTA does not
    new = oidc.idp_token(rotated)
    for name, door in oidc.doors.items():
        out = await door.get_player(f"{PREFIX}kc-alice", metadata=_auth(new))
        assert out.code == 0, (name, out)  # one refresh of the IdP's keys picked the new key up
    for out in (await _refused_alike(oidc, old)).values():
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "TOKEN_UNKNOWN_KID"  # cached or not
    tta = oidc.tta_token()
    for door in oidc.doors.values():
        assert (await door.get_player("pl_alice", metadata=_auth(tta))).code == 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{oidc.gateway.admin_port}", timeout=10) as admin:
        checks = (await admin.get("/readyz")).json()["checks"]
    assert checks["token keys"] == "ok: 1 keys"
    assert checks[f"token keys {IDP}"] == "ok: 1 keys"
    assert oidc.gateway.external_key_sources[IDP].keys.kids == (rotated.kid,)
    assert oidc.gateway.key_source is not None
    assert oidc.gateway.key_source.keys.kids == (oidc.tta_key.kid,)
