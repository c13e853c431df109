"""Ownership, against broken object-level authorisation (OWASP API1): a caller reaches only the
resources that are theirs, whatever door the request came by.

A request field the contract marks ``(tta.gateway.v1.field_policy).owner`` names the player who owns
what the request addresses (``GetPlayerRequest.player_id``; over REST it is usually the path variable
that fills it). On every request message of such a route — each message of a stream too — every
non-empty owner field must equal the verified subject, else PERMISSION_DENIED with reason ``NOT_OWNER``.
An empty owner field is not checked: the upstream then acts for the caller's own identity.

Who may cross: the ``admin`` role (each crossing is logged, naming the subject, the method and the
field, never the value) and the ``service`` role (a TTA service acting for a player). A therapist
reaches the players assigned to them: the token's ``tta_patients`` claim lists them, stated by the
issuer, which holds the assignments (decision 0009); any other player is refused like for any role.

Runs after the identity step (``call.principal``); a call without a principal (an OPTIONAL method
called anonymously) is refused when it names an owner.
"""

from __future__ import annotations

import logging

import grpc

from gateway.chain.call import Call, MessageView
from gateway.chain.chain import Step
from gateway.errors import Refused
from gateway.routes import AuthMode, Route

log = logging.getLogger(__name__)

CROSSING_ROLES = frozenset({"admin", "service"})


class Ownership(Step):
    name = "ownership"

    def __init__(self, paths: tuple[str, ...] = ()) -> None:
        self.paths = paths

    def for_route(self, route: Route) -> Step | None:
        owners = route.request_fields.owner
        if not owners or route.policy.auth is AuthMode.NONE:
            return None
        return Ownership(owners)

    async def on_request(self, call: Call, view: MessageView) -> None:
        message = view.message
        named = [(path, value) for path in self.paths if (value := _value(message, path))]
        if not named:
            return
        principal = call.principal
        if principal is None:
            raise Refused(
                grpc.StatusCode.UNAUTHENTICATED,
                "Please sign in to continue.",
                reason="TOKEN_MISSING",
            )
        crossing = [path for path, value in named if value != principal.subject]
        if not crossing:
            return
        if "therapist" in principal.roles and all(
            value in principal.patients for path, value in named if path in crossing
        ):
            return  # the therapist's own caseload
        if principal.roles & CROSSING_ROLES:
            log.info(
                "ownership crossed by %s (roles %s) on %s, field %s",
                principal.subject,
                ",".join(sorted(principal.roles)),
                call.route.path,
                ",".join(crossing),
            )
            return
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            "You can only reach your own records.",
            reason="NOT_OWNER",
            info={"field": crossing[0]},
        )


def _value(message: object, path: str) -> str:
    """The string at a dotted field path, or "" (unset, a repeated or non-string field)."""
    node = message
    for name in path.split("."):
        try:
            node = getattr(node, name)
        except AttributeError:
            return ""
    return node if isinstance(node, str) else ""
