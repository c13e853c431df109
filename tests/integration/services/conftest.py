"""Every reference service on its own loopback server, sharing one world, for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from services.server import RunningFleet, start_all
from services.state import World


@pytest.fixture
async def world() -> World:
    return World(stream_delay=0)


@pytest.fixture
async def fleet(world: World) -> AsyncIterator[RunningFleet]:
    running = await start_all(world=world)
    yield running
    await running.stop()


@pytest.fixture
async def channels(fleet: RunningFleet) -> AsyncIterator[dict[str, grpc.aio.Channel]]:
    opened = {name: grpc.aio.insecure_channel(svc.target) for name, svc in fleet.services.items()}
    yield opened
    for channel in opened.values():
        await channel.close()
