"""/readyz of a running gateway: upstream health and, when configured, a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from tests.integration.gateway.test_passthrough import ALL_TTA, _start_double


@pytest.fixture
async def upstream_port() -> AsyncIterator[int]:
    server, _, port = await _start_double()
    yield port
    await server.stop(0)


async def _ready(redis: str | None, upstream_port: int) -> tuple[int, dict[str, object]]:
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "redis": {"url": redis},
            "upstreams": [{**ALL_TTA, "targets": [f"127.0.0.1:{upstream_port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    try:
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{gateway.admin_port}/readyz")
            return resp.status_code, resp.json()
    finally:
        await gateway.stop(0)


async def test_ready_with_a_reachable_redis(redis_url: str, upstream_port: int) -> None:
    status, body = await _ready(redis_url, upstream_port)
    assert status == 200
    assert body["checks"]["redis"] == "ok"  # type: ignore[index]


async def test_not_ready_when_redis_is_unreachable(upstream_port: int) -> None:
    status, body = await _ready("redis://:s3cret@127.0.0.1:1", upstream_port)
    assert status == 503
    assert body["ready"] is False
    assert str(body["checks"]["redis"]).startswith("unreachable")  # type: ignore[index]
    assert "s3cret" not in str(body)


async def test_not_ready_when_every_upstream_is_down() -> None:
    server, _, port = await _start_double()
    await server.stop(0)
    status, body = await _ready(None, port)
    assert status == 503
    assert body["checks"]["upstream tta.v1.*"] == "unhealthy"  # type: ignore[index]
