"""Start reference services on grpc.aio servers, for the demo, tests and benchmarks.

:func:`start_service` hosts some services on one server; :func:`start_all` gives every service its
own server and port (so stopping one leaves the rest working), all sharing one :class:`World`. Every
server also serves ``grpc.health.v1.Health`` (overall ``""`` and each service ``SERVING``) and server
reflection, as a real TTA backend would, so the gateway can discover and health-check it. On every
method of them, request bytes that do not parse answer ``INVALID_ARGUMENT`` (:mod:`services._decoding`).

    fleet = await start_all()
    settings_env = {"TTA_GATEWAY__UPSTREAMS": fleet.upstreams_json()}
    ...
    await fleet.stop()
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from services._decoding import RejectMalformedRequests, request_types
from services.catalog import REFERENCE_SERVICES
from services.state import World

__all__ = ["RunningFleet", "RunningService", "resolve_names", "start_all", "start_service"]

_HEALTH_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


@dataclass
class RunningService:
    """One grpc.aio server hosting some reference services."""

    names: tuple[str, ...]
    full_names: tuple[str, ...]
    server: grpc.aio.Server
    port: int
    host: str

    @property
    def target(self) -> str:
        """``host:port`` to dial (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def stop(self, grace: float | None = 0) -> None:
        """Stop the server, letting in-flight calls finish for ``grace`` seconds (None: wait for all)."""
        await self.server.stop(grace)


@dataclass
class RunningFleet:
    """Every reference service, each on its own server."""

    services: dict[str, RunningService]

    def upstreams(self) -> list[dict[str, object]]:
        """Gateway upstream settings: one upstream per running service."""
        return [
            {"name": name, "services": list(running.full_names), "targets": [running.target]}
            for name, running in self.services.items()
        ]

    def upstreams_json(self) -> str:
        """:meth:`upstreams` as JSON, for ``TTA_GATEWAY__UPSTREAMS``."""
        return json.dumps(self.upstreams())

    async def stop(self) -> None:
        """Stop every server at once."""
        await asyncio.gather(*(running.stop() for running in self.services.values()))


def resolve_names(names: Sequence[str]) -> tuple[str, ...]:
    """Validated short names, ``"all"`` expanding to every service; ``ValueError`` naming unknown ones."""
    resolved: list[str] = []
    for name in names:
        expanded = list(REFERENCE_SERVICES) if name == "all" else [name]
        for one in expanded:
            if one not in REFERENCE_SERVICES:
                raise ValueError(
                    f"unknown reference service {one!r}; known: all, {', '.join(REFERENCE_SERVICES)}"
                )
            if one not in resolved:
                resolved.append(one)
    if not resolved:
        raise ValueError("name at least one reference service")
    return tuple(resolved)


async def start_service(
    names: Sequence[str], host: str = "127.0.0.1", port: int = 0, world: World | None = None
) -> RunningService:
    """Start one server hosting ``names`` (plus health and reflection) on ``host:port`` (0: any port)."""
    selected = resolve_names(names)
    world = world if world is not None else World()
    full_names = [full_name for name in selected for full_name in REFERENCE_SERVICES[name].full_names]
    hosted = (*full_names, _HEALTH_NAME, reflection.SERVICE_NAME)
    server = grpc.aio.server(interceptors=[RejectMalformedRequests(request_types(hosted))])
    for name in selected:
        REFERENCE_SERVICES[name].register(server, world)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for full_name in ("", *full_names):
        await health.set(full_name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(hosted, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    await server.start()
    return RunningService(names=selected, full_names=tuple(full_names), server=server, port=bound, host=host)


async def start_all(host: str = "127.0.0.1", world: World | None = None) -> RunningFleet:
    """Start every reference service on its own server and ephemeral port, sharing one world."""
    world = world if world is not None else World()
    started: dict[str, RunningService] = {}
    try:
        for name in REFERENCE_SERVICES:
            started[name] = await start_service([name], host=host, port=0, world=world)
    except BaseException:
        await RunningFleet(started).stop()
        raise
    return RunningFleet(started)
