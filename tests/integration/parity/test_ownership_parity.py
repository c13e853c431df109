"""Broken object-level authorisation, on every door: player A cannot read or change player B's player
record, session or character by id; a therapist reaches the progress of a player on their caseload and
not another's.

The real reference services behind a gateway with auth on (the ``stack`` fixture of the token
lifecycle suite). Requests that name their owner are refused by the gateway's ownership step; records
reached by their own id (``/sessions/{id}``, ``/characters/{id}``) by the service that holds them,
with the same answer: PERMISSION_DENIED (REST 403), ``ErrorInfo.reason`` ``NOT_OWNER``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from tta.v1 import character_pb2, player_pb2, progress_pb2, session_pb2

from tests.integration.parity.doors import DoorClient, GrpcClient, HttpClient, Outcome
from tests.integration.parity.test_token_lifecycle_parity import Stack, login, stack

__all__ = ["stack"]  # the fixture, shared

DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]


async def call(
    door: DoorClient,
    path: str,
    request: Message,
    response: type[Message],
    rest: tuple[str, str, Mapping[str, Any] | None],
    token: str,
) -> Outcome:
    """``path`` through ``door`` with ``token``: gRPC with its types, REST as ``(method, url, body)``."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    if isinstance(door, GrpcClient):
        rpc = door.channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        unary = rpc(request, metadata=metadata)
        try:
            return await door._outcome(unary, [await unary], None)
        except grpc.aio.AioRpcError as err:
            return await door._outcome(unary, [], err)
    assert isinstance(door, HttpClient)
    method, url, body = rest
    return HttpClient._unary(await door.client.request(method, url, json=body, headers=metadata))


def assert_not_owner(outcome: Outcome, door: DoorClient) -> None:
    assert outcome.code == DENIED, outcome
    assert outcome.detail("google.rpc.ErrorInfo")["reason"] == "NOT_OWNER"
    if door.name == "http":
        assert outcome.http_status == 403


async def _sign_up(door: DoorClient) -> tuple[str, str]:
    """A new player (sign-up is public) and their token."""
    email = f"sam-{uuid.uuid4().hex[:8]}@example.org"
    made = await call(
        door,
        "/tta.v1.PlayerService/CreatePlayer",
        player_pb2.CreatePlayerRequest(
            player=player_pb2.Player(display_name="Sam", email=email), password="pw"
        ),
        player_pb2.CreatePlayerResponse,
        ("POST", "/api/v1/players", {"player": {"displayName": "Sam", "email": email}, "password": "pw"}),
        "",
    )
    assert made.code == 0, made
    return made.messages[0]["player"]["playerId"], (await login(door, email))["accessToken"]


async def test_a_player_cannot_reach_another_players_records_on_any_door(stack: Stack) -> None:
    for door in stack.doors.values():
        alex = (await login(door))["accessToken"]  # pl_demo
        sam_id, sam = await _sign_up(door)

        session = await call(
            door,
            "/tta.v1.SessionService/CreateSession",
            session_pb2.CreateSessionRequest(
                session=session_pb2.Session(player_id="pl_demo", world_id="wd_quiet_harbour")
            ),
            session_pb2.CreateSessionResponse,
            ("POST", "/api/v1/sessions", {"playerId": "pl_demo", "worldId": "wd_quiet_harbour"}),
            alex,
        )
        assert session.code == 0, session
        session_id = session.messages[0]["session"]["sessionId"]
        character = await call(
            door,
            "/tta.v1.CharacterService/CreateCharacter",
            character_pb2.CreateCharacterRequest(
                player_id="pl_demo",
                character=character_pb2.Character(name=f"Rook {door.name}", world_id="wd_quiet_harbour"),
            ),
            character_pb2.CreateCharacterResponse,
            (
                "POST",
                "/api/v1/players/pl_demo/characters",
                {"name": f"Rook {door.name}", "worldId": "wd_quiet_harbour"},
            ),
            alex,
        )
        assert character.code == 0, character
        character_id = character.messages[0]["character"]["characterId"]

        attempts: list[tuple[str, Message, type[Message], tuple[str, str, Mapping[str, Any] | None]]] = [
            (
                "/tta.v1.PlayerService/GetPlayer",
                player_pb2.GetPlayerRequest(player_id="pl_demo"),
                player_pb2.GetPlayerResponse,
                ("GET", "/api/v1/players/pl_demo", None),
            ),
            (
                "/tta.v1.PlayerService/UpdatePlayer",
                player_pb2.UpdatePlayerRequest(
                    player=player_pb2.Player(player_id="pl_demo", display_name="X")
                ),
                player_pb2.UpdatePlayerResponse,
                ("PATCH", "/api/v1/players/pl_demo", {"displayName": "X"}),
            ),
            (
                "/tta.v1.SessionService/GetSession",
                session_pb2.GetSessionRequest(session_id=session_id),
                session_pb2.GetSessionResponse,
                ("GET", f"/api/v1/sessions/{session_id}", None),
            ),
            (
                "/tta.v1.SessionService/PauseSession",
                session_pb2.PauseSessionRequest(session_id=session_id),
                session_pb2.PauseSessionResponse,
                ("POST", f"/api/v1/sessions/{session_id}:pause", {}),
            ),
            (
                "/tta.v1.CharacterService/GetCharacter",
                character_pb2.GetCharacterRequest(character_id=character_id),
                character_pb2.GetCharacterResponse,
                ("GET", f"/api/v1/characters/{character_id}", None),
            ),
            (
                "/tta.v1.CharacterService/DeleteCharacter",
                character_pb2.DeleteCharacterRequest(character_id=character_id),
                character_pb2.DeleteCharacterResponse,
                ("DELETE", f"/api/v1/characters/{character_id}", None),
            ),
        ]
        for path, request, response, rest in attempts:
            assert_not_owner(await call(door, path, request, response, rest, sam), door)
        # nothing changed: Alex still reads his session (not paused) and his character
        mine = await call(door, *attempts[2][:3], attempts[2][3], alex)
        assert mine.code == 0, mine
        assert mine.messages[0]["session"].get("state") != "SESSION_STATE_PAUSED"
        assert (await call(door, *attempts[4][:3], attempts[4][3], alex)).code == 0
        assert (await call(door, *attempts[0][:3], attempts[0][3], alex)).code == 0
        # and Sam reaches his own record
        own = await call(
            door,
            "/tta.v1.PlayerService/GetPlayer",
            player_pb2.GetPlayerRequest(player_id=sam_id),
            player_pb2.GetPlayerResponse,
            ("GET", f"/api/v1/players/{sam_id}", None),
            sam,
        )
        assert own.code == 0, own


async def test_a_therapist_reaches_only_their_caseloads_progress_on_any_door(stack: Stack) -> None:
    for door in stack.doors.values():
        therapist = (await login(door, "therapist"))["accessToken"]  # caseload: pl_demo (its care team)
        sam_id, _ = await _sign_up(door)

        def progress(player_id: str) -> tuple[str, Message, type[Message], tuple[str, str, None]]:
            return (
                "/tta.v1.ProgressService/GetProgress",
                progress_pb2.GetProgressRequest(player_id=player_id),
                progress_pb2.GetProgressResponse,
                ("GET", f"/api/v1/players/{player_id}/progress", None),
            )

        assigned = await call(door, *progress("pl_demo"), therapist)
        assert assigned.code == 0, assigned
        assert json_format.ParseDict(assigned.messages[0], progress_pb2.GetProgressResponse()) is not None
        assert_not_owner(await call(door, *progress(sam_id), therapist), door)
