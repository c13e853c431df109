"""The identity step's revocation check, without sockets: revoked → UNAUTHENTICATED, a denylist that
cannot be asked → UNAVAILABLE (fail closed), never a pass."""

from __future__ import annotations

import grpc
import pytest
import redis

from gateway.errors import Refused
from gateway.policies.identity import _check_not_revoked
from gateway.state.denylist import MemoryDenylist


class Unreachable:
    """A denylist whose store is down, as a real Redis client reports it."""

    async def revoke(self, jti: str, expires_at: float, now: float) -> None:
        raise redis.ConnectionError("connection refused")

    async def is_revoked(self, jti: str, now: float) -> bool:
        raise redis.ConnectionError("connection refused")


async def test_a_revoked_jti_is_unauthenticated() -> None:
    denylist = MemoryDenylist()
    await denylist.revoke("j1", 2000.0, 1000.0)
    with pytest.raises(Refused) as info:
        await _check_not_revoked(denylist, "j1", 1000.0)
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_REVOKED")
    await _check_not_revoked(denylist, "j2", 1000.0)  # another token passes


async def test_an_unreachable_denylist_refuses_the_call() -> None:
    with pytest.raises(Refused) as info:
        await _check_not_revoked(Unreachable(), "j1", 1000.0)
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.UNAVAILABLE, "DENYLIST_UNAVAILABLE")
    assert "connection refused" not in info.value.message
