"""The catalogue of reference services: short name → gRPC service names and a registration function.

>>> REFERENCE_SERVICES["player"].full_names
('tta.v1.PlayerService',)
>>> REFERENCE_SERVICES["player_v2"].full_names
('tta.v2.PlayerService',)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import grpc
from tta.v1 import (
    agent_pb2,
    auth_pb2,
    character_pb2,
    chat_pb2,
    diagnostics_pb2,
    gameplay_pb2,
    player_pb2,
    progress_pb2,
    safety_pb2,
    session_pb2,
    world_pb2,
)
from tta.v2 import player_pb2 as player_v2_pb2

from services import (
    agent,
    auth,
    character,
    chat,
    diagnostics,
    gameplay,
    player,
    player_v2,
    progress,
    safety,
    session,
    world,
)
from services.state import World

__all__ = ["REFERENCE_SERVICES", "ReferenceService"]


@dataclass(frozen=True, slots=True)
class ReferenceService:
    """One reference service: the gRPC services it implements and how to add it to a server."""

    name: str
    full_names: tuple[str, ...]
    register: Callable[[grpc.aio.Server, World], None]


def _entry(name: str, module: ModuleType, descriptor_module: ModuleType, service: str) -> ReferenceService:
    full_name = descriptor_module.DESCRIPTOR.services_by_name[service].full_name
    return ReferenceService(name=name, full_names=(full_name,), register=module.register)


REFERENCE_SERVICES: dict[str, ReferenceService] = {
    entry.name: entry
    for entry in (
        _entry("auth", auth, auth_pb2, "AuthService"),
        _entry("player", player, player_pb2, "PlayerService"),
        _entry("character", character, character_pb2, "CharacterService"),
        _entry("world", world, world_pb2, "WorldService"),
        _entry("session", session, session_pb2, "SessionService"),
        _entry("gameplay", gameplay, gameplay_pb2, "GameplayService"),
        _entry("chat", chat, chat_pb2, "ChatService"),
        _entry("safety", safety, safety_pb2, "SafetyService"),
        _entry("progress", progress, progress_pb2, "ProgressService"),
        _entry("agent", agent, agent_pb2, "AgentService"),
        _entry("diagnostics", diagnostics, diagnostics_pb2, "DiagnosticsService"),
        _entry("player_v2", player_v2, player_v2_pb2, "PlayerService"),
    )
}
