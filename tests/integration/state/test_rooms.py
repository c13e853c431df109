"""The room log contract (gateway/state/rooms.py, decision 0014), held by both implementations: memory,
and Redis (a real server at REDIS_URL, or one the session starts; under CI a missing Redis fails the
run). "Two processes" are two RedisRoomLog instances with separate clients (for memory, one log: it is
one process by definition). Redis-only tests cover what memory cannot have: a killed pub/sub
connection, an unreachable server, a lost counter."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot

from gateway.state.rooms import (
    Entry,
    Gap,
    GapReason,
    InvalidKey,
    InvalidRoom,
    MemoryRoomLog,
    PayloadTooLarge,
    RedisRoomLog,
    RoomLimits,
    RoomLog,
    RoomLogUnavailable,
    Subscription,
    TooManyRooms,
)

WAIT = 10.0  # seconds any one expected delivery may take before the test fails


@dataclass
class Rig:
    """Makes logs ("processes") over one backend, and room names it cleans up afterwards."""

    kind: str
    url: str | None = None
    rooms: list[str] = field(default_factory=list)
    logs: list[RoomLog] = field(default_factory=list)
    clients: list[redis.asyncio.Redis] = field(default_factory=list)
    _memory: dict[RoomLimits, MemoryRoomLog] = field(default_factory=dict)

    def room(self) -> str:
        name = f"test-{uuid.uuid4()}"
        self.rooms.append(name)
        return name

    def client(self, **options: Any) -> redis.asyncio.Redis:
        assert self.url is not None
        client = redis.asyncio.from_url(self.url, **options)
        self.clients.append(client)
        return client

    def log(self, limits: RoomLimits | None = None, **redis_options: Any) -> RoomLog:
        """A new process's log (Redis: its own client); memory: the one log with these limits."""
        limits = limits or RoomLimits()
        made: RoomLog
        if self.kind == "memory":
            if limits not in self._memory:
                self._memory[limits] = MemoryRoomLog(limits)
            made = self._memory[limits]
        else:
            client_options = redis_options.pop("client_options", {})
            made = RedisRoomLog(self.client(**client_options), limits, **redis_options)
        self.logs.append(made)
        return made

    async def close(self) -> None:
        for made in self.logs:
            await made.aclose()
        if self.url is not None and self.rooms:
            admin = redis.asyncio.from_url(self.url)
            await admin.delete(*(key for room in self.rooms for key in RedisRoomLog.keys(room)[:2]))
            await admin.aclose()
        for client in self.clients:
            await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    made = Rig("memory") if request.param == "memory" else Rig("redis", request.getfixturevalue("redis_url"))
    yield made
    await made.close()


@pytest.fixture
async def redis_rig(redis_url: str) -> AsyncIterator[Rig]:
    made = Rig("redis", redis_url)
    yield made
    await made.close()


async def take(sub: Subscription, n: int) -> list[Entry | Gap]:
    """The next ``n`` items of a subscription, or a failure if they do not come within WAIT."""
    got: list[Entry | Gap] = []

    async def run() -> None:
        async for item in sub:
            got.append(item)
            if len(got) == n:
                return

    try:
        await asyncio.wait_for(run(), WAIT)
    except TimeoutError:
        pytest.fail(f"expected {n} items, got {len(got)}: {got}")
    return got


def seqs(items: list[Entry | Gap]) -> list[int]:
    return [item.seq for item in items if isinstance(item, Entry)]


async def nothing_more(sub: Subscription, seconds: float = 0.3) -> None:
    """Fails if the subscription yields anything within ``seconds`` (no duplicate after the last)."""
    with contextlib.suppress(TimeoutError):
        item = await asyncio.wait_for(anext(sub), seconds)
        pytest.fail(f"nothing more was expected, got {item}")


# --- sequence numbers ---------------------------------------------------------------------------


async def test_sequences_count_from_one_per_room_and_rooms_are_independent(rig: Rig) -> None:
    log = rig.log()
    one, two = rig.room(), rig.room()
    assert [await log.append(one, b"a%d" % i) for i in range(3)] == [1, 2, 3]
    assert [await log.append(two, b"b%d" % i) for i in range(2)] == [1, 2]
    assert await log.append(one, b"a3") == 4
    batch = await log.read_after(one, 0)
    assert batch.gap is None
    assert batch.head == 4
    assert [(e.seq, e.payload) for e in batch.entries] == [(1, b"a0"), (2, b"a1"), (3, b"a2"), (4, b"a3")]
    assert [e.payload for e in (await log.read_after(two, 0)).entries] == [b"b0", b"b1"]
    assert (await log.head(one), await log.head(two), await log.head(rig.room())) == (4, 2, 0)


async def test_two_processes_appending_at_once_get_exactly_1_to_200(rig: Rig) -> None:
    a, b = rig.log(), rig.log()
    room = rig.room()
    payloads = [b"m%03d" % i for i in range(200)]
    got = await asyncio.gather(
        *((a if i % 2 else b).append(room, payload) for i, payload in enumerate(payloads))
    )
    assert sorted(got) == list(range(1, 201))  # no duplicate, no hole
    stored = (await a.read_after(room, 0, limit=1000)).entries
    assert [e.seq for e in stored] == list(range(1, 201))
    # each appender was told the number its message was stored under
    assert {e.seq: e.payload for e in stored} == dict(zip(got, payloads, strict=True))


async def test_paging_returns_what_is_left_in_order(rig: Rig) -> None:
    log = rig.log()
    room = rig.room()
    for i in range(7):
        await log.append(room, b"%d" % i)
    first = await log.read_after(room, 0, limit=3)
    assert [e.seq for e in first.entries] == [1, 2, 3]
    assert first.more
    rest = await log.read_after(room, 3, limit=100)
    assert [e.seq for e in rest.entries] == [4, 5, 6, 7]
    assert not rest.more
    caught_up = await log.read_after(room, 7)
    assert caught_up.entries == ()
    assert caught_up.gap is None


# --- live tails ---------------------------------------------------------------------------------


async def test_two_subscribers_on_two_processes_see_one_order(rig: Rig) -> None:
    a, b = rig.log(), rig.log()
    room = rig.room()
    async with a.subscribe(room, 0) as on_a, b.subscribe(room, 0) as on_b:
        reading_a = asyncio.create_task(take(on_a, 60))
        reading_b = asyncio.create_task(take(on_b, 60))
        await asyncio.gather(*((a if i % 3 else b).append(room, b"p%02d" % i) for i in range(60)))
        seen_a, seen_b = await reading_a, await reading_b
    stored = (await a.read_after(room, 0)).entries
    assert seqs(seen_a) == list(range(1, 61))
    assert [(e.seq, e.payload) for e in seen_a if isinstance(e, Entry)] == [
        (e.seq, e.payload) for e in stored
    ]
    assert [(e.seq, e.payload) for e in seen_b if isinstance(e, Entry)] == [
        (e.seq, e.payload) for e in stored
    ]


async def test_a_subscriber_starts_exactly_after_its_position(rig: Rig) -> None:
    log = rig.log()
    room = rig.room()
    for i in range(5):
        await log.append(room, b"%d" % i)
    async with log.subscribe(room, 3) as sub:
        assert seqs(await take(sub, 2)) == [4, 5]
        await log.append(room, b"5")
        assert seqs(await take(sub, 1)) == [6]
        assert sub.last == 6
        await nothing_more(sub)


async def test_resume_on_another_process_gets_what_was_missed_once_then_live(rig: Rig) -> None:
    a, b = rig.log(), rig.log()
    room = rig.room()
    async with a.subscribe(room, 0) as sub:
        for i in range(4):
            await a.append(room, b"%d" % i)
        assert seqs(await take(sub, 3)) == [1, 2, 3]
        last = sub.last  # the client saw 3, then its connection (and process) went away
    assert last == 3
    for i in range(4, 9):  # appended while it was away
        await a.append(room, b"%d" % i)
    async with b.subscribe(room, last) as resumed:
        assert seqs(await take(resumed, 6)) == [4, 5, 6, 7, 8, 9]
        await a.append(room, b"live")
        live = await take(resumed, 1)
        assert seqs(live) == [10]
        assert isinstance(live[0], Entry)
        assert live[0].payload == b"live"
        await nothing_more(resumed)


async def test_no_loss_and_no_duplicate_at_the_seam_while_appends_continue(rig: Rig) -> None:
    """Appends run all the time; a subscriber joins at position 20 mid-flow: it must get 21..120 with
    nothing twice and nothing skipped where its backlog meets the live tail."""
    a, b = rig.log(), rig.log()
    room = rig.room()
    for i in range(20):
        await a.append(room, b"%d" % i)

    async def keep_appending() -> None:
        for i in range(20, 120):
            await a.append(room, b"%d" % i)
            if i % 10 == 0:
                await asyncio.sleep(0)

    appending = asyncio.create_task(keep_appending())
    await asyncio.sleep(0)
    async with b.subscribe(room, 20) as sub:
        got = await take(sub, 100)
        await appending
        await nothing_more(sub)
    assert seqs(got) == list(range(21, 121))


async def test_cancelling_a_subscriber_ends_it_cleanly(rig: Rig) -> None:
    log = rig.log()
    room = rig.room()
    entered = asyncio.Event()

    async def follow() -> None:
        async with log.subscribe(room, 0) as sub:
            entered.set()
            async for _ in sub:
                pass

    task = asyncio.create_task(follow())
    await asyncio.wait_for(entered.wait(), WAIT)
    assert log.readers(room) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.readers(room) == 0
    if isinstance(log, RedisRoomLog):  # and the process stops listening to the room
        _, _, channel = RedisRoomLog.keys(room)
        deadline = time.monotonic() + WAIT
        while (await log.client.execute_command("PUBSUB", "SHARDNUMSUB", channel))[1] != 0:
            assert time.monotonic() < deadline, "the room's channel was never unsubscribed"
            await asyncio.sleep(0.02)


async def test_closing_the_log_ends_its_subscriptions(rig: Rig) -> None:
    log = rig.log()
    room = rig.room()
    await log.append(room, b"x")
    async with log.subscribe(room, 0) as sub:
        assert seqs(await take(sub, 1)) == [1]
        waiting = asyncio.create_task(anext(sub))
        await asyncio.sleep(0.05)
        await log.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, WAIT)
    with pytest.raises(RoomLogUnavailable):
        await log.append(room, b"y")


# --- retention and gaps -------------------------------------------------------------------------


async def test_beyond_the_count_window_a_reader_gets_a_gap_then_entries(rig: Rig) -> None:
    log = rig.log(RoomLimits(max_entries=5))
    room = rig.room()
    for i in range(12):
        await log.append(room, b"%d" % i)
    batch = await log.read_after(room, 0)
    assert batch.gap == Gap(after=0, first_available=8, reason=GapReason.RETENTION)
    assert batch.gap.missed == 7
    assert [e.seq for e in batch.entries] == [8, 9, 10, 11, 12]
    edge = await log.read_after(room, 6)  # 7 is gone too
    assert edge.gap == Gap(after=6, first_available=8, reason=GapReason.RETENTION)
    inside = await log.read_after(room, 7)  # 8 is the oldest kept: nothing is missing
    assert inside.gap is None
    assert [e.seq for e in inside.entries] == [8, 9, 10, 11, 12]
    async with log.subscribe(room, 2) as sub:
        got = await take(sub, 6)
    assert got[0] == Gap(after=2, first_available=8, reason=GapReason.RETENTION)
    assert seqs(got) == [8, 9, 10, 11, 12]


async def test_beyond_the_age_window_a_reader_gets_a_gap_and_the_messages_are_gone(rig: Rig) -> None:
    log = rig.log(RoomLimits(max_age_seconds=1.0))
    room = rig.room()
    for i in range(3):
        await log.append(room, b"old%d" % i)
    await asyncio.sleep(1.2)
    for i in range(2):
        await log.append(room, b"new%d" % i)
    batch = await log.read_after(room, 0)
    assert batch.gap == Gap(after=0, first_available=4, reason=GapReason.RETENTION)
    assert [e.payload for e in batch.entries] == [b"new0", b"new1"]
    if isinstance(log, RedisRoomLog):  # trimmed from storage, not only hidden from readers
        assert await log.client.xlen(RedisRoomLog.keys(room)[1]) == 2
    await asyncio.sleep(1.2)  # nobody appends: everything ages out all the same
    idle = await log.read_after(room, 3)
    assert idle.gap == Gap(after=3, first_available=6, reason=GapReason.RETENTION)
    assert idle.entries == ()
    # and the numbering goes on: a number is never given twice because messages expired
    assert await log.append(room, b"later") == 6


async def test_a_position_ahead_of_the_log_gets_a_reset_gap(rig: Rig) -> None:
    log = rig.log()
    room = rig.room()
    empty = await log.read_after(room, 5)
    assert empty.gap == Gap(after=5, first_available=1, reason=GapReason.RESET)
    await log.append(room, b"a")
    await log.append(room, b"b")
    batch = await log.read_after(room, 5)
    assert batch.gap == Gap(after=5, first_available=1, reason=GapReason.RESET)
    assert [e.seq for e in batch.entries] == [1, 2]
    async with log.subscribe(room, 9) as sub:
        got = await take(sub, 3)
        assert got[0] == Gap(after=9, first_available=1, reason=GapReason.RESET)
        assert seqs(got) == [1, 2]
        assert sub.last == 2


async def test_a_subscriber_that_stops_reading_continues_from_the_oldest_kept_after_a_gap(rig: Rig) -> None:
    """The documented slow-subscriber behaviour: the log holds nothing per subscriber, so one that
    stops reading costs nothing; when it reads again, what left the window meanwhile is one Gap."""
    log = rig.log(RoomLimits(max_entries=5))
    room = rig.room()
    async with log.subscribe(room, 0) as sub:
        await log.append(room, b"0")
        assert seqs(await take(sub, 1)) == [1]
        for i in range(1, 21):  # the subscriber is not reading
            await log.append(room, b"%d" % i)
        got = await take(sub, 6)
        assert got[0] == Gap(after=1, first_available=17, reason=GapReason.RETENTION)
        assert seqs(got) == [17, 18, 19, 20, 21]
        await log.append(room, b"21")
        assert seqs(await take(sub, 1)) == [22]


async def test_a_subscriber_behind_inside_the_window_loses_nothing(rig: Rig) -> None:
    """On Redis the process keeps only 4 recent entries per room: a subscriber 30 behind reads the
    rest from the stream, without a gap."""
    log = rig.log(RoomLimits(max_entries=100), local_entries=4)
    room = rig.room()
    async with log.subscribe(room, 0) as sub:
        await log.append(room, b"0")
        assert seqs(await take(sub, 1)) == [1]
        for i in range(1, 31):
            await log.append(room, b"%d" % i)
        got = await take(sub, 30)
        assert all(isinstance(item, Entry) for item in got)
        assert seqs(got) == list(range(2, 32))


# --- refusals -----------------------------------------------------------------------------------


async def test_a_payload_over_the_limit_is_refused(rig: Rig) -> None:
    log = rig.log(RoomLimits(max_payload_bytes=1024))
    room = rig.room()
    assert await log.append(room, b"x" * 1024) == 1
    with pytest.raises(PayloadTooLarge) as refused:
        await log.append(room, b"x" * 1025)
    assert (refused.value.size, refused.value.limit) == (1025, 1024)
    assert "1024" in str(refused.value)
    assert (await log.read_after(room, 0)).head == 1  # nothing was stored, no number was spent


@pytest.mark.parametrize(
    "room",
    ["", "x" * 129, "a{b}", "room with space", "-leading", "tta:room:{x}", "ünï", "a/b", "a\nb"],
)
async def test_a_bad_room_name_is_refused(rig: Rig, room: str) -> None:
    log = rig.log()
    with pytest.raises(InvalidRoom):
        await log.append(room, b"x")
    with pytest.raises(InvalidRoom):
        await log.read_after(room, 0)
    with pytest.raises(InvalidRoom):
        await log.head(room)
    with pytest.raises(InvalidRoom):
        async with log.subscribe(room, 0):
            pass


async def test_names_within_the_rules_are_rooms(rig: Rig) -> None:
    log = rig.log()
    tag = uuid.uuid4().hex  # unique names: the Redis may be shared ("a" alone is in the unit tests)
    for room in ["x" * 96 + tag, f"session:{uuid.uuid4()}", f"A.b_c-d:9{tag}"]:
        rig.rooms.append(room)
        assert await log.append(room, b"x") >= 1


async def test_bad_positions_and_limits_are_refused(rig: Rig) -> None:
    log = rig.log()
    room = rig.room()
    with pytest.raises(ValueError, match="position"):
        await log.read_after(room, -1)
    with pytest.raises(ValueError, match="entries"):
        await log.read_after(room, 0, limit=0)
    with pytest.raises(ValueError, match="entries"):
        await log.read_after(room, 0, limit=100_000)
    with pytest.raises(ValueError, match="position"):
        async with log.subscribe(room, -3):
            pass


async def test_memory_holds_a_bounded_number_of_rooms() -> None:
    log = MemoryRoomLog(RoomLimits(max_rooms=2))
    await log.append("r1", b"x")
    await log.append("r2", b"x")
    await log.append("r3", b"x")  # r1, least recently used and unsubscribed, goes
    assert len(log) == 2
    assert (await log.read_after("r1", 0)).head == 0
    assert (await log.read_after("r1", 1)).gap == Gap(after=1, first_available=1, reason=GapReason.RESET)
    async with log.subscribe("r2", 0), log.subscribe("r3", 0):
        with pytest.raises(TooManyRooms):
            await log.append("r4", b"x")
    await log.append("r4", b"x")  # with nobody subscribed, room is made again
    assert len(log) == 2


async def test_redis_follows_a_bounded_number_of_rooms_per_process(redis_rig: Rig) -> None:
    log = redis_rig.log(RoomLimits(max_rooms=1))
    one, two = redis_rig.room(), redis_rig.room()
    async with log.subscribe(one, 0):
        with pytest.raises(TooManyRooms):
            async with log.subscribe(two, 0):
                pass
        async with log.subscribe(one, 0):  # a second subscriber of a followed room is fine
            assert log.readers(one) == 2


# --- Redis failures -----------------------------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once the socket is closed


async def test_an_unreachable_redis_is_a_specific_error(redis_rig: Rig) -> None:
    client = redis.asyncio.Redis(
        host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    redis_rig.clients.append(client)
    log = RedisRoomLog(client, subscribe_timeout_seconds=0.5, retry_seconds=0.1)
    redis_rig.logs.append(log)
    room = redis_rig.room()
    with pytest.raises(RoomLogUnavailable, match="cannot be reached"):
        await log.append(room, b"x")
    with pytest.raises(RoomLogUnavailable):
        await log.read_after(room, 0)
    with pytest.raises(RoomLogUnavailable):
        await log.head(room)
    with pytest.raises(RoomLogUnavailable):
        async with log.subscribe(room, 0):
            pass
    assert log.readers(room) == 0


class _Proxy:
    """A TCP relay in front of Redis that the test can cut (as a network partition would)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connect_delay = 0.0  # a new connection reaches Redis only after this long
        self.lose_next_reply = False  # drop the connection instead of relaying Redis's next reply
        self.replies_lost = 0
        self.pipes: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.connect_delay)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, replies: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if replies and self.lose_next_reply:  # Redis did the work; the client never hears
                        self.lose_next_reply = False
                        self.replies_lost += 1
                        writer.transport.abort()
                        up_writer.transport.abort()
                        return
                    dst.write(data)
                    await dst.drain()
            dst.close()

        for task in (
            asyncio.create_task(pipe(reader, up_writer, False)),
            asyncio.create_task(pipe(up_reader, writer, True)),
        ):
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        for task in list(self.pipes):
            task.cancel()
        await self.server.wait_closed()


async def test_a_lost_redis_ends_subscriptions_and_a_resume_afterwards_misses_nothing(
    redis_rig: Rig, redis_url: str
) -> None:
    """Redis unreachable from the subscribing process beyond its client's retries: the subscription
    ends with RoomLogUnavailable (the door closes the socket; the client comes back with its last
    sequence), a new subscription is refused while it lasts, and once Redis is back a resume by the
    last sequence gets everything appended meanwhile (by a process that could still reach it)."""
    from urllib.parse import urlparse

    proxy = _Proxy(urlparse(redis_url).port or 6379)
    await proxy.start()
    try:
        client = redis.asyncio.Redis(
            host="127.0.0.1", port=proxy.port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 1)
        )
        redis_rig.clients.append(client)
        cut_off = RedisRoomLog(client, subscribe_timeout_seconds=0.5, retry_seconds=0.1)
        redis_rig.logs.append(cut_off)
        other = redis_rig.log()
        room = redis_rig.room()
        async with cut_off.subscribe(room, 0) as sub:
            await other.append(room, b"0")
            assert seqs(await take(sub, 1)) == [1]
            await proxy.cut()
            with pytest.raises(RoomLogUnavailable):
                await asyncio.wait_for(anext(sub), WAIT)
            last = sub.last
        assert last == 1
        for i in range(1, 5):
            await other.append(room, b"%d" % i)
        with pytest.raises(RoomLogUnavailable):
            async with cut_off.subscribe(room, last):
                pass
        await proxy.start()  # Redis is reachable again, on the same address
        deadline = time.monotonic() + WAIT
        while True:
            try:
                async with cut_off.subscribe(room, last) as resumed:
                    got = await take(resumed, 4)
                    break
            except RoomLogUnavailable:
                assert time.monotonic() < deadline, "the log never came back"
                await asyncio.sleep(0.1)
        assert seqs(got) == [2, 3, 4, 5]
        assert all(isinstance(item, Entry) for item in got)
    finally:
        await proxy.cut()


async def test_a_lost_counter_does_not_reuse_numbers(redis_rig: Rig) -> None:
    log = redis_rig.log()
    assert isinstance(log, RedisRoomLog)
    room = redis_rig.room()
    for i in range(3):
        await log.append(room, b"%d" % i)
    counter, _, _ = RedisRoomLog.keys(room)
    await log.client.delete(counter)  # as an eviction or an operator would
    assert await log.append(room, b"3") == 4
    assert [e.seq for e in (await log.read_after(room, 0)).entries] == [1, 2, 3, 4]


async def test_keys_share_one_cluster_slot_and_expire(redis_rig: Rig) -> None:
    log = redis_rig.log(RoomLimits(max_age_seconds=60), room_ttl_seconds=3600)
    assert isinstance(log, RedisRoomLog)
    room = redis_rig.room()
    await log.append(room, b"x")
    counter, stream, channel = RedisRoomLog.keys(room)
    assert (counter, stream, channel) == (
        f"tta:room:{{{room}}}:seq",
        f"tta:room:{{{room}}}:log",
        f"tta:room:{{{room}}}:live",
    )
    # redis-py's own CRC16 slot function (this server runs without Cluster)
    assert len({key_slot(key.encode()) for key in (counter, stream, channel)}) == 1
    assert key_slot(counter.encode()) == key_slot(room.encode())
    assert 3_500_000 < await log.client.pttl(counter) <= 3_600_000
    assert 50_000 < await log.client.pttl(stream) <= 60_000


async def test_a_client_that_decodes_responses_is_refused(redis_url: str) -> None:
    client = redis.asyncio.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="bytes"):
            RedisRoomLog(client)
    finally:
        await client.aclose()


@pytest.mark.parametrize("reconnects", ["redis-py", "reader"])
async def test_a_killed_subscriber_connection_resumes_without_loss_or_duplicate(
    redis_rig: Rig, redis_url: str, reconnects: str
) -> None:
    """The subscribing process's pub/sub connection is killed by its id (CLIENT KILL ID, not
    globally). Its reconnection is held back half a second (it goes through a relay that delays new
    connections), and messages are appended meanwhile, published to nobody. They reach the subscriber
    once each, in order, from the stream; then it is live again. Whoever reconnects: redis-py (its
    default retries) or, with retries off, the log's reader task."""
    from urllib.parse import urlparse

    proxy = _Proxy(urlparse(redis_url).port or 6379)
    await proxy.start()
    try:
        name = f"tta-rooms-test-{uuid.uuid4().hex[:12]}"
        options: dict[str, Any] = {} if reconnects == "redis-py" else {"retry": Retry(NoBackoff(), 0)}
        client = redis.asyncio.Redis(host="127.0.0.1", port=proxy.port, client_name=name, **options)
        redis_rig.clients.append(client)
        follower = RedisRoomLog(client)
        redis_rig.logs.append(follower)
        appender = redis_rig.log()
        admin = redis_rig.client()
        room = redis_rig.room()
        _, _, channel = RedisRoomLog.keys(room)
        async with follower.subscribe(room, 0) as sub:
            for i in range(10):
                await appender.append(room, b"%d" % i)
            assert seqs(await take(sub, 10)) == list(range(1, 11))
            ids = [c["id"] for c in await admin.client_list(_type="pubsub") if c.get("name") == name]
            assert len(ids) == 1, "the follower should hold exactly one pub/sub connection"
            proxy.connect_delay = 0.5
            assert await admin.client_kill_filter(_id=ids[0]) == 1
            for i in range(10, 20):
                await appender.append(room, b"%d" % i)
            # published to nobody: the follower was not subscribed when these were appended
            assert (await admin.execute_command("PUBSUB", "SHARDNUMSUB", channel))[1] == 0
            got = await take(sub, 10)
            assert all(isinstance(item, Entry) for item in got)
            assert seqs(got) == list(range(11, 21))
            assert [item.payload for item in got if isinstance(item, Entry)] == [
                b"%d" % i for i in range(10, 20)
            ]
            # and it is live again, on a new connection
            await appender.append(room, b"after")
            assert seqs(await take(sub, 1)) == [21]
            await nothing_more(sub)
            now = [c["id"] for c in await admin.client_list(_type="pubsub") if c.get("name") == name]
            assert len(now) == 1
            assert now != ids
    finally:
        await proxy.cut()


async def test_a_message_the_live_channel_lost_is_read_from_the_stream(redis_rig: Rig) -> None:
    """Seq 2 is stored without being published (as if the channel had dropped it); when 3 arrives live
    the subscriber's process sees the hole and reads 2 from the stream: 1, 2, 3 in order, once each."""
    log = redis_rig.log()
    assert isinstance(log, RedisRoomLog)
    room = redis_rig.room()
    counter, stream, _ = RedisRoomLog.keys(room)
    async with log.subscribe(room, 0) as sub:
        await log.append(room, b"one")
        assert seqs(await take(sub, 1)) == [1]
        seq = await log.client.incr(counter)
        await log.client.xadd(stream, {"t": int(time.time() * 1000), "p": b"two"}, id=f"{seq}-0")
        await nothing_more(sub, 0.2)  # nobody was told
        await log.append(room, b"three")
        got = await take(sub, 2)
        assert [(e.seq, e.payload) for e in got if isinstance(e, Entry)] == [(2, b"two"), (3, b"three")]
        await nothing_more(sub)


async def test_an_append_retried_after_its_reply_was_lost_is_stored_once(
    redis_rig: Rig, redis_url: str
) -> None:
    """The script ran, then the connection died before the reply: redis-py retries the command (its
    default policy). The append's key (made by the log when the caller gives none) turns the second
    run into a no-op returning the first number."""
    from urllib.parse import urlparse

    proxy = _Proxy(urlparse(redis_url).port or 6379)
    await proxy.start()
    try:
        client = redis.asyncio.Redis(host="127.0.0.1", port=proxy.port)
        redis_rig.clients.append(client)
        log = RedisRoomLog(client)
        redis_rig.logs.append(log)
        room = redis_rig.room()
        assert await log.append(room, b"first") == 1
        proxy.lose_next_reply = True
        assert await log.append(room, b"second") == 2
        assert proxy.replies_lost == 1  # the reply was lost, and the command retried
        assert await log.append(room, b"third") == 3
        stored = (await log.read_after(room, 0)).entries
        assert [(e.seq, e.payload) for e in stored] == [(1, b"first"), (2, b"second"), (3, b"third")]
    finally:
        await proxy.cut()


async def test_an_append_with_a_key_seen_recently_is_stored_once(rig: Rig) -> None:
    log = rig.log(RoomLimits(key_seconds=0.5))
    room = rig.room()
    assert await log.append(room, b"hello", key="msg-1") == 1
    assert await log.append(room, b"other", key="msg-2") == 2
    assert await log.append(room, b"hello", key="msg-1") == 1  # a resend: nothing stored
    assert [e.payload for e in (await log.read_after(room, 0)).entries] == [b"hello", b"other"]
    await asyncio.sleep(0.7)
    assert await log.append(room, b"hello", key="msg-1") == 3  # the key is forgotten after key_seconds
    with pytest.raises(InvalidKey):
        await log.append(room, b"x", key="")
    with pytest.raises(InvalidKey):
        await log.append(room, b"x", key="a b")
    assert (await log.read_after(room, 0)).head == 3
