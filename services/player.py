"""Reference ``tta.v1.PlayerService``: player accounts in the v1 shape.

Records live in ``World.players`` as version-neutral :class:`~services.state.PlayerRecord`s, shared
with :mod:`services.player_v2`. v1's ``display_name`` maps to the preferred (and, when unset, given)
name; ``therapist_id`` is the first member of the care team. ``CreatePlayer`` needs a display name and
refuses an e-mail address another live account uses (``ALREADY_EXISTS``); deletion is a state change
(``PLAYER_STATE_DELETED``) with a purge time 30 days out, and deleting twice succeeds.
"""

from __future__ import annotations

from typing import cast

import grpc
from tta.v1 import player_pb2, player_pb2_grpc

from services._errors import Context, require, translate_errors
from services._masks import mask_paths
from services._paging import paginate
from services._players import PURGE_DELAY_SECONDS, check_email, check_mutable, listable, new_record
from services.state import PlayerRecord, World, timestamp

__all__ = ["PlayerServicer", "register", "to_v1"]

_MUTABLE = ("display_name", "email", "locale", "time_zone", "therapist_id", "preferences")


def to_v1(record: PlayerRecord) -> player_pb2.Player:
    """The v1 view of a player record."""
    return player_pb2.Player(
        player_id=record.player_id,
        display_name=record.display_name,
        email=record.email,
        locale=record.locale,
        time_zone=record.time_zone,
        state=cast(player_pb2.PlayerState, record.state),
        therapist_id=record.care_team_ids[0] if record.care_team_ids else "",
        preferences=record.preferences,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
    )


def _apply(record: PlayerRecord, player: player_pb2.Player, paths: tuple[str, ...]) -> None:
    for path in paths:
        if path == "display_name":
            record.preferred_name = player.display_name
            record.given_name = record.given_name or player.display_name
        elif path == "therapist_id":
            rest = record.care_team_ids[1:]
            record.care_team_ids = [player.therapist_id, *rest] if player.therapist_id else rest
        elif path == "preferences":
            record.preferences = dict(player.preferences)
        else:
            setattr(record, path, getattr(player, path))


@translate_errors
class PlayerServicer(player_pb2_grpc.PlayerServiceServicer):
    """Player accounts over ``World.players``."""

    def __init__(self, world: World) -> None:
        self._world = world

    async def GetPlayer(
        self, request: player_pb2.GetPlayerRequest, context: Context
    ) -> player_pb2.GetPlayerResponse:
        """One account, deleted ones included (in ``PLAYER_STATE_DELETED`` until purged)."""
        return player_pb2.GetPlayerResponse(player=to_v1(self._world.get_player(request.player_id)))

    async def ListPlayers(
        self, request: player_pb2.ListPlayersRequest, context: Context
    ) -> player_pb2.ListPlayersResponse:
        """Players newest first, filtered by state and therapist."""
        matching = [
            r
            for r in self._world.players.values()
            if listable(r, request.state)
            and (not request.therapist_id or request.therapist_id in r.care_team_ids)
        ]
        matching.sort(key=lambda r: (r.create_time, r.player_id), reverse=True)
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=100)
        return player_pb2.ListPlayersResponse(
            players=[to_v1(r) for r in page], next_page_token=token, total_size=len(matching)
        )

    async def CreatePlayer(
        self, request: player_pb2.CreatePlayerRequest, context: Context
    ) -> player_pb2.CreatePlayerResponse:
        """Registers an account; ``player.display_name`` is required."""
        require("player", request.HasField("player"))
        require("player.display_name", request.player.display_name.strip())
        check_email(self._world, request.player.email, "player.email")
        record = new_record(self._world)
        _apply(record, request.player, _MUTABLE)
        self._world.players[record.player_id] = record
        return player_pb2.CreatePlayerResponse(player=to_v1(record))

    async def UpdatePlayer(
        self, request: player_pb2.UpdatePlayerRequest, context: Context
    ) -> player_pb2.UpdatePlayerResponse:
        """Applies the fields named in ``update_mask`` (all changeable fields when empty)."""
        record = self._world.get_player(request.player.player_id, "player.player_id")
        check_mutable(record)
        paths = mask_paths(request.update_mask, _MUTABLE)
        if "display_name" in paths:
            require("player.display_name", request.player.display_name.strip())
        if "email" in paths:
            check_email(self._world, request.player.email, "player.email", record.player_id)
        _apply(record, request.player, paths)
        record.update_time = self._world.now()
        return player_pb2.UpdatePlayerResponse(player=to_v1(record))

    async def DeletePlayer(
        self, request: player_pb2.DeletePlayerRequest, context: Context
    ) -> player_pb2.DeletePlayerResponse:
        """Marks the account deleted; the purge time is 30 days after the (first) deletion."""
        record = self._world.get_player(request.player_id)
        if record.state != 3:
            record.state = 3
            record.update_time = self._world.now()
        return player_pb2.DeletePlayerResponse(purge_time=timestamp(record.update_time + PURGE_DELAY_SECONDS))


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the v1 player service to ``server``."""
    player_pb2_grpc.add_PlayerServiceServicer_to_server(PlayerServicer(world), server)
