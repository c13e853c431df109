"""Where a running proxy's CPU goes: py-spy samples of the process under the bench's load, grouped by
module and turned into µs per call with each thread's own CPU time.

py-spy is a development tool, not a dependency: it is used when found (on PATH or beside the venv's
python) and its install command is printed otherwise. ``py-spy record --format raw --threads`` writes
one line per distinct stack, ``thread (TID): NAME;outermost (file:line);...;innermost (file:line) COUNT``.
py-spy samples a thread only while it is not idle, so within one thread the samples' shares are shares
of its CPU time; each thread's CPU per call comes from /proc (psutil), read over the same window.
Threads py-spy cannot see (grpc core's native ``event_engine`` threads) are reported by their CPU alone.

Two limits, both measured: (1) "not idle" means running *or waiting for a core*, so on a loaded machine
frames right after a wake-up (a ``sendmsg`` that wakes the peer) collect samples while the thread
waits; keep the machine quiet while profiling. (2) Stopping the process per sample (py-spy's default,
needed by ``--native``) adds CPU to every thread; without ``--native`` the profile reads memory without
stopping it (``--nonblocking``) and the profiled CPU per call matches the unprofiled one.

Each sample is charged to the module of its innermost frame ("self"). Without ``--native`` that is a
Python frame: time in a C or Cython function counts for the Python frame that called it, and a sample
whose innermost frame is the event loop's own entry (``Runner.run``) is time in the loop's native code
with no Python frame above it: uvloop, and grpc's Cython callbacks (completion queue, call batches).

``perf record -e cpu-clock`` (optional, ``--perf``) adds what py-spy cannot see, native code and the
kernel, by shared object, for every thread. It perturbs more: at 999 Hz the profiled process used
30–50 % more CPU per call here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

INSTALL = (
    "py-spy is not installed; it is a development tool, installed on demand into the venv: "
    "`uv pip install --python .venv/bin/python py-spy` (uv from PATH or .tools/bin/uv; "
    "the venv has no pip). A later `uv sync` removes it again."
)

_THREAD = re.compile(r"^thread \((?:0x)?(?P<tid>[0-9a-fA-F]+)\): ?(?P<name>.*)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Entry frames: a sample whose innermost Python frame is one of these ran native code only.
LOOP_NATIVE = "event loop, native code (uvloop, grpc Cython callbacks)"
_NATIVE_ENTRIES = {
    ("Runner.run", "asyncio/runners.py"): LOOP_NATIVE,
    ("run", "uvloop/__init__.py"): LOOP_NATIVE,
    ("Thread.run", "threading.py"): "thread entry, native code (grpc.aio's Cython poller)",
}
_OWN = ("gateway/", "transcoder/", "bench/")  # the proxies' own code, by module
# With --native, py-spy stops the process to sample it and then counts a thread blocked in the event
# loop's poll as busy (innermost frame epoll_pwait in libc): such samples are idle time, not CPU.
_IDLE_CALLS = frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select"})
_LIBRARIES = (  # path prefix (py-spy shortens site-packages and stdlib paths) -> group
    ("grpc/aio/", "grpc.aio (Python)"),
    ("grpc/_cython/", "grpc Cython"),
    ("grpc/", "grpc (Python)"),
    ("grpc_health/", "grpc_health"),
    ("google/protobuf/", "protobuf"),
    ("uvloop/", "uvloop"),
    ("asyncio/", "asyncio"),
    ("uvicorn/", "uvicorn"),
    ("httptools/", "httptools"),
    ("starlette/", "starlette"),
    ("prometheus_client/", "prometheus_client"),
    ("opentelemetry/", "opentelemetry"),
    ("logging/", "logging"),
    ("json/", "json"),
)
_NATIVE = (  # with --native: the library or source file of a native frame -> group
    ("cygrpc", "grpc Cython/core (cygrpc.so)"),
    ("loop.c", "uvloop"),
    ("loop.cpython", "uvloop"),
    ("_asynciomodule.c", "asyncio"),
    ("_asyncio.cpython", "asyncio"),
    ("libc.so", "libc (system calls)"),
    ("libpython", "CPython"),
    ("httptools", "httptools"),
    ("_pb2", "protobuf"),
    ("_message.", "protobuf"),
    ("orjson", "orjson"),
)


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def group(func: str, file: str) -> str:
    """The group a frame's time is charged to.

    >>> group("_Forward.unary_unary", "gateway/grpc_front.py"), group("x", "gateway/doors/grpc_door.py")
    ('gateway.grpc_front', 'gateway.doors.grpc_door')
    >>> group("UnaryUnaryCall._invoke", "grpc/aio/_call.py"), group("Runner.run", "asyncio/runners.py")
    ('grpc.aio (Python)', 'event loop, native code (uvloop, grpc Cython callbacks)')
    """
    entry = _NATIVE_ENTRIES.get((func, file))
    if entry is not None:
        return entry
    if file.startswith(_OWN) and file.endswith(".py"):
        return file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    if file == "<string>":  # code made by exec: dataclasses' __init__, namedtuple's __new__
        return "generated code (<string>)"
    if file.startswith("<frozen "):  # a frozen stdlib module: <frozen abc>
        return file.removeprefix("<frozen ").removesuffix(">")
    for prefix, name in _LIBRARIES:
        if file.startswith(prefix):
            return name
    if file.endswith(".py"):  # stdlib or another library: its top-level module
        return file.split("/", maxsplit=1)[0].removesuffix(".py")
    for marker, name in _NATIVE:
        if marker in file:
            return name
    if file.endswith((".c", ".h")):
        return "CPython"
    return "other native" if file else "unknown"


@dataclass
class ThreadSamples:
    tid: int
    name: str
    samples: int = 0  # busy samples: those the groups below share
    idle: int = 0  # samples waiting in the kernel for I/O (only seen with --native, see _IDLE_CALLS)
    self_by_group: Counter[str] = field(default_factory=Counter)
    self_by_function: Counter[str] = field(default_factory=Counter)
    inclusive_by_group: Counter[str] = field(default_factory=Counter)
    inclusive_by_own_function: Counter[str] = field(default_factory=Counter)


def parse_raw(lines: Iterable[str]) -> dict[int, ThreadSamples]:
    """py-spy's raw (collapsed stack) output, by thread id."""
    threads: dict[int, ThreadSamples] = {}
    for raw in lines:
        line = raw.rstrip("\n")
        if not line:
            continue
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        m = _THREAD.match(frames[0])
        if m is None:
            raise ValueError(f"not a py-spy --threads raw line: {line[:200]!r}")
        tid = int(m["tid"], 16) if frames[0].startswith("thread (0x") else int(m["tid"])
        t = threads.setdefault(tid, ThreadSamples(tid, m["name"]))
        count = int(count_text)
        parsed = [(f["func"], f["file"]) for f in map(_FRAME.match, frames[1:]) if f is not None]
        if not parsed or parsed[-1][0] in _IDLE_CALLS:
            t.idle += count
            continue
        func, file = parsed[-1]
        t.samples += count
        t.self_by_group[group(func, file)] += count
        t.self_by_function[f"{func} ({file})"] += count
        for g in {group(fn, fl) for fn, fl in parsed}:
            t.inclusive_by_group[g] += count
        for name in {f"{fn} ({fl})" for fn, fl in parsed if fl.startswith(_OWN)}:
            t.inclusive_by_own_function[name] += count
    return threads


class Recorder:
    """``py-spy record`` on one process, in the background, for a fixed number of seconds."""

    def __init__(self, py_spy: str, pid: int, out: Path, seconds: float, rate: int, native: bool) -> None:
        self.out = out
        args = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
        args += ["--rate", str(rate), "--format", "raw", "--threads", "--output", str(out)]
        # --nonblocking: py-spy reads the process's memory without stopping it. Stopping it (the
        # default, and the only way --native works) costs every thread, idle ones too, a signal and a
        # reschedule per sample: at 200 Hz that added ~60 µs of CPU per call and made idle threads busy.
        args.append("--native" if native else "--nonblocking")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def result(self) -> dict[int, ThreadSamples]:
        _, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0 or not self.out.exists():
            raise SystemExit(f"py-spy failed (exit {self.proc.returncode}): {err.decode(errors='replace')}")
        with self.out.open() as f:
            return parse_raw(f)


_DSOS = (  # a shared object perf names -> group
    ("[kernel", "kernel (system calls, loopback TCP, scheduler)"),
    ("libpython", "CPython interpreter (all Python code)"),
    ("python3", "CPython interpreter (all Python code)"),
    ("cygrpc", "grpc core and its Cython layer (cygrpc.so)"),
    ("uvloop", "uvloop (loop.so)"),
    ("loop.cpython", "uvloop (loop.so)"),
    ("libc.so", "libc"),
    ("_asyncio", "asyncio's C module"),
    ("httptools", "httptools"),
    ("orjson", "orjson"),
    ("_message", "protobuf (upb)"),
    ("libstdc++", "libstdc++ (grpc core)"),
)


def dso_group(dso: str) -> str:
    for marker, name in _DSOS:
        if marker in dso:
            return name
    return "other shared objects"


class PerfRecorder:
    """``perf record -e cpu-clock`` on one process (every thread, native code and the kernel): what
    py-spy cannot see. A software clock, so it works where the hardware counters are not exposed."""

    def __init__(self, perf: str, pid: int, out: Path, seconds: float) -> None:
        self.perf, self.out = perf, out
        args = [perf, "record", "-q", "-e", "cpu-clock", "-F", "999", "-p", str(pid), "-o", str(out)]
        self.proc = subprocess.Popen(
            [*args, "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def shares(self) -> dict[str, float]:
        """Share of the samples by group of shared object (the shares add up to 1)."""
        _, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0:
            raise SystemExit(
                f"perf record failed (exit {self.proc.returncode}): {err.decode(errors='replace')}"
            )
        report = subprocess.run(
            [self.perf, "report", "-i", str(self.out), "--sort", "dso", "--stdio", "-g", "none"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        out: dict[str, float] = {}
        for line in report.splitlines():
            m = re.match(r"^\s*([\d.]+)%\s+(.+?)\s*$", line)
            if m is not None:
                name = dso_group(m[2])
                out[name] = out.get(name, 0.0) + float(m[1]) / 100
        return out


def find_perf() -> str | None:
    """perf, if it is installed and may sample (perf_event_paranoid and the container allowing)."""
    perf = shutil.which("perf")
    if perf is None:
        return None
    probe = subprocess.run([perf, "stat", "-e", "cpu-clock", "true"], capture_output=True, check=False)
    return perf if probe.returncode == 0 else None


def thread_label(pid: int, tid: int, comm: str) -> str:
    if tid == pid:
        return "main thread (event loop)"
    if comm == "event_engine":
        return "grpc core event_engine threads (native)"
    if comm == "python":
        return "grpc.aio poller thread (Cython)"
    return f"{comm} threads"


@dataclass(frozen=True, slots=True)
class Profile:
    """One process's CPU µs per call: by thread, and its main thread's split by the samples."""

    calls: int
    main_samples: int
    by_thread: Mapping[str, float]
    main_self: Mapping[str, float]  # group -> µs per call, innermost frame
    main_inclusive: Mapping[str, float]  # group -> µs per call, anywhere on the stack
    main_functions: Mapping[str, float]  # innermost function -> µs per call
    main_own_functions: Mapping[str, float]  # gateway/transcoder/bench function -> µs per call, inclusive
    by_dso: Mapping[str, float]  # perf's shared-object group -> µs per call, all threads (empty: no perf)

    @property
    def total(self) -> float:
        return sum(self.by_thread.values())


def build_profile(
    pid: int,
    threads: Mapping[int, ThreadSamples],
    cpu_by_thread: Mapping[tuple[int, str], float],
    calls: int,
    dso_shares: Mapping[str, float],
) -> Profile:
    """Combine the samples with each thread's CPU seconds in the same window (keyed (tid, comm)), and
    perf's shares by shared object with the process's CPU."""
    by_thread: dict[str, float] = {}
    for (tid, comm), cpu in cpu_by_thread.items():
        label = thread_label(pid, tid, comm)
        by_thread[label] = by_thread.get(label, 0.0) + cpu / max(calls, 1) * 1e6
    total = sum(by_thread.values())
    by_dso = {k: share * total for k, share in sorted(dso_shares.items(), key=lambda kv: -kv[1])}
    main = threads.get(pid)
    if main is None or not main.samples:
        return Profile(calls, 0, by_thread, {}, {}, {}, {}, by_dso)
    scale = by_thread["main thread (event loop)"] / main.samples

    def us(counter: Counter[str]) -> dict[str, float]:
        return {k: n * scale for k, n in counter.most_common()}

    def below_entry(counter: Counter[str]) -> Counter[str]:
        # Entry frames (runpy, the CLI's main, the event loop's run) are on nearly every sample and say
        # nothing. "Nearly": a stack read while the process runs on (--nonblocking) can be torn, and up
        # to an eighth of them were seen without their outer frames.
        return Counter({k: n for k, n in counter.items() if n < 0.75 * main.samples})

    return Profile(
        calls,
        main.samples,
        by_thread,
        us(main.self_by_group),
        us(below_entry(main.inclusive_by_group)),
        us(main.self_by_function),
        us(below_entry(main.inclusive_by_own_function)),
        by_dso,
    )


def compare(names: tuple[str, str], a: Profile, b: Profile, top: int = 12) -> list[str]:
    """Two profiles side by side, ``b`` minus ``a`` in the last column (µs per call)."""
    width = 62
    col = max(7, *(len(n) for n in names))

    def row(k: str, x: float, y: float) -> str:
        return f"  {k[:width]:{width}s} {x:{col}.1f} {y:{col}.1f} {y - x:+7.1f}"

    def rows(x: Mapping[str, float], y: Mapping[str, float], keys: Iterable[str]) -> list[str]:
        return [row(k, x.get(k, 0.0), y.get(k, 0.0)) for k in keys]

    def biggest(x: Mapping[str, float], y: Mapping[str, float], n: int) -> list[str]:
        keys = set(x) | set(y)
        return sorted(keys, key=lambda k: -max(abs(y.get(k, 0.0) - x.get(k, 0.0)), y.get(k, 0.0)))[:n]

    head = f"  {'µs per call':{width}s} {names[0]:>{col}s} {names[1]:>{col}s} {'extra':>7s}"
    lines = ["by thread (CPU time from /proc):", head]
    lines += rows(
        a.by_thread,
        b.by_thread,
        sorted(set(a.by_thread) | set(b.by_thread), key=lambda k: -b.by_thread.get(k, 0.0)),
    )
    lines.append(row("all threads", a.total, b.total))
    if a.by_dso or b.by_dso:
        lines.append("all threads by shared object (perf, cpu-clock at 999 Hz):")
        keys = sorted(set(a.by_dso) | set(b.by_dso), key=lambda k: -b.by_dso.get(k, 0.0))
        lines += rows(a.by_dso, b.by_dso, keys)
    lines.append(
        f"main thread by the module of the innermost frame ({a.main_samples} and {b.main_samples} samples):"
    )
    lines += rows(a.main_self, b.main_self, biggest(a.main_self, b.main_self, top))
    lines.append("main thread, inclusive (anywhere on the stack; entry frames left out):")
    lines += rows(a.main_inclusive, b.main_inclusive, biggest(a.main_inclusive, b.main_inclusive, top))
    lines.append("main thread, innermost functions:")
    lines += rows(a.main_functions, b.main_functions, biggest(a.main_functions, b.main_functions, top))
    lines.append("the proxies' own functions, inclusive (everything called under them):")
    lines += rows(
        a.main_own_functions, b.main_own_functions, biggest(a.main_own_functions, b.main_own_functions, top)
    )
    return lines
