"""Reference ``tta.v1.AuthService``: a demo user store issuing signed JWTs (``services._issuer``).

* ``Login``: any username with the password ``"demo"``. ``admin``, ``therapist``, ``supervisor``,
  ``moderator`` and ``researcher`` sign in as staff with that role; a username equal to a player's
  e-mail address signs in as that player; any other name as a player ``usr_<username>``. Anything else
  is ``UNAUTHENTICATED`` without saying why.
* Each sign-in is a refresh-token family (its id is the ``sid`` claim). ``RefreshToken`` rotates: the
  presented refresh token is spent and a new pair issued. Presenting a spent refresh token again is
  taken as theft (RFC 9700 §4.14.2: one of two holders is not the user): the whole sign-in ends, its
  live access tokens go on the gateway's denylist, and the call is ``UNAUTHENTICATED`` with the reason
  ``REFRESH_TOKEN_REUSED``.
* ``Logout`` ends the sign-in of the call's bearer token (``authorization`` metadata), the sign-in
  of a given refresh token, or with ``all_devices`` every sign-in of the subject.
* ``RevokeTokens`` (admin): every sign-in of a subject, or one by ``session_id``.
* ``IssueServiceToken``: registered backend clients, each with the secret ``"demo"`` and a fixed set
  of permissions; requested scopes must be a subset. The token's subject is the client id.

A therapist's access token states their caseload in ``tta_patients``: the players whose care team
names them (``PlayerRecord.care_team_ids``), read when the token is issued, so a change of care team
reaches the gateway with the next refresh (at most 15 minutes).

Revoked access tokens go to ``World.denylist``: the gateway's own denylist in the demo (one process),
or the same Redis the gateway reads (``python -m services --redis-url``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

import grpc
from google.rpc import error_details_pb2
from tta.v1 import auth_pb2, auth_pb2_grpc

from services._errors import (
    Context,
    ServiceError,
    invalid_argument,
    not_found,
    require,
    translate_errors,
    unauthenticated,
)
from services.state import SignIn, World, timestamp

__all__ = ["DEMO_PASSWORD", "AuthServicer", "register"]


log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo"
_DOMAIN = "auth.tta"
_PLAYER_PERMISSIONS = ("sessions.read", "sessions.write", "chat.write", "progress.read")
_CLINICAL_PERMISSIONS = ("players.read", "sessions.read", "sessions.write", "escalations.write")
# username -> (subject, display name, roles, permissions)
_STAFF = {
    "admin": ("st_admin", "Administrator", ("admin",), ("*",)),
    "therapist": ("st_therapist", "Dr. Rivera", ("therapist",), _CLINICAL_PERMISSIONS),
    "supervisor": ("st_supervisor", "Dr. Okafor", ("clinical_supervisor",), _CLINICAL_PERMISSIONS),
    "moderator": ("st_moderator", "Sam (moderation)", ("moderator",), ("chat.moderate",)),
    "researcher": ("st_researcher", "Research team", ("researcher",), ("research.read",)),
}
_CLIENTS = {
    "narrative-engine": ("gameplay.write", "agents.invoke", "safety.assess"),
    "safety-monitor": ("safety.assess",),
    "tta-gateway": ("safety.assess",),
}


def _reused() -> ServiceError:
    info = error_details_pb2.ErrorInfo(reason="REFRESH_TOKEN_REUSED", domain=_DOMAIN)
    return ServiceError(
        grpc.StatusCode.UNAUTHENTICATED,
        "This sign-in has ended for your safety. Please sign in again to continue.",
        (info,),
    )


def _bearer(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip()
    return ""


@translate_errors
class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Demo sign-in, signed tokens and sign-in (refresh family) bookkeeping in ``World.sign_ins``."""

    def __init__(self, world: World) -> None:
        self._world = world

    # -- issuing

    def _patients(self, subject: str, roles: Iterable[str]) -> list[str]:
        if not {"therapist", "clinical_supervisor"} & set(roles):
            return []
        return sorted(p.player_id for p in self._world.players.values() if subject in p.care_team_ids)

    def _access(
        self, sign_in: SignIn, now: float, ttl: float | None = None, **extra: object
    ) -> auth_pb2.AuthTokens:
        patients = self._patients(sign_in.subject, sign_in.roles)
        token, jti, expires = self._world.issuer.sign(
            "access",
            sign_in.subject,
            now=now,
            sid=sign_in.sign_in_id,
            ttl=ttl,
            roles=sign_in.roles,
            permissions=sign_in.permissions,
            **({"tta_patients": patients} if patients else {}),
            **extra,
        )
        sign_in.access[jti] = expires
        return auth_pb2.AuthTokens(
            access_token=token, token_type="Bearer", access_token_expire_time=timestamp(expires)
        )

    def _pair(self, sign_in: SignIn, now: float) -> auth_pb2.AuthTokens:
        tokens = self._access(sign_in, now)
        refresh, jti, expires = self._world.issuer.sign(
            "refresh", sign_in.subject, now=now, sid=sign_in.sign_in_id
        )
        sign_in.refresh_jti = jti
        sign_in.expire_time = expires
        tokens.refresh_token = refresh
        tokens.refresh_token_expire_time.CopyFrom(timestamp(expires))
        # Access tokens that have expired need no revoking any more: keep the list short.
        sign_in.access = {j: e for j, e in sign_in.access.items() if e > now}
        return tokens

    def _sign_in(
        self, subject: str, roles: tuple[str, ...], permissions: tuple[str, ...], name: str
    ) -> SignIn:
        sign_in = SignIn(self._world.new_id("si"), subject, roles, permissions, name, "", 0.0)
        self._world.sign_ins[sign_in.sign_in_id] = sign_in
        return sign_in

    @staticmethod
    def _principal(sign_in: SignIn) -> auth_pb2.Principal:
        return auth_pb2.Principal(
            subject=sign_in.subject,
            roles=sign_in.roles,
            permissions=sign_in.permissions,
            display_name=sign_in.display_name,
        )

    def _identify(self, username: str) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
        if username in _STAFF:
            subject, name, roles, permissions = _STAFF[username]
            return subject, roles, permissions, name
        for player in self._world.players.values():
            if player.email and player.email.lower() == username.lower() and player.state == 1:
                return player.player_id, ("player",), _PLAYER_PERMISSIONS, player.display_name
        return f"usr_{username}", ("player",), _PLAYER_PERMISSIONS, username

    def sign_in_as(self, username: str, ttl: float) -> str:
        """An access token for ``username`` (as ``Login`` names people) valid for ``ttl`` seconds, in a
        sign-in of its own that ``Logout`` and ``RevokeTokens`` end like any other: for the demo's
        banner, so a person can try the API without signing in first."""
        sign_in = self._sign_in(*self._identify(username))
        sign_in.expire_time = self._world.now() + ttl
        return self._access(sign_in, self._world.now(), ttl=ttl).access_token

    # -- ending sign-ins

    async def _end(self, sign_in: SignIn) -> int:
        """End ``sign_in``: its refresh token is refused from now on and its live access tokens go on
        the denylist. The number of tokens this revoked (0 when it had already ended)."""
        if sign_in.revoked:
            return 0
        sign_in.revoked = True
        now = self._world.now()
        live = {jti: exp for jti, exp in sign_in.access.items() if exp > now}
        for jti, expires in live.items():
            await self._world.denylist.revoke(jti, expires, now)
        sign_in.access.clear()
        return len(live) + (1 if sign_in.refresh_jti and sign_in.expire_time > now else 0)

    # -- the service

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.LoginResponse:
        """A token pair for any username with the demo password."""
        require("username", request.username.strip())
        require("password", request.password)
        if not secrets.compare_digest(request.password.encode(), DEMO_PASSWORD.encode()):
            raise unauthenticated("invalid username or password")
        sign_in = self._sign_in(*self._identify(request.username.strip()))
        return auth_pb2.LoginResponse(
            tokens=self._pair(sign_in, self._world.now()), principal=self._principal(sign_in)
        )

    async def RefreshToken(
        self, request: auth_pb2.RefreshTokenRequest, context: Context
    ) -> auth_pb2.RefreshTokenResponse:
        """A new pair for the live refresh token of a sign-in; a spent one ends the sign-in."""
        require("refresh_token", request.refresh_token)
        now = self._world.now()
        claims = self._world.issuer.verify(request.refresh_token, "refresh", now=now)
        sign_in = self._world.sign_ins.get(str(claims.get("sid", ""))) if claims else None
        if claims is None or sign_in is None or sign_in.subject != claims["sub"]:
            raise unauthenticated("refresh token is unknown, revoked or expired")
        if sign_in.revoked:
            raise unauthenticated("refresh token is unknown, revoked or expired")
        if claims["jti"] != sign_in.refresh_jti:
            revoked = await self._end(sign_in)
            log.warning(
                "a spent refresh token was presented again: sign-in %s ended, %d tokens revoked",
                sign_in.sign_in_id,
                revoked,
            )
            raise _reused()
        return auth_pb2.RefreshTokenResponse(
            tokens=self._pair(sign_in, now), principal=self._principal(sign_in)
        )

    async def Logout(self, request: auth_pb2.LogoutRequest, context: Context) -> auth_pb2.LogoutResponse:
        """Ends the sign-in of the call's bearer token, of the given refresh token, or all of the
        subject's sign-ins."""
        now = self._world.now()
        claims = self._world.issuer.verify(_bearer(context), "access", now=now)
        if claims is None:
            raise unauthenticated("the call carries no live bearer token in its authorization metadata")
        subject = claims["sub"]
        targets = [self._world.sign_ins.get(str(claims.get("sid", "")))]
        if request.refresh_token:
            other = self._world.issuer.verify(request.refresh_token, "refresh", now=now)
            if other is None or other["sub"] != subject:
                raise invalid_argument(
                    "refresh_token", "is not a live refresh token of the signed-in subject"
                )
            targets.append(self._world.sign_ins.get(str(other.get("sid", ""))))
        if request.all_devices:
            targets = [s for s in self._world.sign_ins.values() if s.subject == subject]
        revoked = 0
        for sign_in in targets:
            if sign_in is not None:
                revoked += await self._end(sign_in)
        return auth_pb2.LogoutResponse(revoked_token_count=revoked)

    async def RevokeTokens(
        self, request: auth_pb2.RevokeTokensRequest, context: Context
    ) -> auth_pb2.RevokeTokensResponse:
        """Ends every sign-in of ``subject``, or the one ``session_id`` names."""
        if not request.subject and not request.session_id:
            raise invalid_argument("subject", "give the subject whose sign-ins end, or a session_id")
        if request.session_id:
            one = self._world.sign_ins.get(request.session_id)
            if one is None or (request.subject and one.subject != request.subject):
                raise not_found("sign-in", request.session_id)
            targets = [one]
        else:
            targets = [s for s in self._world.sign_ins.values() if s.subject == request.subject]
        tokens = sessions = 0
        for sign_in in targets:
            was_live = not sign_in.revoked
            tokens += await self._end(sign_in)
            sessions += int(was_live)
        log.info("sign-ins ended by an administrator: %d (%d tokens)", sessions, tokens)
        return auth_pb2.RevokeTokensResponse(revoked_token_count=tokens, revoked_session_count=sessions)

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: Context
    ) -> auth_pb2.IssueServiceTokenResponse:
        """A service token for a registered client, with the requested (or all) permissions."""
        require("client_id", request.client_id)
        require("client_secret", request.client_secret)
        registered = _CLIENTS.get(request.client_id)
        if registered is None or not secrets.compare_digest(
            request.client_secret.encode(), DEMO_PASSWORD.encode()
        ):
            raise unauthenticated("invalid client credentials")
        for scope in request.scopes:
            if scope not in registered:
                raise invalid_argument(
                    "scopes", f'"{scope}" is not registered for client "{request.client_id}"'
                )
        scopes = tuple(request.scopes) or registered
        sign_in = self._sign_in(request.client_id, ("service",), scopes, "")
        sign_in.expire_time = self._world.now() + self._world.issuer.service_ttl
        tokens = self._access(
            sign_in,
            self._world.now(),
            ttl=self._world.issuer.service_ttl,
            client_id=request.client_id,
            scope=" ".join(scopes),
        )
        return auth_pb2.IssueServiceTokenResponse(tokens=tokens, principal=self._principal(sign_in))


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the auth service to ``server``."""
    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(world), server)
