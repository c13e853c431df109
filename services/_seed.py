"""Seed content of a fresh :class:`services.state.World`: the world catalogue, the agents, a demo player.

The worlds are small but complete (themes, difficulty, locations with exits), so gameplay can move a
character around and offer choices derived from the exits of where it stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf import timestamp_pb2
from tta.v1 import agent_pb2, world_pb2

if TYPE_CHECKING:
    from services.state import PlayerRecord

__all__ = ["DEMO_PLAYER_ID", "agents", "players", "worlds"]

DEMO_PLAYER_ID = "pl_demo"


def _location(location_id: str, name: str, description: str, *exits: str) -> world_pb2.Location:
    return world_pb2.Location(
        location_id=location_id, name=name, description=description, exit_location_ids=list(exits)
    )


def worlds(published: timestamp_pb2.Timestamp) -> list[world_pb2.World]:
    """Three published worlds of increasing difficulty."""
    harbour = world_pb2.World(
        world_id="wd_quiet_harbour",
        title="The Quiet Harbour",
        summary="A fishing village where the fog rolls in each evening. Help the keeper relight the "
        "lighthouse, one small brave step at a time.",
        themes=[world_pb2.THERAPEUTIC_THEME_ANXIETY, world_pb2.THERAPEUTIC_THEME_MINDFULNESS],
        difficulty=world_pb2.WORLD_DIFFICULTY_GENTLE,
        content_warnings=["storms at sea"],
        estimated_session_minutes=25,
        starting_location_id="quay",
        minimum_age=12,
        labels={"setting": "coastal"},
        locations=[
            _location(
                "quay",
                "The Quay",
                "Boats knock gently against the stones; gulls circle overhead.",
                "market",
                "lighthouse",
            ),
            _location(
                "market",
                "The Fish Market",
                "Stalls, chatter, and the smell of salt and smoke.",
                "quay",
                "tea_room",
            ),
            _location(
                "tea_room",
                "Mara's Tea Room",
                "A warm room with mismatched cups and a crackling fire.",
                "market",
            ),
            _location("lighthouse", "The Lighthouse", "A spiral stair climbs towards a dark lamp.", "quay"),
        ],
    )
    woods = world_pb2.World(
        world_id="wd_lantern_woods",
        title="The Lantern Woods",
        summary="Travellers leave lanterns for the people they have lost. Walk the woods and find the "
        "words for your own.",
        themes=[world_pb2.THERAPEUTIC_THEME_GRIEF, world_pb2.THERAPEUTIC_THEME_SOCIAL_CONNECTION],
        difficulty=world_pb2.WORLD_DIFFICULTY_MODERATE,
        content_warnings=["loss of a loved one", "loss of a pet"],
        estimated_session_minutes=40,
        starting_location_id="gate",
        minimum_age=14,
        labels={"setting": "forest"},
        locations=[
            _location("gate", "The Mossy Gate", "An old gate, unlatched, hung with ribbons.", "path"),
            _location(
                "path",
                "The Lantern Path",
                "Hundreds of small lights sway between the trees.",
                "gate",
                "clearing",
            ),
            _location(
                "clearing", "The Still Clearing", "A quiet circle of grass around a single oak.", "path"
            ),
        ],
    )
    peaks = world_pb2.World(
        world_id="wd_ember_peaks",
        title="The Ember Peaks",
        summary="A volcano that rumbles when the village quarrels. Learn to cool the fire before it spreads.",
        themes=[world_pb2.THERAPEUTIC_THEME_ANGER, world_pb2.THERAPEUTIC_THEME_RESILIENCE],
        difficulty=world_pb2.WORLD_DIFFICULTY_CHALLENGING,
        content_warnings=["arguments", "natural disaster"],
        estimated_session_minutes=45,
        starting_location_id="village",
        minimum_age=16,
        labels={"setting": "mountain"},
        locations=[
            _location(
                "village", "Cinder Village", "Ash on the rooftops; neighbours not speaking.", "springs"
            ),
            _location(
                "springs", "The Cooling Springs", "Steam rises from still blue pools.", "village", "crater"
            ),
            _location(
                "crater", "The Crater's Edge", "The ground is warm underfoot; the air hums.", "springs"
            ),
        ],
    )
    for w in (harbour, woods, peaks):
        w.publish_time.CopyFrom(published)
    return [harbour, woods, peaks]


def agents() -> list[agent_pb2.Agent]:
    """The platform's fixed agents; the world builder is listed but not serving."""
    return [
        agent_pb2.Agent(
            agent_id="ag_narrator",
            display_name="The Narrator",
            kind=agent_pb2.AGENT_KIND_NARRATOR,
            description="Tells the story and answers the player's actions.",
            capabilities=["narrate"],
            allowed_roles=["player", "therapist", "admin", "service"],
            available=True,
        ),
        agent_pb2.Agent(
            agent_id="ag_mara",
            display_name="Mara",
            kind=agent_pb2.AGENT_KIND_COMPANION,
            description="The harbour's tea-room keeper, who listens more than she talks.",
            capabilities=["converse"],
            allowed_roles=["player", "therapist", "admin"],
            available=True,
        ),
        agent_pb2.Agent(
            agent_id="ag_guide",
            display_name="The Guide",
            kind=agent_pb2.AGENT_KIND_THERAPEUTIC_GUIDE,
            description="Suggests reflective prompts and coping exercises.",
            capabilities=["reflect", "breathe"],
            allowed_roles=["player", "therapist", "admin"],
            available=True,
        ),
        agent_pb2.Agent(
            agent_id="ag_clinical_assistant",
            display_name="Clinical Assistant",
            kind=agent_pb2.AGENT_KIND_CLINICAL_ASSISTANT,
            description="Summarises sessions and drafts notes for therapists.",
            capabilities=["summarise"],
            allowed_roles=["therapist", "admin"],
            available=True,
        ),
        agent_pb2.Agent(
            agent_id="ag_world_builder",
            display_name="World Builder",
            kind=agent_pb2.AGENT_KIND_WORLD_BUILDER,
            description="Drafts new locations for content authors.",
            capabilities=["build"],
            allowed_roles=["admin"],
            available=False,
        ),
    ]


def players(now: float) -> list[PlayerRecord]:
    """One demo player (``pl_demo``), so a fresh demo has someone to play as."""
    from services.state import PlayerRecord  # state imports this module; avoid the cycle at import time

    return [
        PlayerRecord(
            player_id=DEMO_PLAYER_ID,
            given_name="Alex",
            preferred_name="Alex",
            pronouns="they/them",
            email="alex@example.org",
            email_verified=True,
            locale="en-GB",
            time_zone="Europe/London",
            care_team_ids=["st_therapist"],
            create_time=now,
            update_time=now,
            last_activity_time=now,
        ),
    ]
