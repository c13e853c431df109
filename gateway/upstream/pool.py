"""Upstreams: the backend endpoints behind each fronted service, their channels and their health.

An ``Upstream`` owns one grpc.aio channel per target and a health watcher per target that asks the
target's ``grpc.health.v1.Health/Check`` (overall status, service ``""``) every interval. Targets
that do not implement the health service are judged by whether their channel connects. ``pick()``
rotates over healthy endpoints, and over all of them when none is known healthy (health may lag a
restart; the call itself will tell).

A call that fails to connect marks its endpoint unhealthy at once, so the next call tries another.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.config import UpstreamSettings

log = logging.getLogger(__name__)

HealthListener = Callable[["Upstream"], None]


@dataclass(slots=True, eq=False)
class Endpoint:
    target: str
    channel: grpc.aio.Channel
    healthy: bool = False
    checked: bool = False
    # Multicallables are cheap to build but not free; build one per (method, arity) and reuse it.
    callables: dict[tuple[str, str], object] = field(default_factory=dict)


class Upstream:
    """One configured upstream: a name, the services it serves, and its endpoints."""

    def __init__(self, name: str, settings: UpstreamSettings, channel_options: Sequence[tuple[str, object]]):
        self.name = name
        self.settings = settings
        self.endpoints = [
            Endpoint(target=t, channel=grpc.aio.insecure_channel(t, options=list(channel_options)))
            for t in settings.targets
        ]
        self._cycle = itertools.cycle(self.endpoints)
        self._watchers: list[asyncio.Task[None]] = []
        self._listeners: list[HealthListener] = []

    @property
    def healthy(self) -> bool:
        return any(e.healthy for e in self.endpoints)

    def describe_targets(self) -> str:
        return ", ".join(e.target for e in self.endpoints)

    def pick(self) -> Endpoint:
        for _ in range(len(self.endpoints)):
            endpoint = next(self._cycle)
            if endpoint.healthy:
                return endpoint
        return next(self._cycle)

    def mark(self, endpoint: Endpoint, healthy: bool) -> None:
        was, first = self.healthy, not endpoint.checked
        endpoint.healthy, endpoint.checked = healthy, True
        if was != self.healthy:
            # The first verdict at start-up is expected; later flips are news for the operator.
            log.log(
                logging.DEBUG if first and healthy else logging.INFO if healthy else logging.WARNING,
                "upstream %s (%s) is %s",
                self.name,
                self.describe_targets(),
                "healthy" if self.healthy else "unhealthy",
            )
            for listener in self._listeners:
                listener(self)

    def on_health_change(self, listener: HealthListener) -> None:
        self._listeners.append(listener)

    async def check_once(self, endpoint: Endpoint) -> bool:
        """Ask one endpoint for its overall health; an upstream without a health service that
        accepts a connection counts as healthy."""
        stub = health_pb2_grpc.HealthStub(endpoint.channel)
        try:
            resp = await stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=self.settings.connect_timeout_seconds
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code() == grpc.StatusCode.UNIMPLEMENTED
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    async def _watch(self, endpoint: Endpoint) -> None:
        while True:
            self.mark(endpoint, await self.check_once(endpoint))
            await asyncio.sleep(self.settings.health_check_interval_seconds)

    async def start(self) -> None:
        """Check every endpoint once (so start-up knows the state), then keep watching."""
        results = await asyncio.gather(*(self.check_once(e) for e in self.endpoints))
        for endpoint, ok in zip(self.endpoints, results, strict=True):
            self.mark(endpoint, ok)
        self._watchers = [asyncio.create_task(self._watch(e)) for e in self.endpoints]

    async def close(self) -> None:
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(e.channel.close(None) for e in self.endpoints))


def channel_options(max_message_bytes: int) -> list[tuple[str, object]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
