"""One phase of a benchmark: a load generator process at the offered rate against one front, with the
CPU time and context switches of the watched processes read at the generator's two markers (the
measured window, bench/_pacing.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench._processes import ROOT


@dataclass(frozen=True, slots=True)
class Usage:
    """What one process spent: CPU seconds (user, system) and context switches of all its threads."""

    user: float
    system: float
    switches: int

    @property
    def cpu(self) -> float:
        return self.user + self.system

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.user - other.user, self.system - other.system, self.switches - other.switches)


def usage(proc: psutil.Process) -> Usage:
    """The process's usage so far. Context switches are summed over /proc/PID/task/*/status (psutil's
    ``num_ctx_switches`` reads the main thread's only), voluntary and not."""
    t = proc.cpu_times()
    switches = 0
    for status in Path(f"/proc/{proc.pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:  # the thread ended in between
            continue
        for line in text.splitlines():
            if "ctxt_switches:" in line:  # voluntary_ctxt_switches, nonvoluntary_ctxt_switches
                switches += int(line.split()[1])
    return Usage(float(t.user), float(t.system), switches)


# A phase did its work when it completed the offered calls within this fraction, with no error and
# at most this fraction started late; otherwise its CPU per call is not comparable with the others'.
COMPLETED_TOLERANCE = 0.02
LATE_TOLERANCE = 0.01


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    load: Mapping[str, Any]  # the generator's tally (bench/_pacing.py Tally.result)
    used: Mapping[str, Usage]  # role ("front", "backend") -> usage in the measured window

    @property
    def completed(self) -> int:
        return int(self.load["completed"])

    @property
    def offered(self) -> int:
        return int(self.load["offered"])

    def us_per_call(self, role: str) -> float:
        return self.used[role].cpu / max(self.completed, 1) * 1e6

    def switches_per_call(self, role: str) -> float:
        return self.used[role].switches / max(self.completed, 1)

    def problems(self) -> list[str]:
        """Why this phase's CPU per call is not comparable with the others' (empty: it is)."""
        out = []
        done, offered = self.completed, self.offered
        if abs(done - offered) > max(2, COMPLETED_TOLERANCE * offered):
            out.append(f"completed {done} of {offered} offered calls")
        if self.load["errors"]:
            out.append(f"{self.load['errors']} errors {dict(self.load['error_kinds'])}")
        if self.load["late"] > LATE_TOLERANCE * offered:
            out.append(
                f"{self.load['late']} of {offered} calls started over {self.load['late_after_ms']:.0f} ms late"
            )
        if self.load["unfinished"]:
            out.append(f"{self.load['unfinished']} calls never finished")
        if self.load.get("failure"):
            out.append(str(self.load["failure"]))
        return out


def run_phase(
    name: str,
    generator: list[str],
    watched: Mapping[str, psutil.Process],
    on_measuring: Callable[[], None] | None = None,
    on_measured: Callable[[], None] | None = None,
) -> Phase:
    """Run the generator (``python -m <generator...>``) to its end; return the phase as measured.

    ``watched`` maps a role to its process; the usage of each is read when the generator announces the
    window's start and end. The two callbacks run right after those readings (a profiler's start and
    stop, say).
    """
    load = subprocess.Popen([sys.executable, "-m", *generator], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert load.stdout is not None

    def expect(event: str) -> None:
        line = load.stdout.readline() if load.stdout else ""
        if not line or json.loads(line).get("event") != event:
            load.kill()
            raise SystemExit(f"{name}: the load generator did not announce {event!r} (it printed {line!r})")

    expect("measuring")
    before = {role: usage(p) for role, p in watched.items()}
    if on_measuring is not None:
        on_measuring()
    expect("measured")
    after = {role: usage(p) for role, p in watched.items()}
    if on_measured is not None:
        on_measured()
    line = load.stdout.readline()
    if load.wait(timeout=60) != 0 or not line:
        raise SystemExit(f"{name}: the load generator failed (exit {load.returncode})")
    load.stdout.close()
    return Phase(name, json.loads(line), {role: after[role] - before[role] for role in watched})
