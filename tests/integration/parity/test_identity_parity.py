"""Identity on every door: the bad-token suite, the verified principal upstream, roles, key rotation.

A real gateway with ``auth.enabled``, its keys a JWKS file of a freshly generated Ed25519 key, in front
of the typed upstream; each case runs through the gRPC door and the REST door and must give the same
answer on both (REST: 401 with an RFC 6750 challenge, 403).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
from tests.integration.parity.typed_upstream import GET_PLAYER, TypedUpstream, start_typed_upstream

ISSUER = "https://auth.tta.test"
AUDIENCE = "tta-gateway"


@dataclass
class World:
    gateway: Gateway
    upstream: TypedUpstream
    key: DevKeyPair
    jwks_path: Path
    doors: dict[str, DoorClient]

    def token(self, key: DevKeyPair | None = None, *, ttl: float = 300, **claims: Any) -> str:
        key = key or self.key
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "pl_alice", "roles": ["player"], **claims}
        signing = serialization.load_pem_private_key(key.private_pem, password=None)
        return mint(body, signing, kid=key.kid, alg=key.algorithm, ttl_seconds=ttl, now=time.time())  # type: ignore[arg-type]


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    """``memory`` (the default) or ``redis`` (indirect parametrisation): where the token denylist lives."""
    variant = getattr(request, "param", "memory")
    redis_url = request.getfixturevalue("redis_url") if variant == "redis" else None
    # "overrides": the operator makes the public Echo need a therapist, and GetPlayer optional
    methods = (
        {
            "tta.v1.DiagnosticsService": {"mode": "required", "roles": ["therapist"]},
            "/tta.v1.PlayerService/GetPlayer": {"mode": "optional"},
        }
        if variant == "overrides"
        else {}
    )
    server, upstream, port = await start_typed_upstream()
    key = generate_dev_keypair()
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_text(json.dumps(key.jwks()))
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
                "jwks": str(jwks_path),
                "methods": methods,
            },
            "redis": {"url": redis_url},
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client,
    ):
        yield World(
            gateway, upstream, key, jwks_path, {"grpc": GrpcClient(channel), "http": HttpClient(client)}
        )
    await gateway.stop(0)
    await server.stop(0)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "pl_mallory"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _alg_none(w: World) -> str:
    header = _b64(json.dumps({"alg": "none", "kid": w.key.kid, "typ": "JWT"}).encode())
    payload = _b64(
        json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "pl_alice", "exp": time.time() + 300}).encode()
    )
    return f"{header}.{payload}."


def _confused(w: World) -> str:
    """HS256 with the public key as the HMAC secret, under the Ed25519 key's kid: signed by hand, as
    an attacker would (PyJWT itself refuses to sign so)."""
    header = _b64(json.dumps({"alg": "HS256", "kid": w.key.kid, "typ": "JWT"}).encode())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "pl_alice", "exp": int(time.time()) + 300}
    payload = _b64(json.dumps(claims).encode())
    secret = base64.urlsafe_b64decode(w.key.public_jwk["x"] + "==")
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _other_key_same_kid(w: World) -> str:
    impostor = generate_dev_keypair(kid=w.key.kid)
    return w.token(impostor)


BAD_TOKENS: dict[str, tuple[Callable[[World], str | None], str]] = {
    "missing": (lambda w: None, "TOKEN_MISSING"),
    "expired": (lambda w: w.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "TOKEN_EXPIRED"),
    "not yet valid": (lambda w: w.token(nbf=int(time.time()) + 3600), "TOKEN_NOT_YET_VALID"),
    "wrong issuer": (lambda w: w.token(iss="https://evil.example"), "TOKEN_BAD_ISSUER"),
    "wrong audience": (lambda w: w.token(aud="another-service"), "TOKEN_BAD_AUDIENCE"),
    "bad signature": (_other_key_same_kid, "TOKEN_BAD_SIGNATURE"),
    "alg none": (_alg_none, "TOKEN_ALG_NONE"),
    "HS256/EdDSA confusion": (_confused, "TOKEN_ALG_MISMATCH"),
    "unknown kid": (lambda w: w.token(generate_dev_keypair()), "TOKEN_UNKNOWN_KID"),
    "tampered payload": (lambda w: _tampered(w.token()), "TOKEN_BAD_SIGNATURE"),
    "malformed segments": (lambda w: "not.a-token", "TOKEN_MALFORMED"),
    "refresh token as access": (lambda w: w.token(type="refresh"), "TOKEN_REFRESH_NOT_ACCESS"),
}


def _auth(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("authorization", f"Bearer {token}")]


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_a_bad_token_is_refused_alike_on_every_door(world: World, case: str) -> None:
    make, reason = BAD_TOKENS[case]
    token = make(world)
    outcomes: dict[str, Outcome] = {}
    for name, door in world.doors.items():
        out = await door.get_player("pl_alice", metadata=_auth(token))
        assert out.code == 16, (name, out)
        assert out.detail("google.rpc.ErrorInfo")["reason"] == reason, (name, out.details)
        assert "token" not in out.message.lower() or "sign" in out.message.lower()
        if token is not None:
            assert token not in json.dumps(out.details) + out.message
        if out.http_status is not None:
            assert out.http_status == 401
            challenge = out.metadata["www-authenticate"]
            assert challenge == (
                'Bearer realm="tta"'
                if reason == "TOKEN_MISSING"
                else 'Bearer realm="tta", error="invalid_token"'
            )
        outcomes[name] = out
    assert world.upstream.calls.get(GET_PLAYER, 0) == 0
    first, *rest = outcomes.values()
    for other in rest:
        assert (other.code, other.message, other.details) == (first.code, first.message, first.details)


async def test_the_verified_subject_reaches_the_upstream_never_a_callers_own(world: World) -> None:
    token = world.token(sub="pl_alice", roles=["player"])
    spoof = [("x-tta-subject", "pl_mallory"), ("x-tta-roles", "admin")]
    for door in world.doors.values():
        out = await door.get_player("pl_alice", metadata=[*_auth(token), *spoof])
        assert out.code == 0, out
        assert out.messages[0]["player"]["displayName"] == "pl_alice|player"


async def test_two_authorization_values_are_refused_alike_on_every_door(world: World) -> None:
    """RFC 6750 §3.1 invalid_request: the gateway verifies one token; an upstream that reads the header
    itself must not be handed another."""
    mine, other = world.token(sub="pl_alice"), world.token(sub="pl_mallory")
    outcomes = []
    for door in world.doors.values():
        out = await door.get_player("pl_alice", metadata=[*_auth(mine), *_auth(other)])
        assert out.code == 3, out
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "AUTHORIZATION_REPEATED"
        assert out.detail("google.rpc.BadRequest")["fieldViolations"][0]["field"] == "authorization"
        if out.http_status is not None:
            assert out.http_status == 400
        outcomes.append((out.code, out.message, out.details))
    assert outcomes[0] == outcomes[1]
    assert world.upstream.calls.get(GET_PLAYER, 0) == 0


async def test_who_is_asking_comes_before_what_is_asked(world: World) -> None:
    """A request the door cannot read, without a token: 401 on both doors, not a description of the
    request's shape; with a token, the 400 (INVALID_ARGUMENT) naming the field."""
    http = world.doors["http"]
    assert isinstance(http, HttpClient)
    anonymous = await http.client.get("/api/v1/players", params={"pageSize": "ten"})
    assert anonymous.status_code == 401, anonymous.text
    assert "pageSize" not in anonymous.text
    token = world.token(sub="st_admin", roles=["admin"])
    signed_in = await http.client.get(
        "/api/v1/players", params={"pageSize": "ten"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert signed_in.status_code == 400, signed_in.text
    grpc_door = world.doors["grpc"]
    assert isinstance(grpc_door, GrpcClient)
    with pytest.raises(grpc.aio.AioRpcError) as garbage:
        await grpc_door.channel.unary_unary(GET_PLAYER)(b"\xff\xff\xff", timeout=10)
    assert garbage.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_one_megabyte_token_is_refused_and_others_are_served(world: World) -> None:
    """A 1 MiB bearer token: the gRPC transport refuses the headers before the gateway's code sees them
    (RESOURCE_EXHAUSTED: grpc's 16 KiB hard limit on received metadata); the REST door's verifier
    refuses it before decoding anything (401 TOKEN_TOO_LARGE: the limit is 8 KiB). Either way the
    upstream is not called and the next caller is served."""
    huge = [("authorization", "Bearer " + "a" * (1 << 20))]
    expected = {"grpc": (8, None), "http": (16, 401)}
    for name, door in world.doors.items():
        out = await door.get_player("pl_alice", metadata=huge)
        assert (out.code, out.http_status) == expected[name], (name, out.code, out.message[:200])
        if name == "http":
            assert out.detail("google.rpc.ErrorInfo")["reason"] == "TOKEN_TOO_LARGE"
        served = await door.get_player("pl_alice", metadata=_auth(world.token()))
        assert served.code == 0, (name, served)
    assert world.upstream.calls.get(GET_PLAYER, 0) == 2  # only the two well-formed calls


async def test_a_principal_without_the_methods_role_is_denied(world: World) -> None:
    token = world.token(roles=["researcher"])
    for door in world.doors.values():
        out = await door.get_player("pl_alice", metadata=_auth(token))
        assert out.code == 7, out
        info = out.detail("google.rpc.ErrorInfo")
        assert (info["reason"], info["metadata"]["roles"]) == ("ROLE_MISSING", "admin,player,therapist")
        if out.http_status is not None:
            assert out.http_status == 403
            assert "www-authenticate" not in out.metadata
    assert world.upstream.calls.get(GET_PLAYER, 0) == 0


async def test_a_public_method_needs_no_token(world: World) -> None:
    for door in world.doors.values():  # DiagnosticsService is AUTH_MODE_NONE in the contract
        assert (await door.echo(b"hi")).code == 0


async def test_keys_rotate_without_a_restart(world: World) -> None:
    old_token = world.token()
    for door in world.doors.values():
        assert (await door.get_player("pl_alice", metadata=_auth(old_token))).code == 0
    # the issuer rotates: the JWKS now holds only a new key
    new_key = generate_dev_keypair()
    world.jwks_path.write_text(json.dumps(new_key.jwks()))
    new_token = world.token(new_key)
    for door in world.doors.values():
        # an unknown kid triggers one refresh of the key set: the new key is picked up at once
        out = await door.get_player("pl_alice", metadata=_auth(new_token))
        assert out.code == 0, out
    for door in world.doors.values():
        # the removed key's tokens stop working, cached verification or not
        out = await door.get_player("pl_alice", metadata=_auth(old_token))
        assert out.code == 16, out
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "TOKEN_UNKNOWN_KID"


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [(["player"], False), (["therapist"], False), (["researcher", "player"], False), (["admin"], True)],
)
async def test_a_player_reaches_only_their_own_record(world: World, roles: list[str], allowed: bool) -> None:
    """The owner field (GetPlayerRequest.player_id; over REST the path variable that fills it) must be
    the verified subject, on every door; only an admin (audited) crosses. No assignments source exists
    yet, so a therapist is refused like a player."""
    token = world.token(sub="pl_alice", roles=roles)
    for door in world.doors.values():
        mine = await door.get_player("pl_alice", metadata=_auth(token))
        theirs = await door.get_player("pl_bob", metadata=_auth(token))
        assert mine.code == 0, mine
        if allowed:
            assert theirs.code == 0, theirs
            continue
        assert theirs.code == 7, theirs
        info = theirs.detail("google.rpc.ErrorInfo")
        assert (info["reason"], info["metadata"]["field"]) == ("NOT_OWNER", "player_id")
        assert "pl_bob" not in theirs.message
        if theirs.http_status is not None:
            assert theirs.http_status == 403
    expected = len(world.doors) * (2 if allowed else 1)
    assert world.upstream.calls[GET_PLAYER] == expected


async def test_reload_on_the_admin_port_needs_the_admin_role(world: World) -> None:
    admin = f"http://127.0.0.1:{world.gateway.admin_port}"
    async with httpx.AsyncClient(base_url=admin, timeout=10) as client:
        anonymous = await client.post("/reload")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="tta"'
        player = await client.post("/reload", headers={"Authorization": f"Bearer {world.token()}"})
        assert player.status_code == 403
        assert player.json() == {"reloaded": False, "reason": "This needs the role admin."}
        allowed = await client.post(
            "/reload", headers={"Authorization": f"Bearer {world.token(roles=['admin'])}"}
        )
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["reloaded"] is True
        # the read-only endpoints stay open to probes and scrapers
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["token keys"] == "ok: 1 keys"  # the key source is visible in health
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("world", ["memory", "redis"], indirect=True)
async def test_a_revoked_token_is_refused_on_every_door(world: World) -> None:
    """Logout and admin revocation put the token's jti on the denylist (in memory, or in Redis shared
    by every gateway process); the same token is then refused everywhere, while the same person's
    other tokens still work."""
    jti = f"jti-{time.time_ns()}"
    token, other = world.token(jti=jti), world.token(jti=f"{jti}-other")
    for door in world.doors.values():  # verified once: in the cache from now on
        assert (await door.get_player("pl_alice", metadata=_auth(token))).code == 0
    assert world.gateway.denylist is not None
    await world.gateway.denylist.revoke(jti, time.time() + 300, time.time())
    await asyncio.sleep(1.1)  # the Redis denylist's answers are remembered for up to a second
    for door in world.doors.values():
        out = await door.get_player("pl_alice", metadata=_auth(token))
        assert out.code == 16, out
        assert out.detail("google.rpc.ErrorInfo")["reason"] == "TOKEN_REVOKED"
        if out.http_status is not None:
            assert out.http_status == 401
        assert (await door.get_player("pl_alice", metadata=_auth(other))).code == 0


@pytest.mark.parametrize("world", ["overrides"], indirect=True)
async def test_operator_overrides_and_the_role_hierarchy(world: World) -> None:
    """auth.methods beats the contract: Echo (public in the contract) needs a therapist, GetPlayer
    (required) becomes optional — yet an anonymous GetPlayer still fails the ownership check, its
    request naming an owner. A clinical supervisor is a therapist by the default hierarchy."""
    therapist, supervisor, player = (
        world.token(roles=[r]) for r in ("therapist", "clinical_supervisor", "player")
    )
    for door in world.doors.values():
        assert (await door.echo(b"x")).code == 16
        assert (await door.echo(b"x", metadata=_auth(player))).code == 7
        assert (await door.echo(b"x", metadata=_auth(therapist))).code == 0
        assert (await door.echo(b"x", metadata=_auth(supervisor))).code == 0
        # optional now, but the request names an owner: an anonymous caller cannot be that owner
        anonymous = await door.get_player("pl_alice")
        assert anonymous.code == 16, anonymous
        assert anonymous.message == "Please sign in to continue."
        with_token = await door.get_player("pl_alice", metadata=_auth(supervisor))
        assert with_token.messages[0]["player"]["displayName"] == "pl_alice|clinical_supervisor,therapist"


async def test_an_override_for_a_method_nobody_serves_stops_start_up(tmp_path: Path) -> None:
    from gateway.errors import ConfigError

    key = generate_dev_keypair()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(key.jwks()))
    settings = Settings.from_mapping(
        {
            "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": ["127.0.0.1:1"]}],
            "auth": {
                "enabled": True,
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "jwks": str(jwks),
                "methods": {"/tta.v1.PlayerService/GetPlayr": {"mode": "none"}},
            },
        }
    )
    with pytest.raises(
        ConfigError, match=r"auth.methods: '/tta.v1.PlayerService/GetPlayr' is not a fronted method"
    ):
        await Gateway.build(settings)


async def test_a_therapist_reaches_their_assigned_players_only(world: World) -> None:
    """The issuer states a therapist's caseload in the token (tta_patients); any other player is refused."""
    token = world.token(sub="th_dana", roles=["therapist"], tta_patients=["pl_bob"])
    for door in world.doors.values():
        assigned = await door.get_player("pl_bob", metadata=_auth(token))
        assert assigned.code == 0, assigned
        other = await door.get_player("pl_carol", metadata=_auth(token))
        assert other.code == 7, other
        assert other.detail("google.rpc.ErrorInfo")["reason"] == "NOT_OWNER"
