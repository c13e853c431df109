"""transcoder.codec: proto3 JSON bodies in, JSON out, path variables, field paths — against the real TTA
contracts (a private pool built from the embedded descriptor set, as the gateway builds one) and a
small test message holding every field type the TTA contracts lack."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from typing import Any

import orjson
import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    field_mask_pb2,
    json_format,
    message_factory,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.descriptors import embedded_descriptor_set
from transcoder.codec import (
    MAX_JSON_DEPTH,
    BindingError,
    FieldKind,
    JsonOptions,
    apply_bindings,
    field_path_kind,
    json_depth,
    parse_json_body,
    parse_scalar,
    resolve_field,
    to_json,
    to_json_field,
)

# --- descriptors -----------------------------------------------------------------------------------

_F = descriptor_pb2.FieldDescriptorProto
_WKT_FILES = (timestamp_pb2, duration_pb2, field_mask_pb2, wrappers_pb2, struct_pb2)
# name, number, type, label-or-type_name; every scalar type, maps, WKTs, oneof, recursion
_EVERYTHING = [
    ("s", _F.TYPE_STRING),
    ("b", _F.TYPE_BYTES),
    ("flag", _F.TYPE_BOOL),
    ("i32", _F.TYPE_INT32),
    ("i64", _F.TYPE_INT64),
    ("u32", _F.TYPE_UINT32),
    ("u64", _F.TYPE_UINT64),
    ("si64", _F.TYPE_SINT64),
    ("fx64", _F.TYPE_FIXED64),
    ("f", _F.TYPE_FLOAT),
    ("d", _F.TYPE_DOUBLE),
    ("color", ".test.v1.Color"),
    ("rs", _F.TYPE_STRING, "repeated"),
    ("ri", _F.TYPE_INT32, "repeated"),
    ("counts", ".test.v1.Everything.CountsEntry", "repeated"),
    ("flags", ".test.v1.Everything.FlagsEntry", "repeated"),
    ("dur", ".google.protobuf.Duration"),
    ("ts", ".google.protobuf.Timestamp"),
    ("mask", ".google.protobuf.FieldMask"),
    ("sv", ".google.protobuf.StringValue"),
    ("iv", ".google.protobuf.Int32Value"),
    ("bv", ".google.protobuf.BoolValue"),
    ("st", ".google.protobuf.Struct"),
    ("val", ".google.protobuf.Value"),
    ("lv", ".google.protobuf.ListValue"),
    ("child", ".test.v1.Everything"),
    ("children", ".test.v1.Everything", "repeated"),
    ("rts", ".google.protobuf.Timestamp", "repeated"),
    ("text", _F.TYPE_STRING, "oneof"),
    ("number", _F.TYPE_INT32, "oneof"),
]


def _everything_file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="test/v1/everything.proto", package="test.v1", syntax="proto3"
    )
    f.dependency.extend(m.DESCRIPTOR.name for m in _WKT_FILES)
    color = f.enum_type.add(name="Color")
    for number, name in enumerate(("COLOR_UNSPECIFIED", "RED", "GREEN")):
        color.value.add(name=name, number=number)
    msg = f.message_type.add(name="Everything")
    msg.oneof_decl.add(name="choice")
    for entry, key_type in (("CountsEntry", _F.TYPE_INT32), ("FlagsEntry", _F.TYPE_BOOL)):
        nested = msg.nested_type.add(name=entry)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, type=key_type, label=_F.LABEL_OPTIONAL)
        nested.field.add(name="value", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    for number, (name, kind, *extra) in enumerate(_EVERYTHING, start=1):
        field = msg.field.add(name=name, number=number, label=_F.LABEL_OPTIONAL)
        if isinstance(kind, str):
            field.type_name = kind
            field.type = _F.TYPE_ENUM if kind.endswith("Color") else _F.TYPE_MESSAGE
        else:
            field.type = kind
        if extra == ["repeated"]:
            field.label = _F.LABEL_REPEATED
        elif extra == ["oneof"]:
            field.oneof_index = 0
    closed = descriptor_pb2.FileDescriptorProto(
        name="test/v2/closed.proto", package="test.v2", syntax="proto2"
    )
    closed.enum_type.add(name="Mode").value.add(name="MODE_ON", number=1)
    closed.message_type.add(name="Closed").field.add(
        name="mode", number=1, type=_F.TYPE_ENUM, type_name=".test.v2.Mode", label=_F.LABEL_OPTIONAL
    )
    return f, closed  # type: ignore[return-value]


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    for file in embedded_descriptor_set().file:
        pool.Add(file)
        added.add(file.name)
    for module in _WKT_FILES:
        if module.DESCRIPTOR.name not in added:
            proto = descriptor_pb2.FileDescriptorProto()
            module.DESCRIPTOR.CopyToProto(proto)
            pool.Add(proto)
    for proto in _everything_file():  # type: ignore[attr-defined]
        pool.Add(proto)
    return pool


def desc(name: str) -> Descriptor:
    return _pool().FindMessageTypeByName(name if "." in name else f"tta.v1.{name}")


def new(name: str, **values: Any) -> Message:
    message = message_factory.GetMessageClass(desc(name))()
    return json_format.ParseDict(values, message) if values else message


def as_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


# --- parse_json_body: accepted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "body", "field", "expected"),
    [
        pytest.param("ListPlayersRequest", b'{"pageSize": 10, "page_token": "t", "state": "PLAYER_STATE_ACTIVE"}',
                     None, {"page_size": 10, "page_token": "t", "state": "PLAYER_STATE_ACTIVE"}, id="camel-and-proto-names"),
        pytest.param("ListPlayersRequest", b'{"state": 2, "pageSize": "7"}', None,
                     {"state": "PLAYER_STATE_SUSPENDED", "page_size": 7}, id="enum-number-int-string"),
        pytest.param("UpdatePlayerRequest", b'{"player": {"displayName": "Bo", "preferences": {"font": "big"}},'
                     b' "updateMask": "displayName,preferences"}', None,
                     {"player": {"display_name": "Bo", "preferences": {"font": "big"}},
                      "update_mask": "displayName,preferences"}, id="nested-map-fieldmask"),
        pytest.param("UpdatePlayerRequest", b'{"displayName": "Bo", "createTime": "2024-05-01T12:00:00Z"}', "player",
                     {"player": {"display_name": "Bo", "create_time": "2024-05-01T12:00:00Z"}}, id="body-field-message"),
        pytest.param("ListPlayersResponse", b'[{"playerId": "a"}, {"player_id": "b"}]', "players",
                     {"players": [{"player_id": "a"}, {"player_id": "b"}]}, id="body-field-repeated"),
        pytest.param("ListPlayersRequest", b'"tok"', "page_token", {"page_token": "tok"}, id="body-field-scalar"),
        pytest.param("Turn", b'{"sequence": "9007199254740993"}', None, {"sequence": "9007199254740993"}, id="int64-string"),
        pytest.param("Character", b'{"traits": {"courage": 3}}', None, {"traits": {"courage": 3}}, id="map-int"),
        pytest.param("ListPlayersRequest", b"", None, {}, id="empty-body"),
        pytest.param("ListPlayersRequest", b" \n", None, {}, id="blank-body"),
        pytest.param("ListPlayersRequest", b'{"pageToken": "a", "pageToken": "b"}', None, {"page_token": "b"},
                     id="duplicate-key-last-wins"),
        pytest.param("test.v1.Everything", b'{"d": "NaN", "f": "-Infinity", "b": "aGk", "u64": "18446744073709551615",'
                     b' "sv": "x", "iv": 3, "st": {"a": [1, null]}, "dur": "1.5s", "flags": {"true": "y"}}', None,
                     {"d": "NaN", "f": "-Infinity", "b": "aGk=", "u64": "18446744073709551615", "sv": "x", "iv": 3,
                      "st": {"a": [1.0, None]}, "dur": "1.500s", "flags": {"true": "y"}}, id="everything"),
    ],
)  # fmt: skip
def test_parse_json_body_accepts(
    type_name: str, body: bytes, field: str | None, expected: dict[str, Any]
) -> None:
    assert as_dict(parse_json_body(body, desc(type_name), field=field)) == expected


def test_parse_json_body_merges_into_an_existing_message() -> None:
    request = new("UpdatePlayerRequest", updateMask="displayName")
    out = parse_json_body(b'{"displayName": "Bo"}', desc("UpdatePlayerRequest"), into=request, field="player")
    assert out is request
    assert as_dict(request) == {"player": {"display_name": "Bo"}, "update_mask": "displayName"}


def test_parse_json_body_rejects_into_of_another_type() -> None:
    with pytest.raises(TypeError, match=r"^into is a tta\.v1\.Player, not a tta\.v1\.UpdatePlayerRequest$"):
        parse_json_body(b"{}", desc("UpdatePlayerRequest"), into=new("Player"))


# --- parse_json_body: rejected, with the field and the reason --------------------------------------

_DEEP = b'{"child": ' * 101 + b"{}" + b"}" * 101
_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels of JSON arrays and objects"


@pytest.mark.parametrize(
    ("type_name", "body", "field", "where", "reason"),
    [
        ("UpdatePlayerRequest", b'{"player": {"displayName": 12}}', None, "player.display_name", "expected a string, got 12"),
        ("UpdatePlayerRequest", b'{"player": {"nickName": "x"}}', None, "player.nickName", "unknown field in tta.v1.Player"),
        ("UpdatePlayerRequest", b'{"displayName": 5}', "player", "player.display_name", "expected a string, got 5"),
        ("UpdatePlayerRequest", b'{"player": {"state": "NOPE"}}', None, "player.state",
         'unknown value "NOPE" for enum tta.v1.PlayerState'),
        ("UpdatePlayerRequest", b'{"player": {"preferences": {"a": 1}}}', None, "player.preferences[a]", "expected a string, got 1"),
        ("UpdatePlayerRequest", b'{"player": {"preferences": []}}', None, "player.preferences", "expected a JSON object (a map), got []"),
        ("UpdatePlayerRequest", b'{"player": {"createTime": "yesterday"}}', None, "player.create_time",
         'expected an RFC 3339 timestamp string such as "2024-05-01T12:00:00Z", got "yesterday"'),
        ("UpdatePlayerRequest", b'{"player": 5}', None, "player", "expected a JSON object (tta.v1.Player), got 5"),
        ("UpdatePlayerRequest", b'{"updateMask": 5}', None, "update_mask",
         'expected a comma-separated field mask string such as "displayName,preferences", got 5'),
        ("UpdatePlayerRequest", b"[1]", None, "<body>", "expected a JSON object (tta.v1.UpdatePlayerRequest), got [1]"),
        ("UpdatePlayerRequest", b"null", None, "<body>", "expected a JSON object (tta.v1.UpdatePlayerRequest), got null"),
        ("UpdatePlayerRequest", b'{"a":', None, "<body>", "malformed JSON: unexpected end of data: line 1 column 6 (char 5)"),
        ("UpdatePlayerRequest", b'{"a": "\xff"}', None, "<body>", "not valid UTF-8 (byte 7)"),
        ("ListPlayersRequest", b'{"pageSize": "x"}', None, "page_size", 'expected an integer (int32), got "x"'),
        ("ListPlayersRequest", b'{"pageSize": 1e20}', None, "page_size", "1e+20 is out of range for int32"),
        ("ListPlayersRequest", b'{"pageSize": true}', None, "page_size", "expected an integer (int32), got true"),
        ("ListPlayersRequest", b'{"pageSize": 1.5}', None, "page_size", "expected an integer (int32), got 1.5"),
        ("ListPlayersRequest", b'{"pageSize": "' + b"9" * 100 + b'"}', None, "page_size",
         '"99999999999999999999999999999999999999… is out of range for int32'),
        ("ListPlayersRequest", b'{"pageToken": ["' + b"x" * 100 + b'"]}', None, "page_token",
         'expected a string, got ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'),
        ("ListPlayersResponse", b'{"players": [{}, {"x": 1}]}', None, "players[1].x", "unknown field in tta.v1.Player"),
        ("ListPlayersResponse", b'{"players": [null]}', None, "players[0]", "null is not allowed in a repeated field"),
        ("ListPlayersResponse", b'{"players": {}}', None, "players", "expected a JSON array, got {}"),
        ("ListPlayersResponse", b'[{"x": 1}]', "players", "players[0].x", "unknown field in tta.v1.Player"),
        ("Character", b'{"traits": {"a": "x"}}', None, "traits[a]", 'expected an integer (int32), got "x"'),
        ("SubmitActionRequest", b'{"text": "a", "choiceId": "b"}', None, "choice_id", "oneof `action` is already set by `text`"),
        ("test.v1.Everything", b'{"b": "a"}', None, "b", 'expected a base64 string, got "a"'),
        ("test.v1.Everything", b'{"f": 1e39}', None, "f", "1e+39 is out of range for float"),
        ("test.v1.Everything", b'{"d": "abc"}', None, "d", 'expected a number, "NaN", "Infinity" or "-Infinity", got "abc"'),
        ("test.v1.Everything", b'{"u32": -1}', None, "u32", "-1 is out of range for uint32"),
        ("test.v1.Everything", b'{"i64": "1.5"}', None, "i64", 'expected an integer (int64), got "1.5"'),
        ("test.v1.Everything", b'{"flag": "true"}', None, "flag", 'expected true or false, got "true"'),
        ("test.v1.Everything", b'{"flags": {"yes": "y"}}', None, "flags[yes]", 'expected a map key "true" or "false", got "yes"'),
        ("test.v1.Everything", b'{"counts": {"x": "y"}}', None, "counts[x]", 'expected a decimal int32, got "x"'),
        ("test.v1.Everything", b'{"sv": 5}', None, "sv", "expected a string, got 5"),
        ("test.v1.Everything", b'{"st": []}', None, "st", "expected a JSON object, got []"),
        ("test.v1.Everything", b'{"rts": ["x"]}', None, "rts[0]",
         'expected an RFC 3339 timestamp string such as "2024-05-01T12:00:00Z", got "x"'),
        ("test.v1.Everything", b'{"children": [{"child": {"ri": [1, "z"]}}]}', None, "children[0].child.ri[1]",
         'expected an integer (int32), got "z"'),
        ("test.v1.Everything", _DEEP, None, "child.child.child.child.child…", _TOO_DEEP),
    ],
)  # fmt: skip
def test_parse_json_body_rejects(
    type_name: str, body: bytes, field: str | None, where: str, reason: str
) -> None:
    with pytest.raises(BindingError) as caught:
        parse_json_body(body, desc(type_name), field=field)
    assert (caught.value.field, caught.value.reason) == (where, reason)
    assert str(caught.value) == f"{where}: {reason}"


# --- parse_json_body: nesting is bounded, whatever recurses below -----------------------------------
# MAX_JSON_DEPTH (100) levels of arrays and objects, counted from the request message, are accepted and
# one more is a 400 naming the field. Beyond it: json_format's message limit (100 messages is only ~50
# levels of JSON inside a Struct), orjson.dumps' 255 (used to echo values in errors) and orjson.loads'
# 1024, each of which once escaped as a TypeError or RecursionError: a 500.


def _arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _objects(depth: int, key: bytes = b"a") -> bytes:
    return (b'{"' + key + b'": ') * (depth - 1) + b"{}" + b"}" * (depth - 1)


_NESTINGS = {  # where the nesting is → (type, body of that total depth, body field)
    "top-level Value": lambda d: ("google.protobuf.Value", _arrays(d), None),
    "top-level ListValue": lambda d: ("google.protobuf.ListValue", _arrays(d), None),
    "top-level message": lambda d: ("test.v1.Everything", _objects(d, b"child"), None),
    "Struct field": lambda d: ("test.v1.Everything", b'{"st": ' + _objects(d - 1) + b"}", None),
    "Value field": lambda d: ("test.v1.Everything", b'{"val": ' + _arrays(d - 1) + b"}", None),
    "ListValue field": lambda d: ("test.v1.Everything", b'{"lv": ' + _arrays(d - 1) + b"}", None),
    "body: Struct field": lambda d: ("test.v1.Everything", _objects(d - 1), "st"),
    "Struct in a repeated message": lambda d: (
        "test.v1.Everything", b'{"children": [{}, {"st": ' + _objects(d - 3) + b"}]}", None
    ),
}  # fmt: skip
_SHALLOW = {"top-level Value": "<body>", "top-level ListValue": "<body>", "Value field": "val",
            "ListValue field": "lv", "Struct field": "st", "body: Struct field": "st",
            "Struct in a repeated message": "children[1].st"}  # fmt: skip


@pytest.mark.parametrize("depth", [4, 50, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH])
@pytest.mark.parametrize("where", list(_NESTINGS))
def test_parse_json_body_accepts_nesting_up_to_the_limit(where: str, depth: int) -> None:
    type_name, body, field = _NESTINGS[where](depth)
    assert json_depth(orjson.loads(body)) == depth - (field is not None)
    message = parse_json_body(body, desc(type_name), field=field)
    written = orjson.loads(to_json(message, JsonOptions()))  # and the response side writes it back
    assert written == orjson.loads(body if field is None else b'{"st": ' + body + b"}")


@pytest.mark.parametrize(
    "depth",
    [
        MAX_JSON_DEPTH + 1,
        MAX_JSON_DEPTH + 2,
        255,  # orjson.dumps refuses 255 levels: it escaped (TypeError) from the echo in error messages
        256,
        1000,  # repr() of it exceeded Python's recursion limit
        1024,  # the deepest orjson.loads accepts
        1025,  # orjson.loads refuses: the same answer, only without the field (not parsed)
        5000,
    ],
)
@pytest.mark.parametrize("where", list(_NESTINGS))
def test_parse_json_body_refuses_deeper_nesting_naming_the_field(where: str, depth: int) -> None:
    type_name, body, field = _NESTINGS[where](depth)
    with pytest.raises(BindingError) as caught:
        parse_json_body(body, desc(type_name), field=field)
    named = _SHALLOW.get(where, "child.child.child.child.child…")
    parsed = depth - (field is not None) <= 1024  # a body field's wrapping is not orjson's to count
    assert (caught.value.field, caught.value.reason) == (named if parsed else "<body>", _TOO_DEEP)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"s": ' + _arrays(MAX_JSON_DEPTH) + b"}", "s"),  # a string field: too deep comes first
        (b'{"nope": ' + _arrays(MAX_JSON_DEPTH) + b"}", "nope"),  # an unknown key, as sent
        (b'{"counts": {"1": ' + _arrays(MAX_JSON_DEPTH - 1) + b"}}", "counts[1]"),  # a map of strings
        (b'{"child": {"children": [' + _objects(MAX_JSON_DEPTH - 2, b"child") + b"]}}",
         "child.children[0].child.child…"),  # at most five segments are named
        (_arrays(MAX_JSON_DEPTH + 1), "<body>"),  # not an object: too deep is said first
    ],
)  # fmt: skip
def test_too_deep_names_the_outermost_fields(body: bytes, where: str) -> None:
    with pytest.raises(BindingError) as caught:
        parse_json_body(body, desc("test.v1.Everything"))
    assert (caught.value.field, caught.value.reason) == (where, _TOO_DEEP)


def test_parse_json_body_on_a_deep_stack_is_still_a_binding_error() -> None:
    """Within the limit, but the caller's stack is so deep that json_format runs out of frames: still a
    BindingError (the door's 400), never a RecursionError."""
    body = b'{"st": ' + _objects(MAX_JSON_DEPTH - 1) + b"}"
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 150)  # json_format needs some 600 frames for 100 levels of Struct
    try:
        with pytest.raises(BindingError) as caught:
            parse_json_body(body, desc("test.v1.Everything"))
    finally:
        sys.setrecursionlimit(limit)
    assert caught.value.field == "st"
    assert caught.value.reason == f"nested {MAX_JSON_DEPTH} levels deep, too deep to parse here"


@pytest.mark.parametrize(
    ("value", "stop", "depth"),
    [
        (1, None, 0),
        ("[[[", None, 0),
        ([], None, 1),
        ({"a": [1, {"b": []}], "c": {}}, None, 4),
        ([[], [[[]]], []], None, 4),
        ([[[[[]]]]], 2, 3),  # counting stops one level past `stop`
        (orjson.loads(_arrays(1024)), None, 1024),  # iterative: no recursion limit to hit
    ],
)
def test_json_depth(value: object, stop: int | None, depth: int) -> None:
    assert json_depth(value, stop) == depth


# --- to_json / to_json_field -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "values", "options", "expected"),
    [
        ("ListPlayersRequest", {"pageSize": 10, "state": "PLAYER_STATE_ACTIVE"}, JsonOptions(),
         {"pageSize": 10, "state": "PLAYER_STATE_ACTIVE"}),
        ("ListPlayersRequest", {"pageSize": 10}, JsonOptions(use_proto_names=True), {"page_size": 10}),
        ("ListPlayersRequest", {}, JsonOptions(emit_unpopulated=True),
         {"pageSize": 0, "pageToken": "", "state": "PLAYER_STATE_UNSPECIFIED", "therapistId": ""}),
        ("Turn", {"sequence": "42"}, JsonOptions(), {"sequence": "42"}),
        ("test.v1.Everything", {"d": "NaN", "b": "aGk="}, JsonOptions(), {"d": "NaN", "b": "aGk="}),
    ],
)  # fmt: skip
def test_to_json(
    type_name: str, values: dict[str, Any], options: JsonOptions, expected: dict[str, Any]
) -> None:
    assert orjson.loads(to_json(new(type_name, **values), options)) == expected


@pytest.mark.parametrize(
    ("type_name", "values", "path", "expected"),
    [
        ("ListPlayersResponse", {"players": [{"playerId": "a"}], "totalSize": 1}, "players", b'[{"playerId":"a"}]'),
        ("ListPlayersResponse", {}, "players", b"[]"),
        ("ListPlayersResponse", {}, "total_size", b"0"),
        ("GetPlayerResponse", {}, "player", b"{}"),
        ("GetPlayerResponse", {"player": {"displayName": "Bo"}}, "player.display_name", b'"Bo"'),
        ("DeletePlayerResponse", {}, "purge_time", b"null"),
        ("DeletePlayerResponse", {"purgeTime": "2024-05-01T12:00:00Z"}, "purge_time", b'"2024-05-01T12:00:00Z"'),
    ],
)  # fmt: skip
def test_to_json_field(type_name: str, values: dict[str, Any], path: str, expected: bytes) -> None:
    assert to_json_field(new(type_name, **values), path, JsonOptions()) == expected


def test_to_json_field_proto_names() -> None:
    response = new("ListPlayersResponse", players=[{"displayName": "a"}])
    assert to_json_field(response, "players", JsonOptions(use_proto_names=True)) == b'[{"display_name":"a"}]'


# --- apply_bindings --------------------------------------------------------------------------------

_NAN = object()


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("s", "hello world", "hello world"),
        ("b", "aGk", b"hi"),
        ("b", "aGk=", b"hi"),
        ("b", "-_8", b"\xfb\xff"),
        ("b", "+/8=", b"\xfb\xff"),
        ("flag", "true", True),
        ("flag", "1", True),
        ("flag", "false", False),
        ("flag", "0", False),
        ("i32", "-5", -5),
        ("i64", "9223372036854775807", 2**63 - 1),
        ("u64", "18446744073709551615", 2**64 - 1),
        ("si64", "-9223372036854775808", -(2**63)),
        ("f", "1.5", 1.5),
        ("d", "-2.5e3", -2500.0),
        ("d", "Infinity", math.inf),
        ("d", "-Infinity", -math.inf),
        ("d", "NaN", _NAN),
        ("color", "RED", 1),
        ("color", "2", 2),
        ("color", "99", 99),  # proto3 enums are open: an unknown number is kept, as in proto3 JSON
        ("child.child.s", "deep", "deep"),
    ],
)  # fmt: skip
def test_apply_bindings_converts(path: str, text: str, expected: object) -> None:
    message = new("test.v1.Everything")
    apply_bindings(message, [(path, text)])
    target: Any = message
    for name in path.split(".")[:-1]:
        target = getattr(target, name)
    value = getattr(target, path.rsplit(".", 1)[-1])
    assert math.isnan(value) if expected is _NAN else value == expected


def test_apply_bindings_on_a_tta_request() -> None:
    request = new("UpdatePlayerRequest")
    apply_bindings(request, [("player.player_id", "pl_1")])
    assert as_dict(request) == {"player": {"player_id": "pl_1"}}


@pytest.mark.parametrize(
    ("type_name", "path", "text", "where", "reason"),
    [
        ("test.v1.Everything", "i32", "2147483648", "i32", '"2147483648" is out of range for int32'),
        ("test.v1.Everything", "i32", " 7", "i32", 'expected a decimal int32, got " 7"'),
        ("test.v1.Everything", "i32", "1_000", "i32", 'expected a decimal int32, got "1_000"'),
        ("test.v1.Everything", "i32", "١٢", "i32", 'expected a decimal int32, got "١٢"'),
        ("test.v1.Everything", "u32", "-1", "u32", '"-1" is out of range for uint32'),
        ("test.v1.Everything", "u64", "18446744073709551616", "u64", '"18446744073709551616" is out of range for uint64'),
        ("test.v1.Everything", "flag", "yes", "flag", 'expected true, false, 1 or 0, got "yes"'),
        ("test.v1.Everything", "d", "1e400", "d", '"1e400" is out of range for double'),
        ("test.v1.Everything", "f", "1e39", "f", '"1e39" is out of range for float'),
        ("test.v1.Everything", "d", "nan", "d", 'expected a number, "NaN", "Infinity" or "-Infinity", got "nan"'),
        ("test.v1.Everything", "b", "a!b", "b", 'expected base64 (standard or URL-safe), got "a!b"'),
        ("test.v1.Everything", "b", "abcde", "b", 'expected base64 (standard or URL-safe), got "abcde"'),
        ("test.v1.Everything", "color", "BLUE", "color", 'unknown value "BLUE" for enum test.v1.Color'),
        ("test.v1.Everything", "color", "2147483648", "color", 'unknown value "2147483648" for enum test.v1.Color'),
        ("test.v2.Closed", "mode", "7", "mode", 'unknown value "7" for enum test.v2.Mode'),
        ("test.v1.Everything", "rs", "x", "rs", "is repeated or a map; a path variable binds a single value"),
        ("test.v1.Everything", "counts", "x", "counts", "is repeated or a map; a path variable binds a single value"),
        ("test.v1.Everything", "child", "x", "child", "is a message (test.v1.Everything), not a scalar or enum"),
        ("test.v1.Everything", "ts", "x", "ts", "is a message (google.protobuf.Timestamp), not a scalar or enum"),
        ("test.v1.Everything", "nope", "x", "nope", "no such field in test.v1.Everything"),
        ("test.v1.Everything", "s.x", "x", "s.x", "`s` is not a message, so it has no field `x`"),
        ("test.v1.Everything", "children.s", "x", "children.s", "`children` is repeated or a map; a path cannot go through it"),
        ("UpdatePlayerRequest", "player.displayName", "x", "player.displayName", "no such field in tta.v1.Player"),
    ],
)  # fmt: skip
def test_apply_bindings_rejects(type_name: str, path: str, text: str, where: str, reason: str) -> None:
    with pytest.raises(BindingError) as caught:
        apply_bindings(new(type_name), [(path, text)])
    assert (caught.value.field, caught.value.reason) == (where, reason)


# --- resolve_field / field_path_kind ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "path", "kind"),
    [
        ("UpdatePlayerRequest", "player.player_id", FieldKind.STRING),
        ("ListPlayersRequest", "state", FieldKind.ENUM),
        ("ListPlayersRequest", "page_size", FieldKind.INTEGER),
        ("test.v1.Everything", "b", FieldKind.BYTES),
        ("test.v1.Everything", "flag", FieldKind.BOOL),
        ("test.v1.Everything", "d", FieldKind.FLOAT),
        ("test.v1.Everything", "child.u64", FieldKind.INTEGER),
    ],
)
def test_field_path_kind(type_name: str, path: str, kind: FieldKind) -> None:
    assert field_path_kind(desc(type_name), path) is kind


def test_resolve_field() -> None:
    field = resolve_field(desc("UpdatePlayerRequest"), "player.preferences")
    assert field.full_name == "tta.v1.Player.preferences"
    assert field.is_repeated
    with pytest.raises(BindingError, match=r"^player\.nick: no such field in tta\.v1\.Player$"):
        resolve_field(desc("UpdatePlayerRequest"), "player.nick")
    with pytest.raises(BindingError, match=r"^player\.preferences\.font: `preferences` is repeated or a map"):
        resolve_field(desc("UpdatePlayerRequest"), "player.preferences.font")


# --- properties ------------------------------------------------------------------------------------

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_SNAKE = st.from_regex(r"[a-z]{1,5}(_[a-z]{1,5}){0,2}(\.[a-z]{1,5}){0,1}", fullmatch=True)


def _scalars(field: FieldDescriptor, finite: bool) -> st.SearchStrategy[Any]:
    cpp = field.cpp_type
    if cpp in _INT_RANGES:
        return st.integers(*_INT_RANGES[cpp])
    if cpp == FieldDescriptor.CPPTYPE_STRING:
        return st.binary(max_size=8) if field.type == FieldDescriptor.TYPE_BYTES else st.text(max_size=8)
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return st.booleans()
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    width = 32 if cpp == FieldDescriptor.CPPTYPE_FLOAT else 64
    return st.floats(width=width, allow_nan=not finite)


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 2, finite: bool = True) -> Message:
    """A random message of ``descriptor``: ints in range, text, enums, nested, repeated, maps, WKTs."""
    message = message_factory.GetMessageClass(descriptor)()
    name = descriptor.full_name
    if name == "google.protobuf.Timestamp":
        message.seconds = draw(st.integers(-62135596800, 253402300799))  # type: ignore[attr-defined]
        message.nanos = draw(st.integers(0, 999_999_999))  # type: ignore[attr-defined]
    elif name == "google.protobuf.Duration":
        message.seconds = draw(st.integers(0, 315576000000))  # type: ignore[attr-defined]
        message.nanos = draw(st.integers(0, 999_999_999))  # type: ignore[attr-defined]
    elif name == "google.protobuf.FieldMask":
        message.paths.extend(draw(st.lists(_SNAKE, max_size=3)))  # type: ignore[attr-defined]
    elif name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        shape = {"google.protobuf.Struct": st.dictionaries(st.text(max_size=5), _JSON_VALUES, max_size=3),
                 "google.protobuf.ListValue": st.lists(_JSON_VALUES, max_size=3)}.get(name, _JSON_VALUES)  # fmt: skip
        json_format.ParseDict(draw(shape), message)
    else:
        for field in descriptor.fields:
            if not draw(st.booleans()):
                continue
            container = getattr(message, field.name)
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                keys, values = entry.fields_by_name["key"], entry.fields_by_name["value"]
                for key, value in draw(
                    st.dictionaries(_scalars(keys, True), _scalars(values, finite), max_size=3)
                ).items():
                    container[key] = value
            elif entry is not None and depth == 0:
                continue
            elif entry is not None and field.is_repeated:
                for item in draw(st.lists(messages(entry, depth - 1, finite), max_size=2)):
                    container.add().MergeFrom(item)
            elif entry is not None:
                container.MergeFrom(draw(messages(entry, depth - 1, finite)))
                container.SetInParent()
            elif field.is_repeated:
                container.extend(draw(st.lists(_scalars(field, finite), max_size=3)))
            else:
                setattr(message, field.name, draw(_scalars(field, finite)))
    return message


_TYPES = st.sampled_from(
    [
        "Player",
        "UpdatePlayerRequest",
        "Character",
        "Progress",
        "Turn",
        "SubmitActionRequest",
        "test.v1.Everything",
    ]
)
_OPTIONS = st.builds(JsonOptions, use_proto_names=st.booleans(), emit_unpopulated=st.booleans())
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(data=st.data(), options=_OPTIONS)
def test_round_trip_message_to_json_and_back(data: st.DataObject, options: JsonOptions) -> None:
    descriptor = desc(data.draw(_TYPES))
    message = data.draw(messages(descriptor))
    assert parse_json_body(to_json(message, options), descriptor) == message


@_SETTINGS
@given(data=st.data(), options=_OPTIONS)
def test_to_json_is_message_to_json(data: st.DataObject, options: JsonOptions) -> None:
    message = data.draw(messages(desc(data.draw(_TYPES)), finite=False))
    reference = json_format.MessageToJson(
        message,
        preserving_proto_field_name=options.use_proto_names,
        always_print_fields_with_no_presence=options.emit_unpopulated,
    )
    assert orjson.loads(to_json(message, options)) == json.loads(reference)


@_SETTINGS
@given(data=st.data())
def test_parse_json_body_raises_only_binding_error(data: st.DataObject) -> None:
    descriptor = desc(data.draw(_TYPES))
    keys = st.sampled_from(
        [f.json_name for f in descriptor.fields] + [f.name for f in descriptor.fields]
    ) | st.text(max_size=4)
    body = data.draw(st.dictionaries(keys, _JSON_VALUES, max_size=4))
    with contextlib.suppress(BindingError):  # anything else fails the test
        parse_json_body(orjson.dumps(body), descriptor)


# JSON-ish bytes: JSON and near-JSON text built by hand, so that it may hold what a serializer would
# refuse to write: integers of any size, NaN and Infinity, 1e400, lone surrogates, invalid UTF-8,
# duplicate keys, nesting of any depth, cut-off text.
_EVERYTHING_KEYS = st.sampled_from(
    sorted({k for f in desc("test.v1.Everything").fields for k in (f.name, f.json_name)} | {"@type", "value", "a"})
) | st.text(max_size=4)  # fmt: skip
_ATOMS = st.one_of(
    st.sampled_from(
        [
            b"null",
            b"true",
            b"false",
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"-0",
            b"01",
            b"1.",
            b".5",
            b"0x10",
            b'"\\ud800"',
            b'"\\udc00\\ud800"',
            b'"\xff"',
            b'"\xed\xa0\x80"',
            b'"NaN"',
            b'"-Infinity"',
            b'"1.5s"',
            b'"2024-05-01T12:00:00Z"',
            b'"RED"',
            b'"aGk="',
            b'"18446744073709551616"',
            b'"type.googleapis.com/google.protobuf.Value"',
        ]
    ),
    st.integers().map(lambda n: str(n).encode()),  # unbounded: far beyond 64 bits too
    st.floats().map(lambda x: repr(x).encode()),  # nan, inf: not JSON
    st.text(max_size=6).map(lambda t: json.dumps(t).encode()),  # lone surrogates as \\u escapes
)


def _object_text(pairs: list[tuple[str, bytes]]) -> bytes:  # duplicate keys kept, as sent
    return b"{" + b",".join(json.dumps(k).encode() + b":" + v for k, v in pairs) + b"}"


_JSONISH = st.recursive(
    _ATOMS,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda xs: b"[" + b",".join(xs) + b"]")
        | st.lists(st.tuples(_EVERYTHING_KEYS, inner), max_size=4).map(_object_text)
    ),
    max_leaves=10,
)
_DEEP_JSONISH = st.builds(
    lambda depth, opener, inner: opener * depth + inner + (b"]" if opener == b"[" else b"}") * depth,
    st.integers(0, 1100) | st.sampled_from([MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 255, 1024, 1025]),
    st.sampled_from([b"[", b'{"st":', b'{"val":', b'{"child":', b'{"a":', b'{"lv":', b'{"children":']),
    _JSONISH,
)


@st.composite
def _jsonish_bytes(draw: st.DrawFn) -> bytes:
    fields = st.lists(st.tuples(_EVERYTHING_KEYS, _JSONISH | _DEEP_JSONISH), max_size=4).map(_object_text)
    body: bytes = draw(st.one_of(_JSONISH, _DEEP_JSONISH, fields, st.binary(max_size=24)))
    cut = draw(st.sampled_from(["whole", "truncated", "bad byte"]))
    at = draw(st.integers(0, len(body)))
    if cut == "truncated":
        return body[:at]
    if cut == "bad byte":
        return body[:at] + draw(st.sampled_from([b"\xff", b"\xc0", b"\xed\xa0\x80", b"\x00"])) + body[at:]
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=_jsonish_bytes(),
    field=st.sampled_from([None, "st", "val", "lv", "child", "children", "s", "counts"]),
)
def test_parse_json_body_raises_only_value_errors_for_any_bytes(body: bytes, field: str | None) -> None:
    """Whatever the bytes, the outcome is a message or a ValueError (BindingError is one): the door
    answers those 400, and anything else would be a 500 with a traceback."""
    with contextlib.suppress(ValueError):
        parse_json_body(body, desc("test.v1.Everything"), field=field)


FLOAT32_MAX = 3.4028234663852886e38


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        # protobuf's own printer writes float32's largest value as 3.4028235e+38, a little above it as
        # a double: it must parse back (found by the round-trip property above)
        (b'{"f": 3.4028235e+38}', ("f",), FLOAT32_MAX),
        (b'{"f": -3.4028235E38}', ("f",), -FLOAT32_MAX),
        (b'{"child": {"f": 3.4028235e+38}}', ("child", "f"), FLOAT32_MAX),
        (b'{"children": [{}, {"f": 3.4028235e+38}]}', ("children", 1, "f"), FLOAT32_MAX),
        (b'{"f": 340282350000000000000000000000000000000}', ("f",), FLOAT32_MAX),
    ],
)
def test_the_largest_float32_as_protobuf_prints_it_parses_back(
    body: bytes, path: tuple[str | int, ...], expected: float
) -> None:
    node: Any = parse_json_body(body, desc("test.v1.Everything"))
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    assert node == expected


@pytest.mark.parametrize("body", [b'{"f": 3.4028236e+38}', b'{"f": 3.5e38}', b'{"child": {"f": -1e39}}'])
def test_a_float_beyond_float32_is_still_refused(body: bytes) -> None:
    with pytest.raises(BindingError, match="out of range for float"):
        parse_json_body(body, desc("test.v1.Everything"))


@pytest.mark.parametrize(
    ("text", "expected"), [("3.4028235e+38", FLOAT32_MAX), ("-3.4028235e38", -FLOAT32_MAX)]
)
def test_the_largest_float32_parses_as_a_path_or_query_value(text: str, expected: float) -> None:
    assert parse_scalar(desc("test.v1.Everything").fields_by_name["f"], text, "f") == expected
