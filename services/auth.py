"""Reference ``tta.v1.AuthService``: a demo user store issuing opaque bearer tokens.

* ``Login``: any username with the password ``"demo"``. ``admin`` signs in as an admin,
  ``therapist`` as a therapist, a username equal to a player's e-mail address as that player, and any
  other name as a player ``usr_<username>``. Anything else is ``UNAUTHENTICATED`` without saying why.
* ``RefreshToken`` rotates the pair: the presented refresh token stops working.
* ``Logout`` revokes the bearer token of the call (``authorization`` metadata), the given refresh
  token, or with ``all_devices`` every token of the subject.
* ``IssueServiceToken``: registered backend clients, each with the secret ``"demo"`` and a fixed set
  of permissions; requested scopes must be a subset.

Tokens are random (``secrets``) and looked up in ``World.tokens``; :func:`new_token` is the one place
that makes them, so signed JWTs can replace it later without touching the rest.
"""

from __future__ import annotations

import secrets

import grpc
from tta.v1 import auth_pb2, auth_pb2_grpc

from services._errors import Context, invalid_argument, require, translate_errors, unauthenticated
from services.state import TokenRecord, World, timestamp

__all__ = ["DEMO_PASSWORD", "AuthServicer", "new_token", "register"]

DEMO_PASSWORD = "demo"
ACCESS_TTL = 15 * 60
REFRESH_TTL = 30 * 24 * 3600
SERVICE_TTL = 60 * 60
_PLAYER_PERMISSIONS = ("sessions.read", "sessions.write", "chat.write", "progress.read")
_STAFF = {
    "admin": ("st_admin", "Administrator", ("admin",), ("*",)),
    "therapist": (
        "st_therapist",
        "Dr. Rivera",
        ("therapist",),
        ("players.read", "sessions.read", "sessions.write", "escalations.write"),
    ),
}
_CLIENTS = {
    "narrative-engine": ("gameplay.write", "agents.invoke", "safety.assess"),
    "safety-monitor": ("safety.assess", "escalations.read", "escalations.write"),
    "tta-gateway": ("safety.assess",),
}


def new_token(kind: str) -> str:
    """A fresh opaque bearer token of ``kind`` (``access``, ``refresh`` or ``service``)."""
    return f"tta_{kind[0]}t_{secrets.token_urlsafe(32)}"


@translate_errors
class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Demo sign-in and token bookkeeping in ``World.tokens``."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _issue(self, subject: TokenRecord, *, refresh: bool) -> auth_pb2.AuthTokens:
        now = self._world.now()
        kind = "access" if refresh else "service"
        access = new_token(kind)
        self._world.tokens[access] = TokenRecord(
            subject.subject,
            kind,
            now + (ACCESS_TTL if refresh else SERVICE_TTL),
            subject.roles,
            subject.permissions,
            subject.display_name,
        )
        tokens = auth_pb2.AuthTokens(
            access_token=access, token_type="Bearer", access_token_expire_time=timestamp(now + ACCESS_TTL)
        )
        if refresh:
            token = new_token("refresh")
            self._world.tokens[token] = TokenRecord(
                subject.subject,
                "refresh",
                now + REFRESH_TTL,
                subject.roles,
                subject.permissions,
                subject.display_name,
            )
            tokens.refresh_token = token
            tokens.refresh_token_expire_time.CopyFrom(timestamp(now + REFRESH_TTL))
        else:
            tokens.access_token_expire_time.CopyFrom(timestamp(now + SERVICE_TTL))
        return tokens

    @staticmethod
    def _principal(record: TokenRecord) -> auth_pb2.Principal:
        return auth_pb2.Principal(
            subject=record.subject,
            roles=record.roles,
            permissions=record.permissions,
            display_name=record.display_name,
        )

    def _identify(self, username: str) -> TokenRecord:
        if username in _STAFF:
            subject, name, roles, permissions = _STAFF[username]
            return TokenRecord(subject, "", 0.0, roles, permissions, name)
        for player in self._world.players.values():
            if player.email and player.email.lower() == username.lower() and player.state == 1:
                return TokenRecord(
                    player.player_id, "", 0.0, ("player",), _PLAYER_PERMISSIONS, player.display_name
                )
        return TokenRecord(f"usr_{username}", "", 0.0, ("player",), _PLAYER_PERMISSIONS, username)

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.LoginResponse:
        """A token pair for any username with the demo password."""
        require("username", request.username.strip())
        require("password", request.password)
        if not secrets.compare_digest(request.password.encode(), DEMO_PASSWORD.encode()):
            raise unauthenticated("invalid username or password")
        who = self._identify(request.username.strip())
        return auth_pb2.LoginResponse(tokens=self._issue(who, refresh=True), principal=self._principal(who))

    async def RefreshToken(
        self, request: auth_pb2.RefreshTokenRequest, context: Context
    ) -> auth_pb2.RefreshTokenResponse:
        """A new pair for a live refresh token, which is revoked (rotated) in the process."""
        require("refresh_token", request.refresh_token)
        record = self._world.tokens.get(request.refresh_token)
        if (
            record is None
            or record.kind != "refresh"
            or record.revoked
            or record.expire_time <= self._world.now()
        ):
            raise unauthenticated("refresh token is unknown, revoked or expired")
        record.revoked = True
        return auth_pb2.RefreshTokenResponse(
            tokens=self._issue(record, refresh=True), principal=self._principal(record)
        )

    async def Logout(self, request: auth_pb2.LogoutRequest, context: Context) -> auth_pb2.LogoutResponse:
        """Revokes the call's bearer token, the given refresh token, or all of the subject's tokens."""
        bearer = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str) and value.lower().startswith("bearer "):
                bearer = value[7:].strip()
        current = self._world.tokens.get(bearer)
        if current is None or current.expire_time <= self._world.now():
            raise unauthenticated("the call carries no live bearer token in its authorization metadata")
        targets = [current]
        if request.refresh_token in self._world.tokens:
            targets.append(self._world.tokens[request.refresh_token])
        if request.all_devices:
            targets = [t for t in self._world.tokens.values() if t.subject == current.subject]
        revoked = 0
        for token in targets:
            if not token.revoked:
                token.revoked = True
                revoked += 1
        return auth_pb2.LogoutResponse(revoked_token_count=revoked)

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
        who = TokenRecord(request.client_id, "", 0.0, ("service",), tuple(request.scopes) or registered, "")
        return auth_pb2.IssueServiceTokenResponse(
            tokens=self._issue(who, refresh=False), principal=self._principal(who)
        )


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the auth service to ``server``."""
    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(world), server)
