"""The in-memory state every reference service of one process shares.

One :class:`World` holds players, characters, the world catalogue, sessions and their participants,
gameplay turns, chat rooms, escalations, milestones and sign-ins (with the token issuer). The services read and change it
directly; there is no locking because everything runs on one asyncio event loop and no method awaits
in the middle of a change.

Live streams (a session's narration, a chat room) fan out through :class:`Topic`: each subscriber
owns an unbounded ``asyncio.Queue`` and must unsubscribe when its call ends, which
:meth:`Topic.subscribe` guarantees by being a context manager (``with topic.subscribe(key) as q``).

Records are the generated ``tta.v1`` messages, except players, which are served in two contract
versions and are therefore kept in a version-neutral :class:`PlayerRecord`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf import timestamp_pb2
from tta.v1 import (
    agent_pb2,
    character_pb2,
    chat_pb2,
    gameplay_pb2,
    progress_pb2,
    safety_pb2,
    session_pb2,
    world_pb2,
)

from gateway.state.denylist import Denylist, MemoryDenylist
from services import _seed
from services._caller import may_reach
from services._errors import not_found, not_owner, require
from services._issuer import Issuer

__all__ = ["PlayerRecord", "SignIn", "Topic", "World", "timestamp"]

T = TypeVar("T")


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """A ``google.protobuf.Timestamp`` for a POSIX time in seconds."""
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


class Topic(Generic[T]):
    """Fan-out of items to every current subscriber of a key (a session id)."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[T]]] = defaultdict(set)

    @contextmanager
    def subscribe(self, key: str) -> Iterator[asyncio.Queue[T]]:
        """A queue receiving every item published to ``key`` until the ``with`` block exits."""
        queue: asyncio.Queue[T] = asyncio.Queue()
        self._queues[key].add(queue)
        try:
            yield queue
        finally:
            self._queues[key].discard(queue)
            if not self._queues[key]:
                del self._queues[key]

    def publish(self, key: str, item: T) -> None:
        """Deliver ``item`` to every subscriber of ``key``; never blocks."""
        for queue in tuple(self._queues.get(key, ())):
            queue.put_nowait(item)

    def subscriber_count(self, key: str | None = None) -> int:
        """Subscribers of ``key``, or of every key; used by tests to prove streams clean up."""
        if key is not None:
            return len(self._queues.get(key, ()))
        return sum(len(q) for q in self._queues.values())


@dataclass(slots=True)
class PlayerRecord:
    """A player account, version-neutral: the superset of the ``tta.v1`` and ``tta.v2`` shapes."""

    player_id: str
    given_name: str = ""
    family_name: str = ""
    preferred_name: str = ""
    pronouns: str = ""
    email: str = ""
    email_verified: bool = False
    phone_number: str = ""
    locale: str = ""
    time_zone: str = ""
    avatar_uri: str = ""
    state: int = 1  # PLAYER_STATE_ACTIVE; the enum numbers are the same in v1 and v2
    care_team_ids: list[str] = field(default_factory=list)
    preferences: dict[str, str] = field(default_factory=dict)
    create_time: float = 0.0
    update_time: float = 0.0
    last_activity_time: float = 0.0

    @property
    def display_name(self) -> str:
        """The v1 ``display_name``: the preferred name, else the given name."""
        return self.preferred_name or self.given_name


@dataclass(slots=True)
class SignIn:
    """One sign-in (a refresh-token family, ``sid``): who, what they may do, the one refresh token that
    may still be used, and the access tokens issued in it (by ``jti``, with their expiry) so that
    ending the sign-in can put them on the gateway's denylist."""

    sign_in_id: str
    subject: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    display_name: str
    refresh_jti: str  # "" for a service token's sign-in: it has no refresh token
    expire_time: float
    access: dict[str, float] = field(default_factory=dict)  # jti -> expires at
    revoked: bool = False


NarrativeEvent = gameplay_pb2.StreamNarrativeResponse | None  # None: the session ended


@dataclass
class World:
    """All state of one process's reference services. ``clock`` returns POSIX seconds."""

    clock: Callable[[], float] = time.time
    # Pause between streamed fragments (agent replies), so a demo looks like text being written.
    stream_delay: float = 0.01
    players: dict[str, PlayerRecord] = field(default_factory=dict)
    characters: dict[str, character_pb2.Character] = field(default_factory=dict)
    retired_characters: set[str] = field(default_factory=set)
    worlds: dict[str, world_pb2.World] = field(default_factory=dict)
    sessions: dict[str, session_pb2.Session] = field(default_factory=dict)
    participants: dict[str, list[session_pb2.Participant]] = field(default_factory=dict)
    turns: dict[str, list[gameplay_pb2.Turn]] = field(default_factory=dict)
    messages: dict[str, list[chat_pb2.ChatMessage]] = field(default_factory=dict)
    imported_ids: dict[str, set[str]] = field(default_factory=dict)
    escalations: dict[str, safety_pb2.Escalation] = field(default_factory=dict)
    milestones: dict[str, list[progress_pb2.Milestone]] = field(default_factory=dict)
    agents: dict[str, agent_pb2.Agent] = field(default_factory=dict)
    sign_ins: dict[str, SignIn] = field(default_factory=dict)
    # The token issuer (its private key) and where revoked access tokens go: the gateway's denylist
    # (shared in-process by the demo, or the same Redis), see services/auth.py.
    issuer: Issuer = field(default_factory=Issuer.generate)
    denylist: Denylist = field(default_factory=MemoryDenylist)
    narrative: Topic[NarrativeEvent] = field(default_factory=Topic)
    rooms: Topic[chat_pb2.ChatMessage] = field(default_factory=Topic)
    _ids: dict[str, Iterator[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for w in _seed.worlds(timestamp(self.clock())):
            self.worlds[w.world_id] = w
        for a in _seed.agents():
            self.agents[a.agent_id] = a
        for p in _seed.players(self.clock()):
            self.players[p.player_id] = p

    def now(self) -> float:
        """The current time from the injected clock."""
        return self.clock()

    def new_id(self, prefix: str) -> str:
        """The next id for ``prefix``, for example ``pl_000003``: readable and deterministic."""
        counter = self._ids.setdefault(prefix, itertools.count(1))
        return f"{prefix}_{next(counter):06d}"

    def post_message(self, message: chat_pb2.ChatMessage) -> chat_pb2.ChatMessage:
        """Append ``message`` to its session's room with the next sequence number and deliver it."""
        room = self.messages.setdefault(message.session_id, [])
        message.sequence = len(room) + 1
        if not message.message_id:
            message.message_id = self.new_id("ms")
        if not message.HasField("create_time"):
            message.create_time.CopyFrom(timestamp(self.now()))
        room.append(message)
        self.rooms.publish(message.session_id, message)
        return message

    # Lookups that fail with a precise NOT_FOUND, shared by every service.

    def get_player(self, player_id: str, field_name: str = "player_id") -> PlayerRecord:
        """The player ``player_id``; ``INVALID_ARGUMENT`` when empty, ``NOT_FOUND`` when unknown."""
        require(field_name, player_id)
        try:
            return self.players[player_id]
        except KeyError:
            raise not_found("player", player_id) from None

    def get_world(self, world_id: str, field_name: str = "world_id") -> world_pb2.World:
        """The catalogue world ``world_id``."""
        require(field_name, world_id)
        try:
            return self.worlds[world_id]
        except KeyError:
            raise not_found("world", world_id) from None

    def get_session(self, session_id: str, field_name: str = "session_id") -> session_pb2.Session:
        """The session ``session_id``."""
        require(field_name, session_id)
        try:
            session = self.sessions[session_id]
        except KeyError:
            raise not_found("session", session_id) from None
        people = (p.participant_id for p in self.participants.get(session_id, ()))
        if not may_reach((session.player_id, *people)):
            raise not_owner("sessions")
        return session

    def get_character(self, character_id: str, field_name: str = "character_id") -> character_pb2.Character:
        """The live (not retired) character ``character_id``."""
        require(field_name, character_id)
        if character_id in self.retired_characters or character_id not in self.characters:
            raise not_found("character", character_id)
        character = self.characters[character_id]
        if not may_reach((character.player_id,)):
            raise not_owner("characters")
        return character
