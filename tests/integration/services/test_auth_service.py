"""The reference AuthService on a real loopback server: signed tokens the gateway's verifier accepts,
refresh rotation with reuse detection, sign-out and administrator revocation feeding the denylist,
service tokens and a therapist's caseload."""

from __future__ import annotations

import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from tta.v1 import auth_pb2, auth_pb2_grpc

from gateway.identity.keys import parse_jwks
from gateway.identity.tokens import Claims, Reason, TokenProblem, verify
from gateway.state.denylist import MemoryDenylist
from services.server import start_service
from services.state import World


def _verify(world: World, token: str) -> Claims | TokenProblem:
    """What the gateway makes of ``token`` with the issuer's published JWKS."""
    issuer = world.issuer
    return verify(
        token,
        parse_jwks(issuer.jwks()),
        issuer=issuer.issuer,
        audience=issuer.audience,
        leeway_seconds=0,
        now=time.time(),
    )


def _reason(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
def stub(channels: dict[str, grpc.aio.Channel]) -> auth_pb2_grpc.AuthServiceStub:
    return auth_pb2_grpc.AuthServiceStub(channels["auth"])


async def _login(stub: auth_pb2_grpc.AuthServiceStub, username: str) -> auth_pb2.LoginResponse:
    reply: auth_pb2.LoginResponse = await stub.Login(
        auth_pb2.LoginRequest(username=username, password="demo")
    )
    return reply


async def test_wrong_password_is_unauthenticated_without_saying_why(
    stub: auth_pb2_grpc.AuthServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stub.Login(auth_pb2.LoginRequest(username="alex@example.org", password="nope"))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.value.details() == "invalid username or password"


async def test_login_issues_tokens_the_gateway_verifies(
    world: World, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    login = await _login(stub, "alex@example.org")
    assert login.principal.subject == "pl_demo"
    claims = _verify(world, login.tokens.access_token)
    assert isinstance(claims, Claims), claims
    assert claims.subject == "pl_demo"
    assert claims.roles == ("player",)
    assert "sessions.write" in claims.permissions
    assert claims.session_id
    assert claims.session_id in world.sign_ins
    assert claims.token_id
    # access tokens are short-lived; the expiry the response states is the token's own
    assert claims.expires_at - time.time() <= world.issuer.access_ttl + 1
    assert login.tokens.access_token_expire_time.seconds == int(claims.expires_at)
    # the refresh token is refused as a bearer token by the gateway
    refresh = _verify(world, login.tokens.refresh_token)
    assert isinstance(refresh, TokenProblem)
    assert refresh.reason is Reason.REFRESH_NOT_ACCESS


async def test_a_therapist_token_states_the_caseload_from_care_teams(
    world: World, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    therapist = _verify(world, (await _login(stub, "therapist")).tokens.access_token)
    assert isinstance(therapist, Claims)
    assert therapist.subject == "st_therapist"
    assert therapist.patients == ("pl_demo",)  # the seeded player's care team names st_therapist
    supervisor = _verify(world, (await _login(stub, "supervisor")).tokens.access_token)
    assert isinstance(supervisor, Claims)
    assert supervisor.roles == ("clinical_supervisor",)
    assert supervisor.patients == ()
    player = _verify(world, (await _login(stub, "alex@example.org")).tokens.access_token)
    assert isinstance(player, Claims)
    assert player.patients == ()


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_sign_in(
    world: World, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    login = await _login(stub, "alex@example.org")
    first = _verify(world, login.tokens.access_token)
    refreshed = await stub.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=login.tokens.refresh_token)
    )
    second = _verify(world, refreshed.tokens.access_token)
    assert isinstance(first, Claims)
    assert isinstance(second, Claims)
    assert refreshed.tokens.refresh_token != login.tokens.refresh_token
    assert second.session_id == first.session_id  # the same sign-in (refresh family)
    assert second.token_id != first.token_id

    # the spent refresh token again: taken as theft, the whole sign-in ends
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=login.tokens.refresh_token))
    assert reused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(reused.value) == "REFRESH_TOKEN_REUSED"
    now = time.time()
    assert first.token_id
    assert second.token_id
    assert await world.denylist.is_revoked(first.token_id, now)
    assert await world.denylist.is_revoked(second.token_id, now)
    # and the newest refresh token of the family is dead too
    with pytest.raises(grpc.aio.AioRpcError) as dead:
        await stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=refreshed.tokens.refresh_token))
    assert dead.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_refresh_refuses_forged_and_access_tokens(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    login = await _login(stub, "alex@example.org")
    other = World()  # another key: a token it signs is a forgery here
    forged, _, _ = other.issuer.sign("refresh", "pl_demo", now=time.time(), sid="si_000001")
    for token in (login.tokens.access_token, forged, "not-a-token"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=token))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_ends_the_sign_in_of_the_bearer_token(
    world: World, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    login = await _login(stub, "alex@example.org")
    other_device = await _login(stub, "alex@example.org")
    claims = _verify(world, login.tokens.access_token)
    assert isinstance(claims, Claims)
    assert claims.token_id
    out = await stub.Logout(auth_pb2.LogoutRequest(), metadata=_bearer(login.tokens.access_token))
    assert out.revoked_token_count == 2  # the access token and its sign-in's refresh token
    assert await world.denylist.is_revoked(claims.token_id, time.time())
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=login.tokens.refresh_token))
    # the other device's sign-in is untouched until all_devices
    await stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=other_device.tokens.refresh_token))
    again = await stub.Logout(
        auth_pb2.LogoutRequest(all_devices=True), metadata=_bearer(other_device.tokens.access_token)
    )
    assert again.revoked_token_count == 3  # two access tokens (before and after the refresh) + refresh
    with pytest.raises(grpc.aio.AioRpcError) as no_bearer:
        await stub.Logout(auth_pb2.LogoutRequest())
    assert no_bearer.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_admin_revocation_by_subject_and_by_session(
    world: World, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    a = await _login(stub, "alex@example.org")
    b = await _login(stub, "alex@example.org")
    a_claims, b_claims = _verify(world, a.tokens.access_token), _verify(world, b.tokens.access_token)
    assert isinstance(a_claims, Claims)
    assert isinstance(b_claims, Claims)
    assert a_claims.session_id
    assert a_claims.token_id
    assert b_claims.token_id

    one = await stub.RevokeTokens(
        auth_pb2.RevokeTokensRequest(session_id=a_claims.session_id, reason="lost phone")
    )
    assert (one.revoked_session_count, one.revoked_token_count) == (1, 2)
    now = time.time()
    assert await world.denylist.is_revoked(a_claims.token_id, now)
    assert not await world.denylist.is_revoked(b_claims.token_id, now)

    every = await stub.RevokeTokens(auth_pb2.RevokeTokensRequest(subject="pl_demo"))
    assert (every.revoked_session_count, every.revoked_token_count) == (1, 2)  # a's was already ended
    assert await world.denylist.is_revoked(b_claims.token_id, now)

    with pytest.raises(grpc.aio.AioRpcError) as neither:
        await stub.RevokeTokens(auth_pb2.RevokeTokensRequest())
    assert neither.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as mismatch:
        await stub.RevokeTokens(
            auth_pb2.RevokeTokensRequest(subject="pl_other", session_id=a_claims.session_id)
        )
    assert mismatch.value.code() == grpc.StatusCode.NOT_FOUND


async def test_service_tokens_carry_the_client_and_its_scopes(
    world: World, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    reply = await stub.IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(
            client_id="narrative-engine", client_secret="demo", scopes=["agents.invoke"]
        )
    )
    assert not reply.tokens.refresh_token
    claims = _verify(world, reply.tokens.access_token)
    assert isinstance(claims, Claims)
    assert (claims.subject, claims.roles, claims.permissions) == (
        "narrative-engine",
        ("service",),
        ("agents.invoke",),
    )
    assert claims.expires_at - time.time() > world.issuer.access_ttl  # an hour, not 15 minutes
    with pytest.raises(grpc.aio.AioRpcError) as unregistered:
        await stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                client_id="narrative-engine", client_secret="demo", scopes=["admin"]
            )
        )
    assert unregistered.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "scopes" in (unregistered.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="narrative-engine", client_secret="x")
        )
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_expired_refresh_token_is_refused_by_the_world_clock() -> None:
    now = [time.time()]
    world = World(clock=lambda: now[0], denylist=MemoryDenylist())
    running = await start_service(["auth"], world=world)
    try:
        async with grpc.aio.insecure_channel(running.target) as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            login = await _login(stub, "alex@example.org")
            now[0] += world.issuer.refresh_ttl + world.issuer.leeway + 1
            with pytest.raises(grpc.aio.AioRpcError) as expired:
                await stub.RefreshToken(
                    auth_pb2.RefreshTokenRequest(refresh_token=login.tokens.refresh_token)
                )
            assert expired.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await running.stop()
