"""``KeySource``: a new key picked up by a refresh an unknown kid asks for, a removed key's tokens
refused after a refresh, the unknown-kid refresh rate-limited, failures that keep the keys in use."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.errors import ConfigError
from gateway.identity.keys import Algorithm, JwksError, KeySet
from gateway.identity.source import KeySource, Refresh, _HttpsOnlyRedirects, check_location
from gateway.identity.tokens import Claims, Reason, TokenProblem, verify
from tests.unit.gateway.identity.signers import AUD, ISS, LEEWAY, NOW, Signer, jwks

URL = "https://auth.tta.example/.well-known/jwks.json"


class FakeJwks:
    """An in-memory ``Fetch``: serves ``document`` (or raises ``failure``), counting fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document: Any = document
        self.failure: Exception | None = None
        self.fetches = 0

    async def __call__(self, location: str) -> bytes:
        self.fetches += 1
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        return json.dumps(self.document).encode()


@pytest.fixture(scope="module")
def new_signer() -> Signer:
    return Signer("ed-2", Algorithm.EDDSA, ed25519.Ed25519PrivateKey.generate())


def check(token: str, keys: KeySet, now: float = NOW) -> Claims | TokenProblem:
    return verify(token, keys, issuer=ISS, audience=AUD, leeway_seconds=LEEWAY, now=now)


async def test_a_new_key_is_picked_up_when_a_token_names_it(ed_signer: Signer, new_signer: Signer) -> None:
    fake = FakeJwks(jwks(ed_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake)
    token = new_signer.token()
    first = check(token, source.keys)
    assert isinstance(first, TokenProblem)
    assert (first.reason, first.kid) == (Reason.UNKNOWN_KID, "ed-2")

    fake.document = jwks(ed_signer, new_signer)  # the issuer rotates in a new key
    assert await source.refresh_for_kid("ed-2", NOW + 1) is True
    assert isinstance(check(token, source.keys), Claims)
    assert fake.fetches == 2


async def test_a_removed_keys_tokens_are_refused_after_a_refresh(
    ed_signer: Signer, new_signer: Signer
) -> None:
    fake = FakeJwks(jwks(ed_signer, new_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake)
    old_token = ed_signer.token()
    assert isinstance(check(old_token, source.keys), Claims)

    fake.document = jwks(new_signer)
    assert await source.refresh(NOW + 300) is Refresh.CHANGED
    result = check(old_token, source.keys)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.UNKNOWN_KID
    assert source.status().kids == ("ed-2",)


async def test_the_unknown_kid_refresh_is_rate_limited(ed_signer: Signer) -> None:
    fake = FakeJwks(jwks(ed_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake, unknown_kid_interval=30)
    assert await source.refresh_for_kid("junk-1", NOW) is False
    assert fake.fetches == 2
    for offset, kid in ((1, "junk-2"), (10, "junk-3"), (29.9, "junk-1")):
        assert await source.refresh_for_kid(kid, NOW + offset) is False
    assert fake.fetches == 2  # a flood of made-up kids costs one fetch per interval
    assert await source.refresh_for_kid("junk-4", NOW + 30) is False
    assert fake.fetches == 3


async def test_concurrent_unknown_kids_share_one_fetch(ed_signer: Signer, new_signer: Signer) -> None:
    fake = FakeJwks(jwks(ed_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake)
    fake.document = jwks(ed_signer, new_signer)
    answers = await asyncio.gather(*(source.refresh_for_kid("ed-2", NOW) for _ in range(10)))
    assert answers == [True] * 10
    assert fake.fetches == 2


async def test_a_known_kid_needs_no_fetch(ed_signer: Signer) -> None:
    fake = FakeJwks(jwks(ed_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake)
    assert await source.refresh_for_kid("ed-1", NOW) is True
    assert fake.fetches == 1


@pytest.mark.parametrize(
    "failure",
    [JwksError("https://auth.tta.example/.well-known/jwks.json: answered HTTP 503"), None],
)
async def test_a_failed_refresh_keeps_the_keys_in_use(ed_signer: Signer, failure: Exception | None) -> None:
    fake = FakeJwks(jwks(ed_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake, refresh_every=300, retry_after=30)
    before = source.keys
    if failure is not None:
        fake.failure = failure
    else:
        fake.document = {"keys": [{"kid": "bad", "kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]}
    assert await source.refresh(NOW + 300) is Refresh.FAILED
    assert source.keys is before
    status = source.status()
    assert status.last_error is not None
    assert status.last_attempt_at == NOW + 300
    assert status.loaded_at == NOW
    assert source.seconds_until_due(NOW + 310) == 20.0  # retried sooner than the schedule

    fake.failure = None
    fake.document = jwks(ed_signer)
    assert await source.refresh(NOW + 330) is Refresh.UNCHANGED
    assert source.keys is before
    assert source.status().last_error is None
    assert source.seconds_until_due(NOW + 330) == 300.0


def test_the_schedule(ed_signer: Signer, keys: KeySet) -> None:
    source = KeySource(URL, keys, now=NOW, fetch=FakeJwks({}), refresh_every=300)
    assert source.seconds_until_due(NOW) == 300.0
    assert source.seconds_until_due(NOW + 299) == 1.0
    assert source.seconds_until_due(NOW + 1000) == 0.0
    assert source.seconds_until_due(NOW - 5) == 0.0  # the clock went backwards: refresh, never stall


async def test_the_refresh_loop_follows_the_schedule(ed_signer: Signer) -> None:
    fake = FakeJwks(jwks(ed_signer))
    source = await KeySource.open(URL, now=NOW, fetch=fake, refresh_every=300)
    clock = [NOW]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError
        clock[0] += seconds

    with pytest.raises(asyncio.CancelledError):
        await source.run(lambda: clock[0], sleep)
    assert waits == [300.0, 300.0, 300.0]
    assert fake.fetches == 3  # the first load, then one per period


async def test_a_file_source(tmp_path: Path, ed_signer: Signer, new_signer: Signer) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(ed_signer)))
    source = await KeySource.open(str(path), now=NOW)
    assert source.keys.kids == ("ed-1",)
    path.write_text(json.dumps(jwks(new_signer)))
    assert await source.refresh(NOW + 1) is Refresh.CHANGED
    assert source.keys.kids == ("ed-2",)
    path.unlink()
    assert await source.refresh(NOW + 2) is Refresh.FAILED
    assert str(path) in (source.status().last_error or "")


async def test_the_first_load_stops_start_up_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(JwksError, match=rf"{missing}: cannot be read"):
        await KeySource.open(str(missing), now=NOW)
    path = tmp_path / "big.json"
    path.write_bytes(b" " * ((1 << 20) + 1))
    with pytest.raises(JwksError, match="larger than"):
        await KeySource.open(str(path), now=NOW)


@pytest.mark.parametrize("location", ["http://auth.tta.example/jwks.json", "ftp://x/jwks.json", ""])
def test_only_files_and_https(location: str) -> None:
    with pytest.raises(ConfigError, match="jwks"):
        check_location(location)


def test_intervals_must_be_positive(keys: KeySet) -> None:
    with pytest.raises(ConfigError, match="unknown_kid_interval"):
        KeySource(URL, keys, now=NOW, unknown_kid_interval=0)


def test_a_redirect_away_from_https_is_refused() -> None:
    request = urllib.request.Request(URL)
    handler = _HttpsOnlyRedirects()
    with pytest.raises(JwksError, match="redirected away from https"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://auth.tta.example/jwks.json")  # type: ignore[arg-type]
    followed = handler.redirect_request(request, None, 302, "Found", {}, "https://keys.tta.example/jwks.json")  # type: ignore[arg-type]
    assert followed is not None
    assert followed.full_url == "https://keys.tta.example/jwks.json"
