"""The route-and-policy table: which upstream serves each gRPC method, and under which policy.

Pure: compiled once at start-up from a ``FileDescriptorSet`` and the configured upstreams, then frozen.
A reload compiles a new table and swaps it; nothing mutates a table in place.

Example::

    >>> table = compile_routes(fds, [UpstreamSettings(services=("tta.v1.*",), targets=("h:1",))])
    >>> table.lookup("/tta.v1.PlayerService/GetPlayer")
    Route(path='/tta.v1.PlayerService/GetPlayer', arity=<Arity.UNARY_UNARY: ...>, upstream='tta.v1.*', ...)
    >>> table.lookup("/tta.v1.PlayerService/Nope") is None
    True

Which services are fronted: every service in the descriptors except the gateway's own
(``tta.gateway.*``) and gRPC's infrastructure (``grpc.*``: health, reflection), which the gateway
answers itself. Each fronted service must be claimed by exactly one upstream; an exact service name
beats a package wildcard; an upstream pattern that claims nothing is a configuration error (a typo
would otherwise silently route nothing).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from google.protobuf import descriptor_pb2
from tta.gateway.v1 import options_pb2

from gateway.errors import ConfigError

_GATEWAY_OWN = ("tta.gateway.", "grpc.")


class Arity(enum.Enum):
    """The four gRPC call shapes, from the method's ``client_streaming``/``server_streaming`` flags."""

    UNARY_UNARY = "unary_unary"
    UNARY_STREAM = "unary_stream"
    STREAM_UNARY = "stream_unary"
    STREAM_STREAM = "stream_stream"

    @classmethod
    def of(cls, client_streaming: bool, server_streaming: bool) -> Arity:
        return _ARITIES[(client_streaming, server_streaming)]


_ARITIES = {
    (False, False): Arity.UNARY_UNARY,
    (False, True): Arity.UNARY_STREAM,
    (True, False): Arity.STREAM_UNARY,
    (True, True): Arity.STREAM_STREAM,
}


class AuthMode(enum.Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


class Priority(enum.IntEnum):
    """Lower is served first; crisis traffic is never shed."""

    CRISIS = 1
    THERAPEUTIC_SESSION = 2
    GAMEPLAY = 3
    ADMINISTRATIVE = 4


class CacheScope(enum.Enum):
    NONE = "none"
    PUBLIC = "public"
    PRINCIPAL = "principal"


class Idempotency(enum.Enum):
    """protobuf's standard ``idempotency_level`` method option."""

    UNKNOWN = "unknown"
    NO_SIDE_EFFECTS = "no_side_effects"
    IDEMPOTENT = "idempotent"


@dataclass(frozen=True, slots=True)
class Policy:
    """A method's effective policy: service defaults overlaid by the method's own options."""

    auth: AuthMode = AuthMode.REQUIRED
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    rate_limit_class: str = "default"
    priority: Priority = Priority.GAMEPLAY
    cache_ttl_seconds: int = 0
    cache_scope: CacheScope = CacheScope.NONE
    idempotency: Idempotency = Idempotency.UNKNOWN
    idempotency_key: bool = False
    websocket_path: str | None = None


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """Which fields of one message type the contracts mark (``tta.gateway.v1.field_policy``), as dotted
    paths from the message's root (``"message.text"``; a repeated or map field's path names the field).

    A step that needs none of them never decodes the message (docs/architecture.md, principle 3)."""

    scan: tuple[str, ...] = ()  # player free text: the safety scan reads these
    phi: tuple[str, ...] = ()  # protected health information: never logged
    owner: tuple[str, ...] = ()  # the owning player's id: the ownership check compares it

    def __bool__(self) -> bool:
        return bool(self.scan or self.phi or self.owner)


NO_FIELDS = FieldPlan()


@dataclass(frozen=True, slots=True)
class Route:
    """One fronted gRPC method."""

    path: str  # "/tta.v1.PlayerService/GetPlayer", the HTTP/2 :path of the call
    service: str  # "tta.v1.PlayerService"
    method: str  # "GetPlayer"
    arity: Arity
    upstream: str  # name of the UpstreamSettings that serves it
    input_type: str  # fully-qualified message names, no leading dot
    output_type: str
    policy: Policy
    request_fields: FieldPlan = NO_FIELDS
    response_fields: FieldPlan = NO_FIELDS

    @property
    def client_streaming(self) -> bool:
        return self.arity in (Arity.STREAM_UNARY, Arity.STREAM_STREAM)

    @property
    def server_streaming(self) -> bool:
        return self.arity in (Arity.UNARY_STREAM, Arity.STREAM_STREAM)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Immutable: path → Route, plus the fronted services in declaration order."""

    routes: Mapping[str, Route]
    services: tuple[str, ...]
    upstream_of: Mapping[str, str]  # service → upstream name
    warnings: tuple[str, ...] = ()  # accepted, but an operator should hear of it at start-up

    def lookup(self, path: str) -> Route | None:
        return self.routes.get(path)


class Claim(Protocol):
    """What the table needs of an upstream: its name (optional) and the service patterns it claims
    (``upstreams[i]`` of the settings has this shape; the table does not depend on the settings)."""

    @property
    def name(self) -> str | None: ...
    @property
    def services(self) -> Sequence[str]: ...


def upstream_name(upstream: Claim) -> str:
    return upstream.name or upstream.services[0]


def _claim(service: str, upstreams: Sequence[Claim]) -> tuple[str | None, list[str]]:
    """Return (upstream name, ambiguity problems) for one service, exact names beating wildcards."""
    exact = [upstream_name(u) for u in upstreams if service in u.services]
    package = service.rpartition(".")[0]
    wild = [upstream_name(u) for u in upstreams if f"{package}.*" in u.services]
    for found, kind in ((exact, "by name"), (wild, "by package wildcard")):
        if len(found) > 1:
            return None, [f"service {service} is claimed {kind} by several upstreams: {', '.join(found)}"]
        if found:
            return found[0], []
    return None, []


def _policy(service_opts: descriptor_pb2.ServiceOptions, method_opts: descriptor_pb2.MethodOptions) -> Policy:
    # The generated .pyi types extensions as plain FieldDescriptors, which the typeshed stubs of
    # Extensions[] do not accept; the runtime accepts them, so look them up untyped.
    service_ext: Any = service_opts.Extensions
    method_ext: Any = method_opts.Extensions
    sp: options_pb2.ServicePolicy = service_ext[options_pb2.service_policy]
    mp: options_pb2.MethodPolicy = method_ext[options_pb2.method_policy]
    # A method's auth replaces the service's whole (options.proto), so a public method does not
    # inherit the service's roles; only an unspecified mode falls back to the service's mode.
    auth = mp.auth if mp.HasField("auth") else sp.auth
    auth_mode = auth.mode or sp.auth.mode or options_pb2.AUTH_MODE_REQUIRED
    priority = mp.priority or sp.priority or options_pb2.TRAFFIC_PRIORITY_GAMEPLAY
    level = method_opts.idempotency_level
    # Only a method without side effects may be answered from a cache (options.proto).
    ttl = mp.cache.ttl_seconds if level == descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS else 0
    return Policy(
        auth={
            options_pb2.AUTH_MODE_REQUIRED: AuthMode.REQUIRED,
            options_pb2.AUTH_MODE_OPTIONAL: AuthMode.OPTIONAL,
            options_pb2.AUTH_MODE_NONE: AuthMode.NONE,
        }[auth_mode],
        roles=tuple(auth.roles),
        permissions=tuple(auth.permissions),
        rate_limit_class=mp.rate_limit_class or sp.rate_limit_class or "default",
        priority=Priority(priority),
        cache_ttl_seconds=ttl,
        cache_scope=(
            CacheScope.NONE
            if not ttl
            # An unspecified scope is per caller: sharing a cached answer must be asked for.
            else CacheScope.PUBLIC
            if mp.cache.scope == options_pb2.CACHE_SCOPE_PUBLIC
            else CacheScope.PRINCIPAL
        ),
        idempotency={
            descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS: Idempotency.NO_SIDE_EFFECTS,
            descriptor_pb2.MethodOptions.IDEMPOTENT: Idempotency.IDEMPOTENT,
        }.get(level, Idempotency.UNKNOWN),
        idempotency_key=mp.idempotency_key,
        websocket_path=mp.websocket.path or None,
    )


def fronted_services(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    """Fully-qualified names of the services the gateway forwards, in declaration order."""
    return [
        f"{f.package}.{s.name}" if f.package else s.name
        for f in files
        for s in f.service
        if not f.package.startswith(_GATEWAY_OWN) and f.package != "grpc"
    ]


def compile_routes(fds: descriptor_pb2.FileDescriptorSet, upstreams: Sequence[Claim]) -> RouteTable:
    """Compile descriptors and upstream settings into a frozen RouteTable, or raise ConfigError
    listing every problem (unclaimed services, ambiguous claims, patterns that claim nothing)."""
    problems: list[str] = []
    routes: dict[str, Route] = {}
    services: list[str] = []
    upstream_of: dict[str, str] = {}
    used: set[str] = set()
    seen_files: set[str] = set()
    warnings: list[str] = []
    fields = _FieldPlanner(fds)
    for f in fds.file:
        if f.name in seen_files:
            continue
        seen_files.add(f.name)
        if f.package.startswith(_GATEWAY_OWN) or f.package == "grpc":
            continue
        for s in f.service:
            full = f"{f.package}.{s.name}" if f.package else s.name
            if full in upstream_of:
                problems.append(f"service {full} is defined twice (in {f.name} and another file)")
                continue
            name, ambiguity = _claim(full, upstreams)
            problems += ambiguity
            if name is None:
                if not ambiguity:
                    problems.append(
                        f"service {full} (from {f.name}) has no upstream: add it, or its package "
                        f'wildcard "{f.package}.*", to the services of an entry in upstreams'
                    )
                continue
            used.add(name)
            services.append(full)
            upstream_of[full] = name
            for m in s.method:
                path = f"/{full}/{m.name}"
                problems += _method_problems(full, m)
                warnings += _method_warnings(full, m)
                routes[path] = Route(
                    path=path,
                    service=full,
                    method=m.name,
                    arity=Arity.of(m.client_streaming, m.server_streaming),
                    upstream=name,
                    input_type=m.input_type.lstrip("."),
                    output_type=m.output_type.lstrip("."),
                    policy=_policy(s.options, m.options),
                    request_fields=fields.plan(m.input_type.lstrip(".")),
                    response_fields=fields.plan(m.output_type.lstrip(".")),
                )
    for i, u in enumerate(upstreams):
        if upstream_name(u) not in used:
            problems.append(f"upstreams[{i}] ({', '.join(u.services)}) matches no service in the descriptors")
    if problems:
        raise ConfigError("route table: " + "; ".join(problems))
    return RouteTable(
        routes=MappingProxyType(routes),
        services=tuple(services),
        upstream_of=MappingProxyType(upstream_of),
        warnings=tuple(warnings),
    )


def _method_options(m: descriptor_pb2.MethodDescriptorProto) -> options_pb2.MethodPolicy:
    ext: Any = m.options.Extensions
    policy: options_pb2.MethodPolicy = ext[options_pb2.method_policy]
    return policy


def _method_problems(service: str, m: descriptor_pb2.MethodDescriptorProto) -> list[str]:
    mp = _method_options(m)
    if mp.websocket.path and not (m.client_streaming or m.server_streaming):
        return [
            f"{service}/{m.name}: a websocket path ({mp.websocket.path}) is only valid on a streaming method"
        ]
    return []


def _method_warnings(service: str, m: descriptor_pb2.MethodDescriptorProto) -> list[str]:
    mp = _method_options(m)
    if mp.cache.ttl_seconds and m.options.idempotency_level != descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS:
        return [
            f"{service}/{m.name}: cache ttl ignored: only a method with "
            "idempotency_level = NO_SIDE_EFFECTS may be cached"
        ]
    return []


_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_MAX_DEPTH = 8  # nesting followed when collecting marked fields; recursive types stop at their first repeat


def _field_policy(field: descriptor_pb2.FieldDescriptorProto) -> options_pb2.FieldPolicy:
    ext: Any = field.options.Extensions
    policy: options_pb2.FieldPolicy = ext[options_pb2.field_policy]
    return policy


class _FieldPlanner:
    """Walks message types once per type: ``plan("tta.v1.SendMessageRequest")`` →
    ``FieldPlan(scan=("text",), phi=("text",), owner=())``."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet) -> None:
        self._messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        for f in fds.file:
            prefix = f"{f.package}." if f.package else ""
            for m in f.message_type:
                self._index(prefix + m.name, m)
        self._plans: dict[str, FieldPlan] = {}

    def _index(self, name: str, m: descriptor_pb2.DescriptorProto) -> None:
        self._messages.setdefault(name, m)
        for nested in m.nested_type:
            self._index(f"{name}.{nested.name}", nested)

    def plan(self, type_name: str) -> FieldPlan:
        found = self._plans.get(type_name)
        if found is None:
            marks: dict[str, list[str]] = {"scan": [], "phi": [], "owner": []}
            self._walk(type_name, "", (), marks)
            found = self._plans[type_name] = (
                FieldPlan(tuple(marks["scan"]), tuple(marks["phi"]), tuple(marks["owner"]))
                if any(marks.values())
                else NO_FIELDS
            )
        return found

    def _walk(self, type_name: str, prefix: str, seen: tuple[str, ...], marks: dict[str, list[str]]) -> None:
        message = self._messages.get(type_name)
        if message is None or type_name in seen or len(seen) >= _MAX_DEPTH:
            return
        for field in message.field:
            path = prefix + field.name
            policy = _field_policy(field)
            for kind in ("scan", "phi", "owner"):
                if getattr(policy, kind):
                    marks[kind].append(path)
            if field.type == _MESSAGE:
                self._walk(field.type_name.lstrip("."), path + ".", (*seen, type_name), marks)
