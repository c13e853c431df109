"""Messages → proto3 JSON values, compiled per message type: ``json_format.MessageToDict``'s answers,
several times faster.

``MessageToDict`` decides, for every field of every message, what kind of field it is and how its
value is written. The answer depends only on the field's descriptor, so :func:`encoder` decides once
per message type (and naming choice) and keeps a table of field → (JSON name, converter). Encoding a
message is then a walk over ``ListFields()``, the populated fields that ``MessageToDict`` walks too, in
the same order. Example::

    >>> encode = encoder(Player.DESCRIPTOR, proto_names=False)
    >>> encode(Player(player_id="p1", state=PLAYER_STATE_ACTIVE, created_at=Timestamp(seconds=0)))
    {'playerId': 'p1', 'state': 'PLAYER_STATE_ACTIVE', 'createdAt': '1970-01-01T00:00:00Z'}

The same rules as ``json_format`` (and tests/unit/transcoder/test_encode.py compares the two over
generated messages of every field kind): 64-bit integers as strings, enums by name (an unknown value of
an open enum as its number), bytes as standard base64, ``float`` fields at their shortest float32
spelling, infinities and NaN as strings, map keys as strings. Timestamp, Duration and FieldMask use their
own ``ToJsonString``, as ``json_format`` does; the other well-known types (Any, Struct, Value, ListValue,
wrappers) are handed to ``json_format`` itself. Anything unexpected (an extension, a closed enum's
unknown value, a value a converter refuses) falls back to ``json_format`` for that message, so its answer
or its precise error is what the caller gets.

Only the default output is compiled: with unpopulated fields emitted, callers use ``json_format``.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable
from typing import Any, cast

from google.protobuf import descriptor_pool, json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.internal import type_checkers
from google.protobuf.message import Message

__all__ = ["encoder"]

_F = FieldDescriptor
Encode = Callable[[Message], Any]
Convert = Callable[[Any], Any]

_INT64 = frozenset({_F.CPPTYPE_INT64, _F.CPPTYPE_UINT64})
_SELF_WRITTEN = frozenset(
    {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
)
_DELEGATED = frozenset(
    {"google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
) | frozenset(
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)

_cache: dict[tuple[Descriptor, bool], Encode] = {}
# Reloads bring new descriptors (a new pool each time); past this many cached types the cache starts
# afresh, so old contracts are not kept alive for ever. Compiling a type again is cheap.
_CACHE_LIMIT = 4096


def encoder(descriptor: Descriptor, *, proto_names: bool) -> Encode:
    """The compiled encoder of one message type (cached: built once per type and naming choice)."""
    found = _cache.get((descriptor, proto_names))
    if found is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        found = _compile(descriptor, proto_names)
    return found


def _fallback(proto_names: bool) -> Encode:
    def encode(message: Message) -> Any:
        return json_format.MessageToDict(
            message,
            preserving_proto_field_name=proto_names,
            descriptor_pool=cast(Descriptor, message.DESCRIPTOR).file.pool,
        )

    return encode


def _compile(descriptor: Descriptor, proto_names: bool) -> Encode:
    full_name = descriptor.full_name
    if full_name in _SELF_WRITTEN:
        encode: Encode = _to_json_string
        _cache[(descriptor, proto_names)] = encode
        return encode
    if full_name in _DELEGATED:
        encode = _fallback(proto_names)
        _cache[(descriptor, proto_names)] = encode
        return encode
    table: dict[FieldDescriptor, tuple[str, Convert]] = {}
    slow = _fallback(proto_names)

    def encode_message(message: Message) -> Any:
        out: dict[str, Any] = {}
        try:
            for field, value in message.ListFields():
                name, convert = table[field]  # KeyError for an extension: not compiled
                out[name] = convert(value)
        except (KeyError, ValueError, TypeError, AttributeError):
            return slow(message)  # json_format's own answer, or its precise error
        return out

    # Registered before the fields are compiled, so a message type that contains itself finds it.
    _cache[(descriptor, proto_names)] = encode_message
    for field in descriptor.fields:
        table[field] = (field.name if proto_names else field.json_name, _field_converter(field, proto_names))
    return encode_message


def _to_json_string(message: Message) -> Any:
    return message.ToJsonString()  # type: ignore[attr-defined]


def _field_converter(field: FieldDescriptor, proto_names: bool) -> Convert:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        key_field = message_type.fields_by_name["key"]
        value_convert = _value_converter(message_type.fields_by_name["value"], proto_names)
        bool_keys = key_field.cpp_type == _F.CPPTYPE_BOOL

        def convert_map(value: Any) -> Any:
            if bool_keys:
                return {("true" if k else "false"): value_convert(value[k]) for k in value}
            return {str(k): value_convert(value[k]) for k in value}

        return convert_map
    convert = _value_converter(field, proto_names)
    if field.is_repeated:
        return lambda values: [convert(v) for v in values]
    return convert


def _value_converter(field: FieldDescriptor, proto_names: bool) -> Convert:
    """How one (non-repeated) value of ``field`` is written."""
    cpp = field.cpp_type
    if cpp == _F.CPPTYPE_MESSAGE:
        assert field.message_type is not None
        # A type being compiled is already in the cache, so a recursive message finds itself.
        return encoder(field.message_type, proto_names=proto_names)
    if cpp == _F.CPPTYPE_ENUM:
        return _enum_converter(field.enum_type)
    if field.type == _F.TYPE_BYTES:
        return lambda value: binascii.b2a_base64(value, newline=False).decode("ascii")
    if cpp in (_F.CPPTYPE_STRING, _F.CPPTYPE_BOOL):
        return _same
    if cpp in _INT64:
        return str
    if cpp == _F.CPPTYPE_FLOAT:
        return _float32
    if cpp == _F.CPPTYPE_DOUBLE:
        return _double
    return _same


def _same(value: Any) -> Any:
    return value


def _double(value: float) -> Any:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _float32(value: float) -> Any:
    if math.isfinite(value):
        return type_checkers.ToShortestFloat(value)
    return _double(value)


def _enum_converter(enum_type: EnumDescriptor | None) -> Convert:
    assert enum_type is not None
    if enum_type.full_name == "google.protobuf.NullValue":
        return lambda value: None
    # values_by_number, as json_format looks names up (with aliases, the one it picks).
    names = {number: _enum_json_name(value) for number, value in enum_type.values_by_number.items()}
    if enum_type.is_closed:
        return names.__getitem__  # an unknown number: KeyError, then json_format's error
    return lambda number: names.get(number, number)


def _enum_json_name(value: Any) -> str:
    """The value's name, or the JSON name an ``pb.enumvalue.json`` option gives it (as json_format)."""
    try:
        extension = descriptor_pool.Default().FindExtensionByName("pb.enumvalue.json")
    except KeyError:
        return str(value.name)
    options = value.GetOptions()
    if options.HasExtension(extension):
        return str(options.Extensions[extension].string)
    return str(value.name)
