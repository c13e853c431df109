"""Clinical roles and research access on every door (R4.4, decision 0012).

A real gateway with ``auth.enabled`` in front of the typed upstream, which here also serves the
escalation queue and session listings with identified, PHI-bearing answers. Each case runs through the
gRPC door and the REST door and must give the same answer on both:

- the escalation queue is for therapists (and supervisors, who are therapists): an admin is refused;
- a researcher's answers come back with ``phi`` fields cleared and ``owner`` ids pseudonymised, the same
  pseudonym for the same player on both doors and on every call, on unary answers and on every message
  of a stream; a therapist asking the same gets the upstream's answer untouched (the control that shows
  the researcher's assertions can fail);
- a researcher naming a player is refused by the ownership step before the upstream is called.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.message import Message
from tta.v1 import safety_pb2, session_pb2

from gateway.app import Gateway
from gateway.config import Settings
from gateway.identity.mint import generate_dev_keypair
from gateway.policies.anonymise import pseudonym, pseudonym_key
from tests.integration.parity.doors import DoorClient, GrpcClient, HttpClient, Outcome, _headers
from tests.integration.parity.test_identity_parity import AUDIENCE, ISSUER, World, _auth
from tests.integration.parity.typed_upstream import GET_PLAYER, WATCH, TypedUpstream, start_typed_upstream

LIST_SESSIONS = "/tta.v1.SessionService/ListSessions"
GET_SESSION = "/tta.v1.SessionService/GetSession"
LIST_ESCALATIONS = "/tta.v1.SafetyService/ListEscalations"
ACKNOWLEDGE = "/tta.v1.SafetyService/AcknowledgeEscalation"
ASSESS = "/tta.v1.SafetyService/AssessContent"
SECRET = "pseudonym secret of the test deployment"
KEY = pseudonym_key(SECRET.encode())  # what any gateway configured with SECRET uses, in any process

NOTES = "talked about the accident"


def _session(player_id: str, n: int) -> session_pb2.Session:
    return session_pb2.Session(
        session_id=f"se_{n}",
        player_id=player_id,
        therapist_id="st_therapist",
        goals=["sleep through the night"],
        notes=NOTES,
        mood_before=3,
        mood_after=6,
        turn_count=n,
    )


class ClinicUpstream(TypedUpstream):
    """The typed upstream plus the session listing and the escalation queue, answering with
    identified data the way a real service would for a caller it lets in."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = [_session("pl_bob", 1), _session("pl_carol", 2), _session("pl_bob", 3)]

    async def list_sessions(
        self, request: session_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> session_pb2.ListSessionsResponse:
        self._count(LIST_SESSIONS)
        found = [s for s in self.sessions if not request.player_id or s.player_id == request.player_id]
        return session_pb2.ListSessionsResponse(sessions=found, next_page_token="page-2")

    async def get_session(
        self, request: session_pb2.GetSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> session_pb2.GetSessionResponse:
        self._count(GET_SESSION)
        return session_pb2.GetSessionResponse(
            session=next(s for s in self.sessions if s.session_id == request.session_id)
        )

    async def list_escalations(
        self, request: safety_pb2.ListEscalationsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> safety_pb2.ListEscalationsResponse:
        self._count(LIST_ESCALATIONS)
        escalation = safety_pb2.Escalation(
            escalation_id="es_1",
            player_id="pl_bob",
            excerpt="I can't go on",
            state=safety_pb2.ESCALATION_STATE_OPEN,
        )
        return safety_pb2.ListEscalationsResponse(escalations=[escalation], open_count=1)

    async def acknowledge(
        self, request: safety_pb2.AcknowledgeEscalationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> safety_pb2.AcknowledgeEscalationResponse:
        self._count(ACKNOWLEDGE)
        by = str(dict(context.invocation_metadata() or ()).get("x-tta-subject", ""))
        return safety_pb2.AcknowledgeEscalationResponse(
            escalation=safety_pb2.Escalation(
                escalation_id=request.escalation_id,
                acknowledged_by=by,
                acknowledgement_note=request.note,
                state=safety_pb2.ESCALATION_STATE_ACKNOWLEDGED,
            )
        )

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        served: dict[str, tuple[Any, type[Message], type[Message]]] = {
            LIST_SESSIONS: (
                self.list_sessions,
                session_pb2.ListSessionsRequest,
                session_pb2.ListSessionsResponse,
            ),
            GET_SESSION: (self.get_session, session_pb2.GetSessionRequest, session_pb2.GetSessionResponse),
            LIST_ESCALATIONS: (
                self.list_escalations,
                safety_pb2.ListEscalationsRequest,
                safety_pb2.ListEscalationsResponse,
            ),
            ACKNOWLEDGE: (
                self.acknowledge,
                safety_pb2.AcknowledgeEscalationRequest,
                safety_pb2.AcknowledgeEscalationResponse,
            ),
        }
        if details.method not in served:
            return super().service(details)
        handler, request_cls, response_cls = served[details.method]
        return grpc.unary_unary_rpc_method_handler(
            handler,
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )


@pytest.fixture
async def clinic(tmp_path: Path) -> AsyncIterator[World]:
    """The identity suite's ``World`` around this suite's upstream; the pseudonym secret is configured
    (``log.hash_salt``), and an operator lets researchers watch a room (WatchRoom: a stream whose
    messages carry ``phi`` text) to show the step holds on every message of a stream."""
    server, upstream, port = await start_typed_upstream(ClinicUpstream())
    key = generate_dev_keypair()
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_text(json.dumps(key.jwks()))
    settings = Settings.from_mapping(
        {
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [f"127.0.0.1:{port}"]}],
            "auth": {
                "enabled": True,
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "jwks": str(jwks_path),
                "methods": {WATCH: {"roles": ["player", "therapist", "researcher"]}},
            },
            "log": {"hash_salt": SECRET},
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client,
    ):
        yield World(
            gateway, upstream, key, jwks_path, {"grpc": GrpcClient(channel), "http": HttpClient(client)}
        )
    await gateway.stop(0)
    await server.stop(0)


async def unary(
    door: DoorClient,
    path: str,
    request: Message,
    response_cls: type[Message],
    http: tuple[str, str, dict[str, Any] | None],
    token: str,
) -> Outcome:
    """One unary call through ``door``: gRPC with ``request``; REST as ``http`` (verb, URL, JSON body)."""
    if isinstance(door, GrpcClient):
        rpc = door.channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        call = rpc(request, metadata=tuple(_auth(token)))
        try:
            return await door._outcome(call, [await call], None)
        except grpc.aio.AioRpcError as err:
            return await door._outcome(call, [], err)
    assert isinstance(door, HttpClient)
    verb, url, body = http
    resp = await door.client.request(verb, url, json=body, headers=_headers(_auth(token)))
    return door._unary(resp)


async def list_escalations(door: DoorClient, token: str) -> Outcome:
    return await unary(
        door,
        LIST_ESCALATIONS,
        safety_pb2.ListEscalationsRequest(),
        safety_pb2.ListEscalationsResponse,
        ("GET", "/api/v1/safety/escalations", None),
        token,
    )


async def acknowledge(door: DoorClient, token: str) -> Outcome:
    return await unary(
        door,
        ACKNOWLEDGE,
        safety_pb2.AcknowledgeEscalationRequest(escalation_id="es_1", note="called her"),
        safety_pb2.AcknowledgeEscalationResponse,
        ("POST", "/api/v1/safety/escalations/es_1:acknowledge", {"note": "called her"}),
        token,
    )


async def assess(door: DoorClient, token: str) -> Outcome:
    return await unary(
        door,
        ASSESS,
        safety_pb2.AssessContentRequest(text="I feel fine"),
        safety_pb2.AssessContentResponse,
        ("POST", "/api/v1/safety:assess", {"text": "I feel fine"}),
        token,
    )


async def list_sessions(door: DoorClient, token: str, player_id: str = "") -> Outcome:
    url = f"/api/v1/players/{player_id}/sessions" if player_id else "/api/v1/sessions"
    return await unary(
        door,
        LIST_SESSIONS,
        session_pb2.ListSessionsRequest(player_id=player_id),
        session_pb2.ListSessionsResponse,
        ("GET", url, None),
        token,
    )


async def get_session(door: DoorClient, token: str, session_id: str) -> Outcome:
    return await unary(
        door,
        GET_SESSION,
        session_pb2.GetSessionRequest(session_id=session_id),
        session_pb2.GetSessionResponse,
        ("GET", f"/api/v1/sessions/{session_id}", None),
        token,
    )


def _same_on_every_door(outcomes: dict[str, Outcome]) -> None:
    first, *rest = outcomes.values()
    for other in rest:
        assert (other.code, other.message, other.details, other.messages) == (
            first.code,
            first.message,
            first.details,
            first.messages,
        )


# --- the escalation queue is clinical -------------------------------------------------------------------


async def test_an_admin_is_refused_the_escalation_queue_and_crisis_assessment(clinic: World) -> None:
    token = clinic.token(sub="st_admin", roles=["admin"])
    for call in (list_escalations, acknowledge, assess):
        outcomes: dict[str, Outcome] = {}
        for name, door in clinic.doors.items():
            out = await call(door, token)
            assert out.code == 7, (name, call.__name__, out)
            info = out.detail("google.rpc.ErrorInfo")
            assert info["reason"] == "ROLE_MISSING", (name, out)
            assert info["metadata"]["roles"] == ("service,therapist" if call is assess else "therapist")
            if out.http_status is not None:
                assert out.http_status == 403
            outcomes[name] = out
        _same_on_every_door(outcomes)
    assert (clinic.upstream.calls.get(LIST_ESCALATIONS, 0), clinic.upstream.calls.get(ACKNOWLEDGE, 0)) == (
        0,
        0,
    )


async def test_an_admin_keeps_account_administration_as_platform_operations(clinic: World) -> None:
    """Not a clinician any more, still an administrator: another player's account is reachable (the
    ownership crossing of an admin), and the upstream hears the admin's roles without therapist."""
    token = clinic.token(sub="st_admin", roles=["admin"])
    for door in clinic.doors.values():
        out = await door.get_player("pl_bob", metadata=_auth(token))
        assert out.code == 0, out
        assert out.messages[0]["player"]["displayName"] == "st_admin|admin,moderator"
    assert clinic.upstream.calls[GET_PLAYER] == len(clinic.doors)


@pytest.mark.parametrize("role", ["therapist", "clinical_supervisor"])
async def test_therapists_and_supervisors_work_the_queue(clinic: World, role: str) -> None:
    token = clinic.token(sub="st_dana", roles=[role])
    for door in clinic.doors.values():
        queue = await list_escalations(door, token)
        assert queue.code == 0, queue
        # a clinician sees the identified, clinical answer: anonymisation is for researchers only
        assert queue.messages[0]["escalations"][0]["playerId"] == "pl_bob"
        assert queue.messages[0]["escalations"][0]["excerpt"] == "I can't go on"
        acked = await acknowledge(door, token)
        assert acked.code == 0, acked
        assert acked.messages[0]["escalation"]["acknowledgedBy"] == "st_dana"
    assert clinic.upstream.calls[LIST_ESCALATIONS] == clinic.upstream.calls[ACKNOWLEDGE] == len(clinic.doors)


# --- researchers reach only anonymised data -------------------------------------------------------------


async def test_a_researcher_gets_sessions_without_phi_and_with_pseudonyms(clinic: World) -> None:
    researcher = clinic.token(sub="st_research", roles=["researcher"])
    bob, carol = pseudonym(KEY, "pl_bob"), pseudonym(KEY, "pl_carol")
    outcomes: dict[str, Outcome] = {}
    for name, door in clinic.doors.items():
        first, second = await list_sessions(door, researcher), await list_sessions(door, researcher)
        assert first.code == second.code == 0, (name, first, second)
        assert first.messages == second.messages  # the same pseudonyms on every call
        sessions = first.messages[0]["sessions"]
        assert [s["playerId"] for s in sessions] == [bob, carol, bob]
        for s in sessions:
            assert not {"goals", "notes", "moodBefore", "moodAfter"} & s.keys(), (name, s)
            assert NOTES not in json.dumps(s)
            assert (s["therapistId"], s["turnCount"]) == ("st_therapist", int(s["sessionId"][-1]))  # unmarked
        assert first.messages[0]["nextPageToken"] == "page-2"
        one = await get_session(door, researcher, "se_2")
        assert one.code == 0, one
        assert one.messages[0]["session"]["playerId"] == carol
        assert "notes" not in one.messages[0]["session"]
        outcomes[name] = first
    _same_on_every_door(outcomes)  # the same pseudonym for the same player on both doors
    # the control: a therapist asking the same gets the upstream's answer, ids and notes and all
    therapist = clinic.token(sub="st_therapist", roles=["therapist"])
    for door in clinic.doors.values():
        out = await list_sessions(door, therapist)
        assert [s["playerId"] for s in out.messages[0]["sessions"]] == ["pl_bob", "pl_carol", "pl_bob"]
        assert out.messages[0]["sessions"][0]["notes"] == NOTES


async def test_a_researcher_holding_a_clinical_role_too_is_not_anonymised(clinic: World) -> None:
    token = clinic.token(sub="st_dual", roles=["researcher", "clinical_supervisor"])
    for door in clinic.doors.values():
        out = await list_sessions(door, token)
        assert out.code == 0, out
        assert out.messages[0]["sessions"][1]["playerId"] == "pl_carol"


async def test_every_message_of_a_stream_is_anonymised(clinic: World) -> None:
    """WatchRoom (researchers admitted by the operator here): ChatMessage.text is phi."""
    researcher, player = clinic.token(roles=["researcher"]), clinic.token(roles=["player"])
    for door in clinic.doors.values():
        watched = await door.watch("se_1", metadata=_auth(researcher))
        assert watched.code == 0, watched
        assert [m["message"].get("text") for m in watched.messages] == [None, None, None]
        assert [m["message"]["sequence"] for m in watched.messages] == ["1", "2", "3"]
        control = await door.watch("se_1", metadata=_auth(player))
        assert [m["message"]["text"] for m in control.messages] == ["m0", "m1", "m2"]


async def test_a_researcher_naming_a_player_is_refused(clinic: World) -> None:
    researcher = clinic.token(sub="st_research", roles=["researcher"])
    outcomes: dict[str, Outcome] = {}
    for name, door in clinic.doors.items():
        out = await list_sessions(door, researcher, player_id="pl_bob")
        assert out.code == 7, (name, out)
        info = out.detail("google.rpc.ErrorInfo")
        assert (info["reason"], info["metadata"]["field"]) == ("NOT_OWNER", "player_id")
        assert "pl_bob" not in out.message
        if out.http_status is not None:
            assert out.http_status == 403
        outcomes[name] = out
    _same_on_every_door(outcomes)
    assert clinic.upstream.calls.get(LIST_SESSIONS, 0) == 0
