"""transcoder.query: decoding a raw query string and applying its parameters to a request message, against
the real TTA contracts and a small message with the field types the TTA contracts lack."""

from __future__ import annotations

import contextlib
import functools
import json
import math
from typing import Any

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
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.descriptors import embedded_descriptor_set
from transcoder.codec import BindingError, json_depth
from transcoder.query import apply_query, parse_query

_F = descriptor_pb2.FieldDescriptorProto
_WKT_FILES = (timestamp_pb2, duration_pb2, field_mask_pb2, wrappers_pb2, struct_pb2)
_FIELDS: list[tuple[str, int | str, str]] = [
    ("flag", _F.TYPE_BOOL, ""),
    ("b", _F.TYPE_BYTES, ""),
    ("f", _F.TYPE_FLOAT, ""),
    ("u64", _F.TYPE_UINT64, ""),
    ("ri", _F.TYPE_INT32, "repeated"),
    ("rs", _F.TYPE_STRING, "repeated"),
    ("counts", ".test.q.Params.CountsEntry", "repeated"),
    ("stamps", ".test.q.Params.StampsEntry", "repeated"),
    ("dur", ".google.protobuf.Duration", ""),
    ("sv", ".google.protobuf.StringValue", ""),
    ("iv", ".google.protobuf.Int32Value", ""),
    ("bv", ".google.protobuf.BoolValue", ""),
    ("bytes_value", ".google.protobuf.BytesValue", ""),
    ("st", ".google.protobuf.Struct", ""),
    ("val", ".google.protobuf.Value", ""),
    ("lv", ".google.protobuf.ListValue", ""),
    ("rts", ".google.protobuf.Timestamp", "repeated"),
    ("child", ".test.q.Params", ""),
    ("children", ".test.q.Params", "repeated"),
    ("text", _F.TYPE_STRING, "oneof"),
    ("number", _F.TYPE_INT32, "oneof"),
]


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    names = {file.name for file in embedded_descriptor_set().file}
    for file in embedded_descriptor_set().file:
        pool.Add(file)
    for module in _WKT_FILES:
        if module.DESCRIPTOR.name not in names:
            proto = descriptor_pb2.FileDescriptorProto()
            module.DESCRIPTOR.CopyToProto(proto)
            pool.Add(proto)
    f = descriptor_pb2.FileDescriptorProto(name="test/q.proto", package="test.q", syntax="proto3")
    f.dependency.extend(m.DESCRIPTOR.name for m in _WKT_FILES)
    msg = f.message_type.add(name="Params")
    msg.oneof_decl.add(name="choice")
    for entry, key_type, value in (("CountsEntry", _F.TYPE_INT32, ""), ("StampsEntry", _F.TYPE_STRING, "ts")):
        nested = msg.nested_type.add(name=entry)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, type=key_type, label=_F.LABEL_OPTIONAL)
        value_field = nested.field.add(name="value", number=2, label=_F.LABEL_OPTIONAL, type=_F.TYPE_STRING)
        if value:
            value_field.type, value_field.type_name = _F.TYPE_MESSAGE, ".google.protobuf.Timestamp"
    for number, (name, kind, how) in enumerate(_FIELDS, start=1):
        field = msg.field.add(name=name, number=number, label=_F.LABEL_OPTIONAL)
        if isinstance(kind, str):
            field.type, field.type_name = _F.TYPE_MESSAGE, kind
        else:
            field.type = kind  # type: ignore[assignment]
        if how == "repeated":
            field.label = _F.LABEL_REPEATED
        elif how == "oneof":
            field.oneof_index = 0
    pool.Add(f)
    return pool


def desc(name: str) -> Descriptor:
    return _pool().FindMessageTypeByName(name if "." in name else f"tta.v1.{name}")


def new(name: str) -> Message:
    return message_factory.GetMessageClass(desc(name))()


def as_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


# --- parse_query -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        (b"page_size=10&state=PLAYER_STATE_ACTIVE", [("page_size", "10"), ("state", "PLAYER_STATE_ACTIVE")]),
        ("q=a+b%2Bc", [("q", "a b+c")]),  # "+" is a space (form encoding, as Go's url.ParseQuery); %2B a plus
        (b"a=1&&b=2&", [("a", "1"), ("b", "2")]),
        (b"a=1&a=2&b=3&a=4", [("a", "1"), ("a", "2"), ("b", "3"), ("a", "4")]),
        (b"flag", [("flag", "")]),
        (b"=v", [("", "v")]),
        (b"a=x=y", [("a", "x=y")]),
        (b"a=1;b=2", [("a", "1;b=2")]),  # ";" is not a separator
        (b"labels%5Bk%5D=%E2%9C%93", [("labels[k]", "✓")]),
        ("name=café", [("name", "café")]),
        (b"", []),
    ],
)
def test_parse_query(raw: bytes | str, pairs: list[tuple[str, str]]) -> None:
    assert parse_query(raw) == pairs


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"a=%zz", 'invalid percent-escape "%zz" in "a=%zz"'),
        (b"a=%4", 'invalid percent-escape "%4" in "a=%4"'),
        (b"a%=1", 'invalid percent-escape "%" in "a%=1"'),
        (b"a=%ff", '"a=%ff" is not valid UTF-8 once percent-decoded'),
        (b"a=\xff", '"a=\\\\xff" is not valid UTF-8 once percent-decoded'),
        ("a=\ud800", "not valid UTF-8 (lone surrogate)"),
    ],
)
def test_parse_query_rejects(raw: bytes | str, reason: str) -> None:
    with pytest.raises(BindingError) as caught:
        parse_query(raw)
    assert (caught.value.field, caught.value.reason) == ("<query>", reason)


# --- apply_query: accepted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "query", "expected"),
    [
        ("ListPlayersRequest", "page_size=10&page_token=abc&state=PLAYER_STATE_ACTIVE",
         {"page_size": 10, "page_token": "abc", "state": "PLAYER_STATE_ACTIVE"}),
        ("ListPlayersRequest", "pageSize=10&pageToken=abc&therapistId=t1",
         {"page_size": 10, "page_token": "abc", "therapist_id": "t1"}),
        ("ListPlayersRequest", "state=2", {"state": "PLAYER_STATE_SUSPENDED"}),
        ("UpdatePlayerRequest", "player.displayName=Bo+Lee&player.player_id=p1",
         {"player": {"display_name": "Bo Lee", "player_id": "p1"}}),
        ("UpdatePlayerRequest", "update_mask=displayName,player.time_zone,preferences",
         {"update_mask": "displayName,player.timeZone,preferences"}),
        ("UpdatePlayerRequest", "updateMask=display_name,+time_zone", {"update_mask": "displayName,timeZone"}),
        ("UpdatePlayerRequest", "updateMask=", {"update_mask": ""}),
        ("UpdatePlayerRequest", "player.preferences[font]=big&player.preferences[speed]=slow",
         {"player": {"preferences": {"font": "big", "speed": "slow"}}}),
        ("UpdatePlayerRequest", "player.createTime=2024-05-01T12:00:00%2B02:00",
         {"player": {"create_time": "2024-05-01T10:00:00Z"}}),
        ("Character", "traits[courage]=3", {"traits": {"courage": 3}}),
        ("test.q.Params", "flag=true&b=_-8&f=NaN&u64=18446744073709551615", {"flag": True, "b": "/+8=", "f": "NaN",
                                                                          "u64": "18446744073709551615"}),
        ("test.q.Params", "flag=0&b=%2B%2F8%3D", {"b": "+/8="}),
        ("test.q.Params", "ri=1&ri=2&rs=a&ri=3&rs=", {"ri": [1, 2, 3], "rs": ["a", ""]}),
        ("test.q.Params", "counts[7]=x&counts[-1]=y", {"counts": {"7": "x", "-1": "y"}}),
        ("test.q.Params", "stamps[a]=1970-01-01T00:00:01Z", {"stamps": {"a": "1970-01-01T00:00:01Z"}}),
        ("test.q.Params", "dur=1.5s&sv=hello&iv=-3&bv=false&bytes_value=aGk", {"dur": "1.500s", "sv": "hello", "iv": -3,
                                                                              "bv": False, "bytes_value": "aGk="}),
        ("test.q.Params", 'st={"a":[1,null]}&val="x"&lv=[true]', {"st": {"a": [1.0, None]}, "val": "x", "lv": [True]}),
        ("test.q.Params", "rts=1970-01-01T00:00:00Z&rts=1970-01-01T00:00:02Z",
         {"rts": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:02Z"]}),
        ("test.q.Params", "child.child.ri=5&child.text=t&number=4", {"child": {"child": {"ri": [5]}, "text": "t"},
                                                                    "number": 4}),
    ],
)  # fmt: skip
def test_apply_query(type_name: str, query: str, expected: dict[str, Any]) -> None:
    message = new(type_name)
    apply_query(message, parse_query(query))
    got = as_dict(message)
    if type_name == "test.q.Params" and "f" in expected:  # float32 NaN reads back as the JSON "NaN"
        assert math.isnan(getattr(message, "f"))  # noqa: B009
    assert got == expected


# --- precedence: path > body > query ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "skip", "expected"),
    [
        # path bound player.player_id: the query may not override it, may set siblings
        (
            "player.player_id=evil&player.displayName=Bo",
            ["player.player_id"],
            {"player": {"display_name": "Bo"}},
        ),
        ("player.playerId=evil", ["player.player_id"], {}),  # lowerCamel spelling is caught too
        # body bound `player`: every player.* parameter is ignored, even an unknown one
        (
            "player.displayName=Bo&player.nick=x&updateMask=displayName",
            ["player"],
            {"update_mask": "displayName"},
        ),
        # a parameter naming a message whose sub-field is bound is ignored (grpc-gateway's common prefix)
        ("player=x", ["player.player_id"], {}),
        # body "*": no query parameters at all (http.proto), not even unknown ones
        ("player.displayName=Bo&typo=1", ["*"], {}),
    ],
)
def test_apply_query_skips_fields_bound_by_path_or_body(
    query: str, skip: list[str], expected: dict[str, Any]
) -> None:
    message = new("UpdatePlayerRequest")
    apply_query(message, parse_query(query), skip=skip)
    assert as_dict(message) == expected


def test_unknown_parameters_can_be_ignored() -> None:
    message = new("ListPlayersRequest")
    apply_query(message, parse_query("pageSiz=1&page_size=2&filter.x=1"), unknown="ignore")
    assert as_dict(message) == {"page_size": 2}


# --- apply_query: rejected, with the field and the reason ------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "query", "where", "reason"),
    [
        ("ListPlayersRequest", "pageSiz=1", "pageSiz", "unknown query parameter: no field `pageSiz` in tta.v1.ListPlayersRequest"),
        ("UpdatePlayerRequest", "player.nick=1", "player.nick", "unknown query parameter: no field `nick` in tta.v1.Player"),
        ("ListPlayersRequest", "page_size.x=1", "page_size.x", "unknown query parameter: no field `x` in `page_size` (not a message)"),
        ("ListPlayersRequest", "page_size=1&pageSize=2", "page_size", "given more than once; only a repeated field takes several values"),
        ("ListPlayersRequest", "page_token=a&page_token=b", "page_token", "given more than once; only a repeated field takes several values"),
        ("ListPlayersRequest", "page_size=ten", "page_size", 'expected a decimal int32, got "ten"'),
        ("ListPlayersRequest", "page_size=2147483648", "page_size", '"2147483648" is out of range for int32'),
        ("ListPlayersRequest", "state=ACTIVE", "state", 'unknown value "ACTIVE" for enum tta.v1.PlayerState'),
        ("UpdatePlayerRequest", "player=x", "player", "is a message (tta.v1.Player); a query parameter sets its fields, e.g. `player.<field>`"),
        ("UpdatePlayerRequest", "player.preferences=x", "player.preferences", "is a map; set an entry with `player.preferences[KEY]=VALUE`"),
        ("UpdatePlayerRequest", "player.preferences.font=big", "player.preferences.font",
         "`preferences` is a map; set an entry with `player.preferences[font]=VALUE`"),
        ("UpdatePlayerRequest", "player.preferences[a]=1&player.preferences[a]=2", "player.preferences[a]",
         "given more than once; only a repeated field takes several values"),
        ("UpdatePlayerRequest", "player.display_name[a]=1", "player.display_name", "is not a map; `player.display_name[a]` addresses a map entry"),
        ("UpdatePlayerRequest", "player.createTime=yesterday", "player.create_time",
         'expected an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, got "yesterday"'),
        ("UpdatePlayerRequest", "player.createTime=2024-05-01T12:00:00+02:00", "player.create_time",
         'expected an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, got "2024-05-01T12:00:00 02:00"'),
        ("UpdatePlayerRequest", "updateMask=display-name", "update_mask", 'invalid field mask path "display-name"'),
        ("Character", "traits[courage]=brave", "traits[courage]", 'expected a decimal int32, got "brave"'),
        ("SubmitActionRequest", "text=hi&choiceId=c1", "choice_id", "oneof `action` is already set by `text`"),
        ("test.q.Params", "flag=yes", "flag", 'expected true, false, 1 or 0, got "yes"'),
        ("test.q.Params", "b=a", "b", 'expected base64 (standard or URL-safe), got "a"'),
        ("test.q.Params", "f=1e39", "f", '"1e39" is out of range for float'),
        ("test.q.Params", "counts[x]=1", "counts[x]", 'expected a decimal int32, got "x"'),
        ("test.q.Params", "dur=90", "dur", 'expected a duration such as 1.5s, got "90"'),
        ("test.q.Params", "iv=1.5", "iv", 'expected a decimal int32, got "1.5"'),
        ("test.q.Params", "st=[1]", "st", 'expected a JSON object, got "[1]"'),
        ("test.q.Params", "st={", "st", "expected JSON text for google.protobuf.Struct: unexpected end of data: line 1 column 2 (char 1)"),
        ("test.q.Params", "children.ri=1", "children.ri", "`children` is repeated; a parameter cannot go inside it"),
        ("test.q.Params", "children=1", "children", "is a message (test.q.Params); a query parameter sets its fields, e.g. `children.<field>`"),
        ("test.q.Params", "child.text=a&child.number=1", "child.number", "oneof `choice` is already set by `child.text`"),
    ],
)  # fmt: skip
def test_apply_query_rejects(type_name: str, query: str, where: str, reason: str) -> None:
    with pytest.raises(BindingError) as caught:
        apply_query(new(type_name), parse_query(query))
    assert (caught.value.field, caught.value.reason) == (where, reason)
    assert str(caught.value) == f"{where}: {reason}"


def test_the_same_oneof_in_two_messages_is_two_oneofs() -> None:
    message = new("test.q.Params")
    apply_query(message, parse_query("text=a&child.number=1"))
    assert as_dict(message) == {"text": "a", "child": {"number": 1}}


# --- JSON values: nesting bounded as a body's (transcoder.codec.MAX_JSON_DEPTH) ------------------------


def _nested(depth: int, shape: str) -> str:
    """JSON text ``depth`` levels deep: objects (``{"a":{...}}``), arrays, or arrays and objects in turn."""
    text = ""
    for level in reversed(range(depth)):
        as_array = shape == "array" or (shape == "mixed" and level % 2 == 0)
        text = f"[{text}]" if as_array else f'{{"a":{text}}}' if text else "{}"
    return text


_DEEP = "nested deeper than 100 levels of JSON arrays and objects"


@pytest.mark.parametrize(
    ("key", "shape", "depth"),
    [
        (key, shape, depth)
        for key, shape in (("st", "object"), ("lv", "array"), ("val", "mixed"), ("val", "object"))
        for depth in (1, 50, 51, 100)
    ],
)
def test_json_values_nest_up_to_100_levels(key: str, shape: str, depth: int) -> None:
    text = _nested(depth, shape)
    assert json_depth(json.loads(text)) == depth
    message = new("test.q.Params")
    apply_query(message, [(key, text)])
    assert as_dict(message)[key] == json.loads(text)


@pytest.mark.parametrize(
    ("key", "shape", "depth"),
    [
        (key, shape, depth)
        for key, shape in (("st", "object"), ("lv", "array"), ("val", "mixed"), ("val", "array"))
        for depth in (101, 300, 1100)  # 1100: past orjson's own limit (1024), the same answer
    ],
)
def test_json_values_nested_deeper_than_100_levels_are_refused(key: str, shape: str, depth: int) -> None:
    with pytest.raises(BindingError) as caught:
        apply_query(new("test.q.Params"), [(key, _nested(depth, shape))])
    assert (caught.value.field, caught.value.reason) == (key, _DEEP)


def test_a_too_deep_json_value_in_a_nested_field_names_its_path() -> None:
    with pytest.raises(BindingError) as caught:
        apply_query(new("test.q.Params"), parse_query("child.st=" + _nested(101, "object")))
    assert (caught.value.field, caught.value.reason) == ("child.st", _DEEP)


# --- properties ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(raw=st.text() | st.binary())
def test_parse_query_raises_only_binding_error(raw: str | bytes) -> None:
    with contextlib.suppress(BindingError):  # anything else fails the test
        pairs = parse_query(raw)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)


_KEYS = st.sampled_from(
    ["page_size", "pageSize", "state", "player.displayName", "player.preferences[k]", "player.preferences",
     "updateMask", "player.createTime", "flag", "b", "f", "u64", "ri", "counts[1]", "stamps[x]", "dur", "sv",
     "iv", "st", "val", "lv", "rts", "child", "child.text", "number", "children", "traits[a]", "text"]
) | st.text(max_size=12)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    type_name=st.sampled_from(["ListPlayersRequest", "UpdatePlayerRequest", "Character", "test.q.Params"]),
    params=st.lists(st.tuples(_KEYS, st.text(max_size=12)), max_size=4),
    skip=st.lists(st.sampled_from(["player", "player.player_id", "page_size", "child"]), max_size=2),
)
def test_apply_query_raises_only_binding_error(
    type_name: str, params: list[tuple[str, str]], skip: list[str]
) -> None:
    with contextlib.suppress(BindingError):  # anything else fails the test
        apply_query(new(type_name), params, skip=skip)
