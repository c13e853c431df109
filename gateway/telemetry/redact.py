"""The one redaction layer every log line passes: credentials, PHI and scanned player text out.

Pure: no I/O. A :class:`Redactor` is compiled once from the contracts (a ``FileDescriptorSet``) and
then only read, so one instance is shared by every thread and task.

What is replaced, and by what:

- values of *sensitive keys*: credential-shaped metadata, header and mapping keys (``authorization``,
  ``cookie``, anything containing ``token``, ``secret``, ``password`` ...) and the operator's
  ``log.redact_keys``;
- values of message fields marked ``(tta.gateway.v1.field_policy).phi`` or ``.scan`` in the protos,
  wherever the message appears (nested, repeated, map values, inside ``google.protobuf.Any``);
- in free text (log messages, exception text, library output), see :meth:`Redactor.text`: the value of
  every ``key=value``, ``key: value``, ``('key', 'value')``, ``b'key'``/``{"key": ...}`` pair whose key
  is sensitive (control characters and ``b'...\\x01'`` reprs included), ``Bearer``/``Basic``
  credentials and JWTs.

A redacted value becomes ``<redacted:0123456789ab>``: the first 12 hex digits of
HMAC-SHA256(salt, value). Equal values hash equal under one salt, so a clinician or operator can follow
one value across lines without seeing it; with a random per-process salt (the default) nothing links
lines of different processes. Binary (``-bin``) metadata is shown as its length only.

Example::

    >>> r = Redactor(embedded_descriptor_set(), salt=b"s")
    >>> r.message("tta.v1.SendMessageRequest", {"session_id": "se_1", "text": "I feel low"})
    {'session_id': 'se_1', 'text': '<redacted:99cce4aab801>'}
    >>> r.metadata([("authorization", "Bearer abc"), ("x-request-id", "r1"), ("grpc-trace-bin", b"xyz")])
    [('authorization', '<redacted:bdf876d3a137>'), ('x-request-id', 'r1'), ('grpc-trace-bin', '<3 bytes>')]

Redacting twice changes nothing (``mapping(message(...))`` keeps the hashes ``message`` made), so
a rendered message may be logged as an ``extra``. Nothing here ever raises or returns a message
containing a raw redacted value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import orjson
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.message import Message
from tta.gateway.v1 import options_pb2

__all__ = ["Redactor"]

# Keys whose whole (normalised) name is sensitive: RFC 9110 §11.6.2 / §11.7.2 credentials and
# RFC 6265 cookies, plus the common API-key header.
_EXACT_KEYS: Final = frozenset({"authorization", "proxyauthorization", "cookie", "setcookie", "xapikey"})
# Keys containing one of these (normalised) words are sensitive: access_token, refresh-token,
# client_secret, x-db-password, aws_credentials, session-key, api_key, hash_salt, private_key ...
_KEY_WORDS: Final = (
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "sessionkey",
    "apikey",
    "privatekey",
    "salt",
)
# Credential-shaped substrings of free text: an RFC 6750 bearer (or RFC 7617 basic) credential, and a
# JWS/JWT in compact serialisation (RFC 7515 §7.1; its header is base64url JSON, so it starts "eyJ").
# A credential runs to the next space or delimiter: the control characters of an invalid header value,
# and the escapes of its repr (`\x01`), are part of it.
_CREDENTIAL_TEXT: Final = re.compile(
    r"(?i:\b(?:bearer|basic)\s+)[^\s'\"`,;()<>\[\]{}]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)
# A key and its separator, as free text writes them: `key=`, `key: ` (a header), and the quoted keys of
# Python reprs and JSON: `'key': `, `"key": `, `('key', `, `(b'key', `, hpack's `b'key'=`, `\"key\": `.
# Only what follows a sensitive key is replaced; the search goes on after any other key's separator.
_KEY_SEPARATOR: Final = re.compile(
    r"""b?\\?(?P<quote>['"])(?P<quoted>[\w.-]{1,64})\\?(?P=quote)[ \t]*[:,=][ \t]*"""
    r"""|(?<![\w.-])(?P<bare>[\w.-]{1,64})(?:(?P<eq>=)|:[ \t]*)"""
)
# A quoted value (str or bytes repr, JSON string, an escaped JSON string inside another), newlines and
# control characters included.
_QUOTED_VALUE: Final = re.compile(
    r"""b?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\\(['"])(?:(?!\\\1).)*\\\1)""", re.DOTALL
)
# An unquoted value: up to a space or delimiter (`token=abc&x=1`), with an auth scheme kept whole.
_BARE_VALUE: Final = re.compile(r"""(?i:(?:bearer|basic)[ \t]+)?[^\s&;,'"()\[\]{}<>]+""")
_LINE_VALUE: Final = re.compile(r"[^\r\n]+")  # a header's value: the rest of its line
_NO_VALUE: Final = frozenset({"None", "null"})  # nothing to hide, as in mapping()
_HASHED: Final = re.compile(r"<redacted:[0-9a-f]{12}>")
_MAX_DEPTH: Final = 32  # deeper (or cyclic) structures are cut, never recursed into without end
_TOO_DEEP: Final = "<too deep>"
_KEY_CACHE_LIMIT: Final = 4096  # metadata keys come from callers: bound what they can make us remember


@dataclass(frozen=True, slots=True)
class _Field:
    """How one message field is rendered."""

    sensitive: bool  # phi or scan: the value never appears
    message: str | None  # the field's message type (the map's value type for a map), to recurse into
    is_map: bool


_Rules = Mapping[str, _Field]  # field name (proto name and lowerCamel JSON name) -> rule


class Redactor:
    """Replaces sensitive values by salted hashes; compiled once from the contracts, then read-only."""

    __slots__ = ("_extra", "_key_cache", "_mac", "_rules", "_sensitive", "_words")

    def __init__(
        self,
        fds: descriptor_pb2.FileDescriptorSet | None = None,
        extra_keys: Iterable[str] = (),
        salt: bytes | None = None,
    ) -> None:
        """``salt`` None draws a random 16-byte salt; ``extra_keys`` are whole key names, matched
        ignoring case and ``-``/``_`` (``session_notes`` also matches ``sessionNotes``)."""
        self._mac = hmac.new(secrets.token_bytes(16) if salt is None else salt, digestmod=hashlib.sha256)
        self._extra = frozenset(_normalise(k) for k in extra_keys)
        # Words whose presence (case and -/_ ignored) makes text worth scanning for credentials.
        self._words = tuple(sorted({"bearer", "basic", *_EXACT_KEYS, *_KEY_WORDS, *self._extra} - {""}))
        self._key_cache: dict[str, bool] = {}
        self._rules: Mapping[str, _Rules] = MappingProxyType({})
        self._sensitive: Mapping[str, frozenset[str]] = MappingProxyType({})
        self._set_contracts(fds)

    def with_contracts(self, fds: descriptor_pb2.FileDescriptorSet | None) -> Redactor:
        """A new redactor for the contracts ``fds``, with this one's salt and extra keys: what a
        reload swaps in, so a value hashes the same before and after the swap. This one is unchanged.
        """
        other = Redactor.__new__(Redactor)
        other._mac = self._mac  # only ever copied, never updated: safe to share
        other._extra = self._extra
        other._words = self._words
        other._key_cache = {}
        other._set_contracts(fds)
        return other

    def _set_contracts(self, fds: descriptor_pb2.FileDescriptorSet | None) -> None:
        rules, sensitive = _compile(fds)
        self._rules = MappingProxyType(rules)
        self._sensitive = MappingProxyType(sensitive)

    # --- primitives --------------------------------------------------------------------------------

    def hash(self, value: str | bytes) -> str:
        """``<redacted:` + 12 hex digits of HMAC-SHA256(salt, value) + ``>``; str is UTF-8 encoded."""
        mac = self._mac.copy()
        mac.update(value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value)
        return f"<redacted:{mac.hexdigest()[:12]}>"

    def is_sensitive_key(self, key: str) -> bool:
        """Whether values under ``key`` (a metadata/header name, mapping key or field name) are secret.

        Case-insensitive, and ``-``/``_`` are ignored: ``Authorization``, ``x-api-key``, ``api_key``,
        ``accessToken``, ``client_secret``, ``X-Session-Key`` are all sensitive; ``x-request-id`` is not.
        """
        known = self._key_cache.get(key)
        if known is not None:
            return known
        norm = _normalise(key)
        found = norm in _EXACT_KEYS or norm in self._extra or any(w in norm for w in _KEY_WORDS)
        if len(self._key_cache) < _KEY_CACHE_LIMIT:
            self._key_cache[key] = found
        return found

    def text(self, value: str) -> str:
        """``value`` with credentials in it replaced by hashes. What is replaced:

        - the value after a sensitive key (:meth:`is_sensitive_key`) written as ``key=value`` (up to a
          space or ``&;,``), ``key: value`` (the rest of the line), or quoted as reprs and JSON write
          it: ``('key', 'value')``, ``(b'key', b'v\\x01')``, ``{'key': [...]}``, ``"key": "value"``;
          a quoted value is replaced whole, control characters, escapes and newlines included;
        - ``Bearer <credential>``, ``Basic <credential>`` and JWTs, wherever they stand.

        ``"x-api-key: k1\\x00 (peer 10.0.0.1)"`` -> ``"x-api-key: <redacted:...>"``;
        ``"[('cookie', 'sid=1'), ('x-request-id', 'r1')]"`` -> ``"[('cookie', <redacted:...>),
        ('x-request-id', 'r1')]"``. Hashes already there are kept, so text(text(s)) == text(s).

        A safety net for free text (log messages, exception text, values under innocent keys); it
        cannot recognise player text, which is why PHI is redacted by field, never by pattern.
        """
        if not self._may_hold_credentials(value):  # the common case, fast
            return value
        return _CREDENTIAL_TEXT.sub(self._hash_match, self._scrub_pairs(value))

    def _may_hold_credentials(self, value: str) -> bool:
        """Whether ``value`` holds a JWT's start or a sensitive word, as :meth:`is_sensitive_key`
        reads keys (case and ``-``/``_`` ignored): substring tests, a fraction of one regex search."""
        if "eyJ" in value:
            return True
        norm = value.lower().replace("-", "").replace("_", "")
        for word in self._words:  # noqa: SIM110 - a loop: a fifth faster than any(<generator>)
            if word in norm:
                return True
        return False

    def _hash_match(self, match: re.Match[str]) -> str:
        return self.hash(match.group())

    def _scrub_pairs(self, value: str) -> str:
        parts: list[str] = []
        done = 0  # value[:done] is in parts
        search = _KEY_SEPARATOR.search
        found = search(value)
        while found is not None:
            start = found.end()
            key = found.group("quoted") or found.group("bare")
            if not self.is_sensitive_key(key):
                found = search(value, start)
                continue
            header = found.group("bare") is not None and found.group("eq") is None
            end = _value_end(value, start, header)
            content = _unquote(value[start:end])
            # Nothing there, nothing to hide (None), or a hash already (text(text(s)) == text(s)).
            if content and content not in _NO_VALUE and not _HASHED.fullmatch(content):
                parts += (value[done:start], self.hash(content))
                done = end
            found = search(value, max(end, start))
        if not parts:
            return value
        parts.append(value[done:])
        return "".join(parts)

    # --- shapes ------------------------------------------------------------------------------------

    def metadata(self, pairs: Iterable[tuple[str, str | bytes]]) -> list[tuple[str, str]]:
        """gRPC metadata or HTTP headers, renderable: secrets hashed, ``-bin`` values as their length."""
        out: list[tuple[str, str]] = []
        for key, value in pairs:
            if self.is_sensitive_key(key):
                out.append((key, self.hash(value)))
            elif key.lower().endswith("-bin"):
                size = len(value) if isinstance(value, bytes) else len(value.encode("utf-8", "surrogatepass"))
                out.append((key, f"<{size} bytes>"))
            elif isinstance(value, bytes):
                out.append((key, self.text(value.decode("utf-8", "replace"))))
            else:
                out.append((key, self.text(value)))
        return out

    def mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``data`` (nested dicts and lists included) with values of sensitive keys hashed.

        Protobuf messages found inside are rendered with :meth:`message`, dataclasses and pydantic
        models as mappings, so their fields pass the same rules.
        """
        return self._walk_mapping(data, None, 0)

    def message(self, type_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` = ``MessageToDict(msg, preserving_proto_field_name=True)`` of ``type_name``
        (``"tta.v1.SendMessageRequest"``), with phi/scan fields (at any depth) and sensitive keys
        hashed. lowerCamel JSON names are accepted too. An unknown type falls back to :meth:`mapping`.
        """
        return self._walk_mapping(data, self._rules.get(type_name.lstrip(".")), 0)

    def sensitive_fields(self, type_name: str) -> frozenset[str]:
        """Proto names of ``type_name``'s own fields marked phi or scan (empty for an unknown type)."""
        return self._sensitive.get(type_name.lstrip("."), frozenset())

    # --- walking -----------------------------------------------------------------------------------

    def _walk_mapping(self, data: Mapping[Any, Any], rules: _Rules | None, depth: int) -> dict[str, Any]:
        if depth >= _MAX_DEPTH:
            return {"<redacted>": _TOO_DEEP}
        type_url = data.get("@type")
        if isinstance(type_url, str):
            # google.protobuf.Any in JSON: {"@type": "type.googleapis.com/tta.v1.X", ...X's fields}
            rules = self._rules.get(type_url.rpartition("/")[2], rules)
        out: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = raw_key if isinstance(raw_key, str) else str(raw_key)
            rule = rules.get(key) if rules is not None else None
            if (rule is not None and rule.sensitive) or self.is_sensitive_key(key):
                out[key] = self._hash_any(value)
            elif rule is not None and rule.is_map and isinstance(value, Mapping):
                # Map keys are data too: an entry under a sensitive key is hashed like a mapping's.
                inner = self._rules.get(rule.message) if rule.message else None
                out[key] = {
                    str(k): self._hash_any(v)
                    if self.is_sensitive_key(str(k))
                    else self._walk(v, inner, depth + 1)
                    for k, v in value.items()
                }
            else:
                nested = self._rules.get(rule.message) if rule is not None and rule.message else None
                out[key] = self._walk(value, nested, depth + 1)
        return out

    def _walk(self, value: Any, rules: _Rules | None, depth: int) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(value)
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        if isinstance(value, Mapping):
            return self._walk_mapping(value, rules, depth)
        if isinstance(value, (list, tuple)) and len(value) == 2 and self._names_secret(value[0]):
            # A (key, value) pair, as metadata travels: [("authorization", "Basic ..."), ...]
            return [self._walk(value[0], None, depth + 1), self._hash_any(value[1])]
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._walk(v, rules, depth + 1) for v in value]
        if isinstance(value, (bytes, bytearray)):
            # Shown as the serialiser would (its repr), unless that repr holds a credential.
            shown = repr(bytes(value))
            safe = self.text(shown)
            return value if safe == shown else safe
        if isinstance(value, Message):
            return self._walk_message(value, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return self._walk_mapping(fields, None, depth)
        dump = getattr(value, "model_dump", None)  # pydantic models (settings, for one)
        if callable(dump) and not isinstance(value, type):
            try:
                dumped = dump()
            except Exception:
                return f"<unrenderable {type(value).__qualname__}>"
            if isinstance(dumped, Mapping):
                return self._walk_mapping(dumped, None, depth)
        return value  # left to the serialiser (its str()): bytes, datetimes, enums, ...

    def _walk_message(self, msg: Message, depth: int) -> Any:
        name = msg.DESCRIPTOR.full_name
        try:
            data = json_format.MessageToDict(msg, preserving_proto_field_name=True)
        except Exception:  # an Any of an unknown type, say; the error could quote contents
            return f"<unrenderable {name}>"
        if not isinstance(data, Mapping):  # well-known types render as scalars (Timestamp, wrappers)
            return self._walk(data, None, depth + 1)
        return self._walk_mapping(data, self._rules.get(name), depth)

    def _names_secret(self, key: Any) -> bool:
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        return isinstance(key, str) and len(key) <= 64 and self.is_sensitive_key(key)

    def _hash_any(self, value: Any) -> Any:
        """A sensitive value's replacement: repeated values element by element, the rest as a whole."""
        if value is None:
            return None  # nothing to hide, and "no token" is worth seeing
        if isinstance(value, str) and _HASHED.fullmatch(value):
            return value  # already redacted (a rendered message logged as an extra): keep its hash
        if isinstance(value, (str, bytes)):
            return self.hash(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._hash_any(v) for v in value]
        if isinstance(value, Mapping):
            return self.hash(_canonical(value))
        if isinstance(value, Message):
            return self.hash(value.SerializeToString(deterministic=True))
        return self.hash(str(value))


def _normalise(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def _value_end(text: str, start: int, header: bool) -> int:
    """Where the value that begins at ``text[start]`` ends: a header's at the end of its line (quoted
    or not: ``key: 'a' b`` is one value); any other quoted string or bracketed structure whole (an
    unclosed one: the rest of the text), or at the next space or delimiter."""
    if header:
        line = _LINE_VALUE.match(text, start)
        return start if line is None else line.end()
    quoted = _QUOTED_VALUE.match(text, start)
    if quoted is not None:
        return quoted.end()
    head = text[start : start + 2]
    if head[:1] in ("'", '"', "\\") or (head[:1] == "b" and head[1:] in ("'", '"')):
        return len(text)  # a quote that does not close: the value may run to the end
    if head[:1] in ("(", "[", "{"):
        return _closing(text, start)
    value = _BARE_VALUE.match(text, start)
    return start if value is None else value.end()


def _closing(text: str, start: int) -> int:
    """The end of the bracketed structure opening at ``text[start]``, quotes respected."""
    depth, quote, i = 0, "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _unquote(raw: str) -> str:
    """A quoted value's content (``b'v'`` -> ``v``), so text hashes equal mapping()'s when unescaped."""
    body = raw[1:] if raw[:2] in ("b'", 'b"') else raw
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        return body[1:-1]
    return raw


def _canonical(value: Mapping[Any, Any]) -> bytes:
    """One byte string per value, whatever the key order, so equal mappings hash equal."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return repr(sorted(value.items(), key=repr)).encode("utf-8", "surrogatepass")


def _lower_camel(name: str) -> str:
    """protoc's default json_name: ``session_notes`` -> ``sessionNotes``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _compile(
    fds: descriptor_pb2.FileDescriptorSet | None,
) -> tuple[dict[str, _Rules], dict[str, frozenset[str]]]:
    """Every message type of ``fds`` -> its field rules (keyed by proto and JSON names), and its
    phi/scan field names. Map entry types are folded into the map field's rule."""
    messages: dict[str, descriptor_pb2.DescriptorProto] = {}

    def collect(prefix: str, types: Iterable[descriptor_pb2.DescriptorProto]) -> None:
        for t in types:
            name = f"{prefix}.{t.name}" if prefix else t.name
            messages.setdefault(name, t)
            collect(name, t.nested_type)

    for file in fds.file if fds is not None else ():
        collect(file.package, file.message_type)

    rules: dict[str, _Rules] = {}
    sensitive: dict[str, frozenset[str]] = {}
    for name, msg in messages.items():
        if msg.options.map_entry:
            continue
        fields: dict[str, _Field] = {}
        marked: set[str] = set()
        for field in msg.field:
            policy = _field_policy(field)
            is_sensitive = policy.phi or policy.scan
            target = field.type_name.lstrip(".") if field.type == field.TYPE_MESSAGE else None
            is_map = False
            entry = messages.get(target) if target else None
            if entry is not None and entry.options.map_entry:
                is_map = True
                value = next((f for f in entry.field if f.number == 2), None)
                target = (
                    value.type_name.lstrip(".")
                    if value is not None and value.type == value.TYPE_MESSAGE
                    else None
                )
            rule = _Field(sensitive=is_sensitive, message=target, is_map=is_map)
            fields[field.name] = rule
            fields.setdefault(field.json_name or _lower_camel(field.name), rule)
            if is_sensitive:
                marked.add(field.name)
        rules[name] = MappingProxyType(fields)
        sensitive[name] = frozenset(marked)
    return rules, sensitive


def _field_policy(field: descriptor_pb2.FieldDescriptorProto) -> options_pb2.FieldPolicy:
    if not field.HasField("options"):
        return options_pb2.FieldPolicy()
    # Re-parse, so that the extension is read even when the set was parsed before options_pb2 was
    # imported (it then sits among the unknown fields). The generated .pyi types extensions as plain
    # FieldDescriptors, which the typeshed stubs of Extensions[] reject; the runtime accepts them.
    options = descriptor_pb2.FieldOptions.FromString(field.options.SerializeToString())
    extensions: Any = options.Extensions
    policy: options_pb2.FieldPolicy = extensions[options_pb2.field_policy]
    return policy
