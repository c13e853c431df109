"""Reference ``tta.v1.SafetyService``: keyword risk scoring, escalations and the clinicians' queue.

``AssessContent`` scores text with :func:`services._risk.score_text`. High and critical risk (for
example "want to die", "kill myself", "hurt myself") is escalated: an open escalation is recorded and
crisis resources for the player's region are returned. ``ListEscalations`` orders the queue most
urgent, then oldest, first. ``AcknowledgeEscalation`` keeps the first acknowledgement; the
acknowledging clinician is the ``x-tta-subject`` metadata of the call when present.
Nothing here logs the assessed text.
"""

from __future__ import annotations

import grpc
from tta.v1 import safety_pb2, safety_pb2_grpc

from services._caller import CURRENT
from services._errors import Context, invalid_argument, not_found, require, translate_errors
from services._paging import paginate
from services._risk import Assessment, action_for, score_text
from services.state import World, timestamp

__all__ = ["SafetyServicer", "crisis_resources", "open_escalation", "register"]

_RESOURCES = {
    "GB": [
        safety_pb2.CrisisResource(
            name="Samaritans",
            phone="+44116123",
            url="https://www.samaritans.org",
            region_code="GB",
            available_24h=True,
        )
    ],
    "US": [
        safety_pb2.CrisisResource(
            name="988 Suicide & Crisis Lifeline",
            phone="+1988",
            url="https://988lifeline.org",
            region_code="US",
            available_24h=True,
        )
    ],
}
_INTERNATIONAL = safety_pb2.CrisisResource(
    name="Find A Helpline", url="https://findahelpline.com", available_24h=True
)
_OPEN_STATES = (safety_pb2.ESCALATION_STATE_OPEN, safety_pb2.ESCALATION_STATE_ACKNOWLEDGED)


def crisis_resources(region_code: str) -> list[safety_pb2.CrisisResource]:
    """Crisis services for a region, always ending with an international directory."""
    return [*_RESOURCES.get(region_code.upper(), []), _INTERNATIONAL]


def open_escalation(
    world: World,
    assessment: Assessment,
    player_id: str,
    session_id: str,
    source: safety_pb2.ContentSource,
) -> safety_pb2.Escalation:
    """Record an open escalation for ``assessment`` (also used by gameplay for crisis actions)."""
    escalation = safety_pb2.Escalation(
        escalation_id=world.new_id("es"),
        player_id=player_id,
        session_id=session_id,
        risk_level=assessment.level,
        categories=assessment.categories,
        source=source,
        excerpt=assessment.excerpt,
        details=f"matched {len(assessment.matched)} risk phrase(s): {', '.join(assessment.matched)}",
        state=safety_pb2.ESCALATION_STATE_OPEN,
        create_time=timestamp(world.now()),
    )
    world.escalations[escalation.escalation_id] = escalation
    return escalation


@translate_errors
class SafetyServicer(safety_pb2_grpc.SafetyServiceServicer):
    """Assessments and escalations over ``World.escalations``."""

    def __init__(self, world: World) -> None:
        self._world = world

    async def AssessContent(
        self, request: safety_pb2.AssessContentRequest, context: Context
    ) -> safety_pb2.AssessContentResponse:
        """Scores the text; escalates high and critical risk."""
        require("text", request.text.strip())
        region = request.region_code
        if region and (len(region) != 2 or not region.isalpha()):
            raise invalid_argument("region_code", "must be an ISO 3166-1 alpha-2 code such as GB")
        assessment = score_text(request.text)
        action = action_for(assessment.level)
        response = safety_pb2.AssessContentResponse(
            risk_level=assessment.level,
            categories=assessment.categories,
            action=action,
            rationale=(
                f"matched risk phrases: {', '.join(assessment.matched)}"
                if assessment.matched
                else "no risk phrases found"
            ),
            confidence=0.9 if assessment.matched else 0.6,
        )
        if assessment.escalates:
            escalation = open_escalation(
                self._world, assessment, request.player_id, request.session_id, request.source
            )
            response.escalation_id = escalation.escalation_id
            response.crisis_resources.extend(crisis_resources(region))
        return response

    async def ListEscalations(
        self, request: safety_pb2.ListEscalationsRequest, context: Context
    ) -> safety_pb2.ListEscalationsResponse:
        """The queue, most urgent and then oldest first, with the open count of the filtered set."""
        states = (request.state,) if request.state else _OPEN_STATES
        matching = [
            e
            for e in self._world.escalations.values()
            if e.state in states
            and e.risk_level >= request.minimum_risk_level
            and (not request.player_id or e.player_id == request.player_id)
            and (not request.session_id or e.session_id == request.session_id)
        ]
        matching.sort(key=lambda e: (-e.risk_level, e.create_time.ToNanoseconds(), e.escalation_id))
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=100)
        open_count = sum(1 for e in matching if e.state == safety_pb2.ESCALATION_STATE_OPEN)
        return safety_pb2.ListEscalationsResponse(
            escalations=page, next_page_token=token, open_count=open_count
        )

    async def AcknowledgeEscalation(
        self, request: safety_pb2.AcknowledgeEscalationRequest, context: Context
    ) -> safety_pb2.AcknowledgeEscalationResponse:
        """Marks an open escalation acknowledged; later acknowledgements change nothing."""
        require("escalation_id", request.escalation_id)
        escalation = self._world.escalations.get(request.escalation_id)
        if escalation is None:
            raise not_found("escalation", request.escalation_id)
        if escalation.state == safety_pb2.ESCALATION_STATE_OPEN:
            escalation.state = safety_pb2.ESCALATION_STATE_ACKNOWLEDGED
            escalation.acknowledged_by = CURRENT.get().subject or "on-call"
            escalation.acknowledgement_note = request.note
            escalation.acknowledge_time.CopyFrom(timestamp(self._world.now()))
        return safety_pb2.AcknowledgeEscalationResponse(escalation=escalation)


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the safety service to ``server``."""
    safety_pb2_grpc.add_SafetyServiceServicer_to_server(SafetyServicer(world), server)
