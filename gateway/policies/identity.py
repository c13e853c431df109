"""Identity and access: the bearer token verified, the principal set, the contract's roles and
permissions enforced — the same on every door, before any other policy decides.

Per route, from the contract (``tta.gateway.v1.method_policy.auth``, the service's default when the
method states none, and AUTH_MODE_REQUIRED when neither does):

- ``NONE``: the step is left out of the route's chain (a public method: login, diagnostics);
- ``OPTIONAL``: no token is fine; a token that is present must be valid;
- ``REQUIRED``: a valid token, else UNAUTHENTICATED (REST 401 with ``WWW-Authenticate: Bearer``).

A verified principal must hold one of the route's ``roles`` (when it names any) and every one of its
``permissions``, else PERMISSION_DENIED naming what is missing. The verified identity reaches the
upstream as ``x-tta-subject`` and ``x-tta-roles`` (comma-separated); a caller's own ``x-tta-*`` was
dropped by the metadata step before this one runs.

Tokens are verified by ``gateway.identity`` (RFC 8725; decision 0009) against the keys of a
``KeySource``; a verified token is cached by digest until it expires, and a token naming a key the set
lacks triggers one rate-limited refresh of the key set (a rotation is picked up without a restart).

Besides TTA's own issuer the step may trust external OIDC issuers (``auth.external_issuers``;
decision 0011). A token's unverified ``iss`` chooses the issuer; that issuer's own ``KeySource``,
audience, leeway and claims mapping verify it (``gateway.identity.issuers``), so one issuer's keys
never verify another's tokens, and each issuer's unknown-kid refresh is its own. Whichever issuer
signed it, the token becomes the same ``Principal`` and meets the same roles, permissions, denylist
and ownership checks: nothing after this step knows or cares which issuer it was.
A token whose ``jti`` is on the denylist (``gateway.state.denylist``: logout, admin revocation) is
refused as revoked; a denylist that cannot be asked refuses the call (UNAVAILABLE), never lets it by.
Neither the token nor what was wrong with it in detail reaches a client or a log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import grpc
import redis

from gateway.chain.call import Call, Principal, Reply
from gateway.chain.chain import Step
from gateway.config import MethodAuth
from gateway.errors import Refused
from gateway.identity.cache import VerifiedTokens
from gateway.identity.issuers import Issuer, choose
from gateway.identity.roles import DEFAULT_HIERARCHY, expand_roles
from gateway.identity.source import KeySource
from gateway.identity.tokens import DEFAULT_MAX_BYTES, Claims, Reason, TokenProblem, parse_authorization
from gateway.routes import AuthMode, Route
from gateway.state.denylist import Denylist

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Trusted:
    """One trusted issuer as the step uses it: its rules and where its keys come from."""

    rules: Issuer
    source: KeySource


class Identity(Step):
    name = "identity"

    def __init__(
        self,
        source: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float,
        external: Sequence[Trusted] = (),
        cache: VerifiedTokens | None = None,
        denylist: Denylist | None = None,
        hierarchy: Mapping[str, Iterable[str]] = DEFAULT_HIERARCHY,
        overrides: Callable[[str, str], MethodAuth] | None = None,
        clock: Callable[[], float] = time.time,
        mode: AuthMode = AuthMode.REQUIRED,
        roles: frozenset[str] = frozenset(),
        permissions: tuple[str, ...] = (),
    ) -> None:
        self.source = source
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.external = tuple(external)
        self.primary = Trusted(Issuer(issuer, audience, leeway_seconds), source)
        trusted: dict[str, Trusted] = {}
        for entry in (self.primary, *self.external):
            if entry.rules.issuer in trusted:
                raise ValueError("each trusted issuer may be listed once")  # config refuses it first
            trusted[entry.rules.issuer] = entry
        self.trusted: Mapping[str, Trusted] = trusted
        self.cache = cache if cache is not None else VerifiedTokens()
        self.denylist = denylist
        self.hierarchy = hierarchy
        self.overrides = overrides
        self.clock = clock
        self.mode = mode
        self.roles = roles
        self.permissions = permissions

    def for_route(self, route: Route) -> Step | None:
        policy = route.policy
        mode, roles, permissions = policy.auth, policy.roles, policy.permissions
        if self.overrides is not None:  # the operator's word beats the contract's (auth.methods)
            override = self.overrides(route.path, route.service)
            mode = AuthMode(override.mode) if override.mode is not None else mode
            roles = override.roles if override.roles is not None else roles
            permissions = override.permissions if override.permissions is not None else permissions
        if mode is AuthMode.NONE:
            return None
        return Identity(
            self.source,
            issuer=self.issuer,
            audience=self.audience,
            leeway_seconds=self.leeway_seconds,
            external=self.external,
            cache=self.cache,  # one cache for every route: a token verified once is known everywhere
            denylist=self.denylist,
            hierarchy=self.hierarchy,
            overrides=self.overrides,
            clock=self.clock,
            mode=mode,
            roles=frozenset(roles),
            permissions=tuple(permissions),
        )

    async def before(self, call: Call) -> Reply | None:
        headers = [v for k, v in call.metadata if k == "authorization"]
        if len(headers) > 1:
            # RFC 6750 §3.1 invalid_request: the gateway would verify one value while an upstream
            # that reads Authorization (the AuthService) might read another.
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Send one Authorization header, not several.",
                reason="AUTHORIZATION_REPEATED",
                field="authorization",
                info={"bearer_error": "invalid_request"},
            )
        header = headers[0] if headers and isinstance(headers[0], str) else None
        if header is None and self.mode is AuthMode.OPTIONAL:
            return None
        principal = await self.authenticate(header)
        self._check_access(principal)
        call.principal = principal
        call.upstream_metadata.append(("x-tta-subject", principal.subject))
        call.upstream_metadata.append(("x-tta-roles", ",".join(sorted(principal.roles))))
        return None

    async def authenticate(self, header: str | None) -> Principal:
        """The principal of an ``Authorization`` header's bearer token; raises ``Refused``
        (UNAUTHENTICATED) when there is no valid one. Also used by the admin port."""
        claims = await self._verify(header)
        return Principal(
            subject=claims.subject,
            roles=expand_roles(claims.roles, self.hierarchy),  # a supervisor is also a therapist
            permissions=frozenset(claims.permissions),
            session_id=claims.session_id,
            attributes={"clearance": claims.clearance} if claims.clearance else {},
            patients=frozenset(claims.patients),
            token_id=claims.token_id,
            expires_at=claims.expires_at,
        )

    async def _verify(self, header: str | None) -> Claims:
        token = parse_authorization(header)
        if isinstance(token, TokenProblem):
            raise self._refused(token)
        now = self.clock()
        claims = self.cache.recall(token, now, self._fingerprint, max_bytes=DEFAULT_MAX_BYTES)
        if claims is None:
            claims = await self._verify_new(token, now)
        if claims.token_id and self.denylist is not None:  # every issuer's tokens, one denylist
            await _check_not_revoked(self.denylist, claims.token_id, now)
        return claims

    def _fingerprint(self, origin: Hashable) -> str | None:
        """The cache's question: the key set an issuer has now (a rotation ends its cached tokens)."""
        trusted = self.trusted.get(origin) if isinstance(origin, str) else None
        return trusted.source.keys.fingerprint if trusted is not None else None

    async def _verify_new(self, token: str, now: float) -> Claims:
        """A token not in the cache: its issuer chosen by its (unverified) ``iss``, then verified with
        that issuer's keys and rules only, and remembered once it verified."""
        trusted = choose(token, self.trusted, self.primary)
        if isinstance(trusted, TokenProblem):
            raise self._refused(trusted)
        keys = trusted.source.keys
        result = trusted.rules.verify(token, keys, now=now)
        if (
            isinstance(result, TokenProblem)
            and result.reason is Reason.UNKNOWN_KID
            and result.kid is not None
            and await trusted.source.refresh_for_kid(result.kid, now)  # this issuer's keys, no other's
        ):
            keys = trusted.source.keys
            now = self.clock()
            result = trusted.rules.verify(token, keys, now=now)
        if isinstance(result, TokenProblem):
            raise self._refused(result)
        # Remembered as mapped: a hit answers exactly what this verification did.
        self.cache.remember(
            token,
            result,
            origin=trusted.rules.issuer,
            basis=keys.fingerprint,
            leeway_seconds=trusted.rules.leeway_seconds,
        )
        return result

    @staticmethod
    def _refused(problem: TokenProblem) -> Refused:
        # The reason and which check failed, never the token or a claim's value (decision 0009).
        log.info("token refused: %s (%s)", problem.reason.value, problem.detail)
        return problem.refusal()

    def _check_access(self, principal: Principal) -> None:
        if self.roles and not (principal.roles & self.roles):
            needed = " or ".join(sorted(self.roles))
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"This needs the role {needed}.",
                reason="ROLE_MISSING",
                info={"roles": ",".join(sorted(self.roles))},
            )
        for permission in self.permissions:
            if permission not in principal.permissions:
                raise Refused(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"This needs the permission {permission}.",
                    reason="PERMISSION_MISSING",
                    info={"permission": permission},
                )


async def _check_not_revoked(denylist: Denylist, jti: str, now: float) -> None:
    try:
        revoked = await denylist.is_revoked(jti, now)
    except (redis.RedisError, OSError) as exc:
        # Fail closed: a revoked token must never pass because the denylist could not be asked.
        log.warning("token denylist unreachable (%s): refusing the call", type(exc).__name__)
        raise Refused(
            grpc.StatusCode.UNAVAILABLE,
            "Sign-in can't be checked right now. Please try again in a moment.",
            reason="DENYLIST_UNAVAILABLE",
        ) from None
    if revoked:
        log.info("token refused: TOKEN_REVOKED")
        raise Refused(
            grpc.StatusCode.UNAUTHENTICATED,
            "This sign-in has ended. Please sign in again to continue.",
            reason="TOKEN_REVOKED",
            info={"bearer_error": "invalid_token"},
        )
