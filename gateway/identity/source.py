"""Where the key set comes from: a JWKS file or an https URL, refreshed without a restart.

``KeySource`` holds the current ``KeySet`` and replaces it (one assignment) when a refresh finds
different keys. Refreshes happen on a schedule (``seconds_until_due``, for the caller's loop) and
when a token names a ``kid`` the set lacks (``refresh_for_kid``): a rotation is picked up by the
first token signed with the new key. That second kind is rate-limited, since the ``kid`` comes from
the caller: at most one fetch per ``unknown_kid_interval`` seconds, and concurrent callers share it.

A refresh that fails (unreachable, not JSON, a key refused) keeps the keys in use, records the
reason in ``status()`` for health and logs, and is retried after ``retry_after`` seconds. Only the
first load, ``KeySource.open``, raises: start-up stops with the reason.

The clock is passed in (seconds; ``time.time()`` in the gateway). The fetch is one function,
``Fetch``, so tests swap in an in-memory one; the default reads the file or the URL in a thread.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gateway.errors import ConfigError
from gateway.identity.keys import JwksError, KeySet, parse_jwks

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1 << 20  # a JWKS is a few kilobytes; a megabyte is already suspicious
FETCH_TIMEOUT_SECONDS = 10.0

Fetch = Callable[[str], Awaitable[bytes]]


class Refresh(enum.Enum):
    """What a refresh did."""

    CHANGED = "changed"  # new keys are in use
    UNCHANGED = "unchanged"  # the same keys were fetched
    FAILED = "failed"  # nothing usable was fetched; the keys in use stay
    SKIPPED = "skipped"  # rate-limited: no fetch was made


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """For health and logs: what is in use and how the last refresh went."""

    location: str
    kids: tuple[str, ...]
    fingerprint: str
    loaded_at: float  # when the keys in use were fetched (or last confirmed unchanged)
    last_attempt_at: float
    last_error: str | None  # the last refresh's failure, None once one succeeds


class KeySource:
    """The current ``KeySet`` of one JWKS location, and its refreshes."""

    def __init__(
        self,
        location: str,
        keys: KeySet,
        *,
        now: float,
        fetch: Fetch | None = None,
        allow_symmetric: bool = False,
        refresh_every: float = 300.0,
        retry_after: float = 30.0,
        unknown_kid_interval: float = 30.0,
    ) -> None:
        check_location(location)
        for name, value in (
            ("refresh_every", refresh_every),
            ("retry_after", retry_after),
            ("unknown_kid_interval", unknown_kid_interval),
        ):
            if not value > 0:
                raise ConfigError(f"jwks {name}: must be a positive number of seconds, got {value!r}")
        self.location = location
        self.keys = keys
        self._fetch = fetch or fetch_location
        self._allow_symmetric = allow_symmetric
        self.refresh_every = refresh_every
        self.retry_after = retry_after
        self.unknown_kid_interval = unknown_kid_interval
        self._loaded_at = now
        self._last_attempt_at = now
        self._last_unknown_kid_fetch: float | None = None
        self._last_error: str | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        location: str,
        *,
        now: float,
        fetch: Fetch | None = None,
        allow_symmetric: bool = False,
        refresh_every: float = 300.0,
        retry_after: float = 30.0,
        unknown_kid_interval: float = 30.0,
    ) -> KeySource:
        """Load the keys for the first time; raises ``ConfigError`` (or ``JwksError``) with the reason."""
        check_location(location)
        raw = await (fetch or fetch_location)(location)
        keys = parse_jwks(raw, source=location, allow_symmetric=allow_symmetric)
        return cls(
            location,
            keys,
            now=now,
            fetch=fetch,
            allow_symmetric=allow_symmetric,
            refresh_every=refresh_every,
            retry_after=retry_after,
            unknown_kid_interval=unknown_kid_interval,
        )

    def status(self) -> SourceStatus:
        return SourceStatus(
            location=self.location,
            kids=self.keys.kids,
            fingerprint=self.keys.fingerprint,
            loaded_at=self._loaded_at,
            last_attempt_at=self._last_attempt_at,
            last_error=self._last_error,
        )

    def seconds_until_due(self, now: float) -> float:
        """How long the scheduled refresh should wait: ``refresh_every`` after the last success,
        ``retry_after`` after a failure; 0 when due (or when the clock went backwards)."""
        if self._last_error is not None:
            wait = self._last_attempt_at + self.retry_after - now
        else:
            wait = self._loaded_at + self.refresh_every - now
        if now < self._last_attempt_at:
            return 0.0
        return max(0.0, wait)

    async def refresh(self, now: float) -> Refresh:
        """Fetch and parse the JWKS; swap the keys in when they changed. Never raises."""
        async with self._lock:
            return await self._refresh(now)

    async def refresh_for_kid(self, kid: str, now: float) -> bool:
        """A token named ``kid`` and the key set lacks it: refresh, at most once per
        ``unknown_kid_interval``. True when ``kid`` is known afterwards (verify again)."""
        async with self._lock:  # concurrent callers wait for one fetch, then look again
            if kid in self.keys:
                return True
            last = self._last_unknown_kid_fetch
            if last is not None and 0 <= now - last < self.unknown_kid_interval:
                return False
            self._last_unknown_kid_fetch = now
            await self._refresh(now)
            return kid in self.keys

    async def run(self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]) -> None:
        """The scheduled refresh, forever: run it as a task and cancel it on shutdown."""
        while True:
            await sleep(self.seconds_until_due(clock()))
            if self.seconds_until_due(clock()) == 0.0:
                await self.refresh(clock())

    async def _refresh(self, now: float) -> Refresh:
        self._last_attempt_at = now
        try:
            raw = await self._fetch(self.location)
            keys = parse_jwks(raw, source=self.location, allow_symmetric=self._allow_symmetric)
        except ConfigError as exc:
            self._last_error = exc.message
            log.warning("JWKS refresh failed; the keys in use stay: %s", exc.message)
            return Refresh.FAILED
        self._last_error = None
        self._loaded_at = now
        if keys.fingerprint == self.keys.fingerprint:
            return Refresh.UNCHANGED
        log.info(
            "JWKS %s: keys changed (%s -> %s)",
            self.location,
            ",".join(self.keys.kids),
            ",".join(keys.kids),
        )
        self.keys = keys  # one assignment: a verification in flight keeps the set it started with
        return Refresh.CHANGED


def check_location(location: str) -> None:
    """A JWKS comes from a file or an https URL (never plain http: keys decide who gets in)."""
    if "://" in location and not location.startswith("https://"):
        raise ConfigError(f"jwks {location!r}: use a file path or an https:// URL")
    if not location:
        raise ConfigError("jwks: the location is empty")


async def fetch_location(location: str) -> bytes:
    """The default ``Fetch``: the file, or the https URL, read in a thread (raises ``JwksError``)."""
    if location.startswith("https://"):
        return await asyncio.to_thread(_read_url, location)
    return await asyncio.to_thread(_read_file, location)


def _read_file(path: str) -> bytes:
    try:
        with Path(path).open("rb") as file:
            return _read_bounded(file, path)
    except OSError as exc:
        raise JwksError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def _read_url(url: str) -> bytes:
    opener = urllib.request.build_opener(_HttpsOnlyRedirects)
    request = urllib.request.Request(url, headers={"Accept": "application/jwk-set+json, application/json"})
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            if response.status != 200:
                raise JwksError(f"{url}: answered HTTP {response.status}")
            body: bytes = _read_bounded(response, url)
            return body
    except urllib.error.HTTPError as exc:
        raise JwksError(f"{url}: answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise JwksError(f"{url}: cannot be fetched ({reason})") from None


def _read_bounded(stream: IO[bytes], where: str) -> bytes:
    body = stream.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise JwksError(f"{where}: larger than {MAX_JWKS_BYTES} bytes; not a JWKS")
    return body


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to another https URL: keys never travel in clear."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not newurl.startswith("https://"):
            raise JwksError(f"{req.full_url}: redirected away from https; refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)
