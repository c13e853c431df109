"""Reference ``tta.v1.ProgressService``: milestones that move a player's progress.

Each milestone earns points (its own, or a default for its kind). Overall progress is
``points / 10`` percent, capped at 100; the level is ``1 + points // 200``. A goal gains 25 percent per
milestone recorded towards it. The summary also counts completed sessions and averages the moods
reported in the last 30 days (sessions' before/after moods and milestones' mood ratings).
"""

from __future__ import annotations

import grpc
from tta.v1 import progress_pb2, progress_pb2_grpc, session_pb2

from services._errors import Context, invalid_argument, require, translate_errors
from services._paging import paginate
from services.state import World, timestamp

__all__ = ["ProgressServicer", "register", "summarise"]

P = progress_pb2
DEFAULT_POINTS = {
    P.MILESTONE_KIND_STORY: 50,
    P.MILESTONE_KIND_SKILL: 30,
    P.MILESTONE_KIND_THERAPEUTIC: 80,
    P.MILESTONE_KIND_ENGAGEMENT: 20,
}
_MONTH = 30 * 24 * 3600
_RECENT = 5


def summarise(world: World, player_id: str) -> progress_pb2.Progress:
    """A player's progress summary, computed from their milestones and sessions."""
    milestones = world.milestones.get(player_id, [])
    points = sum(m.points for m in milestones)
    counts: dict[str, int] = {}
    goals: dict[str, int] = {}
    for m in milestones:
        counts[P.MilestoneKind.Name(m.kind)] = counts.get(P.MilestoneKind.Name(m.kind), 0) + 1
        if m.goal_id:
            goals[m.goal_id] = goals.get(m.goal_id, 0) + 1
    sessions = [s for s in world.sessions.values() if s.player_id == player_id]
    since = world.now() - _MONTH
    moods = [m.mood_rating for m in milestones if m.mood_rating and m.achieve_time.seconds >= since]
    for s in sessions:
        if s.create_time.seconds >= since:
            moods += [mood for mood in (s.mood_before, s.mood_after) if mood]
    latest = max((m.achieve_time.ToNanoseconds() for m in milestones), default=0)
    progress = P.Progress(
        player_id=player_id,
        percent_complete=min(100.0, points / 10),
        level=1 + points // 200,
        points=points,
        milestone_counts=counts,
        goals=[
            P.GoalProgress(goal_id=g, percent_complete=min(100.0, 25.0 * n), milestone_count=n)
            for g, n in sorted(goals.items())
        ],
        recent_milestones=sorted(milestones, key=lambda m: m.achieve_time.ToNanoseconds(), reverse=True)[
            :_RECENT
        ],
        completed_session_count=sum(1 for s in sessions if s.state == session_pb2.SESSION_STATE_ENDED),
        average_mood_30d=round(sum(moods) / len(moods), 2) if moods else 0.0,
    )
    if latest:
        progress.last_activity_time.FromNanoseconds(latest)
    return progress


@translate_errors
class ProgressServicer(progress_pb2_grpc.ProgressServiceServicer):
    """Milestones over ``World.milestones``."""

    def __init__(self, world: World) -> None:
        self._world = world

    async def GetProgress(
        self, request: progress_pb2.GetProgressRequest, context: Context
    ) -> progress_pb2.GetProgressResponse:
        """The player's summary (all zeros before the first milestone)."""
        player = self._world.get_player(request.player_id)
        return P.GetProgressResponse(progress=summarise(self._world, player.player_id))

    async def RecordMilestone(
        self, request: progress_pb2.RecordMilestoneRequest, context: Context
    ) -> progress_pb2.RecordMilestoneResponse:
        """Records a milestone (``title`` and ``kind`` required) and returns the new summary."""
        player = self._world.get_player(request.player_id)
        require("milestone", request.HasField("milestone"))
        given = request.milestone
        require("milestone.title", given.title.strip())
        require("milestone.kind", given.kind)
        if not 0 <= given.mood_rating <= 10:
            raise invalid_argument(
                "milestone.mood_rating", "must be between 1 and 10, or 0 when not reported"
            )
        if given.points < 0:
            raise invalid_argument("milestone.points", "must not be negative")
        if given.session_id:
            self._world.get_session(given.session_id, "milestone.session_id")
        milestone = P.Milestone()
        milestone.CopyFrom(given)
        milestone.milestone_id = self._world.new_id("mi")
        milestone.player_id = player.player_id
        milestone.points = given.points or DEFAULT_POINTS.get(given.kind, 10)
        if not given.HasField("achieve_time"):
            milestone.achieve_time.CopyFrom(timestamp(self._world.now()))
        self._world.milestones.setdefault(player.player_id, []).append(milestone)
        player.last_activity_time = self._world.now()
        return P.RecordMilestoneResponse(
            milestone=milestone, progress=summarise(self._world, player.player_id)
        )

    async def ListMilestones(
        self, request: progress_pb2.ListMilestonesRequest, context: Context
    ) -> progress_pb2.ListMilestonesResponse:
        """A player's milestones of one kind (or all), most recent first."""
        player = self._world.get_player(request.player_id)
        matching = [
            m
            for m in self._world.milestones.get(player.player_id, [])
            if not request.kind or m.kind == request.kind
        ]
        matching.sort(key=lambda m: (m.achieve_time.ToNanoseconds(), m.milestone_id), reverse=True)
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=100)
        return P.ListMilestonesResponse(milestones=page, next_page_token=token)


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the progress service to ``server``."""
    progress_pb2_grpc.add_ProgressServiceServicer_to_server(ProgressServicer(world), server)
