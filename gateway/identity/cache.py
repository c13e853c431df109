"""Verified tokens, remembered: the common path (a token seen before) costs a digest and a lookup.

``VerifiedTokens.verify`` has ``tokens.verify``'s signature and answers. A token that verified is
remembered by a digest of its bytes (BLAKE2b-256; the token itself is never stored), in a bounded
LRU, until its ``exp`` (plus the leeway ``verify`` itself would allow). Refusals are not remembered:
they are cheap to recompute, and remembering them would let a flood of junk evict good entries.

The whole cache is dropped when what a verification depended on changes: the key set's fingerprint
(a rotation, so a removed key's tokens stop working at once), the issuer, the audience, the leeway
or the size limit. The clock is passed in.

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
from dataclasses import dataclass

from gateway.identity.keys import KeySet
from gateway.identity.tokens import DEFAULT_MAX_BYTES, Claims, TokenProblem, verify

DIGEST_BYTES = 32


@dataclass(frozen=True, slots=True)
class _Entry:
    claims: Claims
    valid_until: float


class VerifiedTokens:
    """A bounded LRU of verified tokens by digest, in front of ``tokens.verify``."""

    __slots__ = ("_basis", "_entries", "capacity", "hits", "misses")

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._basis: tuple[str, str, str, float, int] | None = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

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
        """``tokens.verify``, answered from memory when the same token verified before."""
        basis = (keys.fingerprint, issuer, audience, leeway_seconds, max_bytes)
        if basis != self._basis:
            self._entries.clear()
            self._basis = basis
        # Too large or not ASCII: verify refuses it before decoding; never hash a megabyte.
        if len(token) > max_bytes or not token.isascii():
            return verify(
                token,
                keys,
                issuer=issuer,
                audience=audience,
                leeway_seconds=leeway_seconds,
                now=now,
                max_bytes=max_bytes,
            )
        digest = hashlib.blake2b(token.encode("ascii"), digest_size=DIGEST_BYTES).digest()
        entry = self._entries.get(digest)
        if entry is not None:
            if now < entry.valid_until:
                self._entries.move_to_end(digest)
                self.hits += 1
                return entry.claims
            del self._entries[digest]
        self.misses += 1
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
            self._entries[digest] = _Entry(result, result.expires_at + leeway_seconds)
            if len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return result
