"""Composition root: settings → descriptors → route table → upstreams → the grpc.aio server.

``Gateway`` is the running system as one object, so the CLI, the demo and the tests start it the same
way. ``serve`` adds what a process needs around it: signal handling and graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import redis.asyncio
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer as AsyncReflectionServicer

from gateway.admin import AdminAuthorizer, AdminServer, Readiness, admin_app
from gateway.chain.chain import Step
from gateway.config import Settings
from gateway.config.auth import AuthSettings, ExternalIssuer
from gateway.descriptors import load_descriptors
from gateway.doors.grpc_door import GrpcDoor
from gateway.doors.http_door import HttpDoor
from gateway.doors.ws_door import WsDoor
from gateway.errors import ConfigError, GatewayError, Refused
from gateway.identity.issuers import ClaimsMapping, Issuer
from gateway.identity.source import KeySource, SourceStatus
from gateway.policies import builtin_steps
from gateway.policies.anonymise import Anonymise
from gateway.policies.identity import Identity, Trusted
from gateway.policies.ownership import Ownership
from gateway.policies.rooms import RoomFanout
from gateway.routes import RouteTable, upstream_name
from gateway.snapshot import REFLECTION_V1, Current, Snapshot, build_snapshot
from gateway.state.denylist import Denylist, MemoryDenylist, RedisDenylist
from gateway.state.rooms import MemoryRoomLog, RedisRoomLog, RoomLimits, RoomLog
from gateway.telemetry.calls import Telemetry
from gateway.telemetry.logs import access_log, configure_logging
from gateway.telemetry.metrics import GatewayMetrics
from gateway.telemetry.redact import Redactor
from gateway.telemetry.tracing import tracer_provider
from gateway.upstream.pool import Upstream, channel_options

log = logging.getLogger(__name__)

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class Health(HealthServicer):  # type: ignore[misc]  # grpc_health ships no type information
    """grpc_health's servicer, able to forget a service that a reload removed.

    The health checking protocol (grpc/doc/health-checking.md) answers ``Check`` on a service the
    server does not know with status NOT_FOUND, and ``Watch`` on it with SERVICE_UNKNOWN. grpc_health
    can set a status but not remove one (grpc-java's ``HealthStatusManager.clearStatus`` can), so
    ``forget`` sets SERVICE_UNKNOWN through the public ``set``: that wakes the service's watchers and
    is what ``Watch`` sends for a name it never had, and ``Check`` answers it with NOT_FOUND, as for a
    name it never had. (Draining sets every name held, forgotten ones too, to NOT_SERVING.)
    """

    async def forget(self, service: str) -> None:
        await self.set(service, _SERVICE_UNKNOWN)

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        response: health_pb2.HealthCheckResponse = await super().Check(request, context)
        if response.status == _SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND)
        return response


class Gateway:
    """The gateway process's moving parts, built from settings, started and stopped as one."""

    def __init__(
        self,
        settings: Settings,
        fds: descriptor_pb2.FileDescriptorSet,
        steps: Sequence[Step] = (),
    ) -> None:
        """Compile ``fds`` into the first snapshot (raises ConfigError). ``steps`` join the built-in
        chain after its own steps, on every route they apply to and every door."""
        self.settings = settings
        options = channel_options(settings.grpc.max_message_bytes)
        self.upstreams: dict[str, Upstream] = {}
        for u in settings.upstreams:
            name = upstream_name(u)
            self.upstreams[name] = Upstream(name, u, options)
        self.room_log, self._room_client = _room_log(settings)
        # The fan-out is the first response hook: the log stores what the upstream said, and the steps
        # after it (ownership, anonymise, ...) shape each reader's copy (gateway/policies/rooms.py).
        rooms: tuple[Step, ...] = (RoomFanout(self.room_log),) if settings.websocket.room_log else ()
        self.steps: tuple[Step, ...] = (*builtin_steps(settings.deadlines), *rooms, *steps)
        self.health = Health()
        # Publishing health and a reload's forgetting removed services take turns, so a publish that
        # began before a reload cannot set a removed service back to SERVING after it.
        self._health_lock = asyncio.Lock()
        self._tasks: set[asyncio.Future[None]] = set()
        self.server: grpc.aio.Server | None = None
        self.grpc_door: GrpcDoor | None = None
        self._reflection: Any = None
        self.grpc_port = 0
        self.metrics = GatewayMetrics(settings.metrics.duration_buckets) if settings.metrics.enabled else None
        self.telemetry = Telemetry(self.metrics, access_log(), tracer_provider(settings.tracing))
        self.current = Current(
            build_snapshot(settings, fds, self.upstreams, self.telemetry, self.steps), self.telemetry
        )
        if self.metrics is not None:
            self.metrics.set_route_table(len(self.table.services), len(self.table.routes))
        identity = next((s for s in self.steps if isinstance(s, Identity)), None)
        self.admin = AdminServer(
            admin_app(self.metrics, self.readiness, self.reload, _admin_authorizer(identity)),
            settings.admin.host,
            settings.admin.port,
        )
        self.admin_port = 0
        # The WebSocket door shares the HTTP door's listener: uvicorn hands it the upgrades.
        self.ws_door = WsDoor(self.current, settings.websocket, settings.http)
        self.http_door = HttpDoor(
            self.current, settings.http, self.ws_door if settings.websocket.enabled else None
        )
        self.http = AdminServer(
            self.http_door,
            settings.http.host,
            settings.http.port,
            name="http",
            http2=settings.http.http2,
            websocket=settings.websocket,
        )
        self.http_port = 0
        self._stopping = False
        self.key_source: KeySource | None = None  # set by build when auth is enabled
        self.external_key_sources: dict[str, KeySource] = {}  # likewise, by issuer (auth.external_issuers)
        self.denylist: Denylist | None = None  # likewise: revoked tokens, by jti
        self._denylist_client: redis.asyncio.Redis | None = None
        self._denylist_watch: asyncio.Task[None] | None = None
        self._unwatch_revocations: Callable[[], None] | None = None
        self._key_refresh: asyncio.Task[None] | None = None
        self._external_key_refreshes: list[asyncio.Task[None]] = []
        # Nothing stores shared state in Redis yet; readiness already proves it is reachable, so an
        # operator learns of a wrong redis.url at deploy time, not when the first feature needs it.
        self._redis: redis.asyncio.Redis | None = (
            redis.asyncio.from_url(settings.redis.url, socket_connect_timeout=1.0, socket_timeout=1.0)
            if settings.redis.url
            else None
        )

    # What the current snapshot holds, for the composition root, the admin and tests.
    @property
    def snapshot(self) -> Snapshot:
        return self.current.snapshot

    @property
    def table(self) -> RouteTable:
        return self.current.snapshot.table

    @property
    def pool(self) -> descriptor_pool.DescriptorPool:
        return self.current.snapshot.pool

    @property
    def fds(self) -> descriptor_pb2.FileDescriptorSet:
        return self.current.snapshot.fds

    @property
    def redactor(self) -> Redactor:
        return self.current.snapshot.redactor

    @classmethod
    async def build(
        cls, settings: Settings, steps: Sequence[Step] = (), *, denylist: Denylist | None = None
    ) -> Gateway:
        """Load the contracts and the token keys, compile the first snapshot; raises ConfigError on
        any problem. ``denylist`` is one the caller shares with a token issuer in the same process
        (the demo's AuthService); by default it is Redis when ``redis.url`` is set, else memory."""
        fds = await load_descriptors(settings)
        auth = settings.auth
        key_source: KeySource | None = None
        identity: list[Step] = []
        external: list[Trusted] = []
        denylist_client: redis.asyncio.Redis | None = None
        if (problem := auth.incomplete()) is not None:
            raise ConfigError(problem)
        if auth.enabled:
            if denylist is not None:  # shared with an issuer in this process
                pass
            elif settings.redis.url:  # shared by every process: a revocation holds on every door everywhere
                denylist_client = redis.asyncio.from_url(
                    settings.redis.url, socket_connect_timeout=1.0, socket_timeout=1.0
                )
                denylist = RedisDenylist(denylist_client)
            else:
                denylist = MemoryDenylist()
            assert auth.jwks is not None
            assert auth.issuer is not None
            assert auth.audience is not None
            key_source = await KeySource.open(auth.jwks, now=time.time(), allow_symmetric=auth.allow_hs256)
            external = [await _open_external(i, entry, auth) for i, entry in enumerate(auth.external_issuers)]
            identity += [
                Identity(
                    key_source,
                    issuer=auth.issuer,
                    audience=auth.audience,
                    leeway_seconds=auth.leeway_seconds,
                    external=external,
                    denylist=denylist,
                    hierarchy=auth.role_hierarchy,
                    overrides=auth.for_method if auth.methods else None,
                ),
                Ownership(),
                Anonymise.keyed(settings.log.hash_salt),  # researchers: anonymised answers only
            ]
        gateway = cls(settings, fds, (*identity, *steps))
        gateway.key_source = key_source
        gateway.external_key_sources = {t.rules.issuer: t.source for t in external}
        gateway.denylist = denylist
        gateway._denylist_client = denylist_client
        return gateway

    def _services_of(self, upstream: Upstream) -> list[str]:
        return [s for s, u in self.table.upstream_of.items() if u == upstream.name]

    async def _publish_health(self, upstream: Upstream) -> None:
        async with self._health_lock:
            status = _SERVING if upstream.healthy else _NOT_SERVING
            if self.metrics is not None:
                self.metrics.set_upstream_health(upstream.name, upstream.healthy)
            for service in self._services_of(upstream):
                await self.health.set(service, status)

    async def reload(self) -> str:
        """Load the contracts again, compile a new snapshot (the same function as start-up) and swap it
        in with one assignment; on any problem raise ConfigError and keep serving the old one. Settings
        are not re-read; upstreams stay as configured.

        Reflection then describes the new contracts; health answers for the services added, and for
        the services removed as for a name it never had (NOT_FOUND to Check, SERVICE_UNKNOWN to Watch).
        Every upstream still serves a service afterwards (compile_routes refuses an upstream that
        claims none), so its health checks and its ``tta_gateway_upstream_healthy`` series stay."""
        fds = await load_descriptors(self.settings)
        snapshot = build_snapshot(self.settings, fds, self.upstreams, self.telemetry, self.steps)
        removed = [s for s in self.table.services if s not in snapshot.table.upstream_of]
        self.current.swap(snapshot)
        if self.grpc_door is not None:
            self.grpc_door.refresh()
        await self._refresh_reflection_and_health(removed)
        if self.metrics is not None:
            self.metrics.set_route_table(len(snapshot.table.services), len(snapshot.table.routes))
        summary = snapshot.summary()
        log.info("reloaded the route table: %s", summary)
        return summary

    async def _refresh_reflection_and_health(self, removed: Sequence[str]) -> None:
        """After a reload: reflection describes the new contracts, health answers for new services
        and forgets the ``removed`` ones."""
        if self._reflection is not None:
            # grpc_reflection's servicer has no public way to change what it serves; it reads these two
            # attributes on every request (tests/integration/gateway/test_reload.py pins the behaviour).
            self._reflection._pool = self.snapshot.pool
            self._reflection._service_names = self.snapshot.reflection_names
        async with self._health_lock:
            for service in removed:
                await self.health.forget(service)
        for upstream in self.upstreams.values():
            await self._publish_health(upstream)

    async def readiness(self) -> Readiness:
        """/readyz: the route table is loaded, the gateway is not draining, and at least one
        upstream is healthy (one unhealthy upstream fails only its own services, as grpc.health.v1
        reports per service; taking the whole gateway out of a load balancer would fail them all)."""
        checks: dict[str, str] = {"route_table": f"ok: {len(self.table.routes)} methods"}
        for name, upstream in self.upstreams.items():
            checks[f"upstream {name}"] = "ok" if upstream.healthy else "unhealthy"
        if self.key_source is not None:
            # A failed refresh keeps the keys in use: visible here, not a reason to take traffic away.
            checks["token keys"] = _key_check(self.key_source.status())
        for issuer, source in self.external_key_sources.items():  # each issuer's keys, on their own
            checks[f"token keys {issuer}"] = _key_check(source.status())
        redis_ok = True
        if self._redis is not None:
            try:
                await asyncio.wait_for(self._redis.ping(), timeout=1.5)
                checks["redis"] = "ok"
            except (redis.RedisError, OSError, TimeoutError) as exc:
                # The exception type only: a connection error's text may quote the URL's password.
                checks["redis"] = f"unreachable: {type(exc).__name__}"
                redis_ok = False
        if self._stopping:
            checks["shutdown"] = "draining"
        healthy = any(u.healthy for u in self.upstreams.values()) or not self.upstreams
        ready = healthy and redis_ok and not self._stopping and self.server is not None
        return Readiness(ready=ready, checks=checks)

    async def start(self) -> None:
        cfg = self.settings.grpc
        server = grpc.aio.server(
            options=[
                ("grpc.max_send_message_length", cfg.max_message_bytes),
                ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ]
        )
        # Registered (not generic) handlers: grpc core matches the method before it reaches Python,
        # measured cheaper per call in bench/passthrough.py.
        # (grpc-stubs predates add_registered_method_handlers, hence the untyped reference.)
        registrar: Any = server
        self.grpc_door = GrpcDoor(self.current)
        for service, handlers in self.grpc_door.by_service().items():
            registrar.add_registered_method_handlers(service, handlers)
        server.add_generic_rpc_handlers([self.grpc_door])  # methods a reload adds
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        if cfg.reflection:
            self._add_reflection(server)
        self.grpc_port = server.add_insecure_port(f"{cfg.host}:{cfg.port}")

        def publish(upstream: Upstream) -> None:
            self._tasks.add(task := asyncio.ensure_future(self._publish_health(upstream)))
            task.add_done_callback(self._tasks.discard)

        for upstream in self.upstreams.values():
            upstream.on_health_change(publish)
        await asyncio.gather(*(u.start() for u in self.upstreams.values()))
        for upstream in self.upstreams.values():
            await self._publish_health(upstream)
        await self.health.set("", _SERVING)
        if self.key_source is not None:  # keys rotate without a restart
            self._key_refresh = asyncio.create_task(self.key_source.run(time.time, asyncio.sleep))
        elif not self.settings.auth.enabled:
            log.warning(
                "auth.enabled is false: no door checks who is calling, and every method is open to "
                "every caller (set auth.enabled, issuer, audience and jwks: docs/configuration.md)"
            )
        self._external_key_refreshes = [  # every issuer's keys on their own schedule
            asyncio.create_task(source.run(time.time, asyncio.sleep))
            for source in self.external_key_sources.values()
        ]
        if isinstance(self.denylist, RedisDenylist):  # revocations reach this process as they happen
            self._denylist_watch = asyncio.create_task(self.denylist.watch())
        if self.denylist is not None:  # a revoked token's open WebSocket connections end at once
            self._unwatch_revocations = self.denylist.on_revoke(self.ws_door.revoked)
        # The admin port first: a port already taken stops start-up before any call is accepted.
        self.admin_port = await self.admin.start()
        try:
            self.http_port = await self.http.start()
            await server.start()
        except BaseException:
            await self.http.stop()
            await self.admin.stop()
            raise
        self.server = server
        log.info(
            "gateway serving gRPC on %s:%d: %d services, %d methods",
            cfg.host,
            self.grpc_port,
            len(self.table.services),
            len(self.table.routes),
        )

    def _add_reflection(self, server: grpc.aio.Server) -> None:
        servicer = AsyncReflectionServicer(self.snapshot.reflection_names, pool=self.snapshot.pool)
        self._reflection = servicer
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
        # grpc.reflection.v1 is wire-identical to v1alpha; grpcio ships only v1alpha, while grpcurl and
        # buf curl ask for v1 first. Serve the same servicer under the v1 name.
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    REFLECTION_V1,
                    {
                        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                            servicer.ServerReflectionInfo,
                            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                        )
                    },
                )
            ]
        )

    def _close_doors(self) -> None:
        self.http_door.close()
        if self.grpc_door is not None:
            self.grpc_door.close()

    async def stop(self, grace: float | None = None, drain: float = 0.0) -> None:
        """Report not ready, keep serving for ``drain`` seconds (load balancers see the change and stop
        sending), then stop accepting calls, let in-flight calls finish for up to ``grace`` seconds,
        and close."""
        grace = self.settings.shutdown.grace_period_seconds if grace is None else grace
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        if drain > 0:
            log.info("draining: not ready, still serving for %.1f s", drain)
            await asyncio.sleep(drain)
        # Both doors alike within the grace period: in-flight calls finish; just before it ends, every
        # call still in flight is answered UNAVAILABLE on its own door (an in-band item on an HTTP
        # stream that has started: never a truncated body).
        closing = asyncio.get_running_loop().call_later(max(grace - 0.2, 0.0), self._close_doors)
        # WebSocket connections live for as long as their clients like: they are told to go (1001,
        # reconnect elsewhere) at once, within the grace period, before uvicorn would close them 1012.
        await self.ws_door.close(max(min(grace - 0.2, 2.0), 0.1))
        try:
            await asyncio.gather(
                self.http.stop(grace),
                self.server.stop(grace) if self.server is not None else asyncio.sleep(0),
            )
        finally:
            closing.cancel()
        await self.admin.stop()
        if self._unwatch_revocations is not None:
            self._unwatch_revocations()
        for task in (self._key_refresh, *self._external_key_refreshes, self._denylist_watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.gather(*(u.close() for u in self.upstreams.values()))
        # After the sockets (closed 1001 above): their subscriptions end with the log.
        await self.room_log.aclose()
        if self._room_client is not None:
            await self._room_client.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        if self._denylist_client is not None:
            await self._denylist_client.aclose()
        self.telemetry.shutdown()
        log.info("gateway stopped")


def _room_log(settings: Settings) -> tuple[RoomLog, redis.asyncio.Redis | None]:
    """The process's one room log (decision 0014): Redis when ``redis.url`` is set, so every process
    shares the rooms; else this process's memory. Its own client: the log needs bytes, and its pub/sub
    reader holds one connection of the pool."""
    ws = settings.websocket
    limits = RoomLimits(
        max_entries=ws.room_max_messages,
        max_age_seconds=ws.room_max_age_seconds,
        max_payload_bytes=ws.room_max_payload_bytes,
    )
    if not settings.redis.url:
        return MemoryRoomLog(limits), None
    client = redis.asyncio.from_url(settings.redis.url, socket_connect_timeout=1.0, socket_timeout=1.0)
    return RedisRoomLog(client, limits), client


async def _open_external(index: int, entry: ExternalIssuer, auth: AuthSettings) -> Trusted:
    """An external issuer's rules and its key source, the keys loaded once (start-up stops with the
    reason, naming the entry, when they cannot be). Its own KeySource: its own kids, refreshes and
    health. Never a shared secret (HS256): an outside issuer is trusted with public keys only."""
    try:
        source = await KeySource.open(entry.jwks, now=time.time())
    except ConfigError as exc:
        raise ConfigError(f"auth.external_issuers[{index}].jwks: {exc.message}") from None
    mapping = ClaimsMapping(
        subject_claim=entry.subject_claim,
        subject_prefix=entry.subject_prefix,
        roles_claim=entry.roles_claim,
        role_map=dict(entry.role_map),
        permissions_claim=entry.permissions_claim,
        clinical_claims=entry.clinical_claims,
    )
    leeway = auth.leeway_seconds if entry.leeway_seconds is None else entry.leeway_seconds
    return Trusted(Issuer(entry.issuer, entry.audience, leeway, mapping), source)


def _key_check(status: SourceStatus) -> str:
    """/readyz's line for one key source."""
    if status.last_error is None:
        return f"ok: {len(status.kids)} keys"
    return f"stale, the last refresh failed: {status.last_error}"


def _admin_authorizer(identity: Identity | None) -> AdminAuthorizer | None:
    """With auth on, a mutating admin endpoint (``POST /reload``) needs a valid token with the admin
    role; with auth off the admin port stays as open as every door (bind it to loopback)."""
    if identity is None:
        return None
    verifier = identity

    async def authorize(header: str | None) -> GatewayError | None:
        try:
            principal = await verifier.authenticate(header)
        except Refused as refused:
            return refused
        if "admin" not in principal.roles:
            return Refused(
                grpc.StatusCode.PERMISSION_DENIED, "This needs the role admin.", reason="ROLE_MISSING"
            )
        return None

    return authorize


async def run_until_signalled(
    start: Callable[[], Any],
    stop: Callable[[signal.Signals | None], Any],
    on_ready: Callable[[], None] | None = None,
    reload: Callable[[], Awaitable[str]] | None = None,
) -> None:
    """Start, wait for SIGTERM/SIGINT, stop gracefully (``stop`` is told which signal came, None when
    the wait was cancelled); a second
    signal exits at once (status 130)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            os.write(2, b"second signal: exiting now without draining\n")
            os._exit(130)
        received.append(signal.Signals(signum))
        log.info("%s received: draining in-flight calls", received[0].name)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    reloads: set[asyncio.Task[None]] = set()

    async def reload_now() -> None:
        assert reload is not None
        try:
            await reload()
        except ConfigError as exc:
            log.error("reload refused, still serving the previous route table: %s", exc.message)

    if reload is not None:

        def on_hangup() -> None:
            task = asyncio.ensure_future(reload_now())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    await start()
    if on_ready is not None:
        on_ready()
    try:
        await stopping.wait()
    finally:
        await stop(received[0] if received else None)  # None: ended without a signal (cancelled)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)


async def serve(
    settings: Settings,
    on_ready: Callable[[Gateway], None] | None = None,
    *,
    denylist: Denylist | None = None,
) -> None:
    gateway = await Gateway.build(settings, denylist=denylist)
    # From here on every line is structured and passes the redaction layer built from the contracts
    # (a reload swaps in the redactor of the new contracts).
    configure_logging(settings.log, gateway.redactor)

    async def stop(signum: signal.Signals | None) -> None:
        # SIGTERM is an orchestrator's (Kubernetes, systemd): drain first. SIGINT is a person at a
        # terminal: stop now.
        await gateway.stop(drain=settings.shutdown.drain_seconds if signum == signal.SIGTERM else 0.0)

    await run_until_signalled(
        gateway.start, stop, None if on_ready is None else lambda: on_ready(gateway), gateway.reload
    )
