"""Reference ``tta.v1.SessionService``: session lifecycle and participants.

A session moves ``SCHEDULED → ACTIVE ⇄ PAUSED → ENDED`` (:func:`next_state` is the whole table).
Repeating a verb on a session already in its target state succeeds without change; any other move is
``FAILED_PRECONDITION`` naming the session, its state and the states the verb is allowed from.
Pausing, resuming and ending post a system notice to the session's chat room, and ending closes every
open narrative stream of the session. The session's player (and therapist, when set) join as
participants on creation; the player is shown ``online`` while any chat or narrative stream of the
session is open.
"""

from __future__ import annotations

import grpc
from tta.v1 import chat_pb2, session_pb2, session_pb2_grpc

from services._caller import CURRENT
from services._errors import (
    Context,
    already_exists,
    failed_precondition,
    invalid_argument,
    require,
    translate_errors,
)
from services._paging import paginate
from services.state import World, timestamp

__all__ = ["SessionServicer", "next_state", "register"]

S = session_pb2
_TRANSITIONS: dict[str, dict[S.SessionState, S.SessionState]] = {
    "start": {
        S.SESSION_STATE_SCHEDULED: S.SESSION_STATE_ACTIVE,
        S.SESSION_STATE_PAUSED: S.SESSION_STATE_ACTIVE,
        S.SESSION_STATE_ACTIVE: S.SESSION_STATE_ACTIVE,
    },
    "pause": {S.SESSION_STATE_ACTIVE: S.SESSION_STATE_PAUSED, S.SESSION_STATE_PAUSED: S.SESSION_STATE_PAUSED},
    "end": {
        S.SESSION_STATE_ACTIVE: S.SESSION_STATE_ENDED,
        S.SESSION_STATE_PAUSED: S.SESSION_STATE_ENDED,
        S.SESSION_STATE_ENDED: S.SESSION_STATE_ENDED,
    },
}
_NOTICES = {
    "start": "The session has resumed.",
    "pause": "The session is paused.",
    "end": "The session has ended.",
}


def next_state(verb: str, state: S.SessionState) -> S.SessionState | None:
    """The state after ``verb`` (``start``, ``pause``, ``end``) from ``state``; None when not allowed.

    >>> next_state("pause", S.SESSION_STATE_ACTIVE) == S.SESSION_STATE_PAUSED
    True
    >>> next_state("pause", S.SESSION_STATE_SCHEDULED) is None
    True
    """
    return _TRANSITIONS[verb].get(state)


def _check_mood(field: str, mood: int) -> None:
    if not 0 <= mood <= 10:
        raise invalid_argument(field, "must be between 1 and 10, or 0 when not reported")


@translate_errors
class SessionServicer(session_pb2_grpc.SessionServiceServicer):
    """Sessions over ``World.sessions`` and ``World.participants``."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _transition(self, verb: str, session_id: str) -> tuple[session_pb2.Session, bool]:
        session = self._world.get_session(session_id)
        target = next_state(verb, session.state)
        if target is None:
            allowed = ", ".join(S.SessionState.Name(s) for s in _TRANSITIONS[verb])
            raise failed_precondition(
                f'session "{session_id}" is {S.SessionState.Name(session.state)}; cannot {verb} it '
                f"(allowed from {allowed})"
            )
        changed = target != session.state
        if changed:
            resumed = verb == "start" and session.state == S.SESSION_STATE_PAUSED
            session.state = target
            if verb != "start" or resumed:
                self._world.post_message(
                    chat_pb2.ChatMessage(
                        session_id=session_id,
                        sender_kind=chat_pb2.SENDER_KIND_SYSTEM,
                        sender_display_name="TTA",
                        text=_NOTICES[verb],
                        visibility=chat_pb2.MESSAGE_VISIBILITY_VISIBLE,
                    )
                )
        return session, changed

    def _view(self, session: session_pb2.Session) -> list[session_pb2.Participant]:
        streams = self._world.rooms.subscriber_count(
            session.session_id
        ) + self._world.narrative.subscriber_count(session.session_id)
        people = []
        for p in self._world.participants.get(session.session_id, []):
            shown = session_pb2.Participant()
            shown.CopyFrom(p)
            if p.role == S.PARTICIPANT_ROLE_PLAYER:
                shown.online = streams > 0
            elif p.role == S.PARTICIPANT_ROLE_AGENT:
                shown.online = session.state == S.SESSION_STATE_ACTIVE
            people.append(shown)
        return people

    async def CreateSession(
        self, request: session_pb2.CreateSessionRequest, context: Context
    ) -> session_pb2.CreateSessionResponse:
        """Schedules a session; the player and world must exist, the character must be theirs."""
        require("session", request.HasField("session"))
        given = request.session
        player = self._world.get_player(given.player_id, "session.player_id")
        world = self._world.get_world(given.world_id, "session.world_id")
        if given.character_id:
            character = self._world.get_character(given.character_id, "session.character_id")
            if character.player_id != player.player_id or character.world_id != world.world_id:
                raise invalid_argument(
                    "session.character_id",
                    f'must be a character of "{player.player_id}" in "{world.world_id}"',
                )
        _check_mood("session.mood_before", given.mood_before)
        now = timestamp(self._world.now())
        session = session_pb2.Session(
            session_id=self._world.new_id("se"),
            player_id=player.player_id,
            therapist_id=given.therapist_id,
            world_id=world.world_id,
            character_id=given.character_id,
            state=S.SESSION_STATE_SCHEDULED,
            goals=given.goals,
            notes=given.notes,
            mood_before=given.mood_before,
            labels=given.labels,
            create_time=now,
        )
        if given.HasField("scheduled_time"):
            session.scheduled_time.CopyFrom(given.scheduled_time)
        self._world.sessions[session.session_id] = session
        people = [
            session_pb2.Participant(
                participant_id=player.player_id,
                role=S.PARTICIPANT_ROLE_PLAYER,
                display_name=player.display_name,
                join_time=now,
            )
        ]
        if given.therapist_id:
            people.append(
                session_pb2.Participant(
                    participant_id=given.therapist_id,
                    role=S.PARTICIPANT_ROLE_THERAPIST,
                    display_name="Therapist",
                    join_time=now,
                )
            )
        self._world.participants[session.session_id] = people
        return session_pb2.CreateSessionResponse(session=session)

    async def GetSession(
        self, request: session_pb2.GetSessionRequest, context: Context
    ) -> session_pb2.GetSessionResponse:
        """One session."""
        return session_pb2.GetSessionResponse(session=self._world.get_session(request.session_id))

    async def ListSessions(
        self, request: session_pb2.ListSessionsRequest, context: Context
    ) -> session_pb2.ListSessionsResponse:
        """Sessions filtered by player, therapist and state, most recently created first. A player (a
        caller with no staff role) lists only their own sessions, whatever filter they send."""
        who = CURRENT.get()
        player_id = who.subject if who.is_player_only else request.player_id
        matching = [
            s
            for s in self._world.sessions.values()
            if (not player_id or s.player_id == player_id)
            and (not request.therapist_id or s.therapist_id == request.therapist_id)
            and (not request.state or s.state == request.state)
        ]
        matching.sort(key=lambda s: (s.create_time.ToNanoseconds(), s.session_id), reverse=True)
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=100)
        return session_pb2.ListSessionsResponse(sessions=page, next_page_token=token)

    async def StartSession(
        self, request: session_pb2.StartSessionRequest, context: Context
    ) -> session_pb2.StartSessionResponse:
        """``SCHEDULED``/``PAUSED`` → ``ACTIVE``; records the start time and mood on the first start."""
        _check_mood("mood_before", request.mood_before)
        first = self._world.get_session(request.session_id).state == S.SESSION_STATE_SCHEDULED
        session, _ = self._transition("start", request.session_id)
        if first:
            session.start_time.CopyFrom(timestamp(self._world.now()))
            if request.mood_before:
                session.mood_before = request.mood_before
        return session_pb2.StartSessionResponse(session=session)

    async def PauseSession(
        self, request: session_pb2.PauseSessionRequest, context: Context
    ) -> session_pb2.PauseSessionResponse:
        """``ACTIVE`` → ``PAUSED`` (the reason is not kept: it is not part of the session record)."""
        session, _ = self._transition("pause", request.session_id)
        return session_pb2.PauseSessionResponse(session=session)

    async def EndSession(
        self, request: session_pb2.EndSessionRequest, context: Context
    ) -> session_pb2.EndSessionResponse:
        """``ACTIVE``/``PAUSED`` → ``ENDED``; records mood and notes, closes narrative streams."""
        _check_mood("mood_after", request.mood_after)
        session, changed = self._transition("end", request.session_id)
        if changed:
            session.end_time.CopyFrom(timestamp(self._world.now()))
            session.mood_after = request.mood_after
            if request.notes:
                session.notes = request.notes
            self._world.narrative.publish(session.session_id, None)
        return session_pb2.EndSessionResponse(session=session)

    async def AddParticipant(
        self, request: session_pb2.AddParticipantRequest, context: Context
    ) -> session_pb2.AddParticipantResponse:
        """Adds a participant to a session that has not ended; ids are unique within a session."""
        session = self._world.get_session(request.session_id)
        given = request.participant
        require("participant.participant_id", given.participant_id)
        require("participant.role", given.role)
        if session.state == S.SESSION_STATE_ENDED:
            raise failed_precondition(f'session "{session.session_id}" has ended; nobody can join it')
        people = self._world.participants.setdefault(session.session_id, [])
        if any(p.participant_id == given.participant_id for p in people):
            raise already_exists(
                f'"{given.participant_id}" already takes part in session "{session.session_id}"'
            )
        added = session_pb2.Participant(
            participant_id=given.participant_id,
            role=given.role,
            display_name=given.display_name or given.participant_id,
            join_time=timestamp(self._world.now()),
        )
        people.append(added)
        return session_pb2.AddParticipantResponse(participant=added)

    async def RemoveParticipant(
        self, request: session_pb2.RemoveParticipantRequest, context: Context
    ) -> session_pb2.RemoveParticipantResponse:
        """Removes a participant; removing someone absent succeeds."""
        session = self._world.get_session(request.session_id)
        require("participant_id", request.participant_id)
        people = self._world.participants.setdefault(session.session_id, [])
        people[:] = [p for p in people if p.participant_id != request.participant_id]
        return session_pb2.RemoveParticipantResponse(remaining_participant_count=len(people))

    async def ListParticipants(
        self, request: session_pb2.ListParticipantsRequest, context: Context
    ) -> session_pb2.ListParticipantsResponse:
        """A session's participants in joining order."""
        session = self._world.get_session(request.session_id)
        page, token = paginate(
            self._view(session), request.page_size, request.page_token, default_size=50, max_size=100
        )
        return session_pb2.ListParticipantsResponse(participants=page, next_page_token=token)


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the session service to ``server``."""
    session_pb2_grpc.add_SessionServiceServicer_to_server(SessionServicer(world), server)
