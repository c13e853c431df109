"""Messages ↔ proto3 JSON for the REST door, and path-variable bindings into request messages.

Works from ``Descriptor``s (a service may be known only by reflection), never generated classes; the
JSON mapping is ``json_format``'s, orjson does the text. Every input problem is one :class:`BindingError`
naming the proto field path (``players[2].state``, ``preferences[font]``; an unknown segment as sent,
``player.nickName``) or ``<body>``/``<query>``, and why::

    >>> parse_json_body(b'{"player": {"displayName": 12}}', UpdatePlayerRequest.DESCRIPTOR)
    BindingError: player.display_name: expected a string, got 12
    >>> parse_json_body(b'{"metadata": ' + b"[" * 101 + b"]" * 101 + b"}", Request.DESCRIPTOR)
    BindingError: metadata: nested deeper than 100 levels of JSON arrays and objects

Nesting is bounded before anything recurses over it (``MAX_JSON_DEPTH``): json_format, this module's
error diagnosis and orjson's ``dumps`` (which refuses more than 255 levels) all recurse, and a body
must never reach them deep enough to fail with anything but a :class:`BindingError`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import orjson
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from transcoder._encode import encoder

_F = FieldDescriptor
_MAX_SHOWN = 40  # an echoed value is cut here: errors are logged and returned, never a data dump
_DECIMAL = re.compile(r"-?[0-9]+")  # int() would also take "1_000", " 7 " and non-ASCII digits
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}  # proto3 JSON spellings
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_FLOAT32_MAX = 3.4028234663852886e38
_INTS = {
    _F.CPPTYPE_INT32: ("int32", -(2**31), 2**31 - 1),
    _F.CPPTYPE_INT64: ("int64", -(2**63), 2**63 - 1),
    _F.CPPTYPE_UINT32: ("uint32", 0, 2**32 - 1),
    _F.CPPTYPE_UINT64: ("uint64", 0, 2**64 - 1),
}
WRAPPER_TYPES = frozenset(
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)
_WKT_HINTS = {
    "google.protobuf.Timestamp": 'an RFC 3339 timestamp string such as "2024-05-01T12:00:00Z"',
    "google.protobuf.Duration": 'a duration string such as "1.5s"',
    "google.protobuf.FieldMask": 'a comma-separated field mask string such as "displayName,preferences"',
    "google.protobuf.Struct": "a JSON object",
    "google.protobuf.ListValue": "a JSON array",
    "google.protobuf.Value": "a JSON value",
    "google.protobuf.Any": 'a JSON object with an "@type" naming a known message',
}
_WKTS = WRAPPER_TYPES | _WKT_HINTS.keys()  # the well-known types with a JSON form of their own
_FAILED_FIELD = re.compile(r"Failed to parse (\S+) field: ")
_PARSE_FAILURES = (json_format.ParseError, TypeError, ValueError, AttributeError, KeyError)

MAX_JSON_DEPTH = 100
"""Levels of JSON arrays and objects a body may nest, counted from the request message (``{}`` is 1).

100 is protobuf's own JSON limit (C++ ``JsonStreamParser``, kDefaultMaxRecursionDepth) and what
json_format allows for plain messages, so no body json_format itself would take is refused here. It is
far inside orjson's 1024 and leaves json_format (about six Python frames per level inside a Struct)
room on the default 1000-frame stack. A body field's value (``body: "player"``) counts from the
request message too, one level per field of the body path."""
# json_format counts messages, not JSON levels: one level of JSON costs it at most two messages (a Value
# and its Struct or ListValue; an Any and the message it holds), so this limit never binds before ours.
_MESSAGE_DEPTH = 2 * MAX_JSON_DEPTH + 1
_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels of JSON arrays and objects"
_NAMED_SEGMENTS = 5  # a too-deep error names at most this many segments of the field path, then "…"


@dataclass(frozen=True, slots=True)
class JsonOptions:
    """How messages are written: the proto3 JSON mapping (64-bit integers as strings, enums as names).

    ``use_proto_names`` writes ``display_name`` instead of lowerCamel ``displayName``;
    ``emit_unpopulated`` also writes fields at their default value (``0``, ``""``, ``[]``).
    """

    use_proto_names: bool = False
    emit_unpopulated: bool = False


class BindingError(ValueError):
    """Request data that cannot be bound to the request message. ``str()`` is ``"<field>: <reason>"``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class FieldKind(enum.Enum):
    """What a path variable's text is converted to (see :func:`parse_scalar`)."""

    STRING = "string"
    BYTES = "bytes"
    BOOL = "bool"
    INTEGER = "integer"
    FLOAT = "float"
    ENUM = "enum"


def show(value: object) -> str:
    """A value as JSON text for an error message, cut to 40 characters."""
    text = orjson.dumps(value, default=repr).decode()
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def find_field(descriptor: Descriptor, name: str, *, json_names: bool = True) -> FieldDescriptor | None:
    """The field called ``name`` (its proto name, or with ``json_names`` its lowerCamel JSON name)."""
    found = descriptor.fields_by_name.get(name)
    if found is None and json_names:
        found = next((f for f in descriptor.fields if f.json_name == name), None)
    return found


def descriptor_of(message: Message) -> Descriptor:
    return cast(Descriptor, message.DESCRIPTOR)  # the stubs allow upb's Descriptor type too


def resolve_path(descriptor: Descriptor, path: str) -> tuple[FieldDescriptor, ...]:
    """The fields along a dotted path, for example ``player.display_name`` → (``player``, ``display_name``).

    Every segment but the last must be a singular message field. Proto names only, as http.proto's
    template and body paths (query parameters, which also take lowerCamel, resolve in transcoder.query).
    """
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor
    for segment in path.split("."):
        here = ".".join([*(f.name for f in fields), segment])
        if current is None:
            raise BindingError(here, f"`{fields[-1].name}` is not a message, so it has no field `{segment}`")
        if fields and fields[-1].is_repeated:
            raise BindingError(here, f"`{fields[-1].name}` is repeated or a map; a path cannot go through it")
        field = find_field(current, segment, json_names=False)
        if field is None:
            raise BindingError(here, f"no such field in {current.full_name}")
        fields.append(field)
        current = field.message_type
    return tuple(fields)


def resolve_field(descriptor: Descriptor, path: str) -> FieldDescriptor:
    """The field a dotted path (proto names) ends at; a :class:`BindingError` names the bad segment."""
    return resolve_path(descriptor, path)[-1]


def field_path_kind(descriptor: Descriptor, path: str) -> FieldKind:
    """Validate a template's path variable at load time: ``{player.player_id}`` → ``FieldKind.STRING``.
    The leaf must hold one scalar or enum value: a repeated, map or message field is rejected."""
    fields = resolve_path(descriptor, path)
    field, canonical = fields[-1], ".".join(f.name for f in fields)
    if field.is_repeated:
        raise BindingError(canonical, "is repeated or a map; a path variable binds a single value")
    if field.message_type is not None:
        raise BindingError(canonical, f"is a message ({field.message_type.full_name}), not a scalar or enum")
    if field.cpp_type == _F.CPPTYPE_STRING:
        return FieldKind.BYTES if field.type == _F.TYPE_BYTES else FieldKind.STRING
    if field.cpp_type in _INTS:
        return FieldKind.INTEGER
    kinds = {_F.CPPTYPE_BOOL: FieldKind.BOOL, _F.CPPTYPE_ENUM: FieldKind.ENUM}
    return kinds.get(field.cpp_type, FieldKind.FLOAT)


def parse_scalar(field: FieldDescriptor, text: str, path: str) -> str | bytes | bool | int | float:
    """Convert text (a path variable, a query value, a map key) to the value of a scalar or enum field.

    bytes: base64, standard or URL-safe alphabet, padding optional. bool: ``true``/``false``/``1``/``0``.
    Integers: decimal, range-checked for the field's type. Floats: decimal or ``NaN``/``Infinity``/
    ``-Infinity``. Enums: the value name, or its number (any int32 for an open enum, as proto3 JSON).
    """
    cpp = field.cpp_type
    if cpp == _F.CPPTYPE_STRING:
        return _parse_base64(text, path) if field.type == _F.TYPE_BYTES else text
    if cpp == _F.CPPTYPE_BOOL:
        if text in _BOOLS:
            return _BOOLS[text]
        raise BindingError(path, f"expected true, false, 1 or 0, got {show(text)}")
    if cpp in _INTS:
        name, low, high = _INTS[cpp]
        if not _DECIMAL.fullmatch(text):
            raise BindingError(path, f"expected a decimal {name}, got {show(text)}")
        if not low <= int(text) <= high:
            raise BindingError(path, f"{show(text)} is out of range for {name}")
        return int(text)
    if cpp in (_F.CPPTYPE_FLOAT, _F.CPPTYPE_DOUBLE):
        if text in _FLOAT_WORDS:
            return _FLOAT_WORDS[text]
        if not _NUMBER.fullmatch(text):
            raise BindingError(path, f'expected a number, "NaN", "Infinity" or "-Infinity", got {show(text)}')
        number = float(text)
        if cpp == _F.CPPTYPE_FLOAT:
            number = cast(float, _float32_edge(number))  # "3.4028235e+38" is float32's largest value
        if math.isinf(number) or (cpp == _F.CPPTYPE_FLOAT and abs(number) > _FLOAT32_MAX):
            raise BindingError(
                path, f"{show(text)} is out of range for {('double', 'float')[cpp == _F.CPPTYPE_FLOAT]}"
            )
        return number
    if cpp == _F.CPPTYPE_ENUM:
        enum_type = cast(EnumDescriptor, field.enum_type)
        by_name = enum_type.values_by_name.get(text)
        if by_name is not None:
            return by_name.number
        if _DECIMAL.fullmatch(text):
            number = int(text)
            if number in enum_type.values_by_number or (
                not enum_type.is_closed and -(2**31) <= number < 2**31
            ):
                return number
        raise BindingError(path, f"unknown value {show(text)} for enum {enum_type.full_name}")
    raise BindingError(path, "is a message; it cannot be set from text")


def _parse_base64(text: str, path: str) -> bytes:
    data = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BindingError(path, f"expected base64 (standard or URL-safe), got {show(text)}") from None


def apply_bindings(message: Message, bindings: Iterable[tuple[str, str]]) -> None:
    """Set path variables, e.g. ``[("player.player_id", "pl_1")]`` (proto names), creating sub-messages.

    A repeated, map or message leaf is a :class:`BindingError` (:func:`field_path_kind` rejects such
    templates at load; this is the belt to those braces)."""
    for path, text in bindings:
        field_path_kind(descriptor_of(message), path)
        fields = resolve_path(descriptor_of(message), path)
        target = message
        for field in fields[:-1]:
            target = getattr(target, field.name)
        setattr(target, fields[-1].name, parse_scalar(fields[-1], text, ".".join(f.name for f in fields)))


# A JSON number at least 3.4e38 has an exponent of 38 or more, or 39 digits before any point.
_NEAR_FLOAT_MAX = re.compile(rb"[eE]\+?(?:3[89]|[4-9]\d|\d{3})|\d{39}")


def _round_float32_edges(value: object, descriptor: Descriptor) -> None:
    """Give ``float`` fields the float32 they denote. The shortest text of float32's largest value,
    ``3.4028235e+38`` (what protobuf's own JSON printer writes), is a little above that value as a
    double, and json_format refuses it as too large: its own output would not parse back. A number
    that rounds to the largest float32 becomes it; anything larger is left for json_format to refuse."""
    if not isinstance(value, dict) or descriptor.full_name in _WKTS:
        return
    fields = {f.json_name: f for f in descriptor.fields} | {f.name: f for f in descriptor.fields}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            continue
        if field.cpp_type == _F.CPPTYPE_FLOAT:
            if isinstance(item, list):
                value[key] = [_float32_edge(v) for v in item]
            else:
                value[key] = _float32_edge(item)
        elif field.message_type is not None:
            entry = field.message_type
            if entry.GetOptions().map_entry and isinstance(item, dict):
                target = entry.fields_by_name["value"]
                for k, v in item.items():
                    if target.cpp_type == _F.CPPTYPE_FLOAT:
                        item[k] = _float32_edge(v)
                    elif target.message_type is not None:
                        _round_float32_edges(v, target.message_type)
            elif isinstance(item, list):
                for v in item:
                    _round_float32_edges(v, entry)
            else:
                _round_float32_edges(item, entry)


def _float32_edge(v: object) -> object:
    if isinstance(v, float) and math.isfinite(v) and abs(v) > _FLOAT32_MAX:
        try:
            rounded = struct.unpack("<f", struct.pack("<f", v))[0]
        except OverflowError:
            return v
        if math.isfinite(rounded):
            return math.copysign(_FLOAT32_MAX, v)
    return v


def parse_json_body(
    data: bytes, descriptor: Descriptor, *, into: Message | None = None, field: str | None = None
) -> Message:
    """Merge a proto3 JSON body into ``into`` (or a new message of ``descriptor``) and return it.

    ``field=None`` binds the whole message (HttpRule ``body: "*"``); ``field="player"`` binds that field
    (``body: "player"``; an array for a repeated field), error paths still starting at the request
    message. lowerCamel and proto names are both accepted. An empty or all-whitespace body changes
    nothing (grpc-gateway treats EOF so). Duplicate keys: the last wins (orjson), where
    ``json_format.Parse`` would reject them. On error ``into`` may be partly filled: drop it.
    """
    message = into if into is not None else message_factory.GetMessageClass(descriptor)()
    if descriptor_of(message).full_name != descriptor.full_name:
        raise TypeError(f"into is a {descriptor_of(message).full_name}, not a {descriptor.full_name}")
    if not data or data.isspace():
        return message
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")  # orjson puts every UTF-8 error at char 0: find the byte
        except UnicodeDecodeError as bad:
            raise BindingError("<body>", f"not valid UTF-8 (byte {bad.start})") from None
        if "depth limit exceeded" in str(exc):  # orjson's own limit (1024): the same answer as ours
            raise BindingError("<body>", _TOO_DEEP) from None
        raise BindingError("<body>", f"malformed JSON: {exc}") from None
    if field is not None:
        for bound in reversed(resolve_path(descriptor, field)):
            value = {bound.name: value}
    depth = json_depth(value, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:  # before anything below recurses over the value
        raise BindingError(_deep_field(value, descriptor, MAX_JSON_DEPTH), _TOO_DEEP)
    if field is None and descriptor.full_name not in _WKTS and not isinstance(value, dict):
        raise BindingError("<body>", f"expected a JSON object ({descriptor.full_name}), got {show(value)}")
    if _NEAR_FLOAT_MAX.search(data):  # rare: only a body with such a number pays for the walk
        _round_float32_edges(value, descriptor)
    try:
        json_format.ParseDict(
            value, message, descriptor_pool=descriptor.file.pool, max_recursion_depth=_MESSAGE_DEPTH
        )
    except _PARSE_FAILURES as exc:
        raise _locate(value, descriptor, str(exc)) from None
    except RecursionError:  # the caller's own stack was already deep: still the client's input
        where = _deep_field(value, descriptor, depth - 1)
        raise BindingError(where, f"nested {depth} levels deep, too deep to parse here") from None
    return message


def json_depth(value: object, stop: int | None = None) -> int:
    """How many levels of arrays and objects ``value`` nests: ``1`` is 0, ``[]`` 1, ``{"a": [1]}`` 2.

    Iterative, so any depth is safe; with ``stop``, counting ends as soon as a level past it is seen
    (the answer is then ``stop + 1``)."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > deepest:
            deepest = depth
            if stop is not None and depth > stop:
                break
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


_Walked = Descriptor | FieldDescriptor | None  # a message's fields, a repeated/map field's items, opaque


def _deep_field(value: object, descriptor: Descriptor, limit: int) -> str:
    """The field under which ``value`` first nests deeper than ``limit``, named as errors name fields
    (``player.metadata``, ``children[2].st``), followed as long as the JSON keys are the message's own;
    ``<body>`` when the top level itself is that deep. Iterative, as :func:`json_depth`."""
    root = None if descriptor.full_name in _WKTS else descriptor
    pending: list[tuple[object, int, int, str, _Walked]] = [(value, 1, 0, "", root)]
    while pending:
        node, depth, named, path, what = pending.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            return path or "<body>"
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, item in reversed(items):  # reversed: the stack then pops them in document order
            if isinstance(item, dict | list):
                pending.append((item, depth + 1, named + 1, *_step(path, named, what, node, key)))
    return "<body>"


def _step(path: str, named: int, what: _Walked, node: object, key: object) -> tuple[str, _Walked]:
    """The path and kind of ``node[key]`` inside a value at ``path`` of kind ``what``."""
    if what is None:
        return path, None
    if named >= _NAMED_SEGMENTS:
        return path + "…", None
    if isinstance(what, Descriptor):
        if not isinstance(node, dict):
            return path, None
        field = find_field(what, str(key))
        if field is None:
            return (f"{path}.{key}" if path else str(key)), None
        here = f"{path}.{field.name}" if path else field.name
        return here, field if field.is_repeated else _plain(field.message_type)
    if is_map(what) and isinstance(node, dict):
        entry = cast(Descriptor, what.message_type)
        return f"{path}[{key}]", _plain(entry.fields_by_name["value"].message_type)
    if not is_map(what) and isinstance(node, list):
        return f"{path}[{key}]", _plain(what.message_type)
    return path, None


def _plain(message: Descriptor | None) -> Descriptor | None:
    """A message whose JSON keys are its fields (not a well-known type with a JSON form of its own)."""
    return message if message is not None and message.full_name not in _WKTS else None


def to_json(message: Message, options: JsonOptions) -> bytes:
    """The message as proto3 JSON: the same JSON value ``json_format.MessageToJson`` gives, compact."""
    return orjson.dumps(_to_dict(message, options, options.emit_unpopulated))


def to_json_field(message: Message, field_path: str, options: JsonOptions) -> bytes:
    """Only one field as JSON (HttpRule ``response_body: "players"``). An unset message field is
    ``{}`` (as grpc-gateway writes it) or, for a well-known type, ``null``; an empty repeated field
    ``[]``; a scalar its value, default included."""
    fields = resolve_path(descriptor_of(message), field_path)
    parent = message
    for field in fields[:-1]:
        parent = getattr(parent, field.name)
    leaf = fields[-1]
    if leaf.message_type is not None and not leaf.is_repeated:
        if not parent.HasField(leaf.name) and leaf.message_type.full_name in _WKTS:
            return b"null"
        return to_json(getattr(parent, leaf.name), options)
    key = leaf.name if options.use_proto_names else leaf.json_name
    values = _to_dict(parent, options, options.emit_unpopulated)
    if key not in values:  # unpopulated: write its default ([], {}, 0, ""), as always-print would
        values = _to_dict(type(parent)(), options, True)
    return orjson.dumps(values.get(key))


def _to_dict(message: Message, options: JsonOptions, unpopulated: bool) -> Any:
    if not unpopulated:  # the default: compiled per type, the same answers (transcoder._encode)
        return encoder(descriptor_of(message), proto_names=options.use_proto_names)(message)
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=unpopulated,
        preserving_proto_field_name=options.use_proto_names,
        descriptor_pool=descriptor_of(message).file.pool,
    )


# Locating a ParseDict failure: json_format's messages name JSON keys, not paths, and echo values uncut.
# On failure only, the body is walked again trying each field alone with ParseDict: json_format stays
# the judge of what is valid, this code finds *where* it failed and says why in the field's terms.


def _locate(value: object, descriptor: Descriptor, detail: str) -> BindingError:
    if "too deep" in detail:  # json_format's own limit, which _MESSAGE_DEPTH keeps out of reach
        return BindingError("<body>", f"nested too deeply ({detail})")
    try:
        found = _diagnose(value, descriptor, "")
    except BindingError as exc:
        found = exc
    except RecursionError:
        found = None
    if found is not None:
        return found
    names = _FAILED_FIELD.findall(detail)
    reason = _FAILED_FIELD.sub("", detail).split("\n")[0].rstrip(".")
    return BindingError(".".join(names) or "<body>", reason[:120])


def _parses(value: dict[str, Any], descriptor: Descriptor) -> bool:
    try:
        message = message_factory.GetMessageClass(descriptor)()
        json_format.ParseDict(value, message, descriptor_pool=descriptor.file.pool)
    except _PARSE_FAILURES:
        return False
    return True


def _diagnose(value: object, descriptor: Descriptor, path: str) -> BindingError | None:
    where = path or "<body>"
    if descriptor.full_name in WRAPPER_TYPES:
        return BindingError(where, _scalar_reason(descriptor.fields_by_name["value"], value))
    if descriptor.full_name in _WKT_HINTS:
        return BindingError(where, f"expected {_WKT_HINTS[descriptor.full_name]}, got {show(value)}")
    if not isinstance(value, dict):
        return BindingError(where, f"expected a JSON object ({descriptor.full_name}), got {show(value)}")
    oneofs: dict[str, str] = {}
    for key, item in value.items():
        field = find_field(descriptor, key)
        if field is None:
            unknown = f"{path}.{key}" if path else key or '""'
            return BindingError(unknown, f"unknown field in {descriptor.full_name}")
        here = f"{path}.{field.name}" if path else field.name
        oneof = field.containing_oneof.name if field.containing_oneof and item is not None else None
        if oneof and (first := oneofs.setdefault(oneof, field.name)) != field.name:
            return BindingError(here, f"oneof `{oneof}` is already set by `{first}`")
        if not _parses({key: item}, descriptor):
            return _diagnose_field(field, item, here)
    return None


def _diagnose_field(field: FieldDescriptor, value: object, path: str) -> BindingError:
    container, entry_type = cast(Descriptor, field.containing_type), field.message_type
    if entry_type is not None and entry_type.GetOptions().map_entry:
        if not isinstance(value, dict):
            return BindingError(path, f"expected a JSON object (a map), got {show(value)}")
        key_field, value_field = entry_type.fields_by_name["key"], entry_type.fields_by_name["value"]
        for key, item in value.items():
            entry = f"{path}[{key}]"
            if not _parses({field.name: {key: item}}, container):
                if key_field.cpp_type == _F.CPPTYPE_BOOL and key not in ("true", "false"):
                    return BindingError(entry, f'expected a map key "true" or "false", got {show(key)}')
                parse_scalar(key_field, key, entry)  # an invalid key raises here; _locate catches it
                return _diagnose_value(value_field, item, entry)
    elif field.is_repeated:
        if not isinstance(value, list):
            return BindingError(path, f"expected a JSON array, got {show(value)}")
        for index, item in enumerate(value):
            if item is None and (entry_type is None or entry_type.full_name != "google.protobuf.Value"):
                return BindingError(f"{path}[{index}]", "null is not allowed in a repeated field")
            if not _parses({field.name: [item]}, container):
                return _diagnose_value(field, item, f"{path}[{index}]")
    else:
        return _diagnose_value(field, value, path)
    return BindingError(path, f"invalid value {show(value)}")


def _diagnose_value(field: FieldDescriptor, value: object, path: str) -> BindingError:
    if field.message_type is None:
        return BindingError(path, _scalar_reason(field, value))
    return _diagnose(value, field.message_type, path) or BindingError(path, f"invalid value {show(value)}")


def _scalar_reason(field: FieldDescriptor, value: object) -> str:
    cpp, shown = field.cpp_type, show(value)
    if cpp == _F.CPPTYPE_STRING and field.type == _F.TYPE_BYTES:
        return f"expected a base64 string, got {shown}"
    if cpp == _F.CPPTYPE_STRING:
        return "unpaired surrogate in string" if isinstance(value, str) else f"expected a string, got {shown}"
    if cpp == _F.CPPTYPE_BOOL:
        return f"expected true or false, got {shown}"
    if cpp == _F.CPPTYPE_ENUM:
        return f"unknown value {shown} for enum {cast(EnumDescriptor, field.enum_type).full_name}"
    if cpp in _INTS:
        name, low, high = _INTS[cpp]
        number = int(value) if isinstance(value, str) and _DECIMAL.fullmatch(value) else value
        if isinstance(number, int | float) and not isinstance(number, bool) and not low <= number <= high:
            return f"{shown} is out of range for {name}"
        return f"expected an integer ({name}), got {shown}"
    if cpp == _F.CPPTYPE_FLOAT and isinstance(value, float) and math.isfinite(value):
        return f"{shown} is out of range for float"
    return f'expected a number, "NaN", "Infinity" or "-Infinity", got {shown}'
