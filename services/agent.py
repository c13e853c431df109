"""Reference ``tta.v1.AgentService``: the fixed agents of ``services._seed`` with canned voices.

Each agent answers in its own voice with a reply built deterministically from the input (the reply
never quotes the input). ``max_output_tokens`` cuts the reply to that many words
(``FINISH_REASON_LENGTH``); input the risk scorer rates high or critical gets a supportive reply with
``FINISH_REASON_SAFETY``. ``StreamAgentReply`` sends the reply word by word, ``World.stream_delay``
apart, then a final event with the finish reason and usage. Unavailable agents are
``FAILED_PRECONDITION``. A "token" here is a word.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator

import grpc
from tta.v1 import agent_pb2, agent_pb2_grpc

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
from services.state import World, timestamp

__all__ = ["AgentServicer", "compose_reply", "register"]

A = agent_pb2
_VOICES = {
    A.AGENT_KIND_NARRATOR: (
        "The wind shifts, and the story leans in to listen.",
        "Somewhere ahead, a light flickers on as if in answer.",
    ),
    A.AGENT_KIND_COMPANION: (
        'Mara pours two cups of tea and slides one across. "Take your time. I\'m listening."',
        'Mara nods slowly. "That sounds like a lot to carry. What would help right now?"',
    ),
    A.AGENT_KIND_THERAPEUTIC_GUIDE: (
        "Let's pause here. What did you notice in your body just then?",
        "Try this: name three things you can see, two you can hear, one you can touch.",
    ),
    A.AGENT_KIND_CLINICAL_ASSISTANT: (
        "Summary draft: the player engaged steadily and practised one coping skill.",
        "Summary draft: engagement was brief; consider a gentler world next time.",
    ),
    A.AGENT_KIND_WORLD_BUILDER: ("A new location takes shape: a greenhouse full of patient seedlings.",),
}
_SAFE_REPLY = (
    "I'm really glad you told me. You deserve support with this right now, and you don't have "
    "to face it alone. Someone from your care team is being let know."
)


def compose_reply(
    agent: agent_pb2.Agent, text: str, max_tokens: int
) -> tuple[list[str], A.FinishReason, int]:
    """Reply fragments (word by word), the finish reason, and the input token count."""
    input_tokens = len(text.split())
    if score_text(text).escalates:
        words, reason = re.findall(r"\S+\s*", _SAFE_REPLY), A.FINISH_REASON_SAFETY
    else:
        voice = _VOICES[agent.kind]
        pick = hashlib.sha256(text.casefold().encode()).digest()[0] % len(voice)
        words, reason = re.findall(r"\S+\s*", voice[pick]), A.FINISH_REASON_COMPLETE
        if max_tokens and len(words) > max_tokens:
            words, reason = words[:max_tokens], A.FINISH_REASON_LENGTH
    words[-1] = words[-1].rstrip()
    return words, reason, input_tokens


@translate_errors
class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    """The agent catalogue of ``World.agents`` and their replies."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _ready(self, agent_id: str, text: str, max_tokens: int) -> agent_pb2.Agent:
        require("agent_id", agent_id)
        agent = self._world.agents.get(agent_id)
        if agent is None:
            raise not_found("agent", agent_id)
        if not agent.available:
            raise failed_precondition(f'agent "{agent_id}" is not available right now')
        require("input", text.strip())
        if max_tokens < 0:
            raise invalid_argument("max_output_tokens", "must not be negative")
        return agent

    async def ListAgents(
        self, request: agent_pb2.ListAgentsRequest, context: Context
    ) -> agent_pb2.ListAgentsResponse:
        """The catalogue, optionally of one kind."""
        matching = [a for a in self._world.agents.values() if not request.kind or a.kind == request.kind]
        page, token = paginate(matching, request.page_size, request.page_token, default_size=50, max_size=100)
        return A.ListAgentsResponse(agents=page, next_page_token=token)

    async def InvokeAgent(
        self, request: agent_pb2.InvokeAgentRequest, context: Context
    ) -> agent_pb2.InvokeAgentResponse:
        """The agent's complete reply."""
        agent = self._ready(request.agent_id, request.input, request.max_output_tokens)
        words, reason, input_tokens = compose_reply(agent, request.input, request.max_output_tokens)
        return A.InvokeAgentResponse(
            agent_id=agent.agent_id,
            reply="".join(words),
            finish_reason=reason,
            usage=A.TokenUsage(input_tokens=input_tokens, output_tokens=len(words)),
            create_time=timestamp(self._world.now()),
        )

    async def StreamAgentReply(
        self, request: agent_pb2.StreamAgentReplyRequest, context: Context
    ) -> AsyncIterator[agent_pb2.StreamAgentReplyResponse]:
        """The reply word by word, then the finish reason and usage."""
        agent = self._ready(request.agent_id, request.input, request.max_output_tokens)
        words, reason, input_tokens = compose_reply(agent, request.input, request.max_output_tokens)
        await open_stream(context)
        sequence = 0
        for word in words:
            sequence += 1
            yield A.StreamAgentReplyResponse(text_delta=word, sequence=sequence)
            await asyncio.sleep(self._world.stream_delay)  # also where a client's cancellation lands
        yield A.StreamAgentReplyResponse(
            finish_reason=reason,
            usage=A.TokenUsage(input_tokens=input_tokens, output_tokens=len(words)),
            sequence=sequence + 1,
        )


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the agent service to ``server``."""
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(world), server)
