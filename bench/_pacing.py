"""Open-loop pacing, shared by the two load generators (bench/_load.py, bench/_http_load.py).

Call ``i`` is due at ``t0 + i / rate`` and is started at that instant whatever the calls before it are
doing: the offered rate is fixed by the schedule, not by how fast the server answers (a closed loop,
"N calls in flight", lets the server set the rate and the batching). A call the generator cannot start
within ``late_after`` seconds of its instant is still started, and counted as late; latency is measured
from the instant the call was due, so a late start shows in the percentiles too (the correction wrk2
makes for coordinated omission).

A run is ``warmup`` seconds of calls, then the measured window of ``seconds``. The generator speaks
JSON lines on stdout, read by bench/_phase.py, which reads the processes' CPU times at the two
markers::

    {"event": "measuring"}          the first due instant of the window
    {"event": "measured"}           its end
    {"offered": 2000, "completed": 2000, "errors": 0, ...}   the window's tally, once the calls
                                    still in flight at the end have finished (see Tally.result)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# uvloop rounds a timer to whole milliseconds and runs one under 0.5 ms at once (call_soon), so a
# shorter sleep would spin: calls due within this much of now are started now, slightly early.
_EARLY = 0.0005


@dataclass(frozen=True, slots=True)
class Schedule:
    """Due instants, relative to the start: ``i / rate`` for ``i`` in ``range(total)``.

    >>> s = Schedule(rate=400, warmup=1.0, seconds=5.0)
    >>> (s.first_measured, s.total, s.offered)
    (400, 2400, 2000)
    """

    rate: float
    warmup: float
    seconds: float

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.seconds <= 0 or self.warmup < 0:
            raise ValueError(f"rate and seconds must be > 0 and warmup >= 0, got {self}")

    @property
    def first_measured(self) -> int:
        return round(self.warmup * self.rate)

    @property
    def total(self) -> int:
        return round((self.warmup + self.seconds) * self.rate)

    @property
    def offered(self) -> int:
        return self.total - self.first_measured

    def instant(self, i: int) -> float:
        return i / self.rate


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0
    """
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Tally:
    """What happened in the window ``[start, end)`` of one run (times from ``time.perf_counter``).

    A call counts as completed or failed when it *finishes* inside the window, the same window the
    processes' CPU is read over; in a steady state that is the number of calls due in it. Start lag and
    lateness are counted for the calls *due* in the window.
    """

    def __init__(self, start: float, end: float, late_after: float) -> None:
        self.start, self.end, self.late_after = start, end, late_after
        self.completed = 0
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.late = 0
        self.in_flight = 0
        self.on_idle: Callable[[], None] | None = None  # called when in_flight falls to 0

    def started(self, due: float, now: float) -> None:
        self.in_flight += 1
        if self.start <= due < self.end:
            lag = now - due
            self.lags.append(lag)
            if lag > self.late_after:
                self.late += 1

    def finished(self, due: float, now: float, error: str | None) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self.on_idle is not None:
            self.on_idle()
        if not self.start <= now < self.end:
            return
        if error is None:
            self.completed += 1
            self.latencies.append(now - due)
        else:
            self.errors += 1
            self.error_kinds[error] = self.error_kinds.get(error, 0) + 1

    def result(self, schedule: Schedule, unfinished: int) -> dict[str, Any]:
        """The tally as one JSON-able record; latencies and lags in milliseconds."""
        lat, lag = sorted(self.latencies), sorted(self.lags)
        return {
            "offered": schedule.offered,
            "seconds": schedule.seconds,
            "completed": self.completed,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "late": self.late,
            "late_after_ms": self.late_after * 1e3,
            "unfinished": unfinished,  # still in flight when the generator gave up waiting
            "latency_ms": {f"p{q}": percentile(lat, q) * 1e3 for q in (50, 90, 99)}
            | {"max": (lat[-1] if lat else math.nan) * 1e3},
            "lag_ms": {"p99": percentile(lag, 99) * 1e3, "max": (lag[-1] if lag else math.nan) * 1e3},
        }


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def drive(
    schedule: Schedule,
    late_after: float,
    issuer: Callable[[Tally], Callable[[float], None]],
    drain_seconds: float,
) -> dict[str, Any]:
    """Start a call at every due instant of ``schedule``; return the window's tally.

    ``issuer(tally)`` returns the function called with each due instant (a ``time.perf_counter``
    value). That function must start the call (or queue it, when the generator has no free connection)
    without awaiting it, and report it with ``tally.started`` and ``tally.finished``.
    """
    clock = time.perf_counter
    t0 = clock() + 0.01
    tally = Tally(
        t0 + schedule.instant(schedule.first_measured), t0 + schedule.instant(schedule.total), late_after
    )
    issue = issuer(tally)
    i = 0
    while i < schedule.total:
        wait = t0 + schedule.instant(i) - clock()
        if wait > _EARLY:
            await asyncio.sleep(wait)
        now = clock()
        # Start every call now due: after an overshooting sleep or a busy spell, that is several.
        while i < schedule.total and t0 + schedule.instant(i) <= now + _EARLY:
            if i == schedule.first_measured:
                emit({"event": "measuring"})
            issue(t0 + schedule.instant(i))
            i += 1
    wait = tally.end - clock()
    if wait > 0:
        await asyncio.sleep(wait)
    emit({"event": "measured"})
    if tally.in_flight:
        drained = asyncio.Event()
        tally.on_idle = drained.set
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained.wait(), drain_seconds)
    return tally.result(schedule, tally.in_flight)


def run_loop(main: Any) -> tuple[Any, str]:
    """Run ``main`` on uvloop when installed (the generator shares two cores with the processes it
    measures, so it should cost little), else on asyncio's default loop; return its result and which."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main), "asyncio"
    return uvloop.run(main), "uvloop"
