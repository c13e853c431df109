"""A token's life through every door, with the real reference AuthService behind the gateway: sign-in,
refresh rotation, a reused refresh token ending the whole sign-in, sign-out and an administrator's
revocation — each refused afterwards with the same answer on the gRPC door and the REST door.

The AuthService signs with its own key; the gateway reads that key's JWKS from a file. The denylist is
the one the AuthService writes and the gateway reads: the same object in one process (``memory``, as
in the demo), or Redis with a client on each side (``redis``, as across processes and hosts).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import redis.asyncio
from google.protobuf import json_format
from google.protobuf.message import Message
from tta.v1 import auth_pb2

from gateway.app import Gateway
from gateway.config import Settings
from gateway.state.denylist import Denylist, MemoryDenylist, RedisDenylist
from services.server import RunningFleet, start_all
from services.state import World
from tests.integration.parity.doors import DoorClient, GrpcClient, HttpClient, Outcome

LOGIN = "/tta.v1.AuthService/Login"
REFRESH = "/tta.v1.AuthService/RefreshToken"
LOGOUT = "/tta.v1.AuthService/Logout"
REVOKE = "/tta.v1.AuthService/RevokeTokens"
_REST = {
    LOGIN: "/api/v1/auth:login",
    REFRESH: "/api/v1/auth:refresh",
    LOGOUT: "/api/v1/auth:logout",
    REVOKE: "/api/v1/auth/revocations",
}
_RESPONSES: dict[str, type[Message]] = {
    LOGIN: auth_pb2.LoginResponse,
    REFRESH: auth_pb2.RefreshTokenResponse,
    LOGOUT: auth_pb2.LogoutResponse,
    REVOKE: auth_pb2.RevokeTokensResponse,
}
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED.value[0]
PLAYER = "alex@example.org"  # signs in as pl_demo


@dataclass
class Stack:
    gateway: Gateway
    fleet: RunningFleet
    world: World
    doors: dict[str, DoorClient]


@pytest.fixture(params=["memory", "redis"])
async def stack(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    writer = redis.asyncio.from_url(redis_url) if redis_url else None
    denylist: Denylist = RedisDenylist(writer) if writer is not None else MemoryDenylist()
    world = World(stream_delay=0, denylist=denylist)
    fleet = await start_all(world=world)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(world.issuer.jwks()))
    settings = Settings.from_mapping(
        {
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": fleet.upstreams(),
            "auth": {
                "issuer": world.issuer.issuer,
                "audience": world.issuer.audience,
                "jwks": str(jwks),
            },
            "redis": {"url": redis_url},
        }
    )
    # memory: the AuthService and the gateway share the object (one process, as the demo runs);
    # redis: the gateway opens its own client, as another process would.
    gateway = await Gateway.build(settings, denylist=None if redis_url else denylist)
    await gateway.start()
    if isinstance(gateway.denylist, RedisDenylist):
        await asyncio.wait_for(gateway.denylist.subscribed.wait(), 5)
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client,
        ):
            yield Stack(gateway, fleet, world, {"grpc": GrpcClient(channel), "http": HttpClient(client)})
    finally:
        await gateway.stop(0)
        await fleet.stop()
        if writer is not None:
            await writer.aclose()


async def unary(door: DoorClient, path: str, request: Message, token: str | None = None) -> Outcome:
    """``path`` through ``door``: gRPC with its stub types, REST at the method's binding."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    if isinstance(door, GrpcClient):
        rpc = door.channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=_RESPONSES[path].FromString,
        )
        call = rpc(request, metadata=metadata)
        try:
            return await door._outcome(call, [await call], None)
        except grpc.aio.AioRpcError as err:
            return await door._outcome(call, [], err)
    assert isinstance(door, HttpClient)
    body = json_format.MessageToDict(request)
    return HttpClient._unary(await door.client.post(_REST[path], json=body, headers=metadata))


def _tokens(outcome: Outcome) -> dict[str, Any]:
    assert outcome.code == 0, outcome
    tokens: dict[str, Any] = outcome.messages[0]["tokens"]
    return tokens


async def login(door: DoorClient, username: str = PLAYER) -> dict[str, Any]:
    return _tokens(await unary(door, LOGIN, auth_pb2.LoginRequest(username=username, password="demo")))


async def refresh(door: DoorClient, refresh_token: str) -> Outcome:
    return await unary(door, REFRESH, auth_pb2.RefreshTokenRequest(refresh_token=refresh_token))


async def refused_soon(door: DoorClient, token: str) -> Outcome:
    """GetPlayer with ``token`` until the gateway refuses it: at once in one process; across processes
    (Redis) when the revocation message arrives — well inside the denylist's 1 s memory, which is
    what this bound proves."""
    deadline = time.monotonic() + 0.5
    while True:
        outcome = await door.get_player("pl_demo", metadata=[("authorization", f"Bearer {token}")])
        if outcome.code != 0 or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(0.01)


def assert_refused(outcome: Outcome, door: DoorClient, reason: str) -> None:
    """UNAUTHENTICATED with ``reason``; on REST a 401 (with the Bearer challenge when the gateway
    refused the token)."""
    assert outcome.code == UNAUTHENTICATED, outcome
    assert outcome.detail("google.rpc.ErrorInfo")["reason"] == reason
    if door.name == "http":
        assert outcome.http_status == 401
    assert "token" not in outcome.message.lower() or "eyJ" not in outcome.message  # never the token


@pytest.mark.parametrize("door_name", ["grpc", "http"])
async def test_a_reused_refresh_token_ends_the_sign_in_on_every_door(stack: Stack, door_name: str) -> None:
    door = stack.doors[door_name]
    first = await login(door)
    mine = [("authorization", f"Bearer {first['accessToken']}")]
    assert (await door.get_player("pl_demo", metadata=mine)).code == 0

    second = _tokens(await refresh(door, first["refreshToken"]))
    assert second["refreshToken"] != first["refreshToken"]
    assert (
        await door.get_player("pl_demo", metadata=[("authorization", f"Bearer {second['accessToken']}")])
    ).code == 0

    # the spent refresh token again: the AuthService takes it as theft and ends the sign-in
    reused = await refresh(door, first["refreshToken"])
    assert_refused(reused, door, "REFRESH_TOKEN_REUSED")
    # every access token of the sign-in is refused by the gateway from now on, the newest too
    for token in (first["accessToken"], second["accessToken"]):
        refused = await refused_soon(door, token)
        assert_refused(refused, door, "TOKEN_REVOKED")
        if door_name == "http":
            assert refused.metadata["www-authenticate"].startswith(
                'Bearer realm="tta", error="invalid_token"'
            )
    # and the newest refresh token is dead with it
    assert (await refresh(door, second["refreshToken"])).code == UNAUTHENTICATED
    # a new sign-in is unaffected
    again = await login(door)
    assert (
        await door.get_player("pl_demo", metadata=[("authorization", f"Bearer {again['accessToken']}")])
    ).code == 0


@pytest.mark.parametrize("door_name", ["grpc", "http"])
async def test_after_logout_the_token_is_refused_on_every_door(stack: Stack, door_name: str) -> None:
    door = stack.doors[door_name]
    tokens = await login(door)
    out = await unary(door, LOGOUT, auth_pb2.LogoutRequest(), token=tokens["accessToken"])
    assert out.code == 0, out
    assert out.messages[0]["revokedTokenCount"] == 2
    for other in stack.doors.values():  # revoked for every door, whichever one signed out
        refused = await refused_soon(other, tokens["accessToken"])
        assert_refused(refused, other, "TOKEN_REVOKED")
    assert (await refresh(door, tokens["refreshToken"])).code == UNAUTHENTICATED


@pytest.mark.parametrize("door_name", ["grpc", "http"])
async def test_an_administrator_ends_a_players_sign_ins(stack: Stack, door_name: str) -> None:
    door = stack.doors[door_name]
    player = await login(door)
    other_device = await login(door)
    admin = await login(door, "admin")
    # a player may not revoke: the contract names admin
    denied = await unary(
        door, REVOKE, auth_pb2.RevokeTokensRequest(subject="pl_demo"), token=player["accessToken"]
    )
    assert denied.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    done = await unary(
        door,
        REVOKE,
        auth_pb2.RevokeTokensRequest(subject="pl_demo", reason="device lost"),
        token=admin["accessToken"],
    )
    assert done.code == 0, done
    assert done.messages[0]["revokedSessionCount"] >= 2
    for tokens in (player, other_device):
        refused = await refused_soon(door, tokens["accessToken"])
        assert_refused(refused, door, "TOKEN_REVOKED")
    # the administrator's own sign-in goes on
    assert (
        await door.get_player("pl_demo", metadata=[("authorization", f"Bearer {admin['accessToken']}")])
    ).code == 0
