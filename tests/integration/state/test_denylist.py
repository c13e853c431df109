"""The denylist contract, held by both implementations: memory, and Redis (a real server at
REDIS_URL, or one the session starts; under CI a missing Redis fails the run)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from gateway.state.denylist import Denylist, MemoryDenylist, RedisDenylist


@pytest.fixture(params=["memory", "redis"])
async def denylist(request: pytest.FixtureRequest) -> AsyncIterator[Denylist]:
    if request.param == "memory":
        yield MemoryDenylist()
        return
    url = request.getfixturevalue("redis_url")
    client = redis.asyncio.from_url(url)
    # cache_seconds=0: every check asks Redis, so the contract is Redis's, not the local memory's
    yield RedisDenylist(client, cache_seconds=0.0)
    await client.aclose()


def _jti() -> str:
    return f"test-{uuid.uuid4()}"


async def test_a_revoked_token_is_revoked_and_others_are_not(denylist: Denylist) -> None:
    now = time.time()
    revoked, other = _jti(), _jti()
    await denylist.revoke(revoked, now + 300, now)
    assert await denylist.is_revoked(revoked, now)
    assert not await denylist.is_revoked(other, now)


async def test_an_already_expired_token_needs_no_entry(denylist: Denylist) -> None:
    now = time.time()
    jti = _jti()
    await denylist.revoke(jti, now - 1, now)
    assert not await denylist.is_revoked(jti, now)


async def test_an_entry_lasts_as_long_as_the_token(denylist: Denylist) -> None:
    now = time.time()
    jti = _jti()
    await denylist.revoke(jti, now + 1, now)
    assert await denylist.is_revoked(jti, now)
    await asyncio.sleep(2.2)  # Redis expires keys on whole seconds (EXAT exp + 1)
    assert not await denylist.is_revoked(jti, time.time())


async def test_revoking_twice_keeps_the_later_expiry(denylist: Denylist) -> None:
    now = time.time()
    jti = _jti()
    await denylist.revoke(jti, now + 300, now)
    await denylist.revoke(jti, now + 5, now)
    assert await denylist.is_revoked(jti, now + 10)


def test_memory_is_bounded_and_drops_the_nearest_expiry_first() -> None:
    async def run() -> None:
        small = MemoryDenylist(capacity=3)
        now = 1000.0
        for i, ttl in enumerate([50, 10, 40, 30]):
            await small.revoke(f"t{i}", now + ttl, now)
        assert len(small) == 3
        assert not await small.is_revoked("t1", now)  # the one nearest its expiry went
        assert await small.is_revoked("t0", now)

    asyncio.run(run())


async def test_redis_answers_from_its_short_memory_between_checks(redis_url: str) -> None:
    client = redis.asyncio.from_url(redis_url)
    try:
        cached = RedisDenylist(client, cache_seconds=60)
        other_process = RedisDenylist(client, cache_seconds=0)
        now = time.time()
        jti = _jti()
        assert not await cached.is_revoked(jti, now)  # remembered as not revoked
        await other_process.revoke(jti, now + 300, now)
        assert not await cached.is_revoked(jti, now + 1)  # within its window: the old answer
        assert await cached.is_revoked(jti, now + 61)  # after it: Redis again
    finally:
        await client.aclose()
