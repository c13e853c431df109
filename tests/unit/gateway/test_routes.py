"""The route-and-policy table: arities, which upstream claims which service, the precise start-up
errors, which services are the gateway's own, policy resolution (service defaults overlaid by method
options) and immutability. Pure: descriptors and settings in, a table or a ConfigError out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from tta.gateway.v1 import options_pb2

from gateway.config import Settings, UpstreamSettings
from gateway.descriptors import embedded_descriptor_set
from gateway.errors import ConfigError
from gateway.routes import (
    Arity,
    AuthMode,
    CacheScope,
    Idempotency,
    Policy,
    Priority,
    RouteTable,
    compile_routes,
    fronted_services,
)

ALL_TTA = {"services": ["tta.v1.*", "tta.v2.*"], "targets": ["127.0.0.1:1"]}
MethodOptions = descriptor_pb2.MethodOptions


def upstreams(*entries: dict[str, Any]) -> tuple[UpstreamSettings, ...]:
    """Upstreams as an operator would write them, validated by the config layer."""
    return Settings.from_mapping({"upstreams": list(entries)}).upstreams


def upstream(*services: str, name: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"services": list(services), "targets": ["127.0.0.1:1"]}
    if name is not None:
        entry["name"] = name
    return entry


@pytest.fixture(scope="module")
def tta() -> RouteTable:
    return compile_routes(embedded_descriptor_set(), upstreams(ALL_TTA))


# --- hand-built descriptors -------------------------------------------------------------------------

Shape = tuple[str, bool, bool]  # method name, client_streaming, server_streaming


def proto_file(
    name: str,
    package: str,
    services: dict[str, Sequence[Shape]],
    deps: Sequence[str] = (),
) -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3", dependency=deps)
    f.message_type.add(name="Req")
    f.message_type.add(name="Resp")
    prefix = f".{package}." if package else "."
    for service, methods in services.items():
        s = f.service.add(name=service)
        for method, client_streaming, server_streaming in methods:
            s.method.add(
                name=method,
                input_type=prefix + "Req",
                output_type=prefix + "Resp",
                client_streaming=client_streaming,
                server_streaming=server_streaming,
            )
    return f


def fds(*files: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet(file=files)


UNARY: Sequence[Shape] = (("Echo", False, False),)


# --- arity and route fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "arity"),
    [
        ("/tta.v1.DiagnosticsService/Echo", Arity.UNARY_UNARY),
        ("/tta.v1.ChatService/WatchRoom", Arity.UNARY_STREAM),
        ("/tta.v1.ChatService/ImportMessages", Arity.STREAM_UNARY),
        ("/tta.v1.ChatService/Chat", Arity.STREAM_STREAM),
        ("/tta.v1.PlayerService/GetPlayer", Arity.UNARY_UNARY),
        ("/tta.v2.PlayerService/GetPlayer", Arity.UNARY_UNARY),
    ],
)
def test_arity_of_each_shape(tta: RouteTable, path: str, arity: Arity) -> None:
    route = tta.lookup(path)
    assert route is not None
    assert route.arity is arity


@pytest.mark.parametrize(
    ("client_streaming", "server_streaming", "arity"),
    [
        (False, False, Arity.UNARY_UNARY),
        (False, True, Arity.UNARY_STREAM),
        (True, False, Arity.STREAM_UNARY),
        (True, True, Arity.STREAM_STREAM),
    ],
)
def test_arity_of_hand_built_methods(client_streaming: bool, server_streaming: bool, arity: Arity) -> None:
    assert Arity.of(client_streaming, server_streaming) is arity
    f = proto_file("acme/v1/m.proto", "acme.v1", {"S": [("M", client_streaming, server_streaming)]})
    table = compile_routes(fds(f), upstreams(upstream("acme.v1.*")))
    route = table.lookup("/acme.v1.S/M")
    assert route is not None
    assert route.arity is arity


def test_route_records_service_method_types_and_upstream(tta: RouteTable) -> None:
    route = tta.lookup("/tta.v1.DiagnosticsService/Echo")
    assert route is not None
    assert (route.path, route.service, route.method) == (
        "/tta.v1.DiagnosticsService/Echo",
        "tta.v1.DiagnosticsService",
        "Echo",
    )
    assert (route.input_type, route.output_type) == ("tta.v1.EchoRequest", "tta.v1.EchoResponse")
    assert route.upstream == "tta.v1.*"  # an unnamed upstream is named after its first pattern


@pytest.mark.parametrize(
    "path",
    ["/tta.v1.PlayerService/Nope", "/tta.v1.NoService/GetPlayer", "tta.v1.PlayerService/GetPlayer", ""],
)
def test_unknown_paths_are_not_routed(tta: RouteTable, path: str) -> None:
    assert tta.lookup(path) is None


def test_every_tta_service_is_fronted_in_declaration_order(tta: RouteTable) -> None:
    expected = [
        f"{f.package}.{s.name}"
        for f in embedded_descriptor_set().file
        if f.package.startswith("tta.v")
        for s in f.service
    ]
    assert list(tta.services) == expected
    assert "tta.v2.PlayerService" in tta.services
    assert set(tta.upstream_of) == set(expected)
    assert {r.service for r in tta.routes.values()} == set(expected)


def test_a_service_without_a_package_is_routed() -> None:
    f = proto_file("bare.proto", "", {"Bare": UNARY})
    table = compile_routes(fds(f), upstreams(upstream("Bare")))
    route = table.lookup("/Bare/Echo")
    assert route is not None
    assert (route.service, route.input_type) == ("Bare", "Req")


def test_the_same_file_twice_in_a_set_is_routed_once() -> None:
    f = proto_file("acme/v1/m.proto", "acme.v1", {"S": UNARY})
    table = compile_routes(fds(f, f), upstreams(upstream("acme.v1.*")))
    assert table.services == ("acme.v1.S",)


# --- which upstream claims a service ----------------------------------------------------------------


@pytest.mark.parametrize("exact_first", [True, False])
def test_exact_name_beats_package_wildcard(exact_first: bool) -> None:
    chat = upstream("tta.v1.ChatService", name="chat")
    rest = upstream("tta.v1.*", "tta.v2.*")
    table = compile_routes(
        embedded_descriptor_set(), upstreams(*((chat, rest) if exact_first else (rest, chat)))
    )
    assert table.upstream_of["tta.v1.ChatService"] == "chat"
    assert table.upstream_of["tta.v1.PlayerService"] == "tta.v1.*"
    assert table.upstream_of["tta.v2.PlayerService"] == "tta.v1.*"
    for path in ("/tta.v1.ChatService/Chat", "/tta.v1.ChatService/WatchRoom"):
        route = table.lookup(path)
        assert route is not None
        assert route.upstream == "chat"


def test_a_wildcard_claims_only_its_own_package() -> None:
    files = fds(
        proto_file("acme/v1/a.proto", "acme.v1", {"A": UNARY}),
        proto_file("acme/v1/beta/b.proto", "acme.v1.beta", {"B": UNARY}),
    )
    with pytest.raises(ConfigError) as info:
        compile_routes(files, upstreams(upstream("acme.v1.*")))
    assert "service acme.v1.beta.B (from acme/v1/beta/b.proto) has no upstream" in info.value.message
    assert "acme.v1.A " not in info.value.message


@pytest.mark.parametrize(
    "pattern", ["tta.v1.ChatService", "tta.v1.*"], ids=["by name", "by package wildcard"]
)
def test_two_upstreams_claiming_the_same_service_name_both(pattern: str) -> None:
    # The config layer rejects the same pattern twice (next test); a table compiled from upstreams
    # built another way must still refuse to guess.
    claims = (
        UpstreamSettings(name="first", services=(pattern,), targets=("127.0.0.1:1",)),
        UpstreamSettings(name="second", services=(pattern,), targets=("127.0.0.1:2",)),
        UpstreamSettings(name="rest", services=("tta.v1.*", "tta.v2.*"), targets=("127.0.0.1:3",))
        if pattern != "tta.v1.*"
        else UpstreamSettings(name="rest", services=("tta.v2.*",), targets=("127.0.0.1:3",)),
    )
    with pytest.raises(ConfigError) as info:
        compile_routes(embedded_descriptor_set(), claims)
    message = info.value.message
    assert "service tta.v1.ChatService is claimed" in message
    assert "first" in message
    assert "second" in message


def test_two_upstreams_with_the_same_pattern_are_refused_by_the_config_layer() -> None:
    with pytest.raises(ConfigError) as info:
        upstreams(upstream("tta.v1.ChatService", name="a"), upstream("tta.v1.ChatService", name="b"))
    assert "upstreams[0]" in info.value.message
    assert "upstreams[1]" in info.value.message
    assert "tta.v1.ChatService" in info.value.message


def test_a_service_without_upstream_names_the_service_and_its_file() -> None:
    with pytest.raises(ConfigError) as info:
        compile_routes(embedded_descriptor_set(), upstreams(upstream("tta.v1.PlayerService")))
    message = info.value.message
    assert "service tta.v1.AuthService (from tta/v1/auth.proto) has no upstream" in message
    assert '"tta.v1.*"' in message  # the fix is spelled out
    assert "service tta.v2.PlayerService (from tta/v2/player.proto) has no upstream" in message
    assert "service tta.v1.PlayerService " not in message


def test_a_hand_built_service_without_upstream_names_it() -> None:
    files = fds(
        proto_file("acme/v1/a.proto", "acme.v1", {"A": UNARY}),
        proto_file("other/v1/o.proto", "other.v1", {"Orphan": UNARY}),
    )
    with pytest.raises(ConfigError) as info:
        compile_routes(files, upstreams(upstream("acme.v1.*")))
    assert "service other.v1.Orphan (from other/v1/o.proto) has no upstream" in info.value.message


@pytest.mark.parametrize(
    ("extra", "index"),
    [
        (upstream("tta.v3.*"), 1),
        (upstream("tta.v1.PlayerServce", name="typo"), 1),  # a typo must not silently route nothing
        (upstream("grpc.health.v1.Health"), 1),  # the gateway answers health itself
    ],
)
def test_an_upstream_pattern_that_matches_nothing_names_its_index(extra: dict[str, Any], index: int) -> None:
    with pytest.raises(ConfigError) as info:
        compile_routes(embedded_descriptor_set(), upstreams(ALL_TTA, extra))
    message = info.value.message
    assert f"upstreams[{index}] ({', '.join(extra['services'])}) matches no service" in message
    assert "upstreams[0]" not in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        compile_routes(embedded_descriptor_set(), upstreams(upstream("tta.v1.*"), upstream("tta.v9.*")))
    message = info.value.message
    assert message.startswith("route table: ")
    assert "tta.v2.PlayerService" in message
    assert "upstreams[1] (tta.v9.*) matches no service" in message


def test_a_service_defined_in_two_files_is_an_error() -> None:
    files = fds(
        proto_file("acme/v1/a.proto", "acme.v1", {"S": UNARY}),
        proto_file("acme/v1/b.proto", "acme.v1", {"S": UNARY}),
    )
    with pytest.raises(ConfigError) as info:
        compile_routes(files, upstreams(upstream("acme.v1.*")))
    assert "service acme.v1.S is defined twice (in acme/v1/b.proto" in info.value.message


# --- the gateway's own services ---------------------------------------------------------------------


def _with_own_services() -> descriptor_pb2.FileDescriptorSet:
    return fds(
        proto_file("tta/gateway/v1/admin.proto", "tta.gateway.v1", {"AdminService": UNARY}),
        proto_file("tta/gateway/v1/registry/r.proto", "tta.gateway.v1.registry", {"Registry": UNARY}),
        proto_file("grpc/health/v1/health.proto", "grpc.health.v1", {"Health": [("Check", False, False)]}),
        proto_file(
            "grpc/reflection/v1alpha/reflection.proto",
            "grpc.reflection.v1alpha",
            {"ServerReflection": [("ServerReflectionInfo", True, True)]},
        ),
        proto_file("grpc.proto", "grpc", {"Root": UNARY}),
        proto_file("acme/v1/echo.proto", "acme.v1", {"EchoService": UNARY}),
    )


def test_gateway_own_packages_are_not_fronted() -> None:
    table = compile_routes(_with_own_services(), upstreams(upstream("acme.v1.*")))
    assert table.services == ("acme.v1.EchoService",)
    assert list(table.routes) == ["/acme.v1.EchoService/Echo"]
    assert table.lookup("/grpc.health.v1.Health/Check") is None
    assert table.lookup("/tta.gateway.v1.AdminService/Echo") is None


def test_fronted_services_agrees_with_the_table() -> None:
    files = _with_own_services()
    assert fronted_services(files.file) == ["acme.v1.EchoService"]
    assert fronted_services(embedded_descriptor_set().file) == list(
        compile_routes(embedded_descriptor_set(), upstreams(ALL_TTA)).services
    )


# --- policies from the TTA contracts ----------------------------------------------------------------

STAFF = ("therapist", "admin", "service")
PLAYERS = ("player", "therapist", "admin")


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        # A public sign-in, throttled under its own class.
        ("/tta.v1.AuthService/Login", Policy(auth=AuthMode.NONE, rate_limit_class="login")),
        # The method's auth overrides the public service's; protobuf's idempotency_level is read.
        (
            "/tta.v1.AuthService/Logout",
            Policy(auth=AuthMode.REQUIRED, rate_limit_class="default", idempotency=Idempotency.IDEMPOTENT),
        ),
        (
            "/tta.v1.AuthService/IssueServiceToken",
            Policy(auth=AuthMode.NONE, rate_limit_class="login", priority=Priority.ADMINISTRATIVE),
        ),
        # Safety work runs at crisis priority, inherited from the service; crisis handling is clinical.
        (
            "/tta.v1.SafetyService/AssessContent",
            Policy(roles=("therapist", "service"), rate_limit_class="safety", priority=Priority.CRISIS),
        ),
        # The escalation queue is clinical: therapists (and supervisors, who are therapists), not
        # admins (decision 0012).
        (
            "/tta.v1.SafetyService/ListEscalations",
            Policy(
                roles=("therapist",),
                rate_limit_class="safety",
                priority=Priority.CRISIS,
                idempotency=Idempotency.NO_SIDE_EFFECTS,
            ),
        ),
        # A shared, cached world catalogue.
        (
            "/tta.v1.WorldService/ListWorlds",
            Policy(
                auth=AuthMode.NONE,
                cache_ttl_seconds=300,
                cache_scope=CacheScope.PUBLIC,
                idempotency=Idempotency.NO_SIDE_EFFECTS,
            ),
        ),
        (
            "/tta.v1.PlayerService/GetPlayer",
            Policy(
                roles=PLAYERS,
                cache_ttl_seconds=15,
                cache_scope=CacheScope.PRINCIPAL,
                idempotency=Idempotency.NO_SIDE_EFFECTS,
            ),
        ),
        (
            "/tta.v1.DiagnosticsService/Echo",
            Policy(
                auth=AuthMode.NONE, priority=Priority.ADMINISTRATIVE, idempotency=Idempotency.NO_SIDE_EFFECTS
            ),
        ),
        # Chat: service defaults plus a WebSocket bridge on the streaming methods.
        (
            "/tta.v1.ChatService/Chat",
            Policy(
                roles=("player", *STAFF),
                rate_limit_class="chat",
                priority=Priority.THERAPEUTIC_SESSION,
                websocket_path="/ws/v1/sessions/{session_id}/chat",
            ),
        ),
        (
            "/tta.v1.ChatService/WatchRoom",
            Policy(
                roles=("player", *STAFF),
                rate_limit_class="chat",
                priority=Priority.THERAPEUTIC_SESSION,
                idempotency=Idempotency.NO_SIDE_EFFECTS,
                websocket_path="/ws/v1/sessions/{session_id}/room",
            ),
        ),
        (
            "/tta.v1.ChatService/SendMessage",
            Policy(
                roles=("player", *STAFF),
                rate_limit_class="chat",
                priority=Priority.THERAPEUTIC_SESSION,
                idempotency_key=True,
            ),
        ),
        # A method's rate-limit class overrides the service's; its priority is inherited.
        (
            "/tta.v1.ChatService/ListMessages",
            Policy(
                roles=("player", *STAFF),
                priority=Priority.THERAPEUTIC_SESSION,
                idempotency=Idempotency.NO_SIDE_EFFECTS,
            ),
        ),
        (
            "/tta.v1.ChatService/ImportMessages",
            Policy(roles=STAFF, priority=Priority.ADMINISTRATIVE, idempotency_key=True),
        ),
    ],
)
def test_policy_from_the_contracts(tta: RouteTable, path: str, policy: Policy) -> None:
    route = tta.lookup(path)
    assert route is not None
    assert route.policy == policy


def test_a_method_auth_replaces_the_service_auth_as_a_whole(tta: RouteTable) -> None:
    # PlayerService requires roles player/therapist/admin; CreatePlayer declares
    # `auth: {mode: AUTH_MODE_OPTIONAL}` so that anonymous self-registration works.
    route = tta.lookup("/tta.v1.PlayerService/CreatePlayer")
    assert route is not None
    assert route.policy.auth is AuthMode.OPTIONAL
    assert route.policy.roles == ()


# --- policies from hand-built options ---------------------------------------------------------------


def _one_method(
    service_policy: options_pb2.ServicePolicy | None = None,
    method_policy: options_pb2.MethodPolicy | None = None,
    level: int = MethodOptions.IDEMPOTENCY_UNKNOWN,
    shape: Shape = ("M", False, False),
) -> Policy:
    f = proto_file("acme/v1/p.proto", "acme.v1", {"S": [shape]})
    s = f.service[0]
    if service_policy is not None:
        s.options.Extensions[options_pb2.service_policy].CopyFrom(service_policy)
    if method_policy is not None:
        s.method[0].options.Extensions[options_pb2.method_policy].CopyFrom(method_policy)
    if level:
        s.method[0].options.idempotency_level = level  # type: ignore[assignment]
    route = compile_routes(fds(f), upstreams(upstream("acme.v1.*"))).lookup(f"/acme.v1.S/{shape[0]}")
    assert route is not None
    return route.policy


def test_no_options_give_the_safe_defaults() -> None:
    assert _one_method() == Policy(
        auth=AuthMode.REQUIRED,
        roles=(),
        permissions=(),
        rate_limit_class="default",
        priority=Priority.GAMEPLAY,
        cache_ttl_seconds=0,
        cache_scope=CacheScope.NONE,
        idempotency=Idempotency.UNKNOWN,
        idempotency_key=False,
        websocket_path=None,
    )


def test_service_defaults_apply_to_methods_without_options() -> None:
    sp = options_pb2.ServicePolicy(
        auth=options_pb2.AuthPolicy(mode=options_pb2.AUTH_MODE_OPTIONAL, roles=["a"], permissions=["p.read"]),
        rate_limit_class="svc",
        priority=options_pb2.TRAFFIC_PRIORITY_CRISIS,
    )
    assert _one_method(sp) == Policy(
        auth=AuthMode.OPTIONAL,
        roles=("a",),
        permissions=("p.read",),
        rate_limit_class="svc",
        priority=Priority.CRISIS,
    )


def test_method_fields_override_service_fields_one_by_one() -> None:
    sp = options_pb2.ServicePolicy(
        auth=options_pb2.AuthPolicy(mode=options_pb2.AUTH_MODE_REQUIRED, roles=["a"]),
        rate_limit_class="svc",
        priority=options_pb2.TRAFFIC_PRIORITY_ADMINISTRATIVE,
    )
    only_class = _one_method(sp, options_pb2.MethodPolicy(rate_limit_class="m"))
    assert (only_class.rate_limit_class, only_class.priority, only_class.roles) == (
        "m",
        Priority.ADMINISTRATIVE,
        ("a",),
    )
    only_priority = _one_method(sp, options_pb2.MethodPolicy(priority=options_pb2.TRAFFIC_PRIORITY_CRISIS))
    assert (only_priority.rate_limit_class, only_priority.priority) == ("svc", Priority.CRISIS)
    public = _one_method(
        sp, options_pb2.MethodPolicy(auth=options_pb2.AuthPolicy(mode=options_pb2.AUTH_MODE_NONE))
    )
    assert public.auth is AuthMode.NONE


@pytest.mark.parametrize(
    ("cache", "level", "ttl", "scope"),
    [
        (options_pb2.CachePolicy(ttl_seconds=30), MethodOptions.NO_SIDE_EFFECTS, 30, CacheScope.PRINCIPAL),
        (
            options_pb2.CachePolicy(ttl_seconds=30, scope=options_pb2.CACHE_SCOPE_PUBLIC),
            MethodOptions.NO_SIDE_EFFECTS,
            30,
            CacheScope.PUBLIC,
        ),
        (
            options_pb2.CachePolicy(ttl_seconds=30, scope=options_pb2.CACHE_SCOPE_PRINCIPAL),
            MethodOptions.NO_SIDE_EFFECTS,
            30,
            CacheScope.PRINCIPAL,
        ),
        (
            options_pb2.CachePolicy(scope=options_pb2.CACHE_SCOPE_PUBLIC),
            MethodOptions.NO_SIDE_EFFECTS,
            0,
            CacheScope.NONE,
        ),
    ],
    ids=["unspecified scope is per principal", "public", "principal", "no ttl means no cache"],
)
def test_cache_scope(cache: options_pb2.CachePolicy, level: int, ttl: int, scope: CacheScope) -> None:
    policy = _one_method(method_policy=options_pb2.MethodPolicy(cache=cache), level=level)
    assert (policy.cache_ttl_seconds, policy.cache_scope) == (ttl, scope)


@pytest.mark.parametrize("level", [MethodOptions.IDEMPOTENCY_UNKNOWN, MethodOptions.IDEMPOTENT])
def test_a_cache_policy_on_a_method_with_side_effects_is_ignored(level: int) -> None:
    mp = options_pb2.MethodPolicy(
        cache=options_pb2.CachePolicy(ttl_seconds=60, scope=options_pb2.CACHE_SCOPE_PUBLIC)
    )
    policy = _one_method(method_policy=mp, level=level)
    assert (policy.cache_ttl_seconds, policy.cache_scope) == (0, CacheScope.NONE)


@pytest.mark.parametrize(
    ("level", "idempotency"),
    [
        (MethodOptions.IDEMPOTENCY_UNKNOWN, Idempotency.UNKNOWN),
        (MethodOptions.NO_SIDE_EFFECTS, Idempotency.NO_SIDE_EFFECTS),
        (MethodOptions.IDEMPOTENT, Idempotency.IDEMPOTENT),
    ],
)
def test_idempotency_level(level: int, idempotency: Idempotency) -> None:
    assert _one_method(level=level).idempotency is idempotency


def test_idempotency_key_and_websocket_are_per_method() -> None:
    mp = options_pb2.MethodPolicy(
        idempotency_key=True, websocket=options_pb2.WebSocketBridge(path="/ws/v1/rooms/{room_id}")
    )
    policy = _one_method(method_policy=mp, shape=("Stream", True, True))
    assert policy.idempotency_key is True
    assert policy.websocket_path == "/ws/v1/rooms/{room_id}"


# --- immutability -----------------------------------------------------------------------------------


def test_the_table_is_immutable(tta: RouteTable) -> None:
    route = tta.lookup("/tta.v1.DiagnosticsService/Echo")
    assert route is not None
    with pytest.raises(TypeError):
        tta.routes["/x.Y/Z"] = route  # type: ignore[index]
    with pytest.raises(TypeError):
        del tta.routes[route.path]  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        tta.upstream_of["x.Y"] = "other"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tta.routes = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.upstream = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.policy.auth = AuthMode.NONE  # type: ignore[misc]
    assert isinstance(tta.services, tuple)
    assert tta.lookup("/tta.v1.DiagnosticsService/Echo") == route


def test_compiling_twice_gives_equal_independent_tables() -> None:
    a = compile_routes(embedded_descriptor_set(), upstreams(ALL_TTA))
    b = compile_routes(embedded_descriptor_set(), upstreams(ALL_TTA))
    assert dict(a.routes) == dict(b.routes)
    assert a.routes is not b.routes


def _one_method_set(
    *, client_streaming: bool, websocket: str = "", cache_ttl: int = 0
) -> descriptor_pb2.FileDescriptorSet:
    f = descriptor_pb2.FileDescriptorProto(name="acme/v1/x.proto", package="acme.v1", syntax="proto3")
    f.message_type.add(name="Req")
    svc = f.service.add(name="XService")
    m = svc.method.add(
        name="Do", input_type=".acme.v1.Req", output_type=".acme.v1.Req", client_streaming=client_streaming
    )
    ext: Any = m.options.Extensions
    if websocket:
        ext[options_pb2.method_policy].websocket.path = websocket
    if cache_ttl:
        ext[options_pb2.method_policy].cache.ttl_seconds = cache_ttl
    return descriptor_pb2.FileDescriptorSet(file=[f])


def test_a_websocket_path_on_a_unary_method_is_rejected() -> None:
    ups = Settings.from_mapping({"upstreams": [{"services": ["acme.v1.*"], "targets": ["h:1"]}]}).upstreams
    with pytest.raises(ConfigError) as info:
        compile_routes(_one_method_set(client_streaming=False, websocket="/ws/x"), ups)
    assert "acme.v1.XService/Do" in info.value.message
    assert "only valid on a streaming method" in info.value.message
    assert compile_routes(_one_method_set(client_streaming=True, websocket="/ws/x"), ups).lookup(
        "/acme.v1.XService/Do"
    )


def test_a_cache_ttl_on_a_method_with_side_effects_is_ignored_with_a_warning() -> None:
    ups = Settings.from_mapping({"upstreams": [{"services": ["acme.v1.*"], "targets": ["h:1"]}]}).upstreams
    table = compile_routes(_one_method_set(client_streaming=False, cache_ttl=30), ups)
    route = table.lookup("/acme.v1.XService/Do")
    assert route is not None
    assert route.policy.cache_ttl_seconds == 0
    assert route.policy.cache_scope is CacheScope.NONE
    assert any("cache ttl ignored" in w and "acme.v1.XService/Do" in w for w in table.warnings)
