"""Verified tokens, remembered: the common path (a token seen before) costs a digest and a lookup.

A token that verified is remembered by a digest of its bytes (BLAKE2b-256; the token itself is never
stored), in a bounded LRU, until its ``exp`` (plus the leeway its verification allowed). Refusals are
not remembered: they are cheap to recompute, and remembering them would let a flood of junk evict good
entries. What is remembered is the final ``Claims``, after any claims mapping of an external issuer,
so a hit answers exactly what a fresh verification would.

Each entry also records what its verification depended on: ``origin`` (which issuer, with its rules)
and ``basis`` (the fingerprint of the key set that verified it). A lookup (``recall``) is by the
token alone, and the entry counts only while its origin's current basis is still the recorded one:
a rotation that removes a key stops that key's tokens at once, while a refresh that fetched the same
keys keeps them, and the issuers of one gateway share one cache without disturbing each other.

``verify`` is the single-issuer form: ``tokens.verify``'s signature and answers, with the issuer,
audience, leeway and size limit as the origin. The clock is passed in.

Example::

    >>> cache = VerifiedTokens(capacity=10_000)
    >>> cache.verify(token, keys, issuer=ISS, audience=AUD, leeway_seconds=30, now=t)  # verifies
    Claims(subject='pl_000001', ...)
    >>> cache.verify(token, keys, issuer=ISS, audience=AUD, leeway_seconds=30, now=t + 1)  # a hit
    Claims(subject='pl_000001', ...)

Not thread-safe: one instance per event loop (the gateway runs one).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from gateway.identity.keys import KeySet
from gateway.identity.tokens import DEFAULT_MAX_BYTES, Claims, TokenProblem, verify

DIGEST_BYTES = 32


@dataclass(frozen=True, slots=True)
class _Entry:
    claims: Claims
    valid_until: float
    origin: Hashable  # which issuer (and its rules) verified it
    basis: str  # the fingerprint of the key set that verified it


class VerifiedTokens:
    """A bounded LRU of verified tokens by digest."""

    __slots__ = ("_entries", "capacity", "hits", "misses")

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def recall(
        self, token: str, now: float, current: Callable[[Hashable], str | None], *, max_bytes: int
    ) -> Claims | None:
        """The claims of ``token`` when it verified before, has not expired, and its origin's key set
        is still the one that verified it (``current(origin)``: that fingerprint now, or None when the
        origin is gone). None is a miss: verify, then ``remember``."""
        # Too large or not ASCII: verification refuses it before decoding; never hash a megabyte.
        if len(token) > max_bytes or not token.isascii():
            return None
        digest = _digest(token)
        entry = self._entries.get(digest)
        if entry is not None:
            if now < entry.valid_until and current(entry.origin) == entry.basis:
                self._entries.move_to_end(digest)
                self.hits += 1
                return entry.claims
            del self._entries[digest]
        self.misses += 1
        return None

    def remember(
        self, token: str, claims: Claims, *, origin: Hashable, basis: str, leeway_seconds: float
    ) -> None:
        """Keep a verified token's claims until its ``exp`` plus the leeway its verification allowed."""
        digest = _digest(token)
        self._entries[digest] = _Entry(claims, claims.expires_at + leeway_seconds, origin, basis)
        self._entries.move_to_end(digest)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def verify(
        self,
        token: str,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float,
        now: float,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Claims | TokenProblem:
        """``tokens.verify``, answered from memory when the same token verified before with the same
        keys and expectations."""
        origin = (issuer, audience, leeway_seconds, max_bytes)
        fingerprint = keys.fingerprint
        hit = self.recall(token, now, lambda o: fingerprint if o == origin else None, max_bytes=max_bytes)
        if hit is not None:
            return hit
        result = verify(
            token,
            keys,
            issuer=issuer,
            audience=audience,
            leeway_seconds=leeway_seconds,
            now=now,
            max_bytes=max_bytes,
        )
        if isinstance(result, Claims):
            self.remember(token, result, origin=origin, basis=fingerprint, leeway_seconds=leeway_seconds)
        return result


def _digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode("ascii"), digest_size=DIGEST_BYTES).digest()
