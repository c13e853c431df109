"""The reference TTA services, called over real loopback gRPC with grpc.aio stubs."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tta.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    character_pb2,
    character_pb2_grpc,
    chat_pb2,
    chat_pb2_grpc,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    gameplay_pb2,
    gameplay_pb2_grpc,
    player_pb2,
    player_pb2_grpc,
    progress_pb2,
    progress_pb2_grpc,
    safety_pb2,
    safety_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)
from tta.v2 import player_pb2 as player_v2_pb2
from tta.v2 import player_pb2_grpc as player_v2_pb2_grpc

from services.catalog import REFERENCE_SERVICES
from services.diagnostics import MAX_STREAM_ECHO_COUNT, MAX_STREAM_ECHO_PAYLOAD
from services.server import RunningFleet, start_service
from services.state import World

ROOT = Path(__file__).resolve().parents[3]
WAIT = 5.0  # seconds any single wait in these tests may take before it is a failure


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until ``condition`` holds, e.g. a stream has subscribed on the server."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 -- the state lives in servicers, which signal nothing
            await asyncio.sleep(0.01)


def bad_request(err: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest:
    """The ``google.rpc.BadRequest`` detail carried in the status trailer."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                request = error_details_pb2.BadRequest()
                if detail.Unpack(request):
                    return request
    raise AssertionError("no BadRequest detail")


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The ``google.rpc.ErrorInfo`` detail carried in the status trailer."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    raise AssertionError("no ErrorInfo detail")


async def new_player(channels: dict[str, grpc.aio.Channel], name: str = "Sam", email: str = "") -> str:
    stub = player_pb2_grpc.PlayerServiceStub(channels["player"])
    created = await stub.CreatePlayer(
        player_pb2.CreatePlayerRequest(
            player=player_pb2.Player(display_name=name, email=email, locale="en-GB")
        )
    )
    return created.player.player_id


async def active_session(
    channels: dict[str, grpc.aio.Channel], with_character: bool = True
) -> tuple[str, str]:
    player_id = await new_player(channels)
    character_id = ""
    if with_character:
        created = await character_pb2_grpc.CharacterServiceStub(channels["character"]).CreateCharacter(
            character_pb2.CreateCharacterRequest(
                player_id=player_id,
                character=character_pb2.Character(
                    name="Wren", world_id="wd_quiet_harbour", traits={"courage": 4}
                ),
            )
        )
        character_id = created.character.character_id
    sessions = session_pb2_grpc.SessionServiceStub(channels["session"])
    created_session = await sessions.CreateSession(
        session_pb2.CreateSessionRequest(
            session=session_pb2.Session(
                player_id=player_id, world_id="wd_quiet_harbour", character_id=character_id
            )
        )
    )
    session_id = created_session.session.session_id
    await sessions.StartSession(session_pb2.StartSessionRequest(session_id=session_id, mood_before=5))
    return session_id, player_id


async def test_player_crud(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = player_pb2_grpc.PlayerServiceStub(channels["player"])
    player_id = await new_player(channels, "Robin", "robin@example.org")

    got = await stub.GetPlayer(player_pb2.GetPlayerRequest(player_id=player_id))
    assert (got.player.display_name, got.player.state) == ("Robin", player_pb2.PLAYER_STATE_ACTIVE)

    updated = await stub.UpdatePlayer(
        player_pb2.UpdatePlayerRequest(
            player=player_pb2.Player(player_id=player_id, display_name="Rob", locale="fr-FR"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    assert (updated.player.display_name, updated.player.locale) == ("Rob", "en-GB")

    listed = await stub.ListPlayers(player_pb2.ListPlayersRequest(page_size=1))
    assert listed.players[0].player_id == player_id  # newest first
    assert listed.total_size == 2
    assert listed.next_page_token
    second = await stub.ListPlayers(
        player_pb2.ListPlayersRequest(page_size=1, page_token=listed.next_page_token)
    )
    assert second.players[0].player_id == "pl_demo"
    assert not second.next_page_token

    with pytest.raises(grpc.aio.AioRpcError) as dup:
        await stub.CreatePlayer(
            player_pb2.CreatePlayerRequest(
                player=player_pb2.Player(display_name="X", email="ROBIN@example.org")
            )
        )
    assert dup.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "robin" not in (dup.value.details() or "").lower()  # never echo personal data

    deleted = await stub.DeletePlayer(player_pb2.DeletePlayerRequest(player_id=player_id))
    again = await stub.DeletePlayer(player_pb2.DeletePlayerRequest(player_id=player_id))
    assert deleted.purge_time == again.purge_time
    got = await stub.GetPlayer(player_pb2.GetPlayerRequest(player_id=player_id))
    assert got.player.state == player_pb2.PLAYER_STATE_DELETED


async def test_v2_player_get_maps_the_v1_record(channels: dict[str, grpc.aio.Channel]) -> None:
    player_id = await new_player(channels, "Jo", "jo@example.org")
    v2 = player_v2_pb2_grpc.PlayerServiceStub(channels["player_v2"])
    got = await v2.GetPlayer(player_v2_pb2.GetPlayerRequest(player_id=player_id))
    assert got.player.profile.preferred_name == "Jo"
    assert got.player.profile.locale == "en-GB"
    assert got.player.contact.email_address == "jo@example.org"

    await v2.UpdatePlayer(
        player_v2_pb2.UpdatePlayerRequest(
            player=player_v2_pb2.Player(
                player_id=player_id, profile=player_v2_pb2.PlayerProfile(preferred_name="Joanna")
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["profile.preferred_name"]),
        )
    )
    v1 = await player_pb2_grpc.PlayerServiceStub(channels["player"]).GetPlayer(
        player_pb2.GetPlayerRequest(player_id=player_id)
    )
    assert v1.player.display_name == "Joanna"


async def test_session_lifecycle_with_an_invalid_transition(channels: dict[str, grpc.aio.Channel]) -> None:
    player_id = await new_player(channels)
    stub = session_pb2_grpc.SessionServiceStub(channels["session"])
    created = await stub.CreateSession(
        session_pb2.CreateSessionRequest(
            session=session_pb2.Session(
                player_id=player_id, world_id="wd_lantern_woods", therapist_id="st_therapist"
            )
        )
    )
    session_id = created.session.session_id
    assert created.session.state == session_pb2.SESSION_STATE_SCHEDULED

    with pytest.raises(grpc.aio.AioRpcError) as early:
        await stub.PauseSession(session_pb2.PauseSessionRequest(session_id=session_id))
    assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert early.value.details() == (
        f'session "{session_id}" is SESSION_STATE_SCHEDULED; cannot pause it '
        "(allowed from SESSION_STATE_ACTIVE, SESSION_STATE_PAUSED)"
    )

    started = await stub.StartSession(session_pb2.StartSessionRequest(session_id=session_id, mood_before=4))
    assert started.session.state == session_pb2.SESSION_STATE_ACTIVE
    assert started.session.HasField("start_time")
    paused = await stub.PauseSession(session_pb2.PauseSessionRequest(session_id=session_id, reason="break"))
    assert paused.session.state == session_pb2.SESSION_STATE_PAUSED
    again = await stub.PauseSession(session_pb2.PauseSessionRequest(session_id=session_id))
    assert again.session.state == session_pb2.SESSION_STATE_PAUSED
    assert (
        await stub.StartSession(session_pb2.StartSessionRequest(session_id=session_id))
    ).session.state == (session_pb2.SESSION_STATE_ACTIVE)
    ended = await stub.EndSession(session_pb2.EndSessionRequest(session_id=session_id, mood_after=7))
    assert ended.session.state == session_pb2.SESSION_STATE_ENDED
    assert ended.session.mood_after == 7

    with pytest.raises(grpc.aio.AioRpcError) as late:
        await stub.StartSession(session_pb2.StartSessionRequest(session_id=session_id))
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "SESSION_STATE_ENDED" in (late.value.details() or "")

    people = await stub.ListParticipants(session_pb2.ListParticipantsRequest(session_id=session_id))
    assert [p.role for p in people.participants] == [
        session_pb2.PARTICIPANT_ROLE_PLAYER,
        session_pb2.PARTICIPANT_ROLE_THERAPIST,
    ]


async def test_submit_action_streams_narrative(channels: dict[str, grpc.aio.Channel], world: World) -> None:
    session_id, _ = await active_session(channels)
    stub = gameplay_pb2_grpc.GameplayServiceStub(channels["gameplay"])
    stream = stub.StreamNarrative(gameplay_pb2.StreamNarrativeRequest(session_id=session_id))
    await until(lambda: world.narrative.subscriber_count(session_id) == 1)

    first = await stub.SubmitAction(
        gameplay_pb2.SubmitActionRequest(session_id=session_id, text="I wave at the gulls")
    )
    assert first.turn.sequence == 1
    assert first.turn.narration
    assert first.turn.location_id == "quay"
    assert [c.choice_id for c in first.turn.choices] == ["go:market", "go:lighthouse", "breathe", "look"]

    moved = await stub.SubmitAction(
        gameplay_pb2.SubmitActionRequest(session_id=session_id, choice_id="go:lighthouse")
    )
    assert moved.turn.location_id == "lighthouse"
    assert moved.turn.action_text == "Head to The Lighthouse"

    deltas: dict[int, str] = {}
    completed: list[gameplay_pb2.Turn] = []
    async with asyncio.timeout(WAIT):
        async for event in stream:
            if event.WhichOneof("event") == "text_delta":
                deltas[event.sequence] = deltas.get(event.sequence, "") + event.text_delta
            else:
                completed.append(event.turn)
            if len(completed) == 2:
                break
    assert [t.turn_id for t in completed] == [first.turn.turn_id, moved.turn.turn_id]
    assert deltas == {1: first.turn.narration, 2: moved.turn.narration}
    stream.cancel()
    await until(lambda: world.narrative.subscriber_count() == 0)

    # a reconnecting client replays what it missed, and the stream ends with the session
    replay = stub.StreamNarrative(
        gameplay_pb2.StreamNarrativeRequest(session_id=session_id, after_sequence=1)
    )
    await until(lambda: world.narrative.subscriber_count(session_id) == 1)
    await session_pb2_grpc.SessionServiceStub(channels["session"]).EndSession(
        session_pb2.EndSessionRequest(session_id=session_id)
    )
    async with asyncio.timeout(WAIT):
        events = [e async for e in replay]
    assert [e.turn.sequence for e in events] == [2]

    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await stub.SubmitAction(gameplay_pb2.SubmitActionRequest(session_id=session_id, text="one more"))
    assert ended.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_same_action_same_place_reads_the_same(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = gameplay_pb2_grpc.GameplayServiceStub(channels["gameplay"])
    turns = []
    for _ in range(2):
        session_id, _ = await active_session(channels, with_character=False)
        turn = await stub.SubmitAction(
            gameplay_pb2.SubmitActionRequest(session_id=session_id, text="I sit down")
        )
        turns.append(turn.turn)
    assert (turns[0].narration, turns[0].outcome) == (turns[1].narration, turns[1].outcome)


async def test_watch_room_sees_send_message_and_chat(
    channels: dict[str, grpc.aio.Channel], world: World
) -> None:
    session_id, player_id = await active_session(channels)
    stub = chat_pb2_grpc.ChatServiceStub(channels["chat"])
    watch = stub.WatchRoom(chat_pb2.WatchRoomRequest(session_id=session_id))
    await until(lambda: world.rooms.subscriber_count(session_id) == 1)

    sent = await stub.SendMessage(
        chat_pb2.SendMessageRequest(session_id=session_id, client_message_id="c-1", text="hello, room")
    )
    assert sent.message.sequence == 1
    assert sent.message.sender_id == player_id
    resent = await stub.SendMessage(
        chat_pb2.SendMessageRequest(session_id=session_id, client_message_id="c-1", text="hello, room")
    )
    assert resent.message.message_id == sent.message.message_id  # a retry is not posted twice

    chat = stub.Chat()
    await chat.write(
        chat_pb2.ChatRequest(session_id=session_id, client_message_id="c-2", text="from the bidi")
    )
    async with asyncio.timeout(WAIT):
        own = await chat.read()
    assert own.message.text == "from the bidi"
    assert own.message.client_message_id == "c-2"
    await chat.done_writing()
    async with asyncio.timeout(WAIT):
        assert await chat.read() is grpc.aio.EOF
        assert await chat.code() == grpc.StatusCode.OK

    async with asyncio.timeout(WAIT):
        watched = [(await watch.read()).message.text for _ in range(2)]
    assert watched == ["hello, room", "from the bidi"]
    watch.cancel()
    await until(lambda: world.rooms.subscriber_count() == 0)

    listed = await stub.ListMessages(chat_pb2.ListMessagesRequest(session_id=session_id, page_size=1))
    assert listed.messages[0].text == "hello, room"
    assert listed.next_page_token
    rest = await stub.ListMessages(chat_pb2.ListMessagesRequest(session_id=session_id, after_sequence=1))
    assert [m.text for m in rest.messages] == ["from the bidi"]


async def test_chat_stream_without_text_fails_and_unsubscribes(
    channels: dict[str, grpc.aio.Channel], world: World
) -> None:
    session_id, _ = await active_session(channels)
    chat = chat_pb2_grpc.ChatServiceStub(channels["chat"]).Chat()
    await chat.write(chat_pb2.ChatRequest(session_id=session_id, text=""))
    async with asyncio.timeout(WAIT):
        code = await chat.code()
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert await chat.details() == "text: is required"
    await until(lambda: world.rooms.subscriber_count() == 0)


async def test_cancelled_chat_stream_leaves_nothing_behind(
    channels: dict[str, grpc.aio.Channel], world: World
) -> None:
    session_id, _ = await active_session(channels)
    chat = chat_pb2_grpc.ChatServiceStub(channels["chat"]).Chat()
    await chat.write(chat_pb2.ChatRequest(session_id=session_id, text="still here?"))
    async with asyncio.timeout(WAIT):
        assert (await chat.read()).message.text == "still here?"
    tasks_before = len(asyncio.all_tasks())
    chat.cancel()
    await until(lambda: world.rooms.subscriber_count() == 0)
    assert len(asyncio.all_tasks()) <= tasks_before


async def test_import_messages_counts_and_skips(channels: dict[str, grpc.aio.Channel]) -> None:
    session_id, _ = await active_session(channels)
    stub = chat_pb2_grpc.ChatServiceStub(channels["chat"])

    def transcript(ids: list[str]) -> list[chat_pb2.ImportMessagesRequest]:
        return [
            chat_pb2.ImportMessagesRequest(
                session_id=session_id if i == 0 else "",
                external_id=ext,
                sender_id="st_therapist",
                sender_kind=chat_pb2.SENDER_KIND_THERAPIST,
                text=f"line {ext}",
            )
            for i, ext in enumerate(ids)
        ]

    first = await stub.ImportMessages(iter(transcript(["a", "b", "c"])))
    assert (first.imported_count, first.skipped_count, first.last_sequence) == (3, 0, 3)
    second = await stub.ImportMessages(iter(transcript(["c", "d"])))
    assert (second.imported_count, second.skipped_count, second.last_sequence) == (1, 1, 4)


async def test_crisis_text_raises_an_escalation(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = safety_pb2_grpc.SafetyServiceStub(channels["safety"])
    calm = await stub.AssessContent(safety_pb2.AssessContentRequest(text="The harbour is lovely today."))
    assert (calm.risk_level, calm.action, calm.escalation_id) == (
        safety_pb2.RISK_LEVEL_NONE,
        safety_pb2.SAFETY_ACTION_ALLOW,
        "",
    )

    crisis = await stub.AssessContent(
        safety_pb2.AssessContentRequest(
            text="Honestly some days I want to die.",
            player_id="pl_demo",
            region_code="GB",
            source=safety_pb2.CONTENT_SOURCE_CHAT,
        )
    )
    assert crisis.risk_level == safety_pb2.RISK_LEVEL_CRITICAL
    assert crisis.action == safety_pb2.SAFETY_ACTION_ESCALATE
    assert safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION in crisis.categories
    assert crisis.escalation_id
    assert crisis.crisis_resources[0].name == "Samaritans"

    hurt = await stub.AssessContent(
        safety_pb2.AssessContentRequest(text="I might hurt myself", player_id="pl_demo")
    )
    assert hurt.risk_level == safety_pb2.RISK_LEVEL_HIGH
    assert hurt.escalation_id

    queue = await stub.ListEscalations(safety_pb2.ListEscalationsRequest(player_id="pl_demo"))
    assert [e.escalation_id for e in queue.escalations] == [crisis.escalation_id, hurt.escalation_id]
    assert queue.open_count == 2

    acked = await stub.AcknowledgeEscalation(
        safety_pb2.AcknowledgeEscalationRequest(escalation_id=crisis.escalation_id, note="called the player"),
        metadata=(("x-tta-subject", "st_therapist"),),
    )
    assert acked.escalation.state == safety_pb2.ESCALATION_STATE_ACKNOWLEDGED
    assert acked.escalation.acknowledged_by == "st_therapist"
    queue = await stub.ListEscalations(safety_pb2.ListEscalationsRequest())
    assert queue.open_count == 1


async def test_crisis_action_in_play_is_redirected(
    channels: dict[str, grpc.aio.Channel], world: World
) -> None:
    session_id, _ = await active_session(channels)
    turn = await gameplay_pb2_grpc.GameplayServiceStub(channels["gameplay"]).SubmitAction(
        gameplay_pb2.SubmitActionRequest(session_id=session_id, text="I want to kill myself")
    )
    assert turn.turn.outcome == gameplay_pb2.ACTION_OUTCOME_REDIRECTED
    assert [e.session_id for e in world.escalations.values()] == [session_id]


async def test_progress_percent_moves(channels: dict[str, grpc.aio.Channel]) -> None:
    player_id = await new_player(channels)
    stub = progress_pb2_grpc.ProgressServiceStub(channels["progress"])
    before = await stub.GetProgress(progress_pb2.GetProgressRequest(player_id=player_id))
    assert before.progress.percent_complete == 0

    recorded = await stub.RecordMilestone(
        progress_pb2.RecordMilestoneRequest(
            player_id=player_id,
            milestone=progress_pb2.Milestone(
                kind=progress_pb2.MILESTONE_KIND_STORY, title="Lit the lighthouse", goal_id="g-courage"
            ),
        )
    )
    assert recorded.milestone.milestone_id
    assert recorded.milestone.points == 50
    assert recorded.progress.percent_complete == 5.0
    assert recorded.progress.goals[0].percent_complete == 25.0
    await stub.RecordMilestone(
        progress_pb2.RecordMilestoneRequest(
            player_id=player_id,
            milestone=progress_pb2.Milestone(
                kind=progress_pb2.MILESTONE_KIND_SKILL, title="Box breathing", points=150
            ),
        )
    )
    after = await stub.GetProgress(progress_pb2.GetProgressRequest(player_id=player_id))
    assert after.progress.percent_complete == 20.0
    assert after.progress.level == 2
    assert dict(after.progress.milestone_counts) == {"MILESTONE_KIND_STORY": 1, "MILESTONE_KIND_SKILL": 1}
    listed = await stub.ListMilestones(progress_pb2.ListMilestonesRequest(player_id=player_id))
    assert [m.title for m in listed.milestones] == ["Box breathing", "Lit the lighthouse"]


async def test_agents_reply_whole_and_streamed(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = agent_pb2_grpc.AgentServiceStub(channels["agent"])
    agents = await stub.ListAgents(agent_pb2.ListAgentsRequest())
    assert {a.agent_id for a in agents.agents} >= {"ag_narrator", "ag_mara", "ag_guide"}

    whole = await stub.InvokeAgent(agent_pb2.InvokeAgentRequest(agent_id="ag_mara", input="I feel stuck"))
    assert whole.finish_reason == agent_pb2.FINISH_REASON_COMPLETE
    assert whole.reply.startswith("Mara")

    events = [
        e
        async for e in stub.StreamAgentReply(
            agent_pb2.StreamAgentReplyRequest(agent_id="ag_mara", input="I feel stuck")
        )
    ]
    assert "".join(e.text_delta for e in events) == whole.reply
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].finish_reason == agent_pb2.FINISH_REASON_COMPLETE
    assert events[-1].usage.output_tokens == len(events) - 1

    cut = await stub.InvokeAgent(
        agent_pb2.InvokeAgentRequest(agent_id="ag_guide", input="hi", max_output_tokens=3)
    )
    assert cut.finish_reason == agent_pb2.FINISH_REASON_LENGTH
    assert len(cut.reply.split()) == 3

    with pytest.raises(grpc.aio.AioRpcError) as busy:
        await stub.InvokeAgent(agent_pb2.InvokeAgentRequest(agent_id="ag_world_builder", input="a cave"))
    assert busy.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_stream_echo_streams_count_copies(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channels["diagnostics"])
    replies = [r async for r in stub.StreamEcho(diagnostics_pb2.StreamEchoRequest(payload=b"\x00e", count=3))]
    assert [(r.index, r.payload) for r in replies] == [(0, b"\x00e"), (1, b"\x00e"), (2, b"\x00e")]
    assert [r async for r in stub.StreamEcho(diagnostics_pb2.StreamEchoRequest(count=0))] == []
    most = stub.StreamEcho(diagnostics_pb2.StreamEchoRequest(count=MAX_STREAM_ECHO_COUNT))
    assert len([r async for r in most]) == MAX_STREAM_ECHO_COUNT


@pytest.mark.parametrize(
    ("count", "fail_after", "sent"),
    [
        (5, 2, 2),  # mid-stream
        (5, 0, 0),  # before the first message
        (5, 5, 5),  # after the last message
        (2, 7, 2),  # fail_after past count: every message, then the error
        (0, 3, 0),
    ],
)
async def test_stream_echo_fails_where_asked(
    channels: dict[str, grpc.aio.Channel], count: int, fail_after: int, sent: int
) -> None:
    stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channels["diagnostics"])
    call = stub.StreamEcho(
        diagnostics_pb2.StreamEchoRequest(payload=b"p", count=count, fail_after=fail_after)
    )
    received: list[int] = []
    try:
        async for reply in call:
            received.append(reply.index)
    except grpc.aio.AioRpcError as err:
        failed = err
    else:
        raise AssertionError("the stream ended well")
    assert received == list(range(sent))
    assert failed.code() == grpc.StatusCode.ABORTED
    assert failed.details() == f"stream failed after {sent} of {count} messages, as requested by fail_after"
    info = error_info(failed)
    assert (info.reason, info.domain) == ("REQUESTED_FAILURE", "diagnostics.tta")
    assert dict(info.metadata) == {"failAfter": str(fail_after), "sent": str(sent)}


async def test_stream_echo_count_is_bounded(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channels["diagnostics"])
    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        async for _ in stub.StreamEcho(diagnostics_pb2.StreamEchoRequest(count=MAX_STREAM_ECHO_COUNT + 1)):
            pass
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert too_many.value.details() == "count: must be at most 100, got 101"
    assert bad_request(too_many.value).field_violations[0].field == "count"
    request = diagnostics_pb2.StreamEchoRequest(count=1, payload=b"x" * (MAX_STREAM_ECHO_PAYLOAD + 1))
    with pytest.raises(grpc.aio.AioRpcError) as too_big:
        async for _ in stub.StreamEcho(request):
            pass
    assert too_big.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert too_big.value.details() == "payload: must be at most 4096 bytes, got 4097"
    async for reply in stub.StreamEcho(
        diagnostics_pb2.StreamEchoRequest(count=1, payload=b"x" * MAX_STREAM_ECHO_PAYLOAD)
    ):
        assert len(reply.payload) == MAX_STREAM_ECHO_PAYLOAD  # the limit itself is allowed


async def test_health_serves_every_service(fleet: RunningFleet) -> None:
    for running in fleet.services.values():
        async with grpc.aio.insecure_channel(running.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", *running.full_names):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


async def test_reflection_lists_the_services() -> None:
    running = await start_service(["player", "session", "diagnostics"])
    try:
        async with grpc.aio.insecure_channel(running.target) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            async with asyncio.timeout(WAIT):
                reply = await call.read()
            listed = {s.name for s in reply.list_services_response.service}
            echo = await diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).Echo(
                diagnostics_pb2.EchoRequest(payload=b"\x00hi")
            )
    finally:
        await running.stop()
    assert listed == {
        "tta.v1.PlayerService",
        "tta.v1.SessionService",
        "tta.v1.DiagnosticsService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert echo.payload == b"\x00hi"


async def test_not_found_and_invalid_argument(channels: dict[str, grpc.aio.Channel]) -> None:
    players = player_pb2_grpc.PlayerServiceStub(channels["player"])
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await players.GetPlayer(player_pb2.GetPlayerRequest(player_id="pl_nobody"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert missing.value.details() == 'player "pl_nobody" not found'

    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await players.CreatePlayer(player_pb2.CreatePlayerRequest(player=player_pb2.Player(email="a@b.org")))
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert invalid.value.details() == "player.display_name: is required"
    violation = bad_request(invalid.value).field_violations[0]
    assert (violation.field, violation.description) == ("player.display_name", "is required")

    with pytest.raises(grpc.aio.AioRpcError) as mask:
        await players.UpdatePlayer(
            player_pb2.UpdatePlayerRequest(
                player=player_pb2.Player(player_id="pl_demo"),
                update_mask=field_mask_pb2.FieldMask(paths=["state"]),
            )
        )
    assert mask.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request(mask.value).field_violations[0].field == "update_mask"

    with pytest.raises(grpc.aio.AioRpcError) as token:
        await players.ListPlayers(player_pb2.ListPlayersRequest(page_token="garbage"))
    assert bad_request(token.value).field_violations[0].field == "page_token"

    characters = character_pb2_grpc.CharacterServiceStub(channels["character"])
    with pytest.raises(grpc.aio.AioRpcError) as world:
        await characters.CreateCharacter(
            character_pb2.CreateCharacterRequest(
                player_id="pl_demo", character=character_pb2.Character(name="Ash", world_id="wd_atlantis")
            )
        )
    assert (world.value.code(), world.value.details()) == (
        grpc.StatusCode.NOT_FOUND,
        'world "wd_atlantis" not found',
    )

    gameplay = gameplay_pb2_grpc.GameplayServiceStub(channels["gameplay"])
    with pytest.raises(grpc.aio.AioRpcError) as stream_missing:
        async for _ in gameplay.StreamNarrative(gameplay_pb2.StreamNarrativeRequest(session_id="se_gone")):
            pass
    assert stream_missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert stream_missing.value.details() == 'session "se_gone" not found'


async def test_stopping_one_service_leaves_the_others(fleet: RunningFleet) -> None:
    assert set(fleet.services) == set(REFERENCE_SERVICES)
    upstreams = fleet.upstreams()
    assert {u["name"] for u in upstreams} == set(REFERENCE_SERVICES)
    assert next(u for u in upstreams if u["name"] == "player_v2")["services"] == ["tta.v2.PlayerService"]
    await fleet.services["agent"].stop()
    async with grpc.aio.insecure_channel(fleet.services["diagnostics"].target) as channel:
        reply = await diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).Echo(
            diagnostics_pb2.EchoRequest(payload=b"x")
        )
    assert reply.payload == b"x"


async def test_unknown_service_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reference service 'players'"):
        await start_service(["players"])


async def test_command_line_serves_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        "diagnostics",
        "world",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()  # type: ignore[union-attr]
        assert line.startswith("serving diagnostics world on 127.0.0.1:"), line
        target = line.split(" on ", 1)[1].strip()
        async with grpc.aio.insecure_channel(target) as channel:
            reply = await diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).Echo(
                diagnostics_pb2.EchoRequest(payload=b"ping")
            )
        assert reply.payload == b"ping"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()


async def test_a_player_lists_only_their_own_sessions(channels: dict[str, grpc.aio.Channel]) -> None:
    """Broken object-level authorisation through a listing: a player who leaves out (or forges) the
    player filter still sees only their own sessions; staff see everyone's."""
    stub = session_pb2_grpc.SessionServiceStub(channels["session"])
    other = await player_pb2_grpc.PlayerServiceStub(channels["player"]).CreatePlayer(
        player_pb2.CreatePlayerRequest(player=player_pb2.Player(display_name="O", email="o@example.org"))
    )
    pl_other = other.player.player_id
    for player in ("pl_demo", pl_other):
        await stub.CreateSession(
            session_pb2.CreateSessionRequest(
                session=session_pb2.Session(player_id=player, world_id="wd_quiet_harbour")
            )
        )
    as_player = (("x-tta-subject", "pl_demo"), ("x-tta-roles", "player"))
    for request in (session_pb2.ListSessionsRequest(), session_pb2.ListSessionsRequest(player_id=pl_other)):
        mine = await stub.ListSessions(request, metadata=as_player)
        assert {s.player_id for s in mine.sessions} == {"pl_demo"}
    as_therapist = (("x-tta-subject", "st_therapist"), ("x-tta-roles", "therapist"))
    everyone = await stub.ListSessions(session_pb2.ListSessionsRequest(), metadata=as_therapist)
    assert {s.player_id for s in everyone.sessions} >= {"pl_demo", pl_other}
