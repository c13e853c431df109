"""Reference ``tta.v1.GameplayService``: a deterministic narrator over the seeded worlds.

``SubmitAction`` (session must be ``ACTIVE``) turns an action into a numbered turn. The narration,
outcome and choices depend only on the action and where the character stands, so the same action in
the same place always reads the same. Choices come from the location's exits plus two grounding
options; picking ``go:<location>`` (or naming a reachable place in free text) moves the character.
A free-text action the risk scorer rates high or critical is ``ACTION_OUTCOME_REDIRECTED``: the
narrator steps out of the story, offers support, and an escalation is opened.

Each turn is published on the session's narrative topic as word fragments, then the complete turn;
``StreamNarrative`` replays turns after ``after_sequence`` and follows new ones until the session ends
or the client cancels.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import grpc
from tta.v1 import gameplay_pb2, gameplay_pb2_grpc, safety_pb2, session_pb2, world_pb2

from services._errors import (
    Context,
    failed_precondition,
    invalid_argument,
    not_found,
    require,
    translate_errors,
)
from services._paging import paginate
from services._risk import score_text
from services._streams import open_stream
from services.safety import open_escalation
from services.state import World, timestamp

__all__ = ["GameplayServicer", "choices_at", "register"]

G = gameplay_pb2
_FLAVOUR = {
    G.ACTION_OUTCOME_SUCCESS: (
        "It goes better than you feared.",
        "Something settles in your chest.",
        "A small thing, done well.",
    ),
    G.ACTION_OUTCOME_PARTIAL: (
        "It half works, and that is still something.",
        "Not quite what you hoped, but a door has opened a crack.",
    ),
    G.ACTION_OUTCOME_SETBACK: (
        "It does not work out this time. You are still here, and you can try again.",
        "The moment slips away. That is allowed; breathe, and look again.",
    ),
}
_SUPPORT = (
    "The story can wait. What you just wrote matters more than the adventure, and you do not "
    "have to carry it alone. A person from your care team has been let know, and the crisis "
    "resources below are there right now if you need them."
)


def choices_at(world: world_pb2.World, location_id: str) -> list[gameplay_pb2.Choice]:
    """The choices offered at a location: its exits, then breathing and looking around."""
    places = {loc.location_id: loc for loc in world.locations}
    here = places.get(location_id)
    exits = list(here.exit_location_ids) if here else []
    offered = [
        G.Choice(
            choice_id=f"go:{e}",
            label=f"Head to {places[e].name}",
            hint="Moving on can be a small act of courage.",
        )
        for e in exits
        if e in places
    ]
    offered.append(
        G.Choice(
            choice_id="breathe",
            label="Pause and take three slow breaths",
            hint="Grounding helps when things feel like a lot.",
        )
    )
    offered.append(
        G.Choice(
            choice_id="look", label="Look around carefully", hint="Noticing details keeps you in the present."
        )
    )
    return offered


def _words(text: str) -> list[str]:
    """Fragments whose concatenation is ``text``: each word with its trailing space."""
    return re.findall(r"\S+\s*", text) or [text]


@translate_errors
class GameplayServicer(gameplay_pb2_grpc.GameplayServiceServicer):
    """Turns over ``World.turns``; live narration over ``World.narrative``."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _compose(
        self, world: world_pb2.World, here: str, action_text: str, choice_id: str
    ) -> tuple[str, G.ActionOutcome, str, dict[str, str]]:
        """Narration, outcome, new location and state changes for an action taken at ``here``."""
        places = {loc.location_id: loc for loc in world.locations}
        exits = places[here].exit_location_ids if here in places else []
        digest = hashlib.sha256(f"{here}|{action_text.casefold()}".encode()).digest()
        target = (
            choice_id[3:]
            if choice_id.startswith("go:")
            else next(
                (
                    e
                    for e in exits
                    if places[e].name.casefold() in action_text.casefold()
                    or e.replace("_", " ") in action_text.casefold()
                ),
                "",
            )
        )
        if target:
            place = places[target]
            return (
                f"**{place.name}.** {place.description} {_FLAVOUR[G.ACTION_OUTCOME_SUCCESS][digest[1] % 3]}",
                G.ACTION_OUTCOME_SUCCESS,
                target,
                {"visited": target},
            )
        if choice_id == "breathe":
            return (
                "You breathe in for four, hold, and breathe out for six. Three times. The world "
                "sharpens a little.",
                G.ACTION_OUTCOME_SUCCESS,
                here,
                {"calm": "steadier"},
            )
        if choice_id == "look":
            return (
                f"**{places[here].name}.** {places[here].description}",
                G.ACTION_OUTCOME_SUCCESS,
                here,
                {},
            )
        outcome = (
            G.ACTION_OUTCOME_SUCCESS,
            G.ACTION_OUTCOME_SUCCESS,
            G.ACTION_OUTCOME_PARTIAL,
            G.ACTION_OUTCOME_SETBACK,
        )[digest[0] % 4]
        flavour = _FLAVOUR[outcome][digest[1] % len(_FLAVOUR[outcome])]
        return (
            f"You act, there in {places[here].name if here in places else 'the quiet'}. {flavour}",
            outcome,
            here,
            {},
        )

    async def SubmitAction(
        self, request: gameplay_pb2.SubmitActionRequest, context: Context
    ) -> gameplay_pb2.SubmitActionResponse:
        """Plays one action in an active session and returns the completed turn."""
        session = self._world.get_session(request.session_id)
        which = request.WhichOneof("action")
        if which is None or not getattr(request, which).strip():
            raise invalid_argument("action", "set either text or choice_id")
        if session.state != session_pb2.SESSION_STATE_ACTIVE:
            raise failed_precondition(
                f'session "{session.session_id}" is {session_pb2.SessionState.Name(session.state)}; '
                "turns are accepted only while it is SESSION_STATE_ACTIVE"
            )
        world = self._world.get_world(session.world_id)
        character_id = request.character_id or session.character_id
        character = self._world.get_character(character_id) if character_id else None
        turns = self._world.turns.setdefault(session.session_id, [])
        here = (
            character.location_id
            if character
            else turns[-1].location_id
            if turns
            else world.starting_location_id
        )
        offered = {c.choice_id: c for c in choices_at(world, here)}
        if which == "choice_id" and request.choice_id not in offered:
            raise invalid_argument(
                "choice_id", f'"{request.choice_id}" is not one of the choices offered at "{here}"'
            )
        action_text = offered[request.choice_id].label if which == "choice_id" else request.text
        assessment = score_text(request.text) if which == "text" else None
        if assessment is not None and assessment.escalates:
            open_escalation(
                self._world,
                assessment,
                session.player_id,
                session.session_id,
                safety_pb2.CONTENT_SOURCE_ACTION,
            )
            narration, outcome, there = _SUPPORT, G.ACTION_OUTCOME_REDIRECTED, here
            changes: dict[str, str] = {}
        else:
            narration, outcome, there, changes = self._compose(world, here, action_text, request.choice_id)
        now = timestamp(self._world.now())
        turn = G.Turn(
            turn_id=self._world.new_id("tu"),
            session_id=session.session_id,
            character_id=character_id,
            sequence=len(turns) + 1,
            action_text=action_text,
            narration=narration,
            outcome=outcome,
            choices=choices_at(world, there),
            location_id=there,
            state_changes=changes,
            create_time=now,
        )
        turns.append(turn)
        session.turn_count = len(turns)
        if character is not None:
            character.location_id = there
            character.last_play_time.CopyFrom(now)
        for fragment in _words(narration):
            self._world.narrative.publish(
                session.session_id,
                G.StreamNarrativeResponse(turn_id=turn.turn_id, sequence=turn.sequence, text_delta=fragment),
            )
        self._world.narrative.publish(
            session.session_id,
            G.StreamNarrativeResponse(turn_id=turn.turn_id, sequence=turn.sequence, turn=turn),
        )
        return G.SubmitActionResponse(turn=turn)

    async def GetTurn(
        self, request: gameplay_pb2.GetTurnRequest, context: Context
    ) -> gameplay_pb2.GetTurnResponse:
        """One past turn of a session."""
        session = self._world.get_session(request.session_id)
        require("turn_id", request.turn_id)
        for turn in self._world.turns.get(session.session_id, []):
            if turn.turn_id == request.turn_id:
                return G.GetTurnResponse(turn=turn)
        raise not_found("turn", request.turn_id)

    async def ListTurns(
        self, request: gameplay_pb2.ListTurnsRequest, context: Context
    ) -> gameplay_pb2.ListTurnsResponse:
        """A session's turns in play order."""
        session = self._world.get_session(request.session_id)
        page, token = paginate(
            self._world.turns.get(session.session_id, []),
            request.page_size,
            request.page_token,
            default_size=50,
            max_size=200,
        )
        return G.ListTurnsResponse(turns=page, next_page_token=token)

    async def StreamNarrative(
        self, request: gameplay_pb2.StreamNarrativeRequest, context: Context
    ) -> AsyncIterator[gameplay_pb2.StreamNarrativeResponse]:
        """Replays turns after ``after_sequence``, then streams new fragments and turns until the end."""
        session = self._world.get_session(request.session_id)
        if request.after_sequence < 0:
            raise invalid_argument("after_sequence", "must not be negative")
        # Subscribe before replaying so nothing published meanwhile is missed; skip what was replayed.
        with self._world.narrative.subscribe(session.session_id) as queue:
            await open_stream(context)  # subscribed: every turn played from now on will be delivered
            last = len(self._world.turns.get(session.session_id, [])) if not request.after_sequence else 0
            if request.after_sequence:
                for turn in self._world.turns.get(session.session_id, [])[request.after_sequence :]:
                    yield G.StreamNarrativeResponse(turn_id=turn.turn_id, sequence=turn.sequence, turn=turn)
                    last = turn.sequence
            if session.state == session_pb2.SESSION_STATE_ENDED:
                return
            while (event := await queue.get()) is not None:
                if event.sequence > last:
                    yield event


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the gameplay service to ``server``."""
    gameplay_pb2_grpc.add_GameplayServiceServicer_to_server(GameplayServicer(world), server)
