"""Shutdown treats every door alike: calls in flight at the end of the grace period are answered
UNAVAILABLE on their own door — a gRPC status, a REST ``google.rpc.Status`` (503), or, on a REST stream
that has started, an in-band item — never a truncated body, a plain-text 500 or a silent CANCELLED."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from tests.integration.parity.doors import GrpcClient, HttpClient, Outcome
from tests.integration.parity.typed_upstream import ECHO, WATCH, start_typed_upstream

GRACE = 1.0


async def test_calls_still_in_flight_when_the_grace_period_ends_get_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, upstream, port = await start_typed_upstream()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"port": 0},
            "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    hang = [("x-behaviour", "hang")]
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client,
        ):
            grpc_door, http_door = GrpcClient(channel), HttpClient(client)
            calls: dict[str, asyncio.Task[Outcome]] = {
                "grpc unary": asyncio.ensure_future(grpc_door.echo(b"", metadata=hang)),
                "grpc stream": asyncio.ensure_future(grpc_door.watch("se_1", metadata=hang)),
                "http unary": asyncio.ensure_future(http_door.echo(b"", metadata=hang)),
                "http stream": asyncio.ensure_future(http_door.watch("se_1", metadata=hang)),
            }
            for _ in range(4):  # every call is in flight upstream
                await asyncio.wait_for(upstream.cancelled_or_hanging(), 10)
            await gateway.stop(GRACE)
            outcomes = {name: await asyncio.wait_for(task, 10) for name, task in calls.items()}
    finally:
        await server.stop(0)
    for name, out in outcomes.items():
        assert (out.code, out.message) == (14, "the gateway is shutting down; retry the call"), (name, out)
    assert outcomes["http unary"].http_status == 503
    assert outcomes["http stream"].http_status == 200  # started: the end is an in-band item
    assert [m["message"]["text"] for m in outcomes["http stream"].messages] == ["m0"]
    assert [m["message"]["text"] for m in outcomes["grpc stream"].messages] == ["m0"]
    # every upstream call was cancelled, and nobody logged an expected cancellation as an error
    assert sorted(upstream.cancelled_paths) == sorted([ECHO, ECHO, WATCH, WATCH])
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
