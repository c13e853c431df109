"""The denylist contract, held by both implementations: memory, and Redis (a real server at
REDIS_URL, or one the session starts; under CI a missing Redis fails the run)."""

from __future__ import annotations

import asyncio
import contextlib
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


async def test_a_revocation_elsewhere_reaches_a_watching_process_before_its_memory_expires(
    redis_url: str,
) -> None:
    """Two processes' denylists (the issuer's and a gateway's): the gateway remembers "not revoked"
    for a minute, yet the issuer's revocation reaches it through the channel within moments."""
    issuer_client, gateway_client = redis.asyncio.from_url(redis_url), redis.asyncio.from_url(redis_url)
    issuer = RedisDenylist(issuer_client)
    gateway = RedisDenylist(gateway_client, cache_seconds=60.0)
    watching = asyncio.create_task(gateway.watch())
    try:
        await asyncio.wait_for(gateway.subscribed.wait(), 5)
        now = time.time()
        jti = _jti()
        assert not await gateway.is_revoked(jti, now)  # remembered for 60 s
        await issuer.revoke(jti, now + 300, now)
        deadline = time.monotonic() + 2
        while not await gateway.is_revoked(jti, time.time()):
            assert time.monotonic() < deadline, "the revocation never reached the watching denylist"
            await asyncio.sleep(0.01)
        # and a lost subscription forgets everything it remembered, rather than trust stale answers
        other = _jti()
        assert not await gateway.is_revoked(other, time.time())
        await gateway_client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await issuer_client.set(RedisDenylist.key(other), b"1", ex=60)  # revoked with no message
        deadline = time.monotonic() + 5
        while not await gateway.is_revoked(other, time.time()):
            assert time.monotonic() < deadline, "a lost subscription kept a stale answer"
            await asyncio.sleep(0.05)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await issuer_client.aclose()
        await gateway_client.aclose()


async def test_listeners_hear_of_a_revocation_in_this_process(redis_url: str) -> None:
    """Memory: at revoke. Redis: when the channel's message reaches a watching process (another
    instance revokes). A listener that raises does not stop the others."""
    memory = MemoryDenylist()
    heard: list[str] = []
    stop = memory.on_revoke(heard.append)
    memory.on_revoke(lambda jti: 1 / 0)  # a broken listener is logged, not fatal
    now = time.time()
    await memory.revoke("m1", now + 60, now)
    stop()
    await memory.revoke("m2", now + 60, now)
    assert heard == ["m1"]

    issuer_client, gateway_client = redis.asyncio.from_url(redis_url), redis.asyncio.from_url(redis_url)
    issuer, gateway = RedisDenylist(issuer_client), RedisDenylist(gateway_client)
    told = asyncio.Event()
    jti = _jti()
    gateway.on_revoke(lambda revoked: told.set() if revoked == jti else None)
    watching = asyncio.create_task(gateway.watch())
    try:
        await asyncio.wait_for(gateway.subscribed.wait(), 5)
        await issuer.revoke(jti, now + 300, now)
        await asyncio.wait_for(told.wait(), 2)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await issuer_client.aclose()
        await gateway_client.aclose()
