"""The compiled encoder gives exactly ``json_format.MessageToDict``'s answer, key order included."""

from __future__ import annotations

import json
import math

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tta.v1 import world_pb2

from tests.unit.transcoder.test_codec import _TYPES, desc, messages
from transcoder import _encode
from transcoder._encode import encoder

_F = descriptor_pb2.FieldDescriptorProto


def _reference(message: object, proto_names: bool) -> object:
    return json_format.MessageToDict(message, preserving_proto_field_name=proto_names)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), proto_names=st.booleans())
def test_the_same_answer_as_message_to_dict(data: st.DataObject, proto_names: bool) -> None:
    message = data.draw(messages(desc(data.draw(_TYPES)), depth=3, finite=False))
    got = encoder(message.DESCRIPTOR, proto_names=proto_names)(message)
    # json.dumps keeps insertion order: equal text means equal values *and* the same key order.
    assert json.dumps(got) == json.dumps(_reference(message, proto_names))


def test_special_values_are_written_as_json_format_writes_them() -> None:
    everything = desc("test.v1.Everything")
    cls = message_factory.GetMessageClass(everything)
    m = cls(f=1.1, d=math.inf, i64=-(2**63), u64=2**64 - 1, b=b"\xfb\xff", color=7, flags={True: "y"})
    m.child.child.s = "deep"  # a message type that contains itself
    got = encoder(everything, proto_names=False)(m)
    assert got == _reference(m, False)
    assert got["f"] == 1.1  # float32's shortest spelling, not 1.100000023841858
    assert got["d"] == "Infinity"
    assert (got["i64"], got["u64"]) == (str(-(2**63)), str(2**64 - 1))
    assert got["b"] == "+/8="  # standard base64, like json_format
    assert got["color"] == 7  # an open enum's unknown value stays a number
    assert got["flags"] == {"true": "y"}
    assert got["child"] == {"child": {"s": "deep"}}


def test_a_realistic_list_response() -> None:
    response = world_pb2.ListWorldsResponse()
    for i in range(50):
        world = response.worlds.add(world_id=f"wd_{i}", title=f"World {i}", minimum_age=16)
        world.themes.extend([1, 2])
        world.labels["setting"] = "coastal"
        world.publish_time.FromSeconds(1_700_000_000 + i)
    for proto_names in (False, True):
        assert encoder(response.DESCRIPTOR, proto_names=proto_names)(response) == _reference(
            response, proto_names
        )


def test_the_cache_starts_afresh_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_encode, "_CACHE_LIMIT", 2)
    _encode._cache.clear()
    for message in (world_pb2.World(), world_pb2.ListWorldsResponse(), world_pb2.GetWorldRequest()):
        encoder(message.DESCRIPTOR, proto_names=False)(message)
        assert len(_encode._cache) <= 3  # the limit, plus a type compiled with its fields
    assert encoder(world_pb2.World.DESCRIPTOR, proto_names=False)(world_pb2.World(title="t")) == {
        "title": "t"
    }


def test_a_message_with_an_extension_set_falls_back_to_json_format() -> None:
    """Extensions are not compiled: json_format writes such a message (``[pkg.name]`` keys)."""
    f = descriptor_pb2.FileDescriptorProto(name="test/v3/ext.proto", package="test.v3", syntax="proto2")
    base = f.message_type.add(name="Base")
    base.extension_range.add(start=100, end=200)
    base.field.add(name="s", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    f.extension.add(
        name="extra", number=100, type=_F.TYPE_INT32, label=_F.LABEL_OPTIONAL, extendee=".test.v3.Base"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    message = message_factory.GetMessageClass(pool.FindMessageTypeByName("test.v3.Base"))(s="x")
    assert encoder(message.DESCRIPTOR, proto_names=False)(message) == {"s": "x"}  # compiled path
    message.Extensions[pool.FindExtensionByName("test.v3.extra")] = 5
    got = encoder(message.DESCRIPTOR, proto_names=False)(message)
    assert got == _reference(message, False) == {"s": "x", "[test.v3.extra]": 5}
