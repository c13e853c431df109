"""The redaction layer against the embedded TTA contracts: pure, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, json_format
from hypothesis import given
from hypothesis import strategies as st
from tta.gateway.v1 import options_pb2
from tta.v1 import chat_pb2, session_pb2

from gateway.descriptors import embedded_descriptor_set
from gateway.telemetry.redact import Redactor

SALT = b"test-salt"
RAW = "I feel hopeless tonight"  # stands for any therapeutic text or secret: must never come out
HASHED = re.compile(r"<redacted:[0-9a-f]{12}>")


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(embedded_descriptor_set(), salt=SALT)


def at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


# --- hash --------------------------------------------------------------------------------------------


def test_hash_shape_and_stability(redactor: Redactor) -> None:
    h = redactor.hash(RAW)
    assert HASHED.fullmatch(h)
    assert redactor.hash(RAW) == h
    assert redactor.hash(RAW.encode()) == h  # str is hashed as its UTF-8 bytes
    assert redactor.hash(RAW + ".") != h


def test_hash_depends_on_the_salt() -> None:
    assert Redactor(salt=b"a").hash(RAW) != Redactor(salt=b"b").hash(RAW)
    assert Redactor(salt=b"a").hash(RAW) == Redactor(salt=b"a").hash(RAW)
    assert Redactor().hash(RAW) != Redactor().hash(RAW)  # a random salt per instance


# --- keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("authorization", True),
        ("Authorization", True),
        ("proxy-authorization", True),
        ("cookie", True),
        ("Set-Cookie", True),
        ("x-api-key", True),
        ("api_key", True),
        ("apiKey", True),
        ("access_token", True),
        ("refreshToken", True),
        ("x-amz-security-token", True),
        ("client_secret", True),
        ("password", True),
        ("db_passwd", True),
        ("aws-credentials", True),
        ("X-Session-Key", True),
        ("hash_salt", True),
        ("x-request-id", False),
        ("session_id", False),
        ("user-agent", False),
        ("traceparent", False),
        ("cookies_accepted_count", False),
        ("method", False),
    ],
)
def test_is_sensitive_key(redactor: Redactor, key: str, sensitive: bool) -> None:
    assert redactor.is_sensitive_key(key) is sensitive


def test_extra_keys_match_whole_names_ignoring_case_and_separators() -> None:
    r = Redactor(extra_keys=["X-Player-Email", "session_notes"], salt=SALT)
    assert r.is_sensitive_key("x-player-email")
    assert r.is_sensitive_key("sessionNotes")
    assert not r.is_sensitive_key("x-player-email-verified")
    assert not Redactor(salt=SALT).is_sensitive_key("x-player-email")


# --- metadata ------------------------------------------------------------------------------------


def test_metadata(redactor: Redactor) -> None:
    pairs: list[tuple[str, str | bytes]] = [
        ("authorization", f"Bearer {RAW}"),
        ("x-request-id", "req-1"),
        ("grpc-trace-bin", b"\x00\x01\x02"),
        ("x-foo-bin", b"12345"),
        ("cookie", "sid=" + RAW),
        ("x-api-key", RAW.encode()),
    ]
    out = redactor.metadata(pairs)
    assert out == [
        ("authorization", redactor.hash(f"Bearer {RAW}")),
        ("x-request-id", "req-1"),
        ("grpc-trace-bin", "<3 bytes>"),
        ("x-foo-bin", "<5 bytes>"),
        ("cookie", redactor.hash("sid=" + RAW)),
        ("x-api-key", redactor.hash(RAW)),
    ]
    assert RAW not in repr(out)


def test_metadata_extra_keys() -> None:
    r = Redactor(extra_keys=["x-player-email"], salt=SALT)
    assert r.metadata([("X-Player-Email", RAW), ("x-other", "kept")]) == [
        ("X-Player-Email", r.hash(RAW)),
        ("x-other", "kept"),
    ]


# --- mapping ---------------------------------------------------------------------------------------


def test_mapping_recurses_and_hashes_sensitive_keys(redactor: Redactor) -> None:
    data: dict[str, Any] = {
        "user": "pl_1",
        "authorization": f"Bearer {RAW}",
        "nested": {"password": RAW, "deeper": [{"refresh_token": RAW}, {"ok": 1}]},
        "headers": [("not", "a dict")],
        "token": 12345,
        "api_key": None,
    }
    out = redactor.mapping(data)
    assert out["user"] == "pl_1"
    assert out["authorization"] == redactor.hash(f"Bearer {RAW}")
    assert out["nested"]["password"] == redactor.hash(RAW)
    assert out["nested"]["deeper"] == [{"refresh_token": redactor.hash(RAW)}, {"ok": 1}]
    assert out["token"] == redactor.hash("12345")  # non-str values: their str()
    assert out["api_key"] is None  # nothing to hide
    assert RAW not in repr(out)
    assert data["nested"]["password"] == RAW  # the input is not modified


def test_mapping_hashes_whole_structures_under_sensitive_keys(redactor: Redactor) -> None:
    out = redactor.mapping({"credentials": {"user": "u", "pw": RAW}, "set-cookie": [RAW, "b=2"]})
    assert out["credentials"] == redactor.hash('{"pw":"' + RAW + '","user":"u"}')  # canonical JSON
    assert out["set-cookie"] == [redactor.hash(RAW), redactor.hash("b=2")]
    # key order does not change the hash
    assert redactor.mapping({"credentials": {"pw": RAW, "user": "u"}}) == {"credentials": out["credentials"]}


def test_mapping_renders_messages_dataclasses_and_models(redactor: Redactor) -> None:
    @dataclass
    class Login:
        user: str
        password: str

    class Model:
        def model_dump(self) -> dict[str, Any]:
            return {"client_secret": RAW, "name": "svc"}

    out = redactor.mapping(
        {
            "req": chat_pb2.SendMessageRequest(session_id="se_1", text=RAW),
            "login": Login("pl_1", RAW),
            "settings": Model(),
        }
    )
    assert out["req"] == {"session_id": "se_1", "text": redactor.hash(RAW)}
    assert out["login"] == {"user": "pl_1", "password": redactor.hash(RAW)}
    assert out["settings"] == {"client_secret": redactor.hash(RAW), "name": "svc"}


def test_mapping_follows_any_type_urls(redactor: Redactor) -> None:
    detail = {"@type": "type.googleapis.com/tta.v1.ChatRequest", "session_id": "se_1", "text": RAW}
    out = redactor.mapping({"detail": detail})
    assert out["detail"] == {**detail, "text": redactor.hash(RAW)}


def test_mapping_cuts_cycles(redactor: Redactor) -> None:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    out = redactor.mapping(loop)
    assert out["a"] == 1
    assert "too deep" in repr(out)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("calling with Bearer abcdefgh12345678", False),
        ("authorization: basic dXNlcjpwYXNzd29yZA==", False),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbF8xIn0.c2lnbmF0dXJl in a line", False),
        ("the Bearer of bad news", True),
        ("upstream 10.0.0.7:50061 unavailable", True),
    ],
)
def test_text_scrubs_credentials(redactor: Redactor, text: str, kept: bool) -> None:
    out = redactor.text(text)
    assert (out == text) is kept
    if not kept:
        assert HASHED.search(out)


# --- free text: credentials in the shapes libraries write them ---------------------------------------

SECRET = "S3CRET-9f2c"  # every case hides it; `kept` is what must survive around it


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # schemes and tokens anywhere
        (f"calling with Bearer {SECRET}", "calling with "),
        (f"Basic {SECRET}\x01\x02tail", ""),  # control characters inside the credential
        (f"bearer {SECRET}\\x01 then", " then"),  # ... or their repr escapes
        (f"jwt eyJhbGciOiJIUzI1NiJ9.eyJ{SECRET[:6]}In0.c2ln in a line", " in a line"),
        # key=value: up to a space or & ; ,
        (f"x-api-key={SECRET} next=1", " next=1"),
        (f"/cb?access_token={SECRET}&state=xyz", "&state=xyz"),
        (f"client_secret={SECRET}\x00tail; other", "; other"),
        (f"apiKey={SECRET}", "apiKey="),
        (f"authorization=Bearer {SECRET}", "authorization="),
        # key: value, a header: to the end of its line
        (f"authorization: Basic {SECRET}\x01", "authorization: "),
        (f"Authorization: Digest username={SECRET}", "Authorization: "),
        (f"X-Api-Key: {SECRET}\nnext line", "\nnext line"),
        (f"cookie: sid={SECRET}; theme=dark", "cookie: "),
        (f"Set-Cookie: id={SECRET}; HttpOnly", "Set-Cookie: "),
        (f"proxy-authorization: Negotiate {SECRET}", "proxy-authorization: "),
        (f"error: db-password: {SECRET}", "error: db-password: "),  # a key inside another's value
        (f"HTTP:1:HDR:SVR: x-session-token: {SECRET}", "HTTP:1:HDR:SVR: "),  # grpc's core, traced
        # reprs and JSON: ('key', 'value'), b'key', {'key': ...}, "key": "..."
        (f"[('authorization', 'Basic {SECRET}\\x01'), ('x-request-id', 'r1')]", "('x-request-id', 'r1')]"),
        (f"(b'x-api-key', b'{SECRET}\\x00tail')", "(b'x-api-key', "),
        (f"[(b'cookie', b'sid={SECRET}\\r\\nx')]", ")]"),
        (f"{{'client-secret': '{SECRET}\\xff', 'n': 1}}", ", 'n': 1}"),
        (f"{{'client-secret': '{SECRET}\xff\x01'}}", "'client-secret': "),  # raw control characters
        (f'{{"password": "{SECRET}", "user": "pl_1"}}', '"user": "pl_1"'),
        (f"Adding b'authorization'=b'NotBearer {SECRET}' to the header table", " to the header table"),
        (f"{{'credentials': {{'user': 'u', 'pw': '{SECRET}'}}, 'n': 1}}", ", 'n': 1}"),  # a structure
        (f"('x-session-token', ('{SECRET}', 'x'))", "('x-session-token', "),
        (f"ValueError(\"bad metadata {{'x-api-key': '{SECRET}'}}\")", "ValueError("),
        (f'"{{\\"password\\": \\"{SECRET} x\\"}}"', '"{\\"password\\": '),  # JSON in JSON
        (f"('api_key', '{SECRET}", "('api_key', "),  # a quote that does not close: the rest goes
    ],
)
def test_text_hides_credentials_in_library_shapes(redactor: Redactor, text: str, kept: str) -> None:
    out = redactor.text(text)
    assert SECRET not in out
    assert SECRET[:6] not in out
    assert HASHED.search(out)
    assert kept in out
    assert redactor.text(out) == out  # hashes already there stay


@pytest.mark.parametrize(
    "text",
    [
        "the Bearer of bad news",
        "upstream 10.0.0.7:50061 unavailable",
        "x-request-id=r-1 method=/tta.v1.X/Y session_id: se_1",
        "cookies_accepted_count=3 token_count",  # sensitive words, not sensitive keys
        "Metadata value for key authorization is invalid: INTERNAL: Illegal header value",
        "'api_key': None, \"token\": null",  # nothing to hide
        "token=<redacted:0123456789ab> 'cookie': '<redacted:0123456789ab>'",  # hashed already
        "KeyError: 'secret' not found",
    ],
)
def test_text_keeps_what_is_not_a_credential(redactor: Redactor, text: str) -> None:
    assert redactor.text(text) == text


def test_text_hashes_a_quoted_value_as_mapping_does(redactor: Redactor) -> None:
    """One value, one hash, whether it was logged as a mapping or quoted in a message."""
    assert redactor.text(f"{{'x-api-key': '{SECRET}'}}") == f"{{'x-api-key': {redactor.hash(SECRET)}}}"
    assert redactor.mapping({"x-api-key": SECRET})["x-api-key"] == redactor.hash(SECRET)


def test_text_knows_the_extra_keys() -> None:
    r = Redactor(extra_keys=["x-player-email"], salt=SALT)
    assert SECRET not in r.text(f"X_Player_Email={SECRET}")
    assert SECRET in Redactor(salt=SALT).text(f"X_Player_Email={SECRET}")


KEYS = st.sampled_from(
    ["authorization", "Proxy-Authorization", "cookie", "set-cookie", "x-api-key", "api_key", "apiKey",
     "access_token", "x-session-token", "client-secret", "DB_PASSWORD", "aws-credentials", "hash_salt"]
)  # fmt: skip
VALUES = st.text(max_size=40).map(lambda tail: SECRET + tail)


@given(key=KEYS, value=VALUES)
def test_text_hides_any_value_in_reprs_and_json(key: str, value: str) -> None:
    r = Redactor(salt=SALT)
    encoded = value.encode("utf-8", "surrogatepass")
    for shown in (
        repr((key, value)),
        repr([(key, value), ("x-request-id", "r")]),
        repr({key: value, "n": 1}),
        repr((key.encode(), encoded)),
        json.dumps({key: value}),
        json.dumps({"inner": json.dumps({key: value})}),
    ):
        assert SECRET not in r.text(shown), shown


@given(key=KEYS, value=st.text(alphabet=st.characters(exclude_characters="\r\n"), max_size=40))
def test_text_hides_any_header_value(key: str, value: str) -> None:
    r = Redactor(salt=SALT)
    assert SECRET not in r.text(f"{key}: {SECRET}{value}")


@given(
    key=KEYS,
    value=st.text(
        alphabet=st.characters(exclude_characters=" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0&;,'\"()[]{}<>"),
        max_size=40,
    ),
)
def test_text_hides_any_key_equals_value(key: str, value: str) -> None:
    r = Redactor(salt=SALT)
    assert SECRET not in r.text(f"{key}={SECRET}{value}&next=1")


PIECES = [*"ab:= '\"(),[]{}\\\n\x01&", "token", "Cookie", "Bearer ", "b'", "12345678", "eyJhbGci.x.y"]


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_text_is_idempotent(text: str) -> None:
    r = Redactor(salt=SALT)
    once = r.text(text)
    assert r.text(once) == once


def test_mapping_hashes_the_value_of_a_sensitive_pair(redactor: Redactor) -> None:
    out = redactor.mapping(
        {"md": [("x-api-key", SECRET), (b"cookie", SECRET.encode()), ("x-request-id", "r1")], "raw": b"ok"}
    )
    assert out["md"] == [
        ["x-api-key", redactor.hash(SECRET)],
        [b"cookie", redactor.hash(SECRET.encode())],
        ["x-request-id", "r1"],
    ]
    assert out["raw"] == b"ok"  # bytes without a credential in them: left to the serialiser
    assert SECRET not in repr(redactor.mapping({"raw": f"authorization: Basic {SECRET}".encode()}))


# --- messages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "data", "path"),
    [
        ("tta.v1.SendMessageRequest", {"session_id": "se_1", "text": RAW}, "text"),
        ("tta.v1.ChatRequest", {"session_id": "se_1", "text": RAW}, "text"),
        ("tta.v1.CreatePlayerRequest", {"player": {"display_name": "Kit"}, "password": RAW}, "password"),
        ("tta.v1.LoginRequest", {"password": RAW}, "password"),
        ("tta.v1.CreateSessionRequest", {"session": {"world_id": "w_1", "notes": RAW}}, "session.notes"),
        ("tta.v1.CreateSessionRequest", {"session": {"goals": ["sleep", RAW]}}, "session.goals.1"),
        ("tta.v1.CreateSessionRequest", {"session": {"sessionId": "s", "notes": RAW}}, "session.notes"),
        ("tta.v1.EndSessionRequest", {"session_id": "s", "notes": RAW}, "notes"),
        ("tta.v1.Progress", {"goals": [{"description": RAW}]}, "goals.0"),
        # the lowerCamel JSON name of a field, as MessageToDict writes without preserving_proto_field_name
        ("tta.v1.CreateSessionRequest", {"session": {"moodBefore": RAW}}, "session.moodBefore"),
        # a map entry under a sensitive key, inside a message
        (
            "tta.v1.CreateSessionRequest",
            {"session": {"labels": {"api_key": RAW, "c": "d"}}},
            "session.labels.api_key",
        ),
        # a field whose name is sensitive though the proto does not mark it
        ("tta.v1.ListMessagesRequest", {"session_id": "s", "page_token": RAW}, "page_token"),
        # an unknown type: key rules only
        ("tta.v1.NoSuchMessage", {"password": RAW}, "password"),
    ],
)
def test_message_redacts_sensitive_fields(
    redactor: Redactor, type_name: str, data: dict[str, Any], path: str
) -> None:
    out = redactor.message(type_name, data)
    assert HASHED.fullmatch(at(out, path))
    assert RAW not in repr(out)


def test_message_keeps_other_fields_verbatim(redactor: Redactor) -> None:
    data = {
        "session": {
            "session_id": "se_1",
            "world_id": "w_1",
            "state": "SESSION_STATE_SCHEDULED",
            "labels": {"cohort": "spring"},
            "scheduled_time": "2024-05-01T12:00:00Z",
            "notes": RAW,
        }
    }
    out = redactor.message("tta.v1.CreateSessionRequest", data)
    assert out == {"session": {**data["session"], "notes": redactor.hash(RAW)}}


def test_message_hashes_every_phi_field_of_a_real_message(redactor: Redactor) -> None:
    msg = session_pb2.CreateSessionRequest(
        session=session_pb2.Session(
            player_id="pl_1", goals=[RAW, "rest"], notes=RAW, mood_before=3, labels={"k": "v"}
        )
    )
    data = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    out = redactor.message("tta.v1.CreateSessionRequest", data)
    assert out["session"]["player_id"] == "pl_1"  # owner, not phi
    assert out["session"]["goals"] == [redactor.hash(RAW), redactor.hash("rest")]
    assert out["session"]["mood_before"] == redactor.hash("3")
    assert out["session"]["labels"] == {"k": "v"}
    assert RAW not in repr(out)


def test_redacting_twice_changes_nothing(redactor: Redactor) -> None:
    once = redactor.message("tta.v1.LoginRequest", {"password": RAW, "user": "u"})
    assert redactor.mapping({"request": once}) == {"request": once}
    assert redactor.mapping(once) == once


def test_sensitive_fields(redactor: Redactor) -> None:
    assert redactor.sensitive_fields("tta.v1.SendMessageRequest") == {"text"}
    assert redactor.sensitive_fields(".tta.v1.ChatRequest") == {"text"}
    assert {"goals", "notes", "mood_before", "mood_after"} <= redactor.sensitive_fields("tta.v1.Session")
    assert redactor.sensitive_fields("tta.v1.CreateSessionRequest") == frozenset()  # nested, not own
    assert redactor.sensitive_fields("tta.v1.Nope") == frozenset()


# --- maps and nesting, on a contract made for the purpose ------------------------------------------


def _synthetic() -> descriptor_pb2.FileDescriptorSet:
    """package t.v1; Inner {string note [phi]; string label}; Outer {map<string, Inner> by_name;
    map<string, string> secrets_by_day [phi]; repeated Inner items; Inner one; string chat [scan]}."""
    f = descriptor_pb2.FileDescriptorProto(name="t/v1/t.proto", package="t.v1", syntax="proto3")
    S, M = descriptor_pb2.FieldDescriptorProto.TYPE_STRING, descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
    OPT, REP = (
        descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
    )

    def field(msg: descriptor_pb2.DescriptorProto, name: str, n: int, t: int, **kw: Any) -> None:
        phi, scan = kw.pop("phi", False), kw.pop("scan", False)
        fd = msg.field.add(name=name, number=n, type=t, label=kw.pop("label", OPT), **kw)
        if phi or scan:
            ext: Any = fd.options.Extensions
            ext[options_pb2.field_policy].phi = phi
            ext[options_pb2.field_policy].scan = scan

    inner = f.message_type.add(name="Inner")
    field(inner, "note", 1, S, phi=True)
    field(inner, "label", 2, S)
    outer = f.message_type.add(name="Outer")
    for entry_name, value_type, value_type_name in (
        ("ByNameEntry", M, ".t.v1.Inner"),
        ("SecretsByDayEntry", S, ""),
    ):
        entry = outer.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        field(entry, "key", 1, S)
        field(entry, "value", 2, value_type, **({"type_name": value_type_name} if value_type_name else {}))
    field(outer, "by_name", 1, M, label=REP, type_name=".t.v1.Outer.ByNameEntry")
    field(outer, "secrets_by_day", 2, M, label=REP, type_name=".t.v1.Outer.SecretsByDayEntry", phi=True)
    field(outer, "items", 3, M, label=REP, type_name=".t.v1.Inner")
    field(outer, "one", 4, M, type_name=".t.v1.Inner")
    field(outer, "chat", 5, S, scan=True)
    # Serialised and parsed back, as a descriptor set arrives from a file or from reflection.
    return descriptor_pb2.FileDescriptorSet.FromString(
        descriptor_pb2.FileDescriptorSet(file=[f]).SerializeToString()
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"by_name": {"a": {"note": RAW, "label": "x"}}}, "by_name.a.note"),
        ({"byName": {"a": {"note": RAW}}}, "byName.a.note"),
        ({"items": [{"label": "x"}, {"note": RAW}]}, "items.1.note"),
        ({"one": {"note": RAW}}, "one.note"),
        ({"chat": RAW}, "chat"),
        ({"secrets_by_day": {"monday": RAW}}, "secrets_by_day"),  # a phi map: keys and values, one hash
    ],
)
def test_message_nested_repeated_and_map_values(data: dict[str, Any], path: str) -> None:
    r = Redactor(_synthetic(), salt=SALT)
    out = r.message("t.v1.Outer", data)
    assert HASHED.fullmatch(at(out, path))
    assert RAW not in repr(out)
    assert "monday" not in repr(out)


def test_synthetic_keeps_unmarked_fields() -> None:
    r = Redactor(_synthetic(), salt=SALT)
    out = r.message("t.v1.Outer", {"by_name": {"a": {"label": "x", "note": RAW}}, "items": [{"label": "y"}]})
    assert out == {"by_name": {"a": {"label": "x", "note": r.hash(RAW)}}, "items": [{"label": "y"}]}
    assert r.sensitive_fields("t.v1.Outer") == {"secrets_by_day", "chat"}
    assert r.sensitive_fields("t.v1.Outer.ByNameEntry") == frozenset()  # map entries are folded away
