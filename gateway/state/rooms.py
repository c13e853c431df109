"""The room log: the messages of one therapeutic session, in one order, numbered, for every participant
on every gateway process, with replay for a client that reconnects (issue 10 items 4 and 5; decision
0014).

A room is a log. ``append`` stores one message (opaque bytes: the WebSocket door stores the serialized
message the upstream accepted) and returns its per-room sequence number: 1, 2, 3... with no gaps,
assigned in the one place every process agrees on. Readers never receive messages from whoever sent
them, only from the log, so every reader on every process sees the same order. A reader's position is
a sequence number: ``read_after(room, k)`` and ``subscribe(room, k)`` start exactly after ``k``, so a
client that reconnects with the last sequence it saw gets every message it missed once, then the live
ones, with no duplicate and no loss at the seam.

Retention is bounded per room (``RoomLimits``: the newest ``max_entries`` messages, none older than
``max_age_seconds``). A reader whose position is older than that gets an explicit ``Gap`` naming the
first sequence still available, then the entries from there: never a silent hole. A reader whose
position is *ahead* of the log (the log was lost or the room id reused) gets ``Gap(reason=RESET)``.

Two implementations of one protocol (``RoomLog``), held to one contract (tests/integration/state/):

- ``MemoryRoomLog``: one process; a bounded deque per room; at most ``max_rooms`` rooms (the least
  recently used room with no subscriber goes when full).
- ``RedisRoomLog``: every process and host. One Lua script per append does ``INCR`` of the room's
  counter, ``XADD`` with the explicit id ``<seq>-0``, the trimming, and ``SPUBLISH`` of the entry on
  the room's shard channel: one round trip, atomic, so the counter, the stream and the live channel
  can never disagree. Keys ``tta:room:{<room>}:seq``, ``tta:room:{<room>}:log`` and the channel
  ``tta:room:{<room>}:live`` share one hash tag, hence one Cluster slot. Each process runs one reader
  task on one pub/sub connection for all its rooms. The channel carries each entry to the processes
  following the room; the stream is the truth: what the channel lost (a dropped connection, a
  process that was not yet subscribed) is read from the stream, by sequence.

Subscribers hold a cursor, not a queue: the entries of a room live once per process (the memory log's
deque, or the Redis log's bounded local tail), and each subscriber reads them by sequence. A
subscriber that falls behind costs nothing: when it reads again it continues from the log (the local
tail, else the stream) and, if what it had not read has left the retention window meanwhile, it gets a
``Gap`` and continues from the oldest retained entry. Deciding to drop a slow client is the door's
business (its own bounded send queue), not the log's.

An append may carry a key (the client's message id): a second append with the same key within
``key_seconds`` stores nothing and returns the first one's number, so a resend is stored once. The
Redis log makes a key for every append that has none, because redis-py retries a command whose
connection failed, and the script may already have run.

Payloads are never logged. Requires Redis 7.0 (sharded pub/sub; ``TIME`` in scripts).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import redis
import redis.asyncio
import redis.asyncio.client

log = logging.getLogger(__name__)

ROOM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
APPEND_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_PAGE = 1000  # the most entries one read_after returns


# --- what readers receive ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of a room: its sequence number, the bytes appended, and when (seconds since the
    epoch, by the log's clock: Redis's ``TIME`` for the Redis log)."""

    seq: int
    payload: bytes = field(repr=False)  # never in a log line or a repr
    at: float


class GapReason(StrEnum):
    RETENTION = "retention"  # what came after the reader's position has left the window
    RESET = "reset"  # the reader's position is ahead of the log: the log was lost or the room reused


@dataclass(frozen=True, slots=True)
class Gap:
    """An explicit hole: the entries after ``after`` and before ``first_available`` cannot be had.
    The reader continues from ``first_available`` (its position becomes ``first_available - 1``)."""

    after: int
    first_available: int
    reason: GapReason

    @property
    def missed(self) -> int:
        """How many messages the reader cannot get (0 for a reset: nothing is known of them)."""
        return max(0, self.first_available - self.after - 1)


@dataclass(frozen=True, slots=True)
class Batch:
    """One page of ``read_after``: a gap if there is one, then entries in order; ``head`` is the room's
    latest sequence number when read (0: nothing was ever appended)."""

    gap: Gap | None
    entries: tuple[Entry, ...]
    head: int

    @property
    def more(self) -> bool:
        """Whether a further page has entries (read again after the last one returned)."""
        last = self.entries[-1].seq if self.entries else (self.gap.first_available - 1 if self.gap else None)
        return last is not None and last < self.head


# --- errors (the door turns each into one status) -------------------------------------------------


class RoomLogError(Exception):
    """Root of the room log's errors."""


class InvalidRoom(RoomLogError, ValueError):
    """The room name is not 1 to 128 of ``A-Z a-z 0-9 . _ : -`` starting with a letter or digit
    (INVALID_ARGUMENT). Braces especially: the name sits inside the keys' Cluster hash tag."""


class InvalidKey(RoomLogError, ValueError):
    """An append's idempotency key is not 1 to 128 of ``A-Z a-z 0-9 . _ : -`` (INVALID_ARGUMENT)."""


class PayloadTooLarge(RoomLogError, ValueError):
    """A message over ``max_payload_bytes`` (RESOURCE_EXHAUSTED / PAYLOAD_TOO_LARGE)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a room message is at most {limit} bytes; this one is {size}")
        self.size = size
        self.limit = limit


class TooManyRooms(RoomLogError):
    """The process holds ``max_rooms`` rooms already, each with a subscriber (RESOURCE_EXHAUSTED)."""


class RoomLogUnavailable(RoomLogError):
    """The log cannot be reached or is closed (UNAVAILABLE). An ``append`` that raised this may or may
    not have been stored; a subscription that raised it is over, and the client resumes by ``after``."""


# --- the protocol -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """Bounds shared by both implementations; every process of one deployment must use the same
    ``max_entries`` and ``max_age_seconds`` (they define the window readers are held to)."""

    max_entries: int = 1000  # retained per room
    max_age_seconds: float = 6 * 3600.0  # a session and a generous reconnect, not an archive
    max_payload_bytes: int = 64 * 1024
    max_rooms: int = 10_000  # rooms held by this process (memory: all; Redis: those with subscribers)
    key_seconds: float = 60.0  # how long an append's key makes a second append with it a no-op

    def __post_init__(self) -> None:
        if self.max_entries < 1 or self.max_payload_bytes < 1 or self.max_rooms < 1:
            raise ValueError("room limits must be positive")
        if not self.max_age_seconds >= 0.001 or not self.key_seconds >= 0.001:
            raise ValueError("max_age_seconds and key_seconds must be at least 0.001")

    @property
    def max_age_ms(self) -> int:
        return int(self.max_age_seconds * 1000)

    @property
    def key_ms(self) -> int:
        return int(self.key_seconds * 1000)


class Subscription(Protocol):
    room: str
    last: int  # the position: the sequence of the last entry delivered (or a gap's first_available - 1)

    def __aiter__(self) -> AsyncIterator[Entry | Gap]: ...

    async def __anext__(self) -> Entry | Gap: ...


class RoomLog(Protocol):
    limits: RoomLimits

    async def append(self, room: str, payload: bytes, *, key: str | None = None) -> int:
        """Store ``payload`` as the room's next message and return its sequence number (1, 2, 3...).
        A second append with the same ``key`` within ``key_seconds`` stores nothing and returns the
        first one's number: a resent message (the client's own message id) is stored once."""

    async def head(self, room: str) -> int:
        """The room's latest sequence number (0: nothing appended yet): the position of a client that
        joins from now on."""

    async def read_after(self, room: str, after: int, limit: int = 100) -> Batch:
        """At most ``limit`` entries with sequence > ``after``, in order, preceded by a ``Gap`` when
        some of them have left the window (or ``after`` is ahead of the log)."""

    def subscribe(self, room: str, after: int) -> AbstractAsyncContextManager[Subscription]:
        """A live tail starting exactly after ``after``: the backlog, then each new entry as it is
        appended, until the ``async with`` ends or the task is cancelled. Raises at entry when the
        log cannot serve it (``RoomLogUnavailable``, ``TooManyRooms``, ``InvalidRoom``)."""

    def readers(self, room: str) -> int:
        """Subscriptions open on ``room`` in this process."""

    async def aclose(self) -> None:
        """End every subscription (their iteration stops) and release what the log holds."""


# --- pure parts ---------------------------------------------------------------------------------


def check_room(room: str) -> str:
    if not isinstance(room, str) or ROOM_NAME.fullmatch(room) is None:
        raise InvalidRoom("a room name is 1 to 128 of A-Z a-z 0-9 . _ : - starting with a letter or digit")
    return room


def check_key(key: str) -> str:
    if not isinstance(key, str) or APPEND_KEY.fullmatch(key) is None:
        raise InvalidKey("an append key is 1 to 128 of A-Z a-z 0-9 . _ : -")
    return key


def check_position(after: int) -> int:
    # below 2**53: Lua numbers are doubles
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**53:
        raise ValueError("a room position is an int >= 0 (0: from the start)")
    return after


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"a read returns 1 to {MAX_PAGE} entries")
    return limit


def window_start(head: int, max_entries: int) -> int:
    """The lowest sequence number the count bound still keeps."""
    return max(1, head - max_entries + 1)


def gap_before(after: int, head: int, first: int) -> Gap | None:
    """The gap a reader at ``after`` meets, given the room's ``head`` and ``first``, the sequence of the
    oldest entry still available (``head + 1`` when none is)."""
    if after > head:
        return Gap(after, first, GapReason.RESET)
    if first > after + 1:
        return Gap(after, first, GapReason.RETENTION)
    return None


def start_of(after: int, head: int, first: int) -> int:
    """The sequence the entries of a read start at (a reset starts again from the oldest available)."""
    return first if after > head else max(after + 1, first)


# --- shared by both: a room's recent entries, and the subscriber reading them ---------------------


class _Tail:
    """Recent entries of one room in this process, dense and in order, ending at ``head``; ``wake`` is
    set (and replaced) whenever it changes, so readers wait without polling. For the memory log this is
    the room's whole retained log; for the Redis log a bounded cache the reader task keeps current."""

    __slots__ = (
        "entries",
        "failed",
        "head",
        "keys",
        "max_bytes",
        "max_entries",
        "readers",
        "ready",
        "room",
        "size",
        "wake",
    )

    def __init__(self, room: str, max_entries: int, max_bytes: int | None = None) -> None:
        self.room = room
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: deque[Entry] = deque()
        self.size = 0  # payload bytes held
        self.head = 0
        self.readers = 0
        self.wake = asyncio.Event()
        self.ready = asyncio.Event()  # Redis: the head is known and the live channel is subscribed
        self.failed = False  # Redis: the live channel is lost; subscriptions end RoomLogUnavailable
        self.keys: OrderedDict[str, tuple[int, float]] | None = None  # memory: append key -> (seq, until)

    @property
    def first(self) -> int:
        return self.entries[0].seq if self.entries else self.head + 1

    def notify(self) -> None:
        self.wake.set()
        self.wake = asyncio.Event()

    def push(self, entry: Entry) -> None:
        if entry.seq != self.head + 1:
            raise AssertionError("a room's tail takes its entries in order, without holes")
        self.entries.append(entry)
        self.size += len(entry.payload)
        self.head = entry.seq
        while len(self.entries) > self.max_entries or (
            self.max_bytes is not None and self.size > self.max_bytes and len(self.entries) > 1
        ):
            self.size -= len(self.entries.popleft().payload)
        self.notify()

    def restart(self, head: int) -> None:
        """Forget the entries and continue at ``head`` (readers before it go to the log itself)."""
        self.entries.clear()
        self.size = 0
        self.head = head
        self.notify()

    def expire(self, cutoff: float) -> None:
        while self.entries and self.entries[0].at < cutoff:
            self.size -= len(self.entries.popleft().payload)

    def slice(self, after: int, limit: int) -> list[Entry] | None:
        """The entries after ``after`` (empty when caught up), or None when this tail cannot say:
        ``after`` is before its first entry or ahead of its head."""
        if after > self.head or after + 1 < self.first:
            return None
        start = after + 1 - self.first
        return list(itertools.islice(self.entries, start, start + limit))


class _Source(Protocol):
    limits: RoomLimits
    closed: bool

    async def read_after(self, room: str, after: int, limit: int = 100) -> Batch: ...


class _Subscription:
    """A cursor over one room: it reads the process's tail and goes to the log itself (``read_after``)
    when the tail cannot answer, so it never holds more than one page, however far behind it is."""

    def __init__(self, source: _Source, tail: _Tail, after: int, page: int) -> None:
        self.room = tail.room
        self.last = after
        self._source = source
        self._tail = tail
        self._page = page
        self._pending: deque[Entry | Gap] = deque()

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> Entry | Gap:
        while True:
            if self._pending:
                item = self._pending.popleft()
                self.last = item.seq if isinstance(item, Entry) else item.first_available - 1
                return item
            tail = self._tail
            if self._source.closed:
                raise StopAsyncIteration
            if tail.failed:
                raise RoomLogUnavailable("the room log lost its live channel; resume by the last sequence")
            wake = tail.wake  # taken before looking, so an append in between still wakes us
            tail.expire(time.time() - self._source.limits.max_age_seconds)
            got = tail.slice(self.last, self._page)
            if got is None:  # behind the tail, or ahead of it: the log itself decides
                batch = await self._source.read_after(self.room, self.last, self._page)
                if batch.gap is not None:
                    self._pending.append(batch.gap)
                self._pending.extend(batch.entries)
            else:
                self._pending.extend(got)
            if not self._pending:
                await wake.wait()


# --- memory -------------------------------------------------------------------------------------


class MemoryRoomLog:
    """One process's rooms. Memory is bounded by ``max_rooms`` x ``max_entries`` x ``max_payload_bytes``
    at worst (and ``max_keys`` append keys per room). An evicted room (least recently used, with no
    subscriber) forgets its counter, so a client still holding a position in it gets a RESET gap, as
    after a restart."""

    def __init__(self, limits: RoomLimits | None = None, *, page: int = 256, max_keys: int = 1024) -> None:
        self.limits = limits or RoomLimits()
        self.page = check_limit(page)
        self.max_keys = max_keys  # append keys remembered per room
        self.closed = False
        self._rooms: OrderedDict[str, _Tail] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rooms)

    def _room(self, room: str) -> _Tail:
        tail = self._rooms.get(room)
        if tail is not None:
            self._rooms.move_to_end(room)
            return tail
        if len(self._rooms) >= self.limits.max_rooms:
            idle = next((name for name, t in self._rooms.items() if t.readers == 0), None)
            if idle is None:
                raise TooManyRooms(f"this process holds {self.limits.max_rooms} rooms, each subscribed")
            del self._rooms[idle]
        tail = self._rooms[room] = _Tail(room, self.limits.max_entries)
        return tail

    def _sweep(self, now: float) -> None:
        """Drop expired entries of the two least recently used rooms: an idle room's messages do not
        outlive ``max_age_seconds`` by much even when nobody reads it (its counter stays)."""
        for tail in itertools.islice(self._rooms.values(), 2):
            tail.expire(now - self.limits.max_age_seconds)

    async def append(self, room: str, payload: bytes, *, key: str | None = None) -> int:
        check_room(room)
        if key is not None:
            check_key(key)
        if len(payload) > self.limits.max_payload_bytes:
            raise PayloadTooLarge(len(payload), self.limits.max_payload_bytes)
        if self.closed:
            raise RoomLogUnavailable("the room log is closed")
        now = time.time()
        tail = self._room(room)
        if key is not None:
            keys = tail.keys = tail.keys if tail.keys is not None else OrderedDict()
            while keys and next(iter(keys.values()))[1] <= now:  # in the order they were made
                keys.popitem(last=False)
            seen = keys.get(key)
            if seen is not None:
                return seen[0]
            keys[key] = (tail.head + 1, now + self.limits.key_seconds)
            if len(keys) > self.max_keys:
                keys.popitem(last=False)
        tail.push(Entry(tail.head + 1, bytes(payload), now))
        self._sweep(now)
        return tail.head

    async def head(self, room: str) -> int:
        check_room(room)
        tail = self._rooms.get(room)
        return tail.head if tail is not None else 0

    async def read_after(self, room: str, after: int, limit: int = 100) -> Batch:
        check_room(room)
        check_position(after)
        check_limit(limit)
        tail = self._rooms.get(room)  # a read creates nothing
        if tail is None:
            return Batch(gap_before(after, 0, 1), (), 0)
        tail.expire(time.time() - self.limits.max_age_seconds)
        first, head = tail.first, tail.head
        entries = tail.slice(start_of(after, head, first) - 1, limit) or []
        return Batch(gap_before(after, head, first), tuple(entries), head)

    @contextlib.asynccontextmanager
    async def subscribe(self, room: str, after: int) -> AsyncIterator[Subscription]:
        check_room(room)
        check_position(after)
        if self.closed:
            raise RoomLogUnavailable("the room log is closed")
        tail = self._room(room)
        tail.readers += 1
        try:
            yield _Subscription(self, tail, after, self.page)
        finally:
            tail.readers -= 1

    def readers(self, room: str) -> int:
        tail = self._rooms.get(room)
        return tail.readers if tail is not None else 0

    async def aclose(self) -> None:
        self.closed = True
        for tail in self._rooms.values():
            tail.notify()


# --- Redis --------------------------------------------------------------------------------------

_LUA_HELPERS = """
local function seq_of(entry)
  return tonumber(string.match(entry[1], '^(%d+)'))
end

-- The first entry at or after `from` appended at or after `cutoff` (ms), or head + 1 when none is.
-- Entries are in append order and dense (trimmed from the front only): a binary search over sequence
-- numbers finds it with O(log n) single-entry reads. Fields are t (ms) then p (the payload).
local function first_fresh(key, from, head, cutoff)
  local e = redis.call('XRANGE', key, from, '+', 'COUNT', 1)[1]
  if not e then return head + 1 end
  local lo = seq_of(e)
  if tonumber(e[2][2]) >= cutoff then return lo end
  local hi = head + 1  -- invariant: the entry at lo is stale, every entry from hi on is fresh
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('XRANGE', key, mid, '+', 'COUNT', 1)[1]
    local s = m and seq_of(m)
    if not s or s >= hi then
      hi = mid
    elseif tonumber(m[2][2]) >= cutoff then
      hi = s
    else
      lo = s
    end
  end
  return hi
end

local function now_ms()
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end
"""

# KEYS: counter, log, live channel, append key. ARGV: payload, max_entries, max_age_ms, counter_ttl_ms,
# key_ms. Returns {seq, now ms}, or {seq, -1} when the key was seen: stored before, nothing done now.
_APPEND = (
    _LUA_HELPERS
    + """
local seen = redis.call('GET', KEYS[4])
if seen then return {tonumber(seen), -1} end
local seq = redis.call('INCR', KEYS[1])
if seq == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  -- the counter was lost but not the log: continue after the log's last id, never reuse a number
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then seq = tonumber(string.match(info[i + 1], '^(%d+)')) + 1 end
  end
  redis.call('SET', KEYS[1], seq)
end
local now = now_ms()
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 't', now, 'p', ARGV[1])
local cutoff = now - tonumber(ARGV[3])
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
if tonumber(oldest[2][2]) < cutoff then
  redis.call('XTRIM', KEYS[2], 'MINID', first_fresh(KEYS[2], '-', seq, cutoff))
end
redis.call('SET', KEYS[4], seq, 'PX', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SPUBLISH', KEYS[3], seq .. ' ' .. now .. ' ' .. ARGV[1])
return {seq, now}
"""
)

# KEYS: counter, log. ARGV: after, limit, max_entries, max_age_ms. Returns {head, first, entries}.
_READ = (
    _LUA_HELPERS
    + """
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local after = tonumber(ARGV[1])
local first = head + 1
local entries = {}
if head > 0 then
  local wstart = math.max(1, head - tonumber(ARGV[3]) + 1)
  first = first_fresh(KEYS[2], wstart, head, now_ms() - tonumber(ARGV[4]))
  local from = first
  if after <= head then from = math.max(after + 1, first) end
  if from <= head then entries = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', ARGV[2]) end
end
return {head, first, entries}
"""
)


def _entry(raw: Any) -> Entry:
    """An XRANGE item (``[b"<seq>-0", [b"t", ms, b"p", payload]]``) as an Entry."""
    ident, fields = raw
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    return Entry(int(ident.split(b"-", 1)[0]), bytes(values[b"p"]), int(values[b"t"]) / 1000)


def parse_live(data: bytes) -> Entry:
    """A live-channel message, ``b"<seq> <ms> <payload>"``, as an Entry."""
    seq, ms, payload = data.split(b" ", 2)
    return Entry(int(seq), payload, int(ms) / 1000)


_UNREACHABLE = (redis.RedisError, OSError)


class RedisRoomLog:
    """The room log shared by every gateway process, in Redis (see the module docstring).

    ``local_entries``/``local_bytes`` bound each subscribed room's tail in this process (a cache: a
    subscriber behind it reads the stream). ``room_ttl_seconds`` keeps a room's counter after its log
    expired, so a sequence number is not reused while a client may still hold one. The client must not
    decode responses; its timeouts and retry policy are the log's (a killed connection is retried by
    redis-py, then by the reader task). At most ``max_in_flight`` commands run at once (default: the
    client's pool size less the reader's connection); more wait their turn instead of failing with
    redis-py's MaxConnectionsError. An append that raised RoomLogUnavailable may or may not have been
    stored: the door reports it unconfirmed, and a resend with the same key is stored once."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        limits: RoomLimits | None = None,
        *,
        room_ttl_seconds: float = 7 * 86400.0,
        local_entries: int = 64,
        local_bytes: int = 256 * 1024,
        page: int = 256,
        subscribe_timeout_seconds: float = 5.0,
        retry_seconds: float = 0.5,
        max_in_flight: int | None = None,
    ) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("the room log needs a Redis client that returns bytes (decode_responses off)")
        self.client = client
        self.limits = limits or RoomLimits()
        if room_ttl_seconds < self.limits.max_age_seconds:
            raise ValueError("room_ttl_seconds must be at least max_age_seconds")
        self.room_ttl_ms = int(room_ttl_seconds * 1000)
        self.local_entries = max(1, min(local_entries, self.limits.max_entries, MAX_PAGE))
        self.local_bytes = local_bytes
        self.page = check_limit(page)
        self.subscribe_timeout_seconds = subscribe_timeout_seconds
        self.retry_seconds = retry_seconds
        self.closed = False
        self._append = client.register_script(_APPEND)
        self._read = client.register_script(_READ)
        self._tails: dict[bytes, _Tail] = {}  # by live channel
        self._lock = asyncio.Lock()  # pub/sub commands and the swap of the pub/sub connection
        self._pubsub: redis.asyncio.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._outage: asyncio.TimerHandle | None = None  # ends the subscriptions if the reader stays lost
        self._chores: set[asyncio.Task[None]] = set()
        # Commands wait their turn rather than fail: redis-py's pool refuses a connection beyond its
        # max_connections (MaxConnectionsError), and the reader's pub/sub connection comes from it too.
        pool_size = int(getattr(client.connection_pool, "max_connections", 100))
        self._turns = asyncio.Semaphore(max_in_flight or max(1, pool_size - 1))

    @staticmethod
    def keys(room: str) -> tuple[str, str, str]:
        """The room's counter, stream and live channel: one hash tag, one Cluster slot."""
        return f"tta:room:{{{room}}}:seq", f"tta:room:{{{room}}}:log", f"tta:room:{{{room}}}:live"

    @staticmethod
    def key_of(room: str, key: str) -> str:
        """Where an append's key is remembered for ``key_seconds`` (the value: its sequence number)."""
        return f"tta:room:{{{room}}}:key:{key}"

    async def append(self, room: str, payload: bytes, *, key: str | None = None) -> int:
        """Without a ``key`` the log makes one: redis-py retries a command whose connection failed,
        and the script may have run before the failure; the key makes that second run a no-op."""
        check_room(room)
        if key is not None:
            check_key(key)
        if len(payload) > self.limits.max_payload_bytes:
            raise PayloadTooLarge(len(payload), self.limits.max_payload_bytes)
        if self.closed:
            raise RoomLogUnavailable("the room log is closed")
        counter, stream, channel = self.keys(room)
        limits = self.limits
        try:
            async with self._turns:
                seq, _ = await self._append(
                    keys=[counter, stream, channel, self.key_of(room, key or uuid.uuid4().hex)],
                    args=[payload, limits.max_entries, limits.max_age_ms, self.room_ttl_ms, limits.key_ms],
                )
        except _UNREACHABLE as exc:
            raise RoomLogUnavailable(f"the room log cannot be reached ({type(exc).__name__})") from exc
        return int(seq)

    async def head(self, room: str) -> int:
        check_room(room)
        try:
            async with self._turns:
                return int(await self.client.get(self.keys(room)[0]) or 0)
        except _UNREACHABLE as exc:
            raise RoomLogUnavailable(f"the room log cannot be reached ({type(exc).__name__})") from exc

    async def read_after(self, room: str, after: int, limit: int = 100) -> Batch:
        check_room(room)
        check_position(after)
        check_limit(limit)
        counter, stream, _ = self.keys(room)
        try:
            async with self._turns:
                head, first, raw = await self._read(
                    keys=[counter, stream],
                    args=[after, limit, self.limits.max_entries, self.limits.max_age_ms],
                )
        except _UNREACHABLE as exc:
            raise RoomLogUnavailable(f"the room log cannot be reached ({type(exc).__name__})") from exc
        head, first = int(head), int(first)
        return Batch(gap_before(after, head, first), tuple(_entry(item) for item in raw), head)

    # -- subscriptions ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def subscribe(self, room: str, after: int) -> AsyncIterator[Subscription]:
        check_room(room)
        check_position(after)
        tail = await self._attach(room)
        try:
            yield _Subscription(self, tail, after, self.page)
        finally:
            self._detach(tail)

    def readers(self, room: str) -> int:
        tail = self._tails.get(self.keys(room)[2].encode())
        return tail.readers if tail is not None else 0

    async def _attach(self, room: str) -> _Tail:
        if self.closed:
            raise RoomLogUnavailable("the room log is closed")
        channel = self.keys(room)[2].encode()
        tail = self._tails.get(channel)
        new = tail is None
        if tail is None:
            if len(self._tails) >= self.limits.max_rooms:
                raise TooManyRooms(f"this process follows {self.limits.max_rooms} rooms already")
            tail = self._tails[channel] = _Tail(room, self.local_entries, self.local_bytes)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read_live(), name="room-log-reader")
        tail.readers += 1
        try:
            if new:
                async with self._lock:
                    if self._pubsub is not None:
                        # a dead connection is fine here: the reader resubscribes every room it holds
                        with contextlib.suppress(*_UNREACHABLE):
                            await self._pubsub.ssubscribe(channel)
            await asyncio.wait_for(tail.ready.wait(), self.subscribe_timeout_seconds)
        except TimeoutError:
            self._detach(tail)
            raise RoomLogUnavailable("the room log's live channel cannot be reached") from None
        except BaseException:
            self._detach(tail)
            raise
        return tail

    def _detach(self, tail: _Tail) -> None:
        """Synchronous, so it runs even in a cancelled task's cleanup; the unsubscribe goes in the
        background."""
        tail.readers -= 1
        if tail.readers > 0:
            return
        channel = self.keys(tail.room)[2].encode()
        if self._tails.get(channel) is tail:
            del self._tails[channel]
            if not self.closed:
                chore = asyncio.create_task(self._unsubscribe(channel))
                self._chores.add(chore)
                chore.add_done_callback(self._chores.discard)

    async def _unsubscribe(self, channel: bytes) -> None:
        async with self._lock:
            if self._pubsub is not None and channel not in self._tails:
                with contextlib.suppress(*_UNREACHABLE):
                    await self._pubsub.sunsubscribe(channel)

    async def _read_live(self) -> None:
        """The process's one reader: a pub/sub connection subscribed to every room with a local
        subscriber. Each subscription confirmation (the first, or after a reconnection, redis-py's or
        ours) catches that room's tail up from the stream, so nothing published while the connection
        was down is missed. A lost connection is retried every ``retry_seconds``; when it stays lost
        for ``subscribe_timeout_seconds`` the subscriptions end (RoomLogUnavailable) rather than wait
        in silence, and their clients resume by their last sequence."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                async with self.client.pubsub() as pubsub:
                    try:
                        async with self._lock:
                            self._pubsub = pubsub
                            if self._tails:
                                await pubsub.ssubscribe(*self._tails)
                            else:
                                await pubsub.ping()  # connects: later rooms subscribe on this connection
                        while True:
                            message = await pubsub.get_message(timeout=None)
                            if message is None:
                                continue
                            if self._outage is not None:  # the connection answers: the outage is over
                                self._outage.cancel()
                                self._outage = None
                            await self._on_message(message)
                    finally:
                        self._pubsub = None
            except Exception as exc:  # lost, or a bug: either way no subscriber may wait in vain
                level = logging.WARNING if isinstance(exc, (*_UNREACHABLE, RoomLogError)) else logging.ERROR
                # the type only: a parse error's text could quote a payload
                log.log(level, "room log: live channel lost (%s); reconnecting", type(exc).__name__)
                for tail in self._tails.values():
                    tail.ready.clear()  # a new subscriber waits for the catch-up after reconnecting
                if self._outage is None:
                    self._outage = loop.call_later(self.subscribe_timeout_seconds, self._end_subscriptions)
            await asyncio.sleep(self.retry_seconds)

    def _end_subscriptions(self) -> None:
        log.warning(
            "room log: live channel lost for %.1f s; ending subscriptions", self.subscribe_timeout_seconds
        )
        for tail in self._tails.values():
            tail.failed = True
            tail.notify()

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        tail = self._tails.get(message.get("channel") or b"")
        if tail is None:
            return
        if kind == "ssubscribe":
            await self._catch_up(tail)
        elif kind == "smessage" and tail.ready.is_set():
            entry = parse_live(message["data"])
            if entry.seq > tail.head + 1:  # the channel lost something: the stream has it
                await self._catch_up(tail)
            if entry.seq == tail.head + 1:
                tail.push(entry)

    async def _catch_up(self, tail: _Tail) -> None:
        if not tail.ready.is_set() and tail.head == 0:  # nothing known here: the head is enough
            tail.restart(await self.head(tail.room))
        else:
            batch = await self.read_after(tail.room, tail.head, self.local_entries)
            if batch.gap is None and not batch.more:
                for entry in batch.entries:
                    tail.push(entry)
            else:  # too far behind to keep a dense copy, or the log was reset: readers ask the log
                tail.restart(batch.head)
        tail.failed = False
        tail.ready.set()

    async def aclose(self) -> None:
        self.closed = True
        if self._outage is not None:
            self._outage.cancel()
        for tail in self._tails.values():
            tail.notify()
        tasks = [t for t in (self._reader, *self._chores) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._reader = None
