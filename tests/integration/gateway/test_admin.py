"""The admin door on a real loopback port: uvicorn + httptools in the test's event loop, httpx as client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.admin import AdminServer, Readiness, admin_app
from gateway.errors import ConfigError
from gateway.telemetry.metrics import GatewayMetrics

GET = "/tta.v1.PlayerService/GetPlayer"


@dataclass
class FakeReadiness:
    """A readiness callable the test flips."""

    ready: bool = True
    checks: dict[str, str] = field(
        default_factory=lambda: {"route_table": "ok", "upstream tta.v1.PlayerService": "ok"}
    )

    async def __call__(self) -> Readiness:
        return Readiness(self.ready, self.checks)


@dataclass
class Admin:
    server: AdminServer
    client: httpx.AsyncClient
    readiness: FakeReadiness
    metrics: GatewayMetrics


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    metrics = GatewayMetrics()
    readiness = FakeReadiness()
    server = AdminServer(admin_app(metrics, readiness), "127.0.0.1", 0)
    port = await server.start()
    assert port > 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        yield Admin(server, client, readiness, metrics)
    await server.stop()


async def test_healthz(admin: Admin) -> None:
    response = await admin.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_follows_the_readiness_check(admin: Admin) -> None:
    response = await admin.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {"route_table": "ok", "upstream tta.v1.PlayerService": "ok"},
    }

    admin.readiness.ready = False
    admin.readiness.checks["upstream tta.v1.PlayerService"] = "unhealthy"
    response = await admin.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "checks": {"route_table": "ok", "upstream tta.v1.PlayerService": "unhealthy"},
    }


async def test_readyz_answers_503_when_the_check_itself_fails(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> Readiness:
        raise RuntimeError("bug")

    server = AdminServer(admin_app(None, broken), "127.0.0.1", 0)
    port = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/readyz")
    finally:
        await server.stop()
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"readiness": "check failed: RuntimeError"}}
    assert "readiness check failed" in caplog.text


async def test_metrics_exposes_the_registry(admin: Admin) -> None:
    route = admin.metrics.route("grpc", GET, "tta.v1.PlayerService")
    route.started()
    route.finished("OK", 0.002)

    response = await admin.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("tta_gateway_requests_total", (("code", "OK"), ("door", "grpc"), ("method", GET)))] == 1


async def test_metrics_in_openmetrics_when_asked(admin: Admin) -> None:
    response = await admin.client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_metrics_disabled_is_404() -> None:
    server = AdminServer(admin_app(None, FakeReadiness()), "127.0.0.1", 0)
    port = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/metrics")).status_code == 404
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await server.stop()


@pytest.mark.parametrize("path", ["/", "/nope", "/healthz/", "/metrics.txt"])
async def test_unknown_path_is_404_json(admin: Admin, path: str) -> None:
    response = await admin.client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not found"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_other_methods_are_405_with_allow(admin: Admin, method: str, path: str) -> None:
    response = await admin.client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["error"] == "method not allowed"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_head_has_the_headers_and_no_body(admin: Admin, path: str) -> None:
    get = await admin.client.get(path)
    head = await admin.client.head(path)
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) > 0


async def test_lifespan_is_answered() -> None:
    app = admin_app(None, FakeReadiness())
    incoming: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outgoing: list[dict[str, str]] = []
    for message in ({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}):
        incoming.put_nowait(message)

    async def send(message: object) -> None:
        assert isinstance(message, dict)
        outgoing.append(message)

    await asyncio.wait_for(app({"type": "lifespan"}, incoming.get, send), 5)
    assert outgoing == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_stop_releases_the_port_and_the_task() -> None:
    server = AdminServer(admin_app(None, FakeReadiness()), "127.0.0.1", 0)
    port = await server.start()
    tasks_while_serving = asyncio.all_tasks()
    async with httpx.AsyncClient() as client:  # a kept-alive connection must not hold up the stop
        assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        await asyncio.wait_for(server.stop(), 5)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/healthz")
    assert len(asyncio.all_tasks()) < len(tasks_while_serving)
    with socket.socket() as sock:  # nothing listens there any more (SO_REUSEADDR: TIME_WAIT is fine)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    await server.stop()  # a second stop is harmless


async def test_a_port_in_use_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = AdminServer(admin_app(None, FakeReadiness()), "127.0.0.1", port)
        with pytest.raises(ConfigError, match=rf"admin: cannot serve on 127\.0\.0\.1:{port} \(.*in use"):
            await server.start()
        await server.stop()
