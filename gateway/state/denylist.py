"""The token denylist: access tokens revoked before they expire (logout, admin revocation), by ``jti``.

An entry lives as long as the token it revokes could: until its ``exp``. After that the token is
refused for being expired anyway, so the entry goes (a TTL in Redis; pruned in memory).

Two implementations of one protocol (``Denylist``), held to one contract (tests/integration/state/):

- ``MemoryDenylist``: one process; bounded (the entries nearest their expiry go first when full).
- ``RedisDenylist``: shared by every gateway process and host, and by the token issuer. A revocation
  is ``SET key 1 EXAT exp`` and ``PUBLISH tta:denylist:revoked <jti>`` in one transaction; a check is
  one ``EXISTS``, remembered locally for ``cache_seconds`` (default 1 s), so a busy token costs one
  round trip per second per process, not one per call. Each gateway process runs ``watch``, which
  listens on that channel and forgets what it remembered of a revoked ``jti`` as soon as the message
  arrives: a revocation takes effect everywhere within milliseconds, and within ``cache_seconds`` at
  worst (a message lost while the subscription reconnects; the whole memory is dropped then too).
  Keys: ``tta:denylist:{<jti>}`` (the hash tag keeps each key whole on Redis Cluster).

Both tell listeners (``on_revoke``) of each revocation as it happens — the memory one at ``revoke``,
the Redis one when the channel's message arrives, in every process — so a long-lived connection
(the WebSocket door) holding a revoked token is ended at once rather than at the token's expiry.

A Redis that cannot be reached fails closed for the call (the caller gets UNAVAILABLE from the identity
step): a revoked token must never pass because the denylist was down.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis
import redis.asyncio

log = logging.getLogger(__name__)

CHANNEL = "tta:denylist:revoked"  # one message per revocation: the jti


class Denylist(Protocol):
    async def revoke(self, jti: str, expires_at: float, now: float) -> None:
        """Refuse the token ``jti`` from now until ``expires_at`` (seconds since the epoch)."""

    async def is_revoked(self, jti: str, now: float) -> bool:
        """Whether ``jti`` is revoked (and not yet expired)."""

    def on_revoke(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(jti)`` for each revocation from now on (so a long-lived connection holding
        that token can be ended at once); returns the function that stops it."""


Listener = Callable[[str], None]


class _Listeners:
    """Who is told of revocations: a listener that raises is logged, never stops the others."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def on_revoke(self, listener: Listener) -> Callable[[], None]:
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def _tell(self, jti: str) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(jti)
            except Exception:
                log.exception("bug: a revocation listener failed")


class MemoryDenylist(_Listeners):
    def __init__(self, capacity: int = 1_000_000) -> None:
        super().__init__()
        self.capacity = capacity
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # (expires_at, jti): pruning in expiry order

    def __len__(self) -> int:
        return len(self._expiry)

    def _prune(self, now: float) -> None:
        while self._heap and (self._heap[0][0] <= now or len(self._expiry) > self.capacity):
            expires_at, jti = heapq.heappop(self._heap)
            if self._expiry.get(jti) == expires_at:
                del self._expiry[jti]

    async def revoke(self, jti: str, expires_at: float, now: float) -> None:
        if expires_at <= now:
            return  # already refused as expired
        if expires_at > self._expiry.get(jti, 0.0):
            self._expiry[jti] = expires_at
            heapq.heappush(self._heap, (expires_at, jti))
        self._prune(now)
        self._tell(jti)

    async def is_revoked(self, jti: str, now: float) -> bool:
        expires_at = self._expiry.get(jti)
        return expires_at is not None and expires_at > now


class RedisDenylist(_Listeners):
    def __init__(
        self, client: redis.asyncio.Redis, *, cache_seconds: float = 1.0, cache_size: int = 100_000
    ) -> None:
        super().__init__()
        self.client = client
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._seen: OrderedDict[str, tuple[bool, float]] = OrderedDict()  # jti -> (revoked, checked at)
        # Bumped by every invalidation: a check whose EXISTS raced one does not remember its answer.
        self._generation = 0
        self.subscribed = asyncio.Event()  # set while watch() listens (for tests and readiness)

    @staticmethod
    def key(jti: str) -> str:
        return f"tta:denylist:{{{jti}}}"

    async def revoke(self, jti: str, expires_at: float, now: float) -> None:
        if expires_at <= now:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self.key(jti), b"1", exat=int(expires_at) + 1)
            pipe.publish(CHANNEL, jti.encode())
            await pipe.execute()
        self._seen[jti] = (True, now)

    async def is_revoked(self, jti: str, now: float) -> bool:
        seen = self._seen.get(jti)
        if seen is not None and now - seen[1] < self.cache_seconds:
            return seen[0]
        generation = self._generation
        revoked = bool(await self.client.exists(self.key(jti)))
        if generation != self._generation:
            return revoked  # an invalidation arrived meanwhile: answer, but do not remember
        self._seen[jti] = (revoked, now)
        self._seen.move_to_end(jti)
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)
        return revoked

    def forget(self, jti: str | None = None) -> None:
        """Drop what is remembered of ``jti`` (of everything when None)."""
        self._generation += 1
        if jti is None:
            self._seen.clear()
        else:
            self._seen.pop(jti, None)

    async def watch(self, *, retry_seconds: float = 1.0) -> None:
        """Listen for revocations until cancelled, forgetting each revoked ``jti``. A lost connection
        drops the whole memory (messages may have been missed) and is retried every ``retry_seconds``."""
        while True:
            try:
                async with self.client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.forget()  # anything revoked before the subscription is asked for afresh
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message.get("data")
                            jti = data.decode() if isinstance(data, bytes) else str(data)
                            self.forget(jti)
                            self._tell(jti)  # every process hears it, the revoking one too
            except (redis.RedisError, OSError) as exc:
                log.warning("token denylist: revocation channel lost (%s); retrying", type(exc).__name__)
            finally:
                self.subscribed.clear()
                self.forget()
            await asyncio.sleep(retry_seconds)
