"""Path templates as OpenAPI paths: the ``paths`` key, its path parameters, and templates that share one.

A variable that is one ``*`` or ``**`` stays a parameter named by its field path; a variable with
literals or several wildcards is spelled out, its literals in the path and each wildcard a parameter
named after the literal before it, singular, so that ``{name=shelves/*}`` and ``{name=authors/*}`` are
different paths, as they are to the router. Example::

    >>> layout = compile_openapi_path(parse_template("/v1/{name=shelves/*/books/*}:get"))
    >>> layout.path
    '/v1/shelves/{shelf}/books/{book}:get'
    >>> layout.parameters[0]
    PathParameter(name='shelf', field_path='name', many=False, fills='shelves/{shelf}/books/{book}')
    >>> layout.fills
    (('name', 'shelves/{shelf}/books/{book}'),)

``path_parameters`` writes each parameter's JSON, with ``x-tta-binds`` naming the field it fills.
``place_operations`` puts operations under their paths: templates the router tells apart only by
``*`` against ``**`` are one OpenAPI path (a path parameter cannot say how many segments it takes), so
the one the router tries first is listed and the others are kept beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from transcoder.router import Shape, template_shape
from transcoder.rules import HttpBinding
from transcoder.template import SegmentKind, Template, Variable, normalize_segment

Json = dict[str, Any]

_ONE_SEGMENT = "^[^/]+$"
_SEGMENTS = "^[^/]+(?:/[^/]+)*$"  # one or more segments, none empty
_ANY_SEGMENTS = "^(?:[^/]+(?:/[^/]+)*)?$"  # zero or more: a whole `{var=**}`, whose path may end before it
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]")
_PARAM = re.compile(r"\{[^{}]+\}")


@dataclass(frozen=True, slots=True)
class PathParameter:
    """One ``{name}`` of an OpenAPI path, and what it fills."""

    name: str
    field_path: str | None  # the request field it fills, or None: a wildcard outside every variable
    many: bool  # from "**": the rest of the path, "/" included
    fills: str | None  # in a variable that has literals or several wildcards, the variable's value in
    # terms of its parameters ("shelves/{shelf}/books/{book}"); None: the parameter is the whole value


@dataclass(frozen=True, slots=True)
class OpenApiPath:
    """A template as an OpenAPI path: the key of ``paths`` and its parameters.

    Variables' parameters come first, in template order, then unnamed wildcards' (``wildcard-N``).
    ``fills`` maps each variable spelled out in the path to its value's form, a constant included.
    """

    path: str
    parameters: tuple[PathParameter, ...]
    fills: tuple[tuple[str, str], ...]

    def shape(self) -> str:
        """The path with parameter names left out: OpenAPI 3.1 §4.8.2 takes equal shapes for one path."""
        return _PARAM.sub("{}", self.path)

    def renamed(self, names: dict[str, str]) -> OpenApiPath:
        """The same path with parameters renamed (``names``: old → new), in the path and in ``fills``."""

        def sub(text: str) -> str:
            return _PARAM.sub(lambda m: "{" + names.get(m.group(0)[1:-1], m.group(0)[1:-1]) + "}", text)

        parameters = tuple(
            PathParameter(names.get(p.name, p.name), p.field_path, p.many, p.fills and sub(p.fills))
            for p in self.parameters
        )
        return OpenApiPath(sub(self.path), parameters, tuple((f, sub(v)) for f, v in self.fills))

    def named_as(self, other: OpenApiPath) -> OpenApiPath:
        """The same path with its parameters named as in ``other``, a path of the same ``shape``:
        ``/players/{player.player_id}`` named as ``/players/{player_id}`` is ``/players/{player_id}``."""
        pairs = zip(_PARAM.findall(self.path), _PARAM.findall(other.path), strict=True)
        return self.renamed({old[1:-1]: new[1:-1] for old, new in pairs})


def _spelled_out(template: Template, variable: Variable) -> bool:
    """Whether a variable's literals go into the OpenAPI path: it is more than one ``*`` or ``**``.

    ``{name=shelves/*}`` must not become ``{name}``: ``{name=authors/*}`` beside it would be the same
    OpenAPI path although the router tells the two apart by their literals."""
    own = template.segments[variable.start : variable.end]
    return len(own) > 1 or own[0].kind is SegmentKind.LITERAL


def _derived_name(template: Template, variable: Variable, index: int) -> str:
    """A wildcard's parameter name: the literal before it in the variable, singular by a few English
    rules (see ``singular``), else the variable's field path."""
    before = template.segments[index - 1] if index > variable.start else None
    if before is None or before.kind is not SegmentKind.LITERAL:
        return variable.field_path
    return singular(_NOT_IN_A_NAME.sub("_", normalize_segment(before.text)))


def singular(word: str) -> str:
    """``books`` → ``book``, ``shelves`` → ``shelf``, ``policies`` → ``policy``, ``addresses`` →
    ``address``; ``access``, ``people`` stay. Only a name: what it fills is said beside it."""
    for plural, one in (("ies", "y"), ("elves", "elf"), ("sses", "ss")):
        if word.endswith(plural) and len(word) > len(plural) + 1:
            return word[: -len(plural)] + one
    return word[:-1] if len(word) > 1 and word.endswith("s") and not word.endswith("ss") else word


def compile_openapi_path(template: Template) -> OpenApiPath:
    """The OpenAPI path of a template, with its parameters (see ``OpenApiPath``).

    ``/v1/{name=shelves/*/books/*}:get`` → ``/v1/shelves/{shelf}/books/{book}:get``, where ``shelf`` and
    ``book`` fill ``name`` as ``shelves/{shelf}/books/{book}``; ``/v1/{id}/{rest=**}`` →
    ``/v1/{id}/{rest}``; ``/v1/*/x`` → ``/v1/{wildcard-1}/x``. Literals are written normalised (RFC 3986
    6.2.2, as the router compares them), so templates the router takes for one path give one path.
    """
    segments = template.segments
    starts = {v.start: v for v in template.variables}
    inside = {i for v in template.variables for i in range(v.start, v.end)}
    wildcards = [i for i, s in enumerate(segments) if s.kind is not SegmentKind.LITERAL and i not in inside]
    unnamed = {i: f"wildcard-{n}" for n, i in enumerate(wildcards, start=1)}
    # Names that are fixed (a field path, wildcard-N) are taken first; derived ones yield to them.
    taken = set(unnamed.values()) | {
        v.field_path for v in template.variables if not _spelled_out(template, v)
    }
    parts: list[str] = []
    parameters: list[PathParameter] = []
    fills: list[tuple[str, str]] = []
    i = 0
    while i < len(segments):
        variable = starts.get(i)
        if variable is None:
            parts.append("{" + unnamed[i] + "}" if i in unnamed else normalize_segment(segments[i].text))
            i += 1
            continue
        if not _spelled_out(template, variable):
            many = segments[i].kind is SegmentKind.MULTI
            parts.append("{" + variable.field_path + "}")
            parameters.append(PathParameter(variable.field_path, variable.field_path, many, None))
            i = variable.end
            continue
        own: list[str] = []
        mine: list[tuple[str, bool]] = []
        for j in range(variable.start, variable.end):
            kind = segments[j].kind
            if kind is SegmentKind.LITERAL:
                own.append(normalize_segment(segments[j].text))
                continue
            base = name = _derived_name(template, variable, j)
            n = 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
            own.append("{" + name + "}")
            mine.append((name, kind is SegmentKind.MULTI))
        value = "/".join(own)
        parts.extend(own)
        parameters.extend(PathParameter(name, variable.field_path, many, value) for name, many in mine)
        fills.append((variable.field_path, value))
        i = variable.end
    verb = f":{normalize_segment(template.verb)}" if template.verb else ""
    parameters.extend(
        PathParameter(unnamed[i], None, segments[i].kind is SegmentKind.MULTI, None) for i in wildcards
    )
    return OpenApiPath("/" + "/".join(parts) + verb, tuple(parameters), tuple(fills))


def openapi_path(template: Template) -> str:
    """The OpenAPI path key of a template (the ``path`` of ``compile_openapi_path``):
    ``/v1/{name=shelves/*}/books/*:get`` → ``/v1/shelves/{shelf}/books/{wildcard-1}:get``."""
    return compile_openapi_path(template).path


# -- parameters ----------------------------------------------------------------------------------


def described(description: str | None, extra: str | None) -> Json:
    """``{"description": ...}`` of the texts given, a blank line between them; ``{}`` for none."""
    text = "\n\n".join(filter(None, [description, extra]))
    return {"description": text} if text else {}


def _resolve(message: Descriptor, path: str) -> FieldDescriptor:
    """The field a dotted proto-name path ends at (rules.http_bindings has checked that it exists)."""
    current: Descriptor | None = message
    field: FieldDescriptor | None = None
    for name in path.split("."):
        assert current is not None
        field = current.fields_by_name[name]
        current = field.message_type
    assert field is not None
    return field


def path_parameters(
    layout: OpenApiPath,
    request: Descriptor,
    comment: Callable[[str], str | None],
    value_schema: Callable[[FieldDescriptor], Json],
) -> list[Json]:
    """The parameter objects of ``layout``'s path, each that fills a field with ``x-tta-binds``.

    ``comment`` gives a field's comment by full name; ``value_schema`` the schema of a field bound
    whole (it may register components, so it is called only for those)."""
    out: list[Json] = []
    for param in layout.parameters:
        if param.field_path is None:
            out.append(
                {
                    "name": param.name,
                    "in": "path",
                    "required": True,
                    "description": "Any path segments (`/` allowed), bound to no field."
                    if param.many
                    else "Any one path segment, bound to no field.",
                    "schema": {"type": "string"}
                    if param.many
                    else {"type": "string", "pattern": _ONE_SEGMENT},
                }
            )
            continue
        field = _resolve(request, param.field_path)
        text = comment(field.full_name)
        if param.fills is not None:
            schema: Json = {"type": "string", "pattern": _SEGMENTS if param.many else _ONE_SEGMENT}
            how = f"Fills `{param.field_path}` as `{param.fills}`: " + (
                "the rest of the path, one or more segments with the `/` between them unescaped "
                f"(with none, the path ends before `/{{{param.name}}}` and `{param.field_path}` is "
                f"`{param.fills.removesuffix('/{' + param.name + '}')}`)."
                if param.many
                else "one path segment."
            )
            text_json = described(text, how)
        elif param.many:
            schema = {"type": "string", "pattern": _ANY_SEGMENTS}
            how = "Any number of path segments: send the `/` between them unescaped."
            text_json = described(text, how)
        else:
            schema = value_schema(field)
            # Renamed to the name its path item uses (openapi_document): say which field it binds.
            note = (
                f"Binds the request field `{param.field_path}`." if param.name != param.field_path else None
            )
            text_json = described(note, text)
        param_json = {"name": param.name, "in": "path", "required": True, "schema": schema}
        out.append(param_json | text_json | {"x-tta-binds": param.field_path})
    return out


# -- operations sharing a path --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    """Operations under their paths: ``paths`` (path → method key → operation), the operations served
    but not listed there (operationId → entry), and bindings the router would refuse too."""

    paths: dict[str, Json]
    unlisted: dict[str, Json]
    problems: list[str]


def place_operations(claims: dict[tuple[str, str], list[tuple[HttpBinding, Json]]]) -> Placement:
    """Put each (path, method key)'s claimants under ``paths``, the one the router tries first listed.

    Two claimants of one template shape are a problem (the router refuses them: ``RouteConflict``).
    What is left differs only in ``*`` against ``**`` where the path has a parameter, which OpenAPI
    cannot express; those are served all the same, so they are documented beside the paths."""
    paths: dict[str, Json] = {}
    unlisted: dict[str, Json] = {}
    problems: list[str] = []
    for (path, key), claimants in claims.items():
        served: dict[Shape, tuple[HttpBinding, Json]] = {}
        for binding, operation in claimants:
            first = served.setdefault(template_shape(binding.template), (binding, operation))[0]
            if first is not binding:
                problems.append(
                    f"{binding.describe()}: same OpenAPI operation {key} {path} as {first.describe()}"
                )
        listed, *others = sorted(served.values(), key=lambda c: _precedence(c[0].template))
        paths.setdefault(path, {})[key] = listed[1]
        for binding, operation in others:
            unlisted[operation["operationId"]] = _unlisted(binding, operation, path, listed)
    return Placement(paths, unlisted, problems)


def _precedence(template: Template) -> tuple[int, ...]:
    """The router's order among templates of one OpenAPI path: a literal, then ``*``, then ``**``."""
    rank = {SegmentKind.LITERAL: 0, SegmentKind.SINGLE: 1, SegmentKind.MULTI: 2}
    return tuple(rank[s.kind] for s in template.segments)


def _unlisted(binding: HttpBinding, operation: Json, path: str, listed: tuple[HttpBinding, Json]) -> Json:
    """An operation served but not under ``paths``: its path is another operation's."""
    other, other_operation = listed
    return {
        "method": binding.http_method,
        "path": path,
        "template": binding.template.text,
        "x-grpc-method": binding.grpc_path,
        "listedAs": other_operation["operationId"],
        "reason": f"OpenAPI cannot tell `{binding.http_method} {binding.template.text}` from "
        f"`{other.http_method} {other.template.text}`, listed under this path: a path parameter cannot "
        "say how many segments it takes. The gateway serves both; a path both match goes to the listed one.",
        "operation": operation,
    }
