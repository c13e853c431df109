"""Query parameters into a request message: grpc-gateway's ``PopulateQueryParameters``, precise errors.

Rules (each tested in tests/unit/transcoder/test_query.py):

- Decoding is ``application/x-www-form-urlencoded``: pairs split on ``&`` only (``;`` is data, as in
  Go since 1.17), ``+`` is a space (grpc-gateway decodes with Go's ``url.ParseQuery``, which does the
  same), so a literal plus must be sent as ``%2B`` (base64 in a query: use the URL-safe alphabet).
  A malformed ``%`` escape or non-UTF-8 bytes are a :class:`BindingError` on ``<query>``.
- A key is a dotted field path in proto or lowerCamel names (``page_size``, ``pageSize``,
  ``filter.state``); a map entry is ``labels[key]=value`` (``labels.key`` is an error saying so).
- Precedence path > body > query (http.proto; grpc-gateway filters the same way): ``skip`` lists the
  field paths (proto names) bound by the template and the body; a parameter is ignored when its path
  and a skipped path are equal or one lies inside the other (``player`` bound by the body → every
  ``player.*`` parameter is ignored). ``"*"`` in ``skip`` (``body: "*"``) ignores every parameter.
- Unknown parameters: ``unknown="error"`` (the HTTP door's default, so typos are caught; operators may
  configure ``"ignore"``) raises a :class:`BindingError` naming the parameter; ``"ignore"`` skips it.
- A repeated field appends each occurrence; any other field given twice (under either name) is an
  error, as is setting two members of one oneof.
- Values: scalars and enums as :func:`transcoder.codec.parse_scalar`; Timestamp (RFC 3339), Duration
  (``"1.5s"``), FieldMask (``"displayName,player.time_zone"``: lowerCamel or snake paths), wrappers
  (``google.protobuf.Int32Value`` takes ``"7"``), Struct/Value/ListValue as JSON text nested at most
  ``MAX_JSON_DEPTH`` (100) levels, as a body. Any other message field cannot be set from a query: set
  its fields (``filter.state=...``).
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Collection, Iterable
from typing import Any, Literal, cast

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from transcoder.codec import (
    MAX_JSON_DEPTH,
    WRAPPER_TYPES,
    BindingError,
    descriptor_of,
    find_field,
    is_map,
    json_depth,
    parse_scalar,
    show,
)

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2}).{0,2}", re.DOTALL)
_MAP_KEY = re.compile(r"([^\[\]]*)\[(.*)\]", re.DOTALL)  # grpc-gateway: `^(.*)\[(.*)\]$`
_MASK_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_UPPER = re.compile(r"[A-Z]")
_TEXT_WKTS = {
    "google.protobuf.Timestamp": "an RFC 3339 timestamp such as 2024-05-01T12:00:00Z",
    "google.protobuf.Duration": "a duration such as 1.5s",
}
_TWICE = "given more than once; only a repeated field takes several values"
_CACHED_KEY_LENGTH = 128  # keys up to this long are memoised (4096 of them at most)
_JSON_WKTS = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue")
# A JSON value is bounded as a body is (transcoder.codec.MAX_JSON_DEPTH, counted from the value: ``{}``
# is 1). json_format counts messages, two per JSON level (a Value and its Struct or ListValue), and by
# default stops at 100 of them, about 50 levels, with a ParseError that reads like a wrong type.
_MESSAGE_DEPTH = 2 * MAX_JSON_DEPTH + 1
_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels of JSON arrays and objects"


def parse_query(raw_query: bytes | str) -> list[tuple[str, str]]:
    """Decode a raw query string into (key, value) pairs, in order, repeats kept.

    ``b"page_size=10&state=PLAYER_STATE_ACTIVE&q=a+b%2Bc"`` →
    ``[("page_size", "10"), ("state", "PLAYER_STATE_ACTIVE"), ("q", "a b+c")]``.
    Empty pairs (``a=1&&b=2``) are dropped; a key without ``=`` has the value ``""``.
    """
    if isinstance(raw_query, str):
        try:
            raw_query = raw_query.encode("utf-8")
        except UnicodeEncodeError:
            raise BindingError("<query>", "not valid UTF-8 (lone surrogate)") from None
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split(b"&"):
        if part:
            key, _, value = part.partition(b"=")
            pairs.append((_unescape(key, part), _unescape(value, part)))
    return pairs


def _unescape(raw: bytes, part: bytes) -> str:
    if b"%" not in raw and b"+" not in raw:  # the common case: nothing to decode but the UTF-8
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BindingError(
                "<query>", f"{_show_raw(part)} is not valid UTF-8 once percent-decoded"
            ) from None
    if bad := _BAD_ESCAPE.search(raw):
        escape = bad.group().decode("utf-8", "backslashreplace")
        raise BindingError("<query>", f"invalid percent-escape {show(escape)} in {_show_raw(part)}")
    try:
        return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise BindingError("<query>", f"{_show_raw(part)} is not valid UTF-8 once percent-decoded") from None


def _show_raw(part: bytes) -> str:
    return show(part.decode("utf-8", "backslashreplace"))


def apply_query(
    message: Message,
    params: Iterable[tuple[str, str]],
    *,
    skip: Collection[str] = (),
    unknown: Literal["error", "ignore"] = "error",
) -> None:
    """Set query parameters on ``message`` (see the module docstring for the rules).

    ``apply_query(req, [("pageSize", "10"), ("state", "PLAYER_STATE_ACTIVE")])`` sets
    ``req.page_size = 10`` and ``req.state = PLAYER_STATE_ACTIVE``.
    """
    if "*" in skip:
        return  # http.proto: with body "*" there are no query parameters
    skipped = skip if isinstance(skip, frozenset) else frozenset(skip)
    descriptor = descriptor_of(message)
    seen: dict[str, str] = {}  # field path, map entry or oneof → the field path that set it
    for key, value in params:
        if len(key) <= _CACHED_KEY_LENGTH:
            fields, map_key = _resolve_key(descriptor, key, skipped, unknown)
        else:  # a long key is unusual; it is resolved every time rather than kept in the cache
            fields, map_key = _resolve_key.__wrapped__(descriptor, key, skipped, unknown)
        if fields:
            _set(message, fields, value, map_key, key, seen)


@functools.lru_cache(maxsize=4096)
def _resolve_key(
    descriptor: Descriptor, key: str, skip: frozenset[str], unknown: str
) -> tuple[tuple[FieldDescriptor, ...], str | None]:
    """:func:`_resolve` for one parameter key, and the map key it addresses, memoised: the answer depends only on the message type,
    the key and the route's bound fields, and resolving walks descriptors by name (the costly part of
    a query on the hot path). Errors are raised again on each call (exceptions are not cached)."""
    path, map_key = key, None
    if match := _MAP_KEY.fullmatch(key):
        path, map_key = match.group(1), match.group(2)
    bound = [tuple(p.split(".")) for p in skip]
    return _resolve(descriptor, key, path, bound, unknown), map_key


def _resolve(
    descriptor: Descriptor, key: str, path: str, bound: list[tuple[str, ...]], unknown: str
) -> tuple[FieldDescriptor, ...]:
    """The fields along ``path``, or ``()`` when the parameter is to be ignored."""
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor
    for segment in path.split("."):
        here = ".".join([*(f.name for f in fields), segment])
        if fields and is_map(fields[-1]):
            at = ".".join(f.name for f in fields)
            raise BindingError(
                here, f"`{fields[-1].name}` is a map; set an entry with `{at}[{segment}]=VALUE`"
            )
        if fields and fields[-1].is_repeated:
            raise BindingError(here, f"`{fields[-1].name}` is repeated; a parameter cannot go inside it")
        field = find_field(current, segment) if current is not None else None
        if field is None:
            if unknown == "ignore":
                return ()
            where = current.full_name if current is not None else f"`{fields[-1].name}` (not a message)"
            raise BindingError(here, f"unknown query parameter: no field `{segment}` in {where}")
        fields.append(field)
        names = tuple(f.name for f in fields)
        if any(names[: len(b)] == b for b in bound):
            return ()  # inside a field the path or the body already bound
        current = field.message_type
    names = tuple(f.name for f in fields)
    return () if any(b[: len(names)] == names for b in bound) else tuple(fields)


def _set(
    message: Message,
    fields: tuple[FieldDescriptor, ...],
    value: str,
    map_key: str | None,
    key: str,
    seen: dict[str, str],
) -> None:
    path = ".".join(f.name for f in fields)
    parent = message
    for field in fields[:-1]:
        parent = getattr(parent, field.name)
    leaf = fields[-1]
    if map_key is not None:
        if not is_map(leaf):
            raise BindingError(path, f"is not a map; `{key}` addresses a map entry")
        entry, entry_type = f"{path}[{map_key}]", cast(Descriptor, leaf.message_type)
        _claim(seen, entry, entry, _TWICE)
        map_value = entry_type.fields_by_name["value"]
        converted = parse_scalar(entry_type.fields_by_name["key"], map_key, entry)
        if map_value.message_type is not None:
            _set_message(getattr(parent, leaf.name)[converted], value, entry)
        else:
            getattr(parent, leaf.name)[converted] = parse_scalar(map_value, value, entry)
    elif is_map(leaf):
        raise BindingError(path, f"is a map; set an entry with `{path}[KEY]=VALUE`")
    elif leaf.is_repeated:
        if leaf.message_type is not None:
            _set_message(getattr(parent, leaf.name).add(), value, path)
        else:
            getattr(parent, leaf.name).append(parse_scalar(leaf, value, path))
    else:
        _claim(seen, path, path, _TWICE)
        if (oneof := leaf.containing_oneof) is not None:
            slot = f"{path.rpartition('.')[0]}.{oneof.name}()"  # `()`: no field path ends so
            _claim(seen, slot, path, f"oneof `{oneof.name}` is already set by `{{first}}`")
        if leaf.message_type is not None:
            _set_message(getattr(parent, leaf.name), value, path)
        else:
            setattr(parent, leaf.name, parse_scalar(leaf, value, path))


def _claim(seen: dict[str, str], slot: str, path: str, reason: str) -> None:
    if slot in seen:
        raise BindingError(path, reason.format(first=seen[slot]))
    seen[slot] = path


def _set_message(target: Message, text: str, path: str) -> None:
    """A well-known type from one text value; any other message is an error."""
    descriptor = descriptor_of(target)
    name = descriptor.full_name
    if name in _TEXT_WKTS:
        try:
            json_format.ParseDict(cast(Any, text), target)  # their JSON form is this very string
        except json_format.ParseError:
            raise BindingError(path, f"expected {_TEXT_WKTS[name]}, got {show(text)}") from None
    elif name == "google.protobuf.FieldMask":
        cast(Any, target).paths.extend(_field_mask_paths(text, path))
    elif name in WRAPPER_TYPES:
        cast(Any, target).value = parse_scalar(descriptor.fields_by_name["value"], text, path)
    elif name in _JSON_WKTS:
        _set_json(target, text, path)
    else:
        raise BindingError(
            path, f"is a message ({name}); a query parameter sets its fields, e.g. `{path}.<field>`"
        )


def _set_json(target: Message, text: str, path: str) -> None:
    """Struct, Value or ListValue from JSON text, its nesting bounded before json_format recurses."""
    name = descriptor_of(target).full_name
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth limit exceeded" in str(exc):  # orjson's own limit (1024): the same answer as ours
            raise BindingError(path, _TOO_DEEP) from None
        raise BindingError(path, f"expected JSON text for {name}: {exc}") from None
    depth = json_depth(value, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise BindingError(path, _TOO_DEEP)
    try:
        json_format.ParseDict(value, target, max_recursion_depth=_MESSAGE_DEPTH)
    except json_format.ParseError:
        kind = {"google.protobuf.Struct": "a JSON object", "google.protobuf.ListValue": "a JSON array"}
        raise BindingError(path, f"expected {kind.get(name, 'JSON text')}, got {show(text)}") from None
    except RecursionError:  # the caller's own stack was already deep: still the client's input
        raise BindingError(path, f"nested {depth} levels deep, too deep to parse here") from None


def _field_mask_paths(text: str, path: str) -> list[str]:
    paths = []
    for raw in text.split(","):
        mask_path = raw.strip()  # "a, b" is common once "+" has become a space
        if not mask_path:
            continue
        if not _MASK_PATH.fullmatch(mask_path):
            raise BindingError(path, f"invalid field mask path {show(mask_path)}")
        segments = mask_path.split(".")
        paths.append(
            ".".join(s if "_" in s else _UPPER.sub(lambda m: "_" + m.group().lower(), s) for s in segments)
        )
    return paths
