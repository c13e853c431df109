"""How configuration mistakes are worded: pydantic's error list translated into our own lines.

One line per problem, ``SOURCE: KEY PATH: REASON``, where the source is the variable that set the key,
else the file, else the caller's label::

    gateway.yaml: grpc.port: must be between 0 and 65535 (0 picks a free port) (got 70000)
    environment TTA_GATEWAY__GRPC__PROT: grpc.prot: unknown key (known keys: host, port, ...)

Validators raise :class:`Invalid` with a reason worded for people. Values under keys that look secret
(secret, password, token, key) and passwords inside URLs are never echoed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel

ENV_PREFIX = "TTA_GATEWAY__"  # of the variables that override settings; errors name them
SECRET_WORDS = ("secret", "password", "token", "key")
REDACTED = "<redacted>"


class Invalid(ValueError):
    """A validator's verdict, worded for people; ``show`` says where the offending value goes.

    ``"after"``: ``must be ... (got 70000)``; ``"before"``: ``"localhost" is not host:port``;
    ``"none"``: the reason alone (it already says what is wrong, or the value is too big to echo).
    """

    def __init__(self, reason: str, *, show: Literal["after", "before", "none"] = "after") -> None:
        super().__init__(reason)
        self.reason = reason
        self.show = show


class Sources:
    """Where each part of the merged mapping came from, to name it in error messages."""

    def __init__(self, default: str, prefix: tuple[str, ...] = ()) -> None:
        self.default = default  # the file, or the caller's label when there is no file
        self.prefix = prefix  # ("gateway",) when the file was a TTA-wide config
        self.env: dict[tuple[str, ...], str] = {}  # key path → the variable that set it
        # Mappings that exist only because a variable reached through them (TTA_GATEWAY__GRCP__PORT
        # creates "grcp"): an error about the mapping itself names that variable.
        self.created: dict[tuple[str, ...], str] = {}

    def locate(self, loc: tuple[str | int, ...]) -> tuple[str, tuple[str | int, ...]]:
        """The source label and the key path as that source spells it."""
        keys = tuple(k for k in loc if isinstance(k, str))
        if len(keys) == len(loc) and keys in self.created:
            return f"environment {self.created[keys]}", loc
        for length in range(len(loc), 0, -1):
            # Variables name mapping keys only; a list index in the path ends the search.
            if len(keys) >= length and keys[:length] == loc[:length] and keys[:length] in self.env:
                return f"environment {self.env[keys[:length]]}", loc
        return self.default, self.prefix + loc


class Schema:
    """What the translator needs to know about the models: the root, to list the keys of the mapping
    at any path, and the tagged unions, whose tags pydantic puts in error locations.

    ``tagged`` maps a list field's name to its union's tags, for example
    ``{"descriptors": {"file": FileDescriptorSource, "reflection": ReflectionDescriptorSource}}``.
    """

    def __init__(self, root: type[BaseModel], tagged: Mapping[str, Mapping[str, type[BaseModel]]]) -> None:
        self.root = root
        self.tagged = tagged

    def describe(self, error: Any, sources: Sources) -> str:
        """One pydantic error (an item of ``ValidationError.errors()``) as one line."""
        loc = self._clean_loc(tuple(error["loc"]))
        label, spelled = sources.locate(loc)
        secret = any(isinstance(k, str) and any(w in k.lower() for w in SECRET_WORDS) for k in loc)
        shown = REDACTED if secret else show(error.get("input"))
        where = f"{dotted(spelled)}: " if spelled else ""
        return f"{label}: {where}{self._reason(error, loc, shown, sources)}"

    def _clean_loc(self, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        # A tagged union puts its tag in the location: descriptors.0.file.file → descriptors[0].file.
        # A mapping's key that fails validation is at routes.KEY.[key] → routes["KEY"].
        out: list[str | int] = []
        for i, part in enumerate(loc):
            if i >= 2 and isinstance(loc[i - 1], int) and part in self.tagged.get(str(loc[i - 2]), {}):
                continue
            if part == "[key]" and i == len(loc) - 1:
                continue
            out.append(part)
        return tuple(out)

    def _reason(self, error: Any, loc: tuple[str | int, ...], shown: str, sources: Sources) -> str:
        kind: str = error["type"]
        ctx: dict[str, Any] = error.get("ctx") or {}
        if kind == "value_error" and isinstance(ctx.get("error"), Invalid):
            invalid: Invalid = ctx["error"]
            if invalid.show == "before":
                return f"{shown} {invalid.reason}"
            if invalid.show == "none":
                return invalid.reason
            return f"{invalid.reason} (got {shown})"
        if kind == "extra_forbidden":
            return self._unknown_key(loc, sources)
        if kind == "missing":
            return "required key is missing"
        if kind == "union_tag_not_found":
            return f"must be exactly one of {{file: PATH}} or {{reflection: true}} (got {shown})"
        if kind == "literal_error":
            expected = str(ctx.get("expected", "")).replace("'", "")
            expected = "true" if expected == "True" else f"one of {expected}"
            return f"must be {expected} (got {shown})"
        reason = _SIMPLE.get(kind)
        if reason is None and kind in _BOUNDS:
            reason = f"{_BOUNDS[kind][1]} {_number(ctx.get(_BOUNDS[kind][0]))}"
        if reason is None:  # a pydantic message we have not reworded: still name the value
            msg = str(error.get("msg", kind))
            reason = msg[:1].lower() + msg[1:]
        return f"{reason} (got {shown})"

    def _unknown_key(self, loc: tuple[str | int, ...], sources: Sources) -> str:
        model = self.model_at(loc[:-1])
        if model is None:
            return "unknown key"
        moved: Mapping[str, tuple[str, str]] = getattr(model, "moved_keys", {})
        if loc and loc[-1] in moved:
            # A key that used to exist: say where it lives now, spelled as the source spells keys.
            now, hint = moved[str(loc[-1])]
            label, _ = sources.locate(loc)
            if label.startswith("environment "):
                return f"moved to {now}, set by {env_name(now)} ({hint})"
            return f"moved to {dotted((*sources.prefix, *now.split('.')))} ({hint})"
        return f"unknown key (known keys: {', '.join(model.model_fields)})"

    def model_at(self, loc: tuple[str | int, ...]) -> type[BaseModel] | None:
        """The model that validates the mapping at ``loc``, to list its keys."""
        current: Any = self.root
        for i, part in enumerate(loc):
            current = _unwrap(current)
            if isinstance(part, int):
                args = get_args(current) if get_origin(current) is tuple else ()
                current = args[0] if args else None
            elif (
                isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields
            ):
                current = current.model_fields[part].annotation
            elif get_origin(current) is dict:
                current = get_args(current)[1]
            elif i >= 2 and part in self.tagged.get(str(loc[i - 2]), {}):
                current = self.tagged[str(loc[i - 2])][part]
            else:
                return None
        current = _unwrap(current)
        return current if isinstance(current, type) and issubclass(current, BaseModel) else None


_SIMPLE = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "path_type": "must be a path",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
}
# pydantic's bound errors: the context key holding the bound, and our wording.
_BOUNDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _number(bound: Any) -> str:
    return f"{bound:g}" if isinstance(bound, (int, float)) else str(bound)


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


# A mapping key that reads unambiguously after a dot; anything else (route keys such as
# "/tta.v1.PlayerService/GetPlayer" contain dots and slashes) is written in brackets and quotes.
_PLAIN_KEY = re.compile(r"[\w-]+")


def dotted(loc: tuple[str | int, ...]) -> str:
    """A key path as people write it: ``upstreams[0].targets``, ``deadlines.routes["tta.v1.X"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        else:
            out += f".{part}" if out else part
    return out


def env_name(path: str) -> str:
    """The variable that sets a dotted key path: ``deadlines.routes`` → ``TTA_GATEWAY__DEADLINES__ROUTES``."""
    return ENV_PREFIX + "__".join(part.upper() for part in path.split("."))


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]+@")


def show(value: Any, limit: int = 120) -> str:
    """The value as a YAML/JSON reader would write it, secrets masked, long values cut."""
    text = json.dumps(_redact(value), ensure_ascii=False, default=str)
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if any(w in str(k).lower() for w in SECRET_WORDS) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def kind_of(value: Any) -> str:
    """The kind of a YAML value, for messages: ``a list``, ``a mapping``, ``a string`` ..."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__
