"""The room log's pure parts: the window and gap arithmetic, room names, the live-channel message, and
one room's local tail (gateway/state/rooms.py; the contract itself is in tests/integration/state/)."""

from __future__ import annotations

import pytest

from gateway.state.rooms import (
    Batch,
    Entry,
    Gap,
    GapReason,
    InvalidRoom,
    RoomLimits,
    _Tail,
    check_room,
    gap_before,
    parse_live,
    start_of,
    window_start,
)


@pytest.mark.parametrize(
    ("after", "head", "first", "gap"),
    [
        (0, 0, 1, None),  # an empty room, read from the start
        (0, 5, 1, None),  # everything kept
        (3, 5, 1, None),
        (5, 5, 6, None),  # caught up; nothing kept either
        (3, 5, 4, None),  # the oldest kept is exactly the next one
        (2, 5, 4, Gap(2, 4, GapReason.RETENTION)),
        (0, 12, 8, Gap(0, 8, GapReason.RETENTION)),
        (3, 5, 6, Gap(3, 6, GapReason.RETENTION)),  # all expired: continue with the next appended
        (6, 5, 1, Gap(6, 1, GapReason.RESET)),  # ahead of the log
        (1, 0, 1, Gap(1, 1, GapReason.RESET)),  # the room is gone entirely
    ],
)
def test_gap_before(after: int, head: int, first: int, gap: Gap | None) -> None:
    assert gap_before(after, head, first) == gap


@pytest.mark.parametrize(
    ("after", "head", "first", "start"),
    [(0, 5, 1, 1), (3, 5, 1, 4), (0, 12, 8, 8), (9, 12, 8, 10), (7, 5, 2, 2), (5, 5, 6, 6)],
)
def test_start_of(after: int, head: int, first: int, start: int) -> None:
    assert start_of(after, head, first) == start


def test_window_start() -> None:
    assert window_start(0, 5) == 1
    assert window_start(3, 5) == 1
    assert window_start(5, 5) == 1
    assert window_start(12, 5) == 8


def test_gap_counts_what_is_missed() -> None:
    assert Gap(2, 8, GapReason.RETENTION).missed == 5
    assert Gap(9, 1, GapReason.RESET).missed == 0


def test_a_batch_says_whether_more_follows() -> None:
    entry = Entry(3, b"x", 0.0)
    assert Batch(None, (entry,), 5).more
    assert not Batch(None, (entry,), 3).more
    assert not Batch(None, (), 0).more
    assert Batch(Gap(0, 4, GapReason.RETENTION), (), 9).more
    assert not Batch(Gap(0, 4, GapReason.RETENTION), (), 3).more


@pytest.mark.parametrize("room", ["a", "9", "session:1f0c", "A.b_c-d:9", "x" * 128])
def test_room_names_accepted(room: str) -> None:
    assert check_room(room) == room


@pytest.mark.parametrize("room", ["", "x" * 129, "{a}", "a}", ".a", "_a", "a b", "a/b", "é", "a\x00"])
def test_room_names_refused(room: str) -> None:
    with pytest.raises(InvalidRoom):
        check_room(room)


def test_a_payload_never_shows_in_a_repr() -> None:
    assert "secret" not in repr(Entry(1, b"secret", 0.0))


def test_a_live_message_parses_with_spaces_in_its_payload() -> None:
    entry = parse_live(b"42 1700000000123 a b  c\n")
    assert entry == Entry(42, b"a b  c\n", 1700000000.123)
    assert parse_live(b"1 5 ").payload == b""


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        RoomLimits(max_entries=0)
    with pytest.raises(ValueError, match="max_age"):
        RoomLimits(max_age_seconds=0)
    assert RoomLimits(max_age_seconds=1.5).max_age_ms == 1500


def _tail(*seqs: int, max_entries: int = 10, max_bytes: int | None = None) -> _Tail:
    tail = _Tail("r", max_entries, max_bytes)
    for seq in seqs:
        tail.head = seq - 1 if tail.head == 0 else tail.head
        tail.push(Entry(seq, b"x" * 10, float(seq)))
    return tail


def test_a_tail_answers_only_what_it_holds() -> None:
    tail = _tail(1, 2, 3, 4, max_entries=3)  # holds 2, 3, 4
    assert tail.first == 2
    assert tail.head == 4
    assert tail.slice(0, 10) is None  # 1 is not here: ask the log
    assert [e.seq for e in tail.slice(1, 10) or []] == [2, 3, 4]
    assert [e.seq for e in tail.slice(2, 1) or []] == [3]
    assert tail.slice(4, 10) == []  # caught up
    assert tail.slice(5, 10) is None  # ahead of it: ask the log


def test_a_tail_is_bounded_by_bytes_but_keeps_the_newest() -> None:
    tail = _tail(1, 2, 3, 4, max_bytes=25)
    assert [e.seq for e in tail.entries] == [3, 4]
    assert tail.size == 20
    big = _Tail("r", 10, 5)
    big.push(Entry(1, b"x" * 100, 0.0))
    assert [e.seq for e in big.entries] == [1]


def test_a_tail_refuses_a_hole_and_restarts_empty() -> None:
    tail = _tail(1, 2)
    with pytest.raises(AssertionError):
        tail.push(Entry(4, b"", 0.0))
    wake = tail.wake
    tail.restart(10)
    assert wake.is_set()  # readers waiting on it are woken
    assert (tail.head, tail.first, tail.size) == (10, 11, 0)
    assert tail.slice(3, 5) is None
    assert tail.slice(10, 5) == []


def test_a_tail_expires_by_age() -> None:
    tail = _tail(5, 6, 7)
    tail.expire(6.5)
    assert [e.seq for e in tail.entries] == [7]
    tail.expire(100.0)
    assert tail.first == 8
