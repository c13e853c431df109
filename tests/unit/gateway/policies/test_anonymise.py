"""Research anonymisation without sockets: who counts as research-only, the keyed pseudonyms, the
clearing of ``phi`` paths and pseudonymising of ``owner`` paths (nested, repeated, through maps), and
the step deciding per route and per principal, decoding nothing for anyone else."""

from __future__ import annotations

import hashlib
import hmac
import logging
from types import SimpleNamespace
from typing import cast

import grpc
import pytest
from google.protobuf import struct_pb2
from tta.v1 import progress_pb2, session_pb2

from gateway.chain.call import Call, MessageView, Principal
from gateway.config import Settings
from gateway.descriptors import embedded_descriptor_set
from gateway.errors import Refused
from gateway.policies.anonymise import (
    Anonymise,
    anonymised,
    pseudonym,
    pseudonym_key,
    research_only,
)
from gateway.routes import FieldPlan, Route, RouteTable, compile_routes
from gateway.telemetry.redact import Redactor

KEY = pseudonym_key(b"a secret from the vault")
LIST_SESSIONS = "/tta.v1.SessionService/ListSessions"
GET_SESSION = "/tta.v1.SessionService/GetSession"
GET_PROGRESS = "/tta.v1.ProgressService/GetProgress"


@pytest.fixture(scope="module")
def table() -> RouteTable:
    settings = Settings.from_mapping(
        {
            "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": ["127.0.0.1:1"]}],
            "auth": {"enabled": False},
        }
    )
    return compile_routes(embedded_descriptor_set(), settings.upstreams)


def route(table: RouteTable, path: str) -> Route:
    found = table.lookup(path)
    assert found is not None
    return found


def session(player_id: str) -> session_pb2.Session:
    return session_pb2.Session(
        session_id=f"se_{player_id}",
        player_id=player_id,
        therapist_id="st_therapist",
        goals=["talk to my sister"],
        notes="struggled with the loss",
        mood_before=3,
        mood_after=6,
        turn_count=12,
        labels={"programme": "grief-8wk"},
    )


# --- who is research-only -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"researcher"}, True),
        ({"researcher", "player"}, True),  # a player's entitlement is to their own records only
        ({"researcher", "therapist"}, False),
        ({"researcher", "clinical_supervisor", "therapist"}, False),
        ({"researcher", "admin", "moderator"}, False),
        ({"researcher", "service"}, False),
        ({"researcher", "moderator"}, False),
        ({"player"}, False),
        ({"therapist"}, False),
        (set(), False),
    ],
)
def test_who_sees_only_anonymised_data(roles: set[str], expected: bool) -> None:
    assert research_only(frozenset(roles)) is expected


# --- pseudonyms ---------------------------------------------------------------------------------


def test_a_pseudonym_is_keyed_hmac_sha256_stable_and_opaque() -> None:
    bob = pseudonym(KEY, "pl_bob")
    assert bob == "ps_" + hmac.new(KEY, b"pl_bob", hashlib.sha256).hexdigest()[:32]
    assert bob == pseudonym(KEY, "pl_bob")  # stable: a study can follow one player
    assert bob != pseudonym(KEY, "pl_carol")
    assert bob != pseudonym(pseudonym_key(b"another secret"), "pl_bob")  # nothing without the key
    assert "bob" not in bob


def test_the_key_is_derived_and_separated_from_the_log_hashes_of_the_same_secret() -> None:
    secret = b"shared with log.hash_salt"
    assert pseudonym_key(secret) == pseudonym_key(secret)  # the same in every process
    assert pseudonym_key(secret) != secret
    logged = Redactor(salt=secret).hash("pl_bob")  # "<redacted:" + 12 hex digits + ">"
    assert logged[len("<redacted:") : -1] != pseudonym(pseudonym_key(secret), "pl_bob")[3:15]
    assert logged[len("<redacted:") : -1] == pseudonym(secret, "pl_bob")[3:15]  # what it would be unseparated


# --- clearing and pseudonymising along the field plan -----------------------------------------------


def test_a_session_listing_loses_its_phi_and_its_owners_names(table: RouteTable) -> None:
    fields = route(table, LIST_SESSIONS).response_fields
    original = session_pb2.ListSessionsResponse(
        sessions=[session("pl_bob"), session("pl_carol"), session("pl_bob")], next_page_token="p2"
    )
    out = anonymised(original, fields, KEY)
    assert isinstance(out, session_pb2.ListSessionsResponse)
    assert [s.player_id for s in out.sessions] == [
        pseudonym(KEY, "pl_bob"),
        pseudonym(KEY, "pl_carol"),
        pseudonym(KEY, "pl_bob"),
    ]
    for s in out.sessions:
        assert (list(s.goals), s.notes, s.mood_before, s.mood_after) == ([], "", 0, 0)
        # unmarked fields pass: the contract's marks are the whole of what is changed (decision 0012)
        assert (s.therapist_id, s.turn_count, dict(s.labels)) == (
            "st_therapist",
            12,
            {"programme": "grief-8wk"},
        )
    assert out.next_page_token == "p2"
    assert original.sessions[0].notes == "struggled with the loss"  # the input is left as it was
    assert original.sessions[0].player_id == "pl_bob"


def test_nested_and_repeated_marks_are_followed(table: RouteTable) -> None:
    fields = route(table, GET_PROGRESS).response_fields
    progress = progress_pb2.Progress(
        player_id="pl_bob",
        level=4,
        goals=[progress_pb2.GoalProgress(goal_id="g1", description="sleep better", percent_complete=40)],
        recent_milestones=[
            progress_pb2.Milestone(player_id="pl_bob", title="Lit the lighthouse", reflection="I felt brave"),
            progress_pb2.Milestone(player_id="", mood_rating=7),
        ],
        average_mood_30d=5.5,
    )
    out = anonymised(progress_pb2.GetProgressResponse(progress=progress), fields, KEY)
    assert isinstance(out, progress_pb2.GetProgressResponse)
    got = out.progress
    assert (list(got.goals), got.average_mood_30d, got.level) == ([], 0.0, 4)
    first, second = got.recent_milestones
    assert (first.player_id, first.reflection, first.title) == (
        pseudonym(KEY, "pl_bob"),
        "",
        "Lit the lighthouse",
    )
    assert (second.player_id, second.mood_rating) == ("", 0)  # an empty id stays empty
    # Progress.player_id carries no owner mark in the contract: it passes (decision 0012, what is left)
    assert got.player_id == "pl_bob"


def test_an_absent_sub_message_is_not_created(table: RouteTable) -> None:
    out = anonymised(session_pb2.GetSessionResponse(), route(table, GET_SESSION).response_fields, KEY)
    assert not out.HasField("session")
    assert out.SerializeToString() == b""


def test_repeated_strings_non_strings_and_maps() -> None:
    message = session_pb2.ListSessionsResponse(sessions=[session("pl_bob")])
    message.sessions[0].goals.append("")
    out = anonymised(
        message,
        FieldPlan(owner=("sessions.goals", "sessions.mood_before"), phi=("sessions.labels.value",)),
        KEY,
    )
    assert isinstance(out, session_pb2.ListSessionsResponse)
    got = out.sessions[0]
    assert list(got.goals) == [pseudonym(KEY, "talk to my sister"), ""]  # each id of a repeated field
    assert got.mood_before == 0  # an owner mark on a number cannot be pseudonymised: it is dropped
    assert dict(got.labels) == {}  # a mark the walk cannot follow inside a map: the whole map goes
    # a map whose values are messages is followed value by value
    struct = struct_pb2.Struct()
    struct.fields["a"].string_value = "pl_bob"
    struct.fields["b"].string_value = "pl_carol"
    done = anonymised(struct, FieldPlan(owner=("fields.value.string_value",)), KEY)
    assert isinstance(done, struct_pb2.Struct)
    assert {k: v.string_value for k, v in done.fields.items()} == {
        "a": pseudonym(KEY, "pl_bob"),
        "b": pseudonym(KEY, "pl_carol"),
    }


# --- the step -----------------------------------------------------------------------------------


def test_the_step_joins_only_non_public_routes_with_marked_response_fields(table: RouteTable) -> None:
    step = Anonymise(KEY)
    bound = step.for_route(route(table, LIST_SESSIONS))
    assert isinstance(bound, Anonymise)
    assert bound.fields == FieldPlan(
        phi=("sessions.goals", "sessions.notes", "sessions.mood_before", "sessions.mood_after"),
        owner=("sessions.player_id",),
    )
    assert step.for_route(route(table, "/tta.v1.AgentService/ListAgents")) is None  # nothing marked
    assert step.for_route(route(table, "/tta.v1.AuthService/Login")) is None  # public (phi tokens)
    assert step.for_route(route(table, "/tta.v1.SafetyService/ListEscalations")) is not None


def call_of(*roles: str) -> Call:
    principal = Principal("st_someone", frozenset(roles)) if roles else None
    return cast(Call, SimpleNamespace(principal=principal))


async def test_a_researcher_gets_the_anonymised_message(table: RouteTable) -> None:
    step = Anonymise(KEY).for_route(route(table, LIST_SESSIONS))
    assert step is not None
    raw = session_pb2.ListSessionsResponse(sessions=[session("pl_bob")]).SerializeToString()
    view = MessageView(raw, session_pb2.ListSessionsResponse, from_upstream=True)
    await step.on_response(call_of("researcher"), view)
    assert view.changed
    got = session_pb2.ListSessionsResponse.FromString(view.raw)
    assert (got.sessions[0].player_id, got.sessions[0].notes) == (pseudonym(KEY, "pl_bob"), "")


@pytest.mark.parametrize("roles", [(), ("player",), ("therapist",), ("researcher", "admin", "moderator")])
async def test_anyone_else_gets_the_bytes_as_they_came_undecoded(
    table: RouteTable, roles: tuple[str, ...]
) -> None:
    step = Anonymise(KEY).for_route(route(table, LIST_SESSIONS))
    assert step is not None
    garbage = b"\xff\xff\xff"  # decoding this would raise: it is never decoded
    view = MessageView(garbage, session_pb2.ListSessionsResponse, from_upstream=True)
    await step.on_response(call_of(*roles), view)
    assert (view.changed, view.raw) == (False, garbage)
    # the same bytes for a researcher are decoded, and refused as the upstream's fault
    with pytest.raises(Refused) as info:
        await step.on_response(
            call_of("researcher"), MessageView(garbage, session_pb2.ListSessionsResponse, from_upstream=True)
        )
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.INTERNAL, "MALFORMED_UPSTREAM_MESSAGE")


def test_keyed_uses_the_configured_secret_else_a_process_key_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert Anonymise.keyed("vault secret").key == pseudonym_key(b"vault secret")
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="gateway.policies.anonymise"):
        first, second = Anonymise.keyed(""), Anonymise.keyed("")
    assert first.key == second.key  # one per process: every gateway in it agrees
    assert first.key != pseudonym_key(b"")
    assert any("change on restart" in r.getMessage() for r in caplog.records)
