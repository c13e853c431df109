"""The admin door: health and metrics over plain HTTP, on the admin port (``admin.port``, default 9090,
on loopback by default).

::

    GET|HEAD /healthz   200 {"status": "ok"}                         the process is alive
    GET|HEAD /readyz    200|503 {"ready": bool, "checks": {...}}     ready to serve calls
    GET|HEAD /metrics   Prometheus exposition (404 when metrics are disabled)
    anything else       404 JSON; a known path with another method: 405, Allow: GET, HEAD

``/healthz`` and ``/readyz`` mean what ``grpc.health.v1`` means on the gRPC port: ``/healthz`` is
liveness (the overall service ``""`` answers at all), ``/readyz`` is whether this process should get
traffic, as judged by the readiness callable the composition root passes in (``Gateway.readiness``:
route table loaded, upstream health, Redis when configured, not draining — a graceful shutdown turns
grpc.health.v1 NOT_SERVING and /readyz 503 together). The body lists every check, so an operator sees
why without reading logs.

The app is a raw ASGI callable (no framework: three routes do not need one), served by uvicorn with
httptools inside the gateway's own event loop; :class:`AdminServer` never lets uvicorn install a loop
or signal handlers, which belong to the gateway process (``gateway.app.run_until_signalled``). The same
class serves the HTTP door, which may ask for HTTP/2 as well (``http.http2``: uvicorn's zttp protocol,
HTTP/1.1 and prior-knowledge h2c on one port; see docs/decisions/0005-http2-and-trailers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
import uvicorn

from gateway.config.websocket import WebSocketSettings
from gateway.doors._http_responses import ASGIApp, Receive, Scope, Send, answer_lifespan
from gateway.errors import ConfigError, GatewayError
from gateway.telemetry.metrics import GatewayMetrics

__all__ = [
    "AdminServer",
    "Readiness",
    "Receive",
    "Scope",
    "Send",
    "admin_app",
]

log = logging.getLogger(__name__)

# The ASGI protocol (https://asgi.readthedocs.io/en/latest/specs/main.html), written down as starlette
# does in starlette/types.py.

ReadinessCheck = Callable[[], Awaitable["Readiness"]]

_ALLOWED = (b"GET", b"HEAD")
_JSON = b"application/json"


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the gateway should get traffic, and the verdict of each check, worded for an operator:
    ``{"route_table": "ok", "upstream tta.v1.PlayerService": "unhealthy", "redis": "ok"}``."""

    ready: bool
    checks: Mapping[str, str]


# --- the ASGI app -----------------------------------------------------------------------------------


ReloadAction = Callable[[], Awaitable[str]]
# Decides whether the bearer of an Authorization header (or None) may use a mutating endpoint: the
# refusal to answer (UNAUTHENTICATED, PERMISSION_DENIED), or None to go on.
AdminAuthorizer = Callable[[str | None], Awaitable[GatewayError | None]]


def admin_app(
    metrics: GatewayMetrics | None,
    readiness: ReadinessCheck,
    reload: ReloadAction | None = None,
    authorize: AdminAuthorizer | None = None,
) -> ASGIApp:
    """The admin endpoints as an ASGI app; ``metrics`` ``None`` (metrics disabled) makes /metrics 404.
    ``reload`` serves ``POST /reload``: it returns a summary, or raises ConfigError (answered 409 with
    the reason; the running table stays). With ``authorize`` (auth enabled), ``POST /reload`` needs a
    bearer token it accepts (401 with ``WWW-Authenticate: Bearer`` / 403 otherwise); the read-only
    endpoints stay open to probes and scrapers."""
    return _AdminApp(metrics, readiness, reload, authorize)


class _AdminApp:
    __slots__ = ("_authorize", "_metrics", "_readiness", "_reload", "_routes")

    def __init__(
        self,
        metrics: GatewayMetrics | None,
        readiness: ReadinessCheck,
        reload: ReloadAction | None = None,
        authorize: AdminAuthorizer | None = None,
    ) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._reload = reload
        self._authorize = authorize
        routes: dict[str, Callable[[Scope], Awaitable[_Response]]] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }
        if metrics is not None:
            routes["/metrics"] = self._metrics_page
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, send)
        elif kind == "lifespan":
            await answer_lifespan(receive, send)
        elif kind == "websocket":  # not served here: refuse the handshake (ASGI: close before accept)
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, send: Send) -> None:
        handler = self._routes.get(scope["path"])
        method = scope["method"].encode("ascii")
        if scope["path"] == "/reload" and self._reload is not None:
            refusal = None
            if method == b"POST" and self._authorize is not None:
                refusal = await self._authorize(_header(scope, b"authorization"))
            if method != b"POST":
                response = _json(405, {"error": "method not allowed", "allow": "POST"})
                response.headers.append((b"allow", b"POST"))
            elif refusal is not None:
                unauthenticated = refusal.code is grpc.StatusCode.UNAUTHENTICATED
                response = _json(
                    401 if unauthenticated else 403, {"reloaded": False, "reason": refusal.message}
                )
                if unauthenticated:
                    response.headers.append((b"www-authenticate", b'Bearer realm="tta"'))
            else:
                try:
                    response = _json(200, {"reloaded": True, "summary": await self._reload()})
                except ConfigError as exc:
                    response = _json(409, {"reloaded": False, "reason": exc.message})
            await response.send(send, head=False)
            return
        if handler is None:
            response = _json(404, {"error": "not found", "path": "see /healthz, /readyz, /metrics"})
        elif method not in _ALLOWED:
            response = _json(405, {"error": "method not allowed", "allow": "GET, HEAD"})
            response.headers.append((b"allow", b"GET, HEAD"))
        else:
            response = await handler(scope)
        await response.send(send, head=method == b"HEAD")

    async def _healthz(self, scope: Scope) -> _Response:
        return _json(200, {"status": "ok"})

    async def _readyz(self, scope: Scope) -> _Response:
        try:
            verdict = await self._readiness()
        except Exception as exc:  # a bug in a check must still answer, and say not ready
            log.exception("readiness check failed")
            verdict = Readiness(False, {"readiness": f"check failed: {type(exc).__name__}"})
        return _json(200 if verdict.ready else 503, {"ready": verdict.ready, "checks": dict(verdict.checks)})

    async def _metrics_page(self, scope: Scope) -> _Response:
        assert self._metrics is not None  # routed only when metrics are enabled
        accept = _header(scope, b"accept")
        body, content_type = self._metrics.exposition(accept)
        return _Response(200, body, [(b"content-type", content_type.encode("ascii"))])


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]

    async def send(self, send: Send, *, head: bool) -> None:
        headers = [
            *self.headers,
            (b"content-length", str(len(self.body)).encode("ascii")),
            # Health and metrics are live readings: a cache in between would report the past.
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        # HEAD: the same headers, Content-Length included, and no body (RFC 9110 section 9.3.2).
        await send({"type": "http.response.body", "body": b"" if head else self.body})


def _json(status: int, payload: Mapping[str, Any]) -> _Response:
    return _Response(status, orjson.dumps(payload), [(b"content-type", _JSON)])


def _header(scope: Scope, name: bytes) -> str | None:
    # ASGI header names are lower-cased byte strings; values are latin-1 (RFC 9110 section 5.5).
    values = [v for k, v in scope.get("headers", ()) if k == name]
    return b",".join(values).decode("latin-1") if values else None


# --- the server -------------------------------------------------------------------------------------


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a loop it does not own: the gateway process handles SIGTERM/SIGINT itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn >= 0.29 swaps in its own handlers here with signal.signal(); that would steal the
        # gateway's graceful-shutdown signals, so do nothing.
        yield


class _ErrorRecorder(logging.Handler):
    """Keeps uvicorn's start-up error (it logs the OSError, then raises SystemExit without it)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _ws_options(settings: WebSocketSettings) -> dict[str, Any]:
    """uvicorn's WebSocket options from the ``websocket`` settings (0 turns pings off)."""
    return {
        "ws_max_size": settings.max_message_bytes,
        "ws_ping_interval": settings.ping_interval_seconds or None,
        "ws_ping_timeout": settings.ping_timeout_seconds or None,
        "ws_per_message_deflate": settings.per_message_deflate,
    }


class AdminServer:
    """Serves an ASGI app with uvicorn as a task of the running event loop: httptools (HTTP/1.1), or
    with ``http2`` zttp, which also speaks cleartext HTTP/2 to a client that opens with its preface."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        name: str = "admin",
        *,
        http2: bool = False,
        websocket: WebSocketSettings | None = None,
    ) -> None:
        self.name = name  # the settings section, named in a bind failure
        self.host = host
        self.http2 = http2
        protocol: Any = "httptools"
        if http2:
            # Imported only when asked for: zttp (alpha) and uvicorn's zttp internals stay unloaded
            # in every gateway that does not serve HTTP/2.
            from gateway.doors._h2c import H2cProtocol

            protocol = H2cProtocol
        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            loop="none",
            # zttp is the only uvicorn protocol with HTTP/2, and the only one that implements the ASGI
            # http.response.trailers extension (on its HTTP/2 side); it is alpha, so opt-in. H2cProtocol
            # is what uvicorn's `http="zttp", http2=True` selects, with a fix (see gateway._h2c).
            http=protocol,
            # The WebSocket door's engine (decision 0015): websockets' sans-I/O core, which does the
            # framing, size limit (closing 1009), ping/pong and keepalive timeout. Not uvicorn's
            # "websockets" (the library's deprecated legacy server).
            ws="websockets-sansio" if websocket is not None and websocket.enabled else "none",
            **(_ws_options(websocket) if websocket is not None else {}),
            server_header=False,
            # A scrape in progress gets this long at shutdown; the gateway's grace period is the bound.
            timeout_graceful_shutdown=5,
        )
        self._server = _EmbeddedServer(self.config)
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> int:
        """Listen and serve; returns the bound port (the OS's pick when ``port`` is 0).

        Raises :class:`ConfigError` when the address cannot be bound (in use, not local, ...).
        """
        if self._task is not None:
            raise RuntimeError("AdminServer already started")
        recorder = _ErrorRecorder()
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addHandler(recorder)
        try:
            self._task = asyncio.create_task(self._serve(), name="tta-gateway admin server")
            # uvicorn has no start event: poll its flag while watching for start-up failure.
            while not self._server.started:
                if self._task.done():
                    break
                await asyncio.sleep(0.005)
        finally:
            uvicorn_log.removeHandler(recorder)
        if not self._server.started:
            task, self._task = self._task, None
            reason = "; ".join(recorder.messages) or "uvicorn stopped during start-up"
            with contextlib.suppress(Exception):
                await task
            raise ConfigError(f"{self.name}: cannot serve on {self.host}:{self.config.port} ({reason})")
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        what = (
            "admin endpoints (/healthz, /readyz, /metrics, /reload)"
            if self.name == "admin"
            else "the HTTP door" + (" (HTTP/1.1 and HTTP/2 prior knowledge)" if self.http2 else "")
        )
        log.info("%s on http://%s:%d", what, self.host, self.port)
        return self.port

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn exits the process on a bind failure; here it only ends this task (and a
            # SystemExit escaping a task would stop the whole event loop).
            return

    async def stop(self, grace: float | None = None) -> None:
        """Stop listening, let a response in progress finish (up to ``grace`` seconds, else 5), and close
        connections."""
        task, self._task = self._task, None
        if task is None:
            return
        if grace is not None:
            # uvicorn waits a float; at least half a second, so that responses ended at the close of the
            # grace period (the HTTP door's streams) are flushed rather than cancelled (and logged).
            self.config.timeout_graceful_shutdown = max(grace, 0.5)  # type: ignore[assignment]
        self._server.should_exit = True
        await task
