"""``google.api.http`` rules from descriptors, checked at load: one ``HttpBinding`` per binding.

Pure: a ``FileDescriptorSet`` in, bindings (or every problem at once) out. Whatever the descriptors'
source — generated modules, a descriptor file, an upstream's reflection — REST comes from the same data.

Example::

    >>> [b.describe() for b in http_bindings(fds) if b.grpc_path.endswith("/UpdatePlayer")]
    ['PATCH /api/v1/players/{player.player_id} -> /tta.v1.PlayerService/UpdatePlayer (body: player)',
     'PUT /api/v1/players/{player.player_id} -> /tta.v1.PlayerService/UpdatePlayer (body: player)']

Rejected at load, each with the method and the reason: a template that does not parse; a path
variable naming a field that does not exist, is repeated, is a map or is a message; a body or
response_body naming a missing field; a body on GET; a nested ``additional_bindings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from transcoder.template import Template, TemplateError, parse_template

_GATEWAY_OWN = ("tta.gateway.", "grpc.")


class RuleError(ValueError):
    """Every problem found in the http rules, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """One HTTP method + path template bound to one gRPC method."""

    grpc_path: str  # "/tta.v1.PlayerService/UpdatePlayer"
    service: str
    method: str
    http_method: str  # "GET", "POST", ... or a custom verb's kind
    template: Template
    body: str | None  # None: no body; "*": the whole request; else a top-level field name
    response_body: str | None  # None: the whole response; else a top-level field name
    input_type: str
    output_type: str
    client_streaming: bool
    server_streaming: bool

    def describe(self) -> str:
        body = f" (body: {self.body})" if self.body else ""
        return f"{self.http_method} {self.template.text} -> {self.grpc_path}{body}"


def _pattern(rule: http_pb2.HttpRule) -> tuple[str, str] | None:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return kind.upper(), str(getattr(rule, kind))


def _field(message: descriptor.Descriptor, path: str) -> descriptor.FieldDescriptor:
    current = message
    field: descriptor.FieldDescriptor | None = None
    for i, name in enumerate(path.split(".")):
        field = current.fields_by_name.get(name)
        if field is None:
            raise KeyError(f"field {path!r}: {current.full_name} has no field {name!r}")
        if i < len(path.split(".")) - 1:
            if field.message_type is None or _repeated(field):
                raise KeyError(f"field {path!r}: {name!r} is not a singular message field")
            current = field.message_type
    assert field is not None
    return field


def _repeated(field: descriptor.FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _check(binding: HttpBinding, pool: descriptor_pool.DescriptorPool) -> list[str]:
    where = f"{binding.grpc_path} ({binding.http_method} {binding.template.text})"
    problems: list[str] = []
    request = pool.FindMessageTypeByName(binding.input_type)
    response = pool.FindMessageTypeByName(binding.output_type)
    for variable in binding.template.variables:
        try:
            field = _field(request, variable.field_path)
        except KeyError as exc:
            problems.append(f"{where}: path variable {exc.args[0]}")
            continue
        if _repeated(field):
            problems.append(f"{where}: path variable {variable.field_path!r} is a repeated or map field")
        elif field.message_type is not None:
            problems.append(f"{where}: path variable {variable.field_path!r} is a message, not a scalar")
    if binding.body not in (None, "*") and binding.body not in request.fields_by_name:
        problems.append(f"{where}: body {binding.body!r} is not a top-level field of {request.full_name}")
    if binding.body and binding.http_method == "GET":
        problems.append(f"{where}: a GET binding cannot take a body")
    if binding.response_body and binding.response_body not in response.fields_by_name:
        problems.append(
            f"{where}: response_body {binding.response_body!r} is not a top-level field of {response.full_name}"
        )
    return problems


def http_bindings(fds: descriptor_pb2.FileDescriptorSet) -> list[HttpBinding]:
    """Every http binding of every fronted method, checked; raises RuleError listing all problems."""
    pool = descriptor_pool.DescriptorPool()
    seen: set[str] = set()
    for f in fds.file:
        if f.name not in seen:
            seen.add(f.name)
            pool.Add(f)
    problems: list[str] = []
    out: list[HttpBinding] = []
    for f in fds.file:
        if f.package.startswith(_GATEWAY_OWN) or f.package == "grpc":
            continue
        for s in f.service:
            service = f"{f.package}.{s.name}" if f.package else s.name
            for m in s.method:
                ext: Any = m.options.Extensions
                if not m.options.HasExtension(annotations_pb2.http):
                    continue
                rule: http_pb2.HttpRule = ext[annotations_pb2.http]
                for index, r in enumerate([rule, *rule.additional_bindings]):
                    where = f"/{service}/{m.name}" + (f" additional_bindings[{index - 1}]" if index else "")
                    if index and r.additional_bindings:
                        problems.append(f"{where}: additional_bindings cannot nest")
                    pattern = _pattern(r)
                    if pattern is None:
                        problems.append(f"{where}: the rule has no HTTP method and path")
                        continue
                    try:
                        template = parse_template(pattern[1])
                    except TemplateError as exc:
                        problems.append(f"{where}: {exc}")
                        continue
                    binding = HttpBinding(
                        grpc_path=f"/{service}/{m.name}",
                        service=service,
                        method=m.name,
                        http_method=pattern[0],
                        template=template,
                        body=r.body or None,
                        response_body=r.response_body or None,
                        input_type=m.input_type.lstrip("."),
                        output_type=m.output_type.lstrip("."),
                        client_streaming=m.client_streaming,
                        server_streaming=m.server_streaming,
                    )
                    found = _check(binding, pool)
                    problems += found
                    if not found:
                        out.append(binding)
    if problems:
        raise RuleError(problems)
    return out
