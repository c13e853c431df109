"""Reference ``tta.v2.PlayerService``: the same player records as v1, in the v2 shape.

A player created through either version is visible through both (ids are shared). v2 adds a nested
profile and contact details, a care team instead of one therapist, ordering of listings, and
``DeletePlayer`` returning the deleted player. Nested update-mask paths such as
``profile.preferred_name`` are accepted, as are the whole ``profile`` and ``contact`` messages.
"""

from __future__ import annotations

from typing import cast

import grpc
from tta.v2 import player_pb2, player_pb2_grpc

from services._errors import Context, invalid_argument, require, translate_errors
from services._masks import mask_paths
from services._paging import paginate
from services._players import PURGE_DELAY_SECONDS, check_email, check_mutable, listable, new_record
from services.state import PlayerRecord, World, timestamp

__all__ = ["PlayerV2Servicer", "register", "to_v2"]

_PROFILE = ("given_name", "family_name", "preferred_name", "pronouns", "locale", "time_zone", "avatar_uri")
_CONTACT = {"email_address": "email", "phone_number": "phone_number"}
_MUTABLE = (
    "profile",
    *(f"profile.{f}" for f in _PROFILE),
    "contact",
    *(f"contact.{f}" for f in _CONTACT),
    "care_team_ids",
    "preferences",
)
_WHOLE = ("profile", "contact", "care_team_ids", "preferences")  # what an empty update mask applies


def to_v2(record: PlayerRecord) -> player_pb2.Player:
    """The v2 view of a player record."""
    return player_pb2.Player(
        player_id=record.player_id,
        profile=player_pb2.PlayerProfile(**{f: getattr(record, f) for f in _PROFILE}),
        contact=player_pb2.ContactDetails(
            email_address=record.email, email_verified=record.email_verified, phone_number=record.phone_number
        ),
        state=cast(player_pb2.PlayerState, record.state),
        care_team_ids=record.care_team_ids,
        preferences=record.preferences,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        last_activity_time=timestamp(record.last_activity_time),
    )


def _expand(paths: tuple[str, ...]) -> list[str]:
    """Whole-message paths (``profile``, ``contact``) as their leaf paths."""
    leaves: list[str] = []
    for path in paths:
        if path == "profile":
            leaves += [f"profile.{f}" for f in _PROFILE]
        elif path == "contact":
            leaves += [f"contact.{f}" for f in _CONTACT]
        else:
            leaves.append(path)
    return leaves


def _apply(record: PlayerRecord, player: player_pb2.Player, paths: tuple[str, ...]) -> None:
    for path in _expand(paths):
        head, _, leaf = path.partition(".")
        if head == "profile":
            setattr(record, leaf, getattr(player.profile, leaf))
        elif head == "contact":
            value = getattr(player.contact, leaf)
            if leaf == "email_address" and value != record.email:
                record.email_verified = False
            setattr(record, _CONTACT[leaf], value)
        elif head == "care_team_ids":
            record.care_team_ids = list(player.care_team_ids)
        else:
            record.preferences = dict(player.preferences)


_ORDER = {
    player_pb2.PLAYER_ORDER_UNSPECIFIED: (lambda r: (-r.create_time, r.player_id)),
    player_pb2.PLAYER_ORDER_CREATE_TIME_DESC: (lambda r: (-r.create_time, r.player_id)),
    player_pb2.PLAYER_ORDER_FAMILY_NAME: (lambda r: (r.family_name.casefold(), r.given_name.casefold())),
    player_pb2.PLAYER_ORDER_LAST_ACTIVITY_DESC: (lambda r: (-r.last_activity_time, r.player_id)),
}


@translate_errors
class PlayerV2Servicer(player_pb2_grpc.PlayerServiceServicer):
    """Player accounts over ``World.players``, v2 contract."""

    def __init__(self, world: World) -> None:
        self._world = world

    async def GetPlayer(
        self, request: player_pb2.GetPlayerRequest, context: Context
    ) -> player_pb2.GetPlayerResponse:
        """One account, deleted ones included."""
        return player_pb2.GetPlayerResponse(player=to_v2(self._world.get_player(request.player_id)))

    async def ListPlayers(
        self, request: player_pb2.ListPlayersRequest, context: Context
    ) -> player_pb2.ListPlayersResponse:
        """Players filtered by state and care-team member, in the requested order."""
        if request.order_by not in _ORDER:
            raise invalid_argument("order_by", f"unknown order {request.order_by}")
        matching = [
            r
            for r in self._world.players.values()
            if listable(r, request.state)
            and (not request.care_team_member_id or request.care_team_member_id in r.care_team_ids)
        ]
        matching.sort(key=_ORDER[request.order_by])
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=100)
        return player_pb2.ListPlayersResponse(
            players=[to_v2(r) for r in page], next_page_token=token, total_size=len(matching)
        )

    async def CreatePlayer(
        self, request: player_pb2.CreatePlayerRequest, context: Context
    ) -> player_pb2.CreatePlayerResponse:
        """Registers an account; ``player.profile.given_name`` is required."""
        require("player", request.HasField("player"))
        require("player.profile.given_name", request.player.profile.given_name.strip())
        check_email(self._world, request.player.contact.email_address, "player.contact.email_address")
        record = new_record(self._world)
        _apply(record, request.player, _WHOLE)
        self._world.players[record.player_id] = record
        return player_pb2.CreatePlayerResponse(player=to_v2(record))

    async def UpdatePlayer(
        self, request: player_pb2.UpdatePlayerRequest, context: Context
    ) -> player_pb2.UpdatePlayerResponse:
        """Applies the (possibly nested) paths of ``update_mask``; all changeable fields when empty."""
        record = self._world.get_player(request.player.player_id, "player.player_id")
        check_mutable(record)
        paths = mask_paths(request.update_mask, _MUTABLE)
        if request.update_mask.paths == [] or {"profile", "profile.given_name"} & set(paths):
            require("player.profile.given_name", request.player.profile.given_name.strip())
        if {"contact", "contact.email_address"} & set(paths) or not request.update_mask.paths:
            check_email(
                self._world,
                request.player.contact.email_address,
                "player.contact.email_address",
                record.player_id,
            )
        if not request.update_mask.paths:
            paths = _WHOLE
        _apply(record, request.player, paths)
        record.update_time = self._world.now()
        return player_pb2.UpdatePlayerResponse(player=to_v2(record))

    async def DeletePlayer(
        self, request: player_pb2.DeletePlayerRequest, context: Context
    ) -> player_pb2.DeletePlayerResponse:
        """Marks the account deleted and returns it with the purge time."""
        record = self._world.get_player(request.player_id)
        if record.state != player_pb2.PLAYER_STATE_DELETED:
            record.state = player_pb2.PLAYER_STATE_DELETED
            record.update_time = self._world.now()
        return player_pb2.DeletePlayerResponse(
            player=to_v2(record), purge_time=timestamp(record.update_time + PURGE_DELAY_SECONDS)
        )


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the v2 player service to ``server``."""
    player_pb2_grpc.add_PlayerServiceServicer_to_server(PlayerV2Servicer(world), server)
