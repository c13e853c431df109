"""``VerifiedTokens``: a hit returns the same claims; entries end at exp and on a key-set change;
the token itself is never stored; the size is bounded."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.identity import cache as cache_module
from gateway.identity.cache import DIGEST_BYTES, VerifiedTokens
from gateway.identity.keys import KeySet, parse_jwks
from gateway.identity.tokens import Claims, Reason, TokenProblem
from tests.unit.gateway.identity.signers import AUD, ISS, LEEWAY, NOW, Signer, jwks


def check(
    cache: VerifiedTokens, token: str, keys: KeySet, now: float = NOW, **kw: Any
) -> Claims | TokenProblem:
    options: dict[str, Any] = {"issuer": ISS, "audience": AUD, "leeway_seconds": LEEWAY, **kw}
    return cache.verify(token, keys, now=now, **options)


def test_a_hit_returns_the_same_claims_without_verifying(
    ed_signer: Signer, keys: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = VerifiedTokens()
    token = ed_signer.token()
    first = check(cache, token, keys)
    assert isinstance(first, Claims)

    def no_verify(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a cached token was verified again")

    monkeypatch.setattr(cache_module, "verify", no_verify)
    assert check(cache, token, keys, NOW + 60) is first
    assert (cache.hits, cache.misses) == (1, 1)


def test_an_entry_ends_when_the_token_expires(ed_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens()
    token = ed_signer.token(ttl=60)
    assert isinstance(check(cache, token, keys), Claims)
    assert isinstance(check(cache, token, keys, NOW + 60 + LEEWAY - 0.001), Claims)
    assert cache.hits == 1
    expired = check(cache, token, keys, NOW + 60 + LEEWAY)
    assert isinstance(expired, TokenProblem)
    assert expired.reason is Reason.EXPIRED
    assert len(cache) == 0


def test_the_token_itself_is_never_stored(ed_signer: Signer, ec_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens()
    tokens = [ed_signer.token(), ec_signer.token(sub="pl_000002")]
    for token in tokens:
        check(cache, token, keys)
    stored = list(cache._entries)
    assert len(stored) == 2
    for digest in stored:
        assert isinstance(digest, bytes)
        assert len(digest) == DIGEST_BYTES
        for token in tokens:
            assert digest not in token.encode()
            assert token.encode() not in digest
    assert all(token not in repr(cache._entries) for token in tokens)


def test_refusals_are_not_remembered(ed_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens()
    for _ in range(2):
        result = check(cache, ed_signer.token(iss="https://other.example"), keys)
        assert isinstance(result, TokenProblem)
    assert len(cache) == 0


def test_the_size_is_bounded_least_recently_used_first(ed_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens(capacity=2)
    a, b, c = (ed_signer.token(sub=f"pl_{n}") for n in range(3))
    check(cache, a, keys)
    check(cache, b, keys)
    check(cache, a, keys)  # a is now the most recently used
    check(cache, c, keys)  # b goes
    assert len(cache) == 2
    misses = cache.misses
    check(cache, a, keys)
    assert cache.misses == misses
    check(cache, b, keys)
    assert cache.misses == misses + 1


def test_a_key_set_change_drops_every_entry(ed_signer: Signer, ec_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens()
    token = ed_signer.token()
    assert isinstance(check(cache, token, keys), Claims)
    rotated = parse_jwks(jwks(ec_signer))  # ed-1 removed
    result = check(cache, token, rotated)
    assert isinstance(result, TokenProblem)
    assert result.reason is Reason.UNKNOWN_KID


def test_the_same_keys_fetched_again_keep_the_entries(ed_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens()
    token = ed_signer.token()
    check(cache, token, keys)
    same = parse_jwks({"keys": [keys.keys[k].jwk._jwk_data for k in keys.kids]})
    assert same is not keys
    check(cache, token, same)
    assert cache.hits == 1


@pytest.mark.parametrize(
    "change",
    [
        {"issuer": "https://other.example"},
        {"audience": "other"},
        {"leeway_seconds": 0.0},
        {"max_bytes": 4096},
    ],
)
def test_other_expectations_drop_every_entry(change: dict[str, Any], ed_signer: Signer, keys: KeySet) -> None:
    cache = VerifiedTokens()
    token = ed_signer.token()
    check(cache, token, keys)
    check(cache, token, keys, **change)
    assert cache.hits == 0


def test_an_oversized_or_non_ascii_token_is_not_hashed(keys: KeySet) -> None:
    cache = VerifiedTokens()
    big = check(cache, "a" * 10_000, keys)
    odd = check(cache, "é.é.é", keys)
    assert isinstance(big, TokenProblem)
    assert big.reason is Reason.TOO_LARGE
    assert isinstance(odd, TokenProblem)
    assert odd.reason is Reason.MALFORMED
    assert cache.misses == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        VerifiedTokens(capacity=0)
