"""An OpenAPI 3.1 document from the same ``google.api.http`` bindings the router serves. Pure.

Data in (bindings, a descriptor pool, optionally the ``FileDescriptorSet`` for its comments), a plain
``dict`` out, ready for ``orjson.dumps``. Everything is deterministic: paths, schemas, tags and
responses are sorted by key; properties and enum values keep their proto declaration order (which
carries meaning); so the same contracts always give the same bytes.

Example::

    >>> doc = openapi_document(http_bindings(fds), pool, fds=fds)
    >>> doc["paths"]["/api/v1/worlds"]["get"]["operationId"]
    'WorldService_ListWorlds'
    >>> doc["components"]["schemas"]["tta.v1.Player"]["properties"]["createTime"]
    {'type': 'string', 'format': 'date-time', 'description': 'When the account was created; ...'}

Mapping (proto3 JSON, https://protobuf.dev/programming-guides/json/):

- Paths (``transcoder._openapi_paths``): ``{var}`` and ``{a.b}`` stay as written, the parameter
  named by the field path (proto names, as in the template), and so does a variable that is just
  ``**`` (``{path=**}``). A variable with
  literals or several wildcards is spelled out, its literals in the path and each wildcard a parameter
  named after the literal before it, singular: ``{name=shelves/*/books/*}`` → ``shelves/{shelf}/books/
  {book}``. Each such parameter says which field it fills and how (``x-tta-binds: name``, "fills `name`
  as shelves/{shelf}/books/{book}"), a ``**`` one that it takes the rest of the path, slashes included,
  and the operation maps each spelled-out field to its form (``x-tta-path-fields``). So the resource
  names of the API design guide (``{name=shelves/*}`` beside ``{name=authors/*}``) are different paths,
  as they are to the router. Literals are written normalised; a custom verb stays literal
  (``/api/v1/sessions/{session_id}:start``). A ``*``/``**`` outside any variable becomes a parameter
  ``wildcard-N`` (a name no field can have). Every parameter that fills a field has ``x-tta-binds``.
- operationId ``Service_Method``, ``_N`` for the N-th additional binding; the service's short name is
  qualified by its package (``tta_v2_PlayerService_GetPlayer``) when two packages share it. Tag: the
  service's full name. ``x-grpc-method`` names the gRPC method.
- Request: path parameters (required); with no ``body: "*"``, every scalar, enum, repeated scalar,
  map (``deepObject``: ``m[key]=v``) and query-settable well-known-type leaf not bound by the path or
  the body is a query parameter, named by its dotted path (lowerCamel or proto names), exactly what
  ``transcoder.query`` accepts. ``body: "*"``: the request message without the top-level fields the
  path binds (an inline schema; the path wins over the body, so they are left out rather than
  documented twice); ``body: "field"``: that field's schema. A client stream takes NDJSON (one message
  per line) or a JSON array.
- Responses: 200 with the response message (or the ``response_body`` field); a server stream offers
  ``application/x-ndjson``, ``text/event-stream`` and ``application/json`` (an array), and an error
  after the first message is in-band (``{"error": Status}``, or an SSE ``error`` event). ``default`` and
  400/401/403/404/405/409/413/429/500/503/504 (406 for streams) are ``google.rpc.Status``.
- Schemas (``components.schemas``, named by full name): int32 family → integer/int32; uint32, fixed32
  → integer/int64 with bounds (as grpc-gateway: they do not fit an int32); 64-bit → string
  (int64/uint64); float/double → number; bytes → base64 string; enums → string with the value names
  (their own component); maps → object with ``additionalProperties``; a real oneof → a note on its
  members and a ``not`` that forbids two at once; ``(google.api.field_behavior)`` REQUIRED →
  ``required``, OUTPUT_ONLY → ``readOnly``, INPUT_ONLY → ``writeOnly``. Well-known types inline:
  Timestamp → date-time string, Duration → ``"1.5s"`` string, FieldMask → string, Struct → object,
  Value → any, ListValue → array, wrappers → nullable scalar, Empty → object, Any → object with ``@type``.
- Security: a global ``bearerAuth`` (HTTP bearer, JWT). The transcoder does not know policies (it may
  not import the gateway), so the caller names the gRPC paths of methods that need no token
  (``public_operations``: ``security: []``) and of those where a token is optional
  (``optional_auth_operations``: ``security: [{}, {bearerAuth: []}]``).

Templates the router takes for one (same HTTP method, same literals and wildcards, e.g.
``/v1/{a}`` and ``/v1/*``) raise ``OpenApiError``, as the router refuses them too. Templates the router
tells apart but OpenAPI cannot (one path but for ``*`` against ``**``, as ``/v1/{name=shelves/*}`` and
``/v1/{name=shelves/**}``: a path parameter cannot say how many segments it takes) are all served, so
the one the router tries first is listed under ``paths`` and the others under the document's
``x-tta-unlisted-operations`` (operationId → method, path, template, reason, the operation). HTTP
methods OpenAPI 3.1 has no field for (a ``custom`` rule such as ``SEARCH``) go under the path item's
``x-<method>``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from transcoder._openapi_paths import (
    Json,
    OpenApiPath,
    PathParameter,
    compile_openapi_path,
    described,
    openapi_path,
    path_parameters,
    place_operations,
)
from transcoder.rules import HttpBinding

__all__ = [
    "Json",
    "OpenApiError",
    "OpenApiPath",
    "PathParameter",
    "compile_openapi_path",
    "openapi_document",
    "openapi_path",
    "status_schema",
]

_F = FieldDescriptor
_SCHEMAS = "#/components/schemas/"
_STATUS = "google.rpc.Status"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")  # OpenAPI's order
_UINT32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
_SCALARS: dict[int, Json] = {
    _F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _F.TYPE_FLOAT: {"type": "number", "format": "float"},
    _F.TYPE_INT64: {"type": "string", "format": "int64"},
    _F.TYPE_SINT64: {"type": "string", "format": "int64"},
    _F.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    _F.TYPE_UINT64: {"type": "string", "format": "uint64"},
    _F.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    _F.TYPE_INT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _F.TYPE_UINT32: _UINT32,
    _F.TYPE_FIXED32: _UINT32,
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_ANY: Json = {
    "type": "object",
    "properties": {"@type": {"type": "string", "description": "type.googleapis.com/<message full name>"}},
    "required": ["@type"],
    "description": "Any message, as its JSON form plus an `@type` naming its type.",
}
_WKTS: dict[str, Json] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": _ANY,
}
_WRAPPERS = {
    f"google.protobuf.{name}Value": kind
    for name, kind in (
        ("Double", _F.TYPE_DOUBLE),
        ("Float", _F.TYPE_FLOAT),
        ("Int64", _F.TYPE_INT64),
        ("UInt64", _F.TYPE_UINT64),
        ("Int32", _F.TYPE_INT32),
        ("UInt32", _F.TYPE_UINT32),
        ("Bool", _F.TYPE_BOOL),
        ("String", _F.TYPE_STRING),
        ("Bytes", _F.TYPE_BYTES),
    )
}
# Well-known types a query parameter can set from one text value (transcoder.query._set_message).
_QUERY_TEXT = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
_BASE64_IN_QUERY = "Base64: use the URL-safe alphabet, or send `+` as `%2B` (a `+` in a query is a space)."
_QUERY_JSON = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
_ERRORS: dict[str, tuple[str, str]] = {  # status → (components.responses name, when)
    "400": ("BadRequest", "Invalid argument: a malformed body, path or query value (names the field)."),
    "401": ("Unauthenticated", "No valid bearer token."),
    "403": ("PermissionDenied", "The caller may not do this."),
    "404": ("NotFound", "No such resource, or no route for the method and path."),
    "405": ("MethodNotAllowed", "The path exists but not for this HTTP method; see `Allow`."),
    "406": ("NotAcceptable", "`Accept` admits none of the stream formats."),
    "409": ("Conflict", "Already exists, or aborted by a concurrent change."),
    "413": ("PayloadTooLarge", "The request body is larger than the gateway's limit."),
    "429": ("ResourceExhausted", "Rate limit or quota exceeded; see `RetryInfo` in `details`."),
    "500": ("Internal", "An internal or unknown error."),
    "503": ("Unavailable", "The service is unavailable; retry with backoff."),
    "504": ("DeadlineExceeded", "The deadline (`Grpc-Timeout` or the default) passed."),
}
_HEADERS: Json = {
    "GrpcTimeout": {
        "name": "Grpc-Timeout",
        "in": "header",
        "description": "Deadline of the call in gRPC's format: up to 8 digits and a unit "
        "(H, M, S, m, u, n), for example `5S` or `250m`. Default: the gateway's configured timeout.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,8}[HMSmun]$"},
    },
    "RequestId": {
        "name": "X-Request-Id",
        "in": "header",
        "description": "Your id for the call (1-128 visible ASCII characters), echoed in the response "
        "and in every log line; a new one is made when absent or malformed.",
        "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"},
    },
    "Traceparent": {
        "name": "traceparent",
        "in": "header",
        "description": "W3C Trace Context parent, continued through the gateway to the service.",
        "schema": {"type": "string"},
    },
}


class OpenApiError(ValueError):
    """Bindings that cannot be written as one OpenAPI document, one problem per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _ref(name: str) -> Json:
    return {"$ref": _SCHEMAS + name}


def _with(schema: Json, description: str | None) -> Json:
    return {**schema, "description": description} if description else dict(schema)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _real_oneofs(message: Descriptor) -> list[tuple[str, list[FieldDescriptor]]]:
    """The message's oneofs, without proto3 ``optional``'s synthetic ones (they are just presence)."""
    proto = descriptor_pb2.DescriptorProto()
    message.CopyToProto(proto)
    synthetic = {f.oneof_index for f in proto.field if f.proto3_optional}
    return [(o.name, list(o.fields)) for o in message.oneofs if o.index not in synthetic]


def _behaviors(field: FieldDescriptor) -> set[int]:
    options: Any = field.GetOptions()
    return set(options.Extensions[field_behavior_pb2.field_behavior])


class _Comments:
    """Leading comments by full name (messages, fields, enums, values, services, methods)."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet | None) -> None:
        self.by_name: dict[str, str] = {}
        for file in fds.file if fds is not None else ():
            names = dict(self._names(file))
            for location in file.source_code_info.location:
                name = names.get(tuple(location.path))
                text = "\n".join(
                    line.removeprefix(" ").rstrip() for line in location.leading_comments.split("\n")
                )
                if name and text.strip():
                    self.by_name.setdefault(name, text.strip())

    @staticmethod
    def _names(file: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[tuple[int, ...], str]]:
        """(source_code_info path, full name); path numbers are descriptor.proto's field numbers."""
        pkg = file.package + "." if file.package else ""

        def enum(path: tuple[int, ...], prefix: str, e: descriptor_pb2.EnumDescriptorProto) -> Iterator[Any]:
            yield path, prefix + e.name
            for i, v in enumerate(e.value):  # keyed under the enum (proto scopes them beside it)
                yield (*path, 2, i), f"{prefix}{e.name}.{v.name}"

        def message(path: tuple[int, ...], prefix: str, m: descriptor_pb2.DescriptorProto) -> Iterator[Any]:
            name = prefix + m.name
            yield path, name
            for i, f in enumerate(m.field):
                yield (*path, 2, i), f"{name}.{f.name}"
            for i, nested in enumerate(m.nested_type):
                yield from message((*path, 3, i), name + ".", nested)
            for i, e in enumerate(m.enum_type):
                yield from enum((*path, 4, i), name + ".", e)
            for i, o in enumerate(m.oneof_decl):
                yield (*path, 8, i), f"{name}.{o.name}"

        for i, m in enumerate(file.message_type):
            yield from message((4, i), pkg, m)
        for i, e in enumerate(file.enum_type):
            yield from enum((5, i), pkg, e)
        for i, s in enumerate(file.service):
            yield (6, i), pkg + s.name
            for j, method in enumerate(s.method):
                yield (6, i, 2, j), f"{pkg}{s.name}.{method.name}"

    def get(self, name: str) -> str | None:
        return self.by_name.get(name)


def _summary(text: str | None) -> str | None:
    """The first sentence of a comment's first paragraph, on one line."""
    if not text:
        return None
    paragraph = " ".join(text.split("\n\n")[0].split())
    end = re.search(r"[.!?](\s|$)", paragraph)
    return paragraph[: end.start() + 1] if end else paragraph


class _Builder:
    def __init__(
        self, pool: descriptor_pool.DescriptorPool, comments: _Comments, use_proto_names: bool
    ) -> None:
        self.pool = pool
        self.comments = comments
        self.proto_names = use_proto_names
        self.schemas: dict[str, Json] = {}

    def name(self, field: FieldDescriptor) -> str:
        return field.name if self.proto_names else field.json_name

    # -- schemas ---------------------------------------------------------------------------------

    def value_schema(self, field: FieldDescriptor) -> Json:
        """The schema of one value of the field (ignoring repeated), registering components it needs."""
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        message = field.message_type
        if message is None:
            return dict(_SCALARS[field.type])
        if message.full_name in _WKTS:
            return dict(_WKTS[message.full_name])
        if message.full_name in _WRAPPERS:
            inner = dict(_SCALARS[_WRAPPERS[message.full_name]])
            return {**inner, "type": [inner["type"], "null"]}
        return self.message(message)

    def field_schema(self, field: FieldDescriptor) -> Json:
        if _is_map(field):
            entry = field.message_type
            assert entry is not None
            schema: Json = {
                "type": "object",
                "additionalProperties": self.value_schema(entry.fields_by_name["value"]),
            }
        elif field.is_repeated:
            schema = {"type": "array", "items": self.value_schema(field)}
        else:
            schema = self.value_schema(field)
        behaviors = _behaviors(field)
        if field_behavior_pb2.OUTPUT_ONLY in behaviors:
            schema["readOnly"] = True
        if field_behavior_pb2.INPUT_ONLY in behaviors:
            schema["writeOnly"] = True
        return _with(schema, self.comments.get(field.full_name))

    def enum(self, enum: EnumDescriptor) -> Json:
        if enum.full_name == "google.protobuf.NullValue":
            return {"type": "null"}
        if enum.full_name not in self.schemas:
            notes = [
                f"- `{v.name}`: {' '.join(c.split())}"
                for v in enum.values
                if (c := self.comments.get(f"{enum.full_name}.{v.name}"))
            ]
            text = "\n\n".join(filter(None, [self.comments.get(enum.full_name), "\n".join(notes)]))
            self.schemas[enum.full_name] = _with(
                {"type": "string", "enum": [v.name for v in enum.values]},
                (text + "\n\n" if text else "")
                + "Sent and returned by name; a request may also use the number.",
            )
        return _ref(enum.full_name)

    def message(self, message: Descriptor) -> Json:
        name = message.full_name
        if name == _STATUS:
            return _ref(name)  # the hand-written one (status_schema), identical by the JSON mapping
        if name in self.schemas:
            return _ref(name)
        schema: Json = {"type": "object"}
        self.schemas[name] = schema  # registered first: a recursive field then finds it and refers
        properties = {self.name(f): self.field_schema(f) for f in message.fields}
        notes: list[str] = []
        exclusive: list[Json] = []
        for oneof, members in _real_oneofs(message):
            names = [self.name(f) for f in members]
            notes.append(f"At most one of {', '.join(f'`{n}`' for n in names)} (oneof `{oneof}`).")
            for n in names:
                properties[n]["description"] = (
                    properties[n].get("description", "") + f"\n\nMember of oneof `{oneof}`."
                ).lstrip()
            exclusive += [{"required": [a, b]} for i, a in enumerate(names) for b in names[i + 1 :]]
        description = "\n\n".join(filter(None, [self.comments.get(name), *notes]))
        if description:
            schema["description"] = description
        schema["properties"] = properties
        required = [self.name(f) for f in message.fields if field_behavior_pb2.REQUIRED in _behaviors(f)]
        if required:
            schema["required"] = required
        if exclusive:
            schema["not"] = {"anyOf": exclusive}
        return _ref(name)

    def body_without(self, message: Descriptor, bound: Sequence[str]) -> Json:
        """The request message as a body, without the top-level fields the path binds (the path wins
        over the body; a nested bound field such as ``a.b`` stays inside ``a`` and is overridden)."""
        ref = self.message(message)
        if not bound:
            return ref
        full = self.schemas[message.full_name]
        drop = {self.name(message.fields_by_name[b]) for b in bound if "." not in b}
        schema: Json = {
            "type": "object",
            "description": f"`{message.full_name}` without what the path binds "
            f"({', '.join(f'`{b}`' for b in bound)}): the path value wins over the body.",
            "properties": {k: v for k, v in full["properties"].items() if k not in drop},
        }
        if required := [r for r in full.get("required", ()) if r not in drop]:
            schema["required"] = required
        return schema

    # -- parameters ------------------------------------------------------------------------------

    def path_parameters(self, layout: OpenApiPath, request: Descriptor) -> list[Json]:
        return path_parameters(layout, request, self.comments.get, self.value_schema)

    def query_parameters(self, message: Descriptor, bound: list[tuple[str, ...]]) -> list[Json]:
        out: list[Json] = []
        self._query(message, (), (), bound, {message.full_name}, out)
        return sorted(out, key=lambda p: str(p["name"]))

    def _query(
        self,
        message: Descriptor,
        names: tuple[str, ...],
        shown: tuple[str, ...],
        bound: list[tuple[str, ...]],
        visiting: set[str],
        out: list[Json],
    ) -> None:
        for field in message.fields:
            path, label = (*names, field.name), (*shown, self.name(field))
            if any(path[: len(b)] == b or b[: len(path)] == path for b in bound):
                continue  # path > body > query: transcoder.query ignores it
            base = {"name": ".".join(label), "in": "query"}
            description = self.comments.get(field.full_name)
            if _is_map(field):
                entry = field.message_type
                assert entry is not None
                value = self._query_value(entry.fields_by_name["value"])
                if value is not None:
                    schema = {"type": "object", "additionalProperties": value}
                    entries = f"Entries as `{'.'.join(label)}[KEY]=VALUE`."
                    param = {**base, "style": "deepObject", "explode": True, "schema": schema}
                    out.append(param | described(description, entries))
                continue
            value = self._query_value(field)
            if field.type == _F.TYPE_BYTES:
                description = "\n\n".join(filter(None, [description, _BASE64_IN_QUERY]))
            if value is not None:
                if field.is_repeated:
                    param = {
                        **base,
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "array", "items": value},
                    }
                    out.append(param | described(description, "Repeat the parameter for each value."))
                else:
                    out.append({**base, "schema": value} | described(description, None))
                continue
            nested = field.message_type
            if nested is not None and not field.is_repeated and nested.full_name not in visiting:
                self._query(nested, path, label, bound, visiting | {nested.full_name}, out)

    def _query_value(self, field: FieldDescriptor) -> Json | None:
        """The schema of a field's value as query text, or None when a query cannot set it."""
        message = field.message_type
        if message is None:
            return self.value_schema(field)
        if message.full_name in _QUERY_TEXT:
            return dict(_WKTS[message.full_name])
        if message.full_name in _WRAPPERS:
            return dict(_SCALARS[_WRAPPERS[message.full_name]])
        if message.full_name in _QUERY_JSON:
            return {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": dict(_WKTS[message.full_name]),
            }
        return None


def status_schema() -> Json:
    """``google.rpc.Status`` as every error body carries it (transcoder.status.status_body)."""
    return {
        "type": "object",
        "description": "An error: the gRPC status code, a developer-facing message and typed details "
        "(`google.rpc.ErrorInfo`, `BadRequest`, `RetryInfo`, ...), as in google/rpc/status.proto.",
        "properties": {
            "code": {
                "type": "integer",
                "format": "int32",
                "description": "The gRPC status code, e.g. 5 (NOT_FOUND).",
            },
            "message": {"type": "string", "description": "What went wrong, in English, for developers."},
            "details": {
                "type": "array",
                "items": _ANY,
                "description": "Machine-readable details, each with `@type`.",
            },
        },
        "required": ["code", "message"],
    }


def _operation_ids(bindings: Sequence[HttpBinding]) -> list[str]:
    short = {b.service: b.service.rpartition(".")[2] for b in bindings}
    clash = {s for s in short.values() if sum(1 for v in short.values() if v == s) > 1}
    seen: dict[str, int] = {}
    out = []
    for b in bindings:
        service = b.service.replace(".", "_") if short[b.service] in clash else short[b.service]
        n = seen.get(b.grpc_path, 0)
        seen[b.grpc_path] = n + 1
        out.append(f"{service}_{b.method}" + (f"_{n}" if n else ""))
    return out


def _responses(builder: _Builder, binding: HttpBinding, response: Descriptor, public: bool) -> Json:
    if binding.response_body:
        schema = builder.field_schema(response.fields_by_name[binding.response_body])
    else:
        schema = builder.message(response)
    ok: Json = {"description": _summary(builder.comments.get(response.full_name)) or "OK"}
    if binding.server_streaming:
        item = {
            "anyOf": [
                schema,
                {"type": "object", "properties": {"error": _ref(_STATUS)}, "required": ["error"]},
            ]
        }
        ok["description"] += (
            " A stream of messages, in the format `Accept` asks for (NDJSON by default). An error after "
            'the first message arrives in-band: a last `{"error": Status}` line or array element, or an '
            "SSE `error` event with the Status as data."
        )
        ok["content"] = {
            "application/x-ndjson": {"schema": item},
            "text/event-stream": {
                "schema": {
                    "type": "string",
                    "description": "`event: message` / `data: <message JSON>` per message.",
                }
            },
            "application/json": {"schema": {"type": "array", "items": item}},
        }
    else:
        ok["content"] = {"application/json": {"schema": schema}}
    ok["headers"] = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
    out: Json = {"200": ok}
    for status, (name, _) in _ERRORS.items():
        if (status == "401" and public) or (status == "406" and not binding.server_streaming):
            continue
        out[status] = {"$ref": f"#/components/responses/{name}"}
    out["default"] = {"$ref": "#/components/responses/Error"}
    return out


def _request_body(builder: _Builder, binding: HttpBinding, request: Descriptor) -> Json | None:
    if binding.body is None:
        return None
    if binding.body == "*":
        schema = builder.body_without(request, [v.field_path for v in binding.template.variables])
        description = "The request message."
    else:
        schema = builder.field_schema(request.fields_by_name[binding.body])
        description = f"The request's `{binding.body}` field; the other fields come from the path and query."
    if binding.client_streaming:
        return {
            "description": description + " A client stream: one message per line (NDJSON), or a JSON array.",
            "content": {
                "application/x-ndjson": {"schema": schema},
                "application/json": {"schema": {"type": "array", "items": schema}},
            },
        }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    builder: _Builder,
    binding: HttpBinding,
    layout: OpenApiPath,
    operation_id: str,
    public: bool,
    optional_auth: bool,
) -> Json:
    request = builder.pool.FindMessageTypeByName(binding.input_type)
    response = builder.pool.FindMessageTypeByName(binding.output_type)
    text = builder.comments.get(f"{binding.service}.{binding.method}")
    operation: Json = {
        "operationId": operation_id,
        "tags": [binding.service],
        "summary": _summary(text) or binding.method,
    }
    if text:
        operation["description"] = text
    parameters = builder.path_parameters(layout, request)
    if binding.body != "*":  # http.proto: with body "*" there are no query parameters
        bound = [tuple(v.field_path.split(".")) for v in binding.template.variables]
        bound += [(binding.body,)] if binding.body else []
        parameters += builder.query_parameters(request, bound)
    # Grpc-Timeout is a transport header like Content-Type (the 504 response and the client guide
    # describe it), not an operation parameter: as one, generated clients and fuzzers would send
    # arbitrary deadlines and read the resulting 504s as server faults.
    parameters += [
        {"$ref": f"#/components/parameters/{name}"} for name in sorted(_HEADERS) if name != "GrpcTimeout"
    ]
    operation["parameters"] = parameters
    if (body := _request_body(builder, binding, request)) is not None:
        operation["requestBody"] = body
    operation["responses"] = _responses(builder, binding, response, public)
    if public:
        operation["security"] = []
    elif optional_auth:
        operation["security"] = [{}, {"bearerAuth": []}]
    operation["x-grpc-method"] = binding.grpc_path
    if layout.fills:
        operation["x-tta-path-fields"] = dict(layout.fills)
    return operation


def _components(schemas: dict[str, Json]) -> Json:
    status_content = {"application/json": {"schema": _ref(_STATUS)}}
    responses = {name: {"description": when, "content": status_content} for name, when in _ERRORS.values()}
    responses["Error"] = {
        "description": "Any other error (e.g. 422 unsafe content, 451 consent or privacy).",
        "content": status_content,
    }
    return {
        "schemas": dict(sorted({**schemas, _STATUS: status_schema()}.items())),
        "responses": dict(sorted(responses.items())),
        "parameters": dict(sorted(_HEADERS.items())),
        "headers": {
            "RequestId": {
                "description": "The call's request id (yours, or a new one).",
                "schema": {"type": "string"},
            }
        },
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    }


def openapi_document(
    bindings: Sequence[HttpBinding],
    pool: descriptor_pool.DescriptorPool,
    *,
    title: str = "TTA API",
    version: str = "v1",
    use_proto_names: bool = False,
    servers: Sequence[str] = (),
    fds: descriptor_pb2.FileDescriptorSet | None = None,
    public_operations: Collection[str] = (),
    optional_auth_operations: Collection[str] = (),
) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document for ``bindings`` (see the module docstring for the mapping).

    ``pool`` resolves the request and response types; ``fds`` (the set the bindings came from) supplies
    comments, which a pool does not keep. ``public_operations`` / ``optional_auth_operations`` are gRPC
    paths (``/tta.v1.AuthService/Login``) whose policy needs no token / takes one optionally.
    Raises ``OpenApiError`` for two bindings of one HTTP method whose templates match the same paths.
    """
    comments = _Comments(fds)
    builder = _Builder(pool, comments, use_proto_names)
    # OpenAPI 3.1 §4.8.2: templated paths that differ only in parameter names are the same path.
    # `/players/{player_id}` (GET) and `/players/{player.player_id}` (PATCH) therefore share one path
    # item with the first-seen names; each operation's parameter says which field it binds.
    first_of_shape: dict[str, OpenApiPath] = {}
    claims: dict[tuple[str, str], list[tuple[HttpBinding, Json]]] = {}  # (path, method key) → claimants
    for binding, operation_id in zip(bindings, _operation_ids(bindings), strict=True):
        layout = compile_openapi_path(binding.template)
        canonical = first_of_shape.setdefault(layout.shape(), layout)
        layout = layout.named_as(canonical)
        method = binding.http_method.lower()
        key = method if method in _METHODS else f"x-{method}"
        operation = _operation(
            builder,
            binding,
            layout,
            operation_id,
            public=binding.grpc_path in public_operations,
            optional_auth=binding.grpc_path in optional_auth_operations,
        )
        claims.setdefault((layout.path, key), []).append((binding, operation))
    placement = place_operations(claims)
    if placement.problems:
        raise OpenApiError(placement.problems)
    document: Json = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "REST/JSON transcoded onto the gRPC services by their `google.api.http` "
            "annotations. JSON follows the proto3 JSON mapping: lowerCamel names, 64-bit integers as "
            "strings, enums by name, RFC 3339 timestamps.",
        },
    }
    if servers:
        document["servers"] = [{"url": url} for url in servers]
    document["security"] = [{"bearerAuth": []}]
    services = sorted({b.service for b in bindings})
    document["tags"] = [{"name": s} | described(comments.get(s), None) for s in services]
    order = {m: i for i, m in enumerate(_METHODS)}  # then any x-<method>, by name
    paths = placement.paths
    document["paths"] = {
        p: {m: paths[p][m] for m in sorted(paths[p], key=lambda m: (order.get(m, len(order)), m))}
        for p in sorted(paths)
    }
    if placement.unlisted:
        document["x-tta-unlisted-operations"] = dict(sorted(placement.unlisted.items()))
    document["components"] = _components(builder.schemas)
    return document
