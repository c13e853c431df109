"""The bench's printed result: a table of phases and the comparisons between them, as medians with
the spread across rounds. Pure functions over the measured phases."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bench._phase import Phase

Rounds = Sequence[Mapping[str, Phase]]  # one mapping phase name -> Phase per round


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and range of one figure over the rounds that measured it."""

    median: float
    low: float
    high: float
    n: int

    def show(self, fmt: str = "{:.0f}") -> str:
        """
        >>> Spread(1.46, 1.40, 1.5, 3).show("{:.2f}")
        '1.46 [1.40–1.50]'
        """
        if self.n == 1:
            return fmt.format(self.median)
        return f"{fmt.format(self.median)} [{fmt.format(self.low)}–{fmt.format(self.high)}]"


def spread(values: Iterable[float]) -> Spread | None:
    v = list(values)
    return Spread(statistics.median(v), min(v), max(v), len(v)) if v else None


@dataclass(frozen=True, slots=True)
class Comparison:
    """``num`` against ``den``, each a (phase name, process role), computed within each round."""

    label: str
    num: tuple[str, str]
    den: tuple[str, str]
    kind: Literal["ratio", "difference"] = "ratio"
    target: float | None = None  # the most it should be (a ratio, or µs for a difference)


def _per_round(rounds: Rounds, phase: str, fn: Callable[[Phase], float], valid_only: bool) -> list[float]:
    return [fn(r[phase]) for r in rounds if phase in r and not (valid_only and r[phase].problems())]


def table(rounds: Rounds, labels: Mapping[str, str], front_names: Mapping[str, str]) -> list[str]:
    """One row per phase: calls completed of those offered (all rounds), late starts, errors, latency
    medians, and CPU µs per call of the front process (with its share of system time and its context
    switches per call) and of the backend.
    A "!" marks a phase with a round that did not do the offered work (see ``problems``)."""
    head = (
        f"{'phase':44s} {'completed':>13s} {'late':>5s} {'err':>4s} {'p50/p99 ms':>11s}"
        f"  {'front process':>19s} {'µs/call':>18s} {'sys':>4s} {'switches':>8s}  {'backend µs/call':>18s}"
    )
    lines = [head]
    for name, label in labels.items():
        phases = [r[name] for r in rounds if name in r]
        if not phases:
            continue
        flag = "!" if any(p.problems() for p in phases) else " "
        done = sum(p.completed for p in phases)
        offered = sum(p.offered for p in phases)
        late = sum(int(p.load["late"]) for p in phases)
        errors = sum(int(p.load["errors"]) for p in phases)
        p50 = statistics.median(float(p.load["latency_ms"]["p50"]) for p in phases)
        p99 = statistics.median(float(p.load["latency_ms"]["p99"]) for p in phases)
        backend = spread(p.us_per_call("backend") for p in phases)
        assert backend is not None
        if "front" in phases[0].used:
            front = spread(p.us_per_call("front") for p in phases)
            switches = spread(p.switches_per_call("front") for p in phases)
            system = spread(p.used["front"].system / max(p.used["front"].cpu, 1e-9) for p in phases)
            assert front is not None
            assert switches is not None
            assert system is not None
            front_cells = (
                f"{front_names[name]:>19s} {front.show():>18s} {system.median:4.0%} {switches.median:8.1f}"
            )
        else:
            front_cells = f"{'(none)':>19s} {'':>18s} {'':>4s} {'':>8s}"
        lines.append(
            f"{flag}{label:43s} {done:6d}/{offered:<6d} {late:5d} {errors:4d} {p50:5.1f}/{p99:<5.1f}"
            f"  {front_cells}  {backend.show():>18s}"
        )
    return lines


def comparisons(rounds: Rounds, comps: Sequence[Comparison]) -> list[str]:
    """Each comparison as median [min–max] over the rounds in which both its phases did the offered
    work; rounds where one did not are left out and counted, so no ratio rests on a short phase."""
    lines = []
    for c in comps:
        values = []
        skipped = 0
        for r in rounds:
            if c.num[0] not in r or c.den[0] not in r:
                continue
            a, b = r[c.num[0]], r[c.den[0]]
            if a.problems() or b.problems():
                skipped += 1
                continue
            x, y = a.us_per_call(c.num[1]), b.us_per_call(c.den[1])
            values.append(x / y if c.kind == "ratio" else x - y)
        s = spread(values)
        if s is None and not skipped:
            continue
        if s is None:
            text = "not measured: no round did the offered work in both phases (see below)"
        elif c.kind == "ratio":
            text = f"{s.show('{:.2f}')}×"
            if c.target is not None:
                text += f"  (target ≤ {c.target}×: {'met' if s.median <= c.target else 'not met'})"
        else:
            text = f"{s.show('{:+.0f}')} µs"
            if c.target is not None:  # no verdict: a difference this small is below one run's resolution
                text += f"  (target ≤ {c.target:.0f} µs)"
        if skipped:
            text += f"  ({skipped} round(s) left out)"
        lines.append(f"  {c.label:62s} {text}")
    return lines


def problems(rounds: Rounds) -> list[str]:
    """Every phase that did not do the offered work, with the reason: its CPU per call would mislead."""
    return [
        f"  round {i}, {name}: {'; '.join(p.problems())}"
        for i, r in enumerate(rounds, 1)
        for name, p in r.items()
        if p.problems()
    ]
