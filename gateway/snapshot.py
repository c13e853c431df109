"""One snapshot of everything compiled from the contracts, built by one function, swapped in one assignment.

Start-up and reload both call ``build_snapshot``: descriptors → descriptor pool → route table (with each
route's field plan) → compiled chains (one ``RoutePlan`` per route) → the HTTP router and its targets →
the WebSocket paths → OpenAPI and the docs page → what reflection describes → the log redactor.
Everything is validated before anything is swapped; a problem raises ``ConfigError`` naming it, and the running snapshot stays.
``Current.swap`` then installs the new snapshot with one reference assignment, so a call sees either the
old snapshot or the new one, never half of each (STYLE: compile once, freeze, then serve).

Example::

    >>> snap = build_snapshot(settings, fds, upstreams, telemetry, steps)
    >>> snap.plans.get("/tta.v1.PlayerService/GetPlayer").route.policy.auth
    <AuthMode.REQUIRED: 'required'>
    >>> current = Current(snap); current.swap(build_snapshot(...))  # a reload
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2

from gateway.api_docs import build_openapi, docs_page
from gateway.chain.chain import Plans, Step, compile_plans
from gateway.config import Settings
from gateway.descriptors import build_pool
from gateway.doors._ws_routes import WsTarget, compile_ws_routes
from gateway.doors.http_door import HttpTarget
from gateway.errors import ConfigError
from gateway.routes import RouteTable, compile_routes
from gateway.telemetry import logs
from gateway.telemetry.calls import Telemetry
from gateway.telemetry.redact import Redactor
from gateway.upstream.pool import Upstream
from transcoder.router import Router, RouterBuilder
from transcoder.rules import HttpBinding, RuleError, http_bindings

log = logging.getLogger(__name__)

REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def _reflection_v1_file() -> descriptor.FileDescriptor:
    """grpc/reflection/v1/reflection.proto, which grpcio-reflection does not ship: v1alpha's file under
    v1's names. The two declare the same messages, fields and service (hence wire-identical), and a
    client that lists grpc.reflection.v1.ServerReflection may ask for the file that defines it."""
    f = descriptor_pb2.FileDescriptorProto.FromString(reflection_pb2.DESCRIPTOR.serialized_pb)
    old, new = f".{f.package}.", ".grpc.reflection.v1."
    f.name, f.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    for message in f.message_type:
        for field in message.field:
            if field.HasField("type_name"):  # set on scalars, even to "", it makes them invalid
                field.type_name = field.type_name.replace(old, new)
    for method in f.service[0].method:
        method.input_type = method.input_type.replace(old, new)
        method.output_type = method.output_type.replace(old, new)
    return descriptor_pool.DescriptorPool().AddSerializedFile(f.SerializeToString())


_REFLECTION_V1_FILE = _reflection_v1_file()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything compiled from one set of contracts; immutable."""

    fds: descriptor_pb2.FileDescriptorSet
    pool: descriptor_pool.DescriptorPool
    table: RouteTable
    bindings: tuple[HttpBinding, ...]
    plans: Plans
    router: Router[HttpTarget]
    documents: Mapping[str, tuple[bytes, bytes]]  # path → (body, content type): /openapi.json, /docs
    reflection_names: tuple[str, ...]
    redactor: Redactor
    ws_router: Router[WsTarget]  # the WebSocket door's paths (the contracts' websocket option)

    def summary(self) -> str:
        return (
            f"{len(self.table.services)} services, {len(self.table.routes)} methods, "
            f"{len(self.bindings)} http bindings"
        )


class Current:
    """The one reference to the snapshot being served; doors read ``snapshot`` per call."""

    def __init__(self, snapshot: Snapshot, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.snapshot = snapshot
        self._install(snapshot)

    def swap(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._install(snapshot)

    def _install(self, snapshot: Snapshot) -> None:
        # What reads the contracts outside a call follows the snapshot: debug decoding and the logs'
        # redaction (a reload that adds PHI fields redacts them from the next line on).
        self.telemetry.pool = snapshot.pool
        self.telemetry.redactor = snapshot.redactor
        logs.set_redactor(snapshot.redactor)


def build_snapshot(
    settings: Settings,
    fds: descriptor_pb2.FileDescriptorSet,
    upstreams: Mapping[str, Upstream],
    telemetry: Telemetry,
    steps: Sequence[Step],
) -> Snapshot:
    """Compile ``fds`` under ``settings``; raises ConfigError naming every problem found."""
    table = compile_routes(fds, settings.upstreams)
    for warning in table.warnings:
        log.warning("route table: %s", warning)
    _check_route_keys(settings, table)
    try:
        bindings = tuple(http_bindings(fds))
    except RuleError as exc:
        raise ConfigError("http rules: " + "; ".join(exc.problems)) from exc
    pool = build_pool(fds)
    plans = compile_plans(table, upstreams, telemetry, pool, steps)
    try:
        router = _compile_router(bindings, plans, pool)
    except ValueError as exc:
        raise ConfigError(f"http routes: {exc}") from exc
    ws_router = compile_ws_routes(table, plans, pool, router, [b.template for b in bindings])
    try:
        openapi = build_openapi(bindings, table, pool, fds, settings.http.json_use_proto_names)
    except ValueError as exc:
        raise ConfigError(f"openapi: {exc}") from exc
    documents = {
        "/openapi.json": (openapi, b"application/json"),
        "/docs": (docs_page(openapi), b"text/html; charset=utf-8"),
    }
    names = _reflection_names(pool, table)
    redactor = Redactor(fds, settings.log.redact_keys, _salt(settings))
    return Snapshot(fds, pool, table, bindings, plans, router, documents, names, redactor, ws_router)


_PROCESS_SALT = secrets.token_bytes(16)


def _salt(settings: Settings) -> bytes:
    """The configured salt, else one drawn once per process: a reload keeps the hashes of a value the
    same, so a value can still be followed across lines after it."""
    return settings.log.hash_salt.encode() or _PROCESS_SALT


def _check_route_keys(settings: Settings, table: RouteTable) -> None:
    """Per-method settings must name methods or services the table fronts (a typo would silently
    apply nothing)."""
    problems = []
    for where, keys in (
        ("deadlines.routes", settings.deadlines.routes),
        ("auth.methods", settings.auth.methods),
    ):
        unknown = [k for k in keys if k not in table.routes and k not in table.services]
        if unknown:
            problems.append(
                f"{where}: "
                + ", ".join(
                    f"{k!r} is not a fronted method (/pkg.Service/Method) or service" for k in unknown
                )
            )
    if problems:
        raise ConfigError("; ".join(problems))


def _compile_router(
    bindings: Sequence[HttpBinding], plans: Plans, pool: descriptor_pool.DescriptorPool
) -> Router[HttpTarget]:
    """The HTTP door's router: each binding of a fronted method, with its plan and message classes."""
    builder: RouterBuilder[HttpTarget] = RouterBuilder()
    for b in bindings:
        plan = plans.get(b.grpc_path)
        if plan is None:
            continue
        bound = {v.field_path for v in b.template.variables}
        if b.body and b.body != "*":
            bound.add(b.body)
        target = HttpTarget(
            b,
            plan,
            message_factory.GetMessageClass(pool.FindMessageTypeByName(b.input_type)),
            message_factory.GetMessageClass(pool.FindMessageTypeByName(b.output_type)),
            f"{b.http_method} {b.template.text}",
            frozenset(bound),
        )
        builder.add(b.http_method, b.template, target)
    return builder.build()


def _reflection_names(pool: descriptor_pool.DescriptorPool, table: RouteTable) -> tuple[str, ...]:
    """What reflection describes: the fronted contracts plus health and reflection themselves,
    reflection under both names it is served by, each with a file a client can ask for (added to the
    snapshot's pool, which reflection reads)."""
    for extra in (health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR, _REFLECTION_V1_FILE):
        with contextlib.suppress(TypeError, KeyError):
            pool.FindFileByName(extra.name)
            continue
        pool.AddSerializedFile(extra.serialized_pb)
    names = [
        *table.services,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
        REFLECTION_V1,
    ]
    return tuple(sorted(names))
