"""Reference ``tta.v1.CharacterService``: players' characters, each living in one catalogue world.

A new character starts at its world's starting location. Names must be unique among a player's live
characters in one world (``ALREADY_EXISTS``); traits range from 1 to 10 (``INVALID_ARGUMENT`` naming
the trait). ``player_id`` and ``world_id`` cannot change. Retiring (deleting) keeps the record for
session history but hides it from ``Get``/``List``; retiring twice succeeds.
"""

from __future__ import annotations

import grpc
from tta.v1 import character_pb2, character_pb2_grpc

from services._caller import may_reach
from services._errors import (
    Context,
    already_exists,
    invalid_argument,
    not_found,
    not_owner,
    require,
    translate_errors,
)
from services._masks import mask_paths
from services._paging import paginate
from services.state import World, timestamp

__all__ = ["CharacterServicer", "register"]

_MUTABLE = ("name", "pronouns", "backstory", "traits", "inventory", "location_id")


def _check_traits(character: character_pb2.Character) -> None:
    for trait, value in character.traits.items():
        if not 1 <= value <= 10:
            raise invalid_argument(f"character.traits[{trait}]", "must be between 1 and 10")


@translate_errors
class CharacterServicer(character_pb2_grpc.CharacterServiceServicer):
    """Characters over ``World.characters``."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _check_unique_name(self, character: character_pb2.Character) -> None:
        for other in self._world.characters.values():
            if (
                other.character_id != character.character_id
                and other.character_id not in self._world.retired_characters
                and other.player_id == character.player_id
                and other.world_id == character.world_id
                and other.name.casefold() == character.name.casefold()
            ):
                raise already_exists(
                    f'player "{character.player_id}" already has a character of that name in world '
                    f'"{character.world_id}": {other.character_id}'
                )

    async def GetCharacter(
        self, request: character_pb2.GetCharacterRequest, context: Context
    ) -> character_pb2.GetCharacterResponse:
        """One live character; addressed through another player's collection it is ``NOT_FOUND``."""
        character = self._world.get_character(request.character_id)
        if request.player_id and request.player_id != character.player_id:
            raise not_found("character", request.character_id)
        return character_pb2.GetCharacterResponse(character=character)

    async def ListCharacters(
        self, request: character_pb2.ListCharactersRequest, context: Context
    ) -> character_pb2.ListCharactersResponse:
        """A player's live characters, most recently played (or changed) first."""
        self._world.get_player(request.player_id)
        matching = [
            c
            for c in self._world.characters.values()
            if c.player_id == request.player_id
            and c.character_id not in self._world.retired_characters
            and (not request.world_id or c.world_id == request.world_id)
        ]
        matching.sort(
            key=lambda c: (
                max(c.last_play_time.ToNanoseconds(), c.update_time.ToNanoseconds()),
                c.character_id,
            ),
            reverse=True,
        )
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=100)
        return character_pb2.ListCharactersResponse(characters=page, next_page_token=token)

    async def CreateCharacter(
        self, request: character_pb2.CreateCharacterRequest, context: Context
    ) -> character_pb2.CreateCharacterResponse:
        """A new character at its world's starting location; ``name`` and ``world_id`` are required."""
        player = self._world.get_player(request.player_id)
        require("character", request.HasField("character"))
        require("character.name", request.character.name.strip())
        world = self._world.get_world(request.character.world_id, "character.world_id")
        _check_traits(request.character)
        now = timestamp(self._world.now())
        character = character_pb2.Character(
            character_id=self._world.new_id("ch"),
            player_id=player.player_id,
            world_id=world.world_id,
            name=request.character.name.strip(),
            pronouns=request.character.pronouns,
            backstory=request.character.backstory,
            traits=request.character.traits,
            inventory=request.character.inventory,
            location_id=world.starting_location_id,
            create_time=now,
            update_time=now,
        )
        self._check_unique_name(character)
        self._world.characters[character.character_id] = character
        return character_pb2.CreateCharacterResponse(character=character)

    async def UpdateCharacter(
        self, request: character_pb2.UpdateCharacterRequest, context: Context
    ) -> character_pb2.UpdateCharacterResponse:
        """Applies the fields named in ``update_mask``; a new location must exist in the world."""
        current = self._world.get_character(request.character.character_id, "character.character_id")
        paths = mask_paths(request.update_mask, _MUTABLE)
        changed = character_pb2.Character()
        changed.CopyFrom(current)
        for path in paths:
            if path in ("traits", "inventory"):
                changed.ClearField(path)
                getattr(changed, path).MergeFrom(getattr(request.character, path))
            else:
                setattr(changed, path, getattr(request.character, path))
        require("character.name", changed.name.strip())
        _check_traits(changed)
        world = self._world.get_world(changed.world_id)
        if changed.location_id not in {loc.location_id for loc in world.locations}:
            raise invalid_argument(
                "character.location_id",
                f'"{changed.location_id}" is not a location of world "{world.world_id}"',
            )
        self._check_unique_name(changed)
        changed.update_time.CopyFrom(timestamp(self._world.now()))
        current.CopyFrom(changed)
        return character_pb2.UpdateCharacterResponse(character=current)

    async def DeleteCharacter(
        self, request: character_pb2.DeleteCharacterRequest, context: Context
    ) -> character_pb2.DeleteCharacterResponse:
        """Retires the character; unknown ids are ``NOT_FOUND``, retired ones succeed again."""
        require("character_id", request.character_id)
        if request.character_id not in self._world.characters:
            raise not_found("character", request.character_id)
        if not may_reach((self._world.characters[request.character_id].player_id,)):
            raise not_owner("characters")
        self._world.retired_characters.add(request.character_id)
        return character_pb2.DeleteCharacterResponse(character_id=request.character_id)


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the character service to ``server``."""
    character_pb2_grpc.add_CharacterServiceServicer_to_server(CharacterServicer(world), server)
