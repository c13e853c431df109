"""CPU per call at one fixed offered rate: the gateway's two doors beside their floors and the backend,
in one run (``make bench``, ``python -m bench``).

Processes besides this one, all on loopback: the trivial backend (bench/_backend.py); the floors, the
least a proxy on the gateway's stack can do — a bare grpc.aio proxy (bench/_floor_proxy.py) and a bare
ASGI transcoder (bench/_floor_rest.py), each also with what every gateway call must carry (the
deadline and the two ids upstream, ``--context``; for gRPC also the ids back in the response headers,
``--reply-ids``); the gateway, started by its command line with its shipped telemetry (metrics, one
access line per call, to a log file); the same with telemetry off; and, per phase, one load generator.
The variants split the gateway's gap over its floor into what the protocol requires, what telemetry
costs and the rest.

The identity pair calls ``/tta.v1.PlayerService/GetPlayer`` (REST ``GET /api/v1/players/pl_bench``),
a method whose contract requires a token, which the backend answers with an empty response: through
the gateway with telemetry off and no ``auth`` section (``gateway-noauth``), and through a gateway with
the same config plus ``auth`` enabled on a development key made for the run (``gateway-auth``). Both
send the same ``Authorization: Bearer`` token on every call, so the two differ only by the identity
steps (the token verified once, then found in the cache; the roles; ownership of the player asked
for). Their difference is far below what one run resolves, so the run ends with the same steps timed
in-process (bench/identity_step.py).

Every phase offers the same calls per second on a fixed schedule (open loop, bench/_pacing.py), so each
process does the same work per second in every phase and its CPU per call (user + system, read from
/proc over the measured window, divided by the calls completed in it) is comparable across phases. A
closed loop (N calls in flight) lets each front set its own rate, and grpc.aio's CPU per call falls as
more calls share an event-loop wake-up, so a slower front looks cheaper per call than it is
(docs/decisions/0007-open-loop-benchmarks.md). Rounds alternate the phases so drift in the shared
machine's load hits all alike; the figures are medians with their range. A phase that did not complete
the offered calls on time is flagged and left out of the ratios: the rate is then too high for the
machine.

``--profile`` then runs the floor and the gateway once more on each door under ``py-spy`` and prints
where each one's CPU per call goes, by thread and by module, side by side (bench/_profile.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import grpc
import psutil
from tta.v1 import diagnostics_pb2, player_pb2

from bench import _profile
from bench._phase import Phase, run_phase
from bench._processes import ROOT, Processes, free_port, thread_cpu
from bench._report import Comparison, comparisons, problems, spread, table
from bench._tokens import SUBJECT, DevAuth, dev_auth

METHOD = "/tta.v1.DiagnosticsService/Echo"
REST_PATH = "/api/v1/diagnostics:echo?payload=eHh4eA=="  # base64 of b"xxxx"
# The identity pair's call: a method whose contract requires auth (any of player, therapist, admin),
# asking for the token's own subject so ownership lets it by.
PLAYER_METHOD = "/tta.v1.PlayerService/GetPlayer"
PLAYER_PATH = f"/api/v1/players/{SUBJECT}"


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    name: str
    label: str
    door: Literal["grpc", "rest"]
    front: str | None  # the process in front of the backend (a key of FRONTS), None: direct
    call: Literal["echo", "player"] = "echo"  # player: GetPlayer, with the bearer token


FRONTS = {  # front process key -> what it is, as the table names it
    "floor_proxy": "grpc.aio proxy",
    "floor_proxy_ctx": "proxy+context",
    "floor_proxy_ids": "proxy+context+ids",
    "gateway": "gateway",
    "gateway_quiet": "gateway, tel. off",
    "gateway_auth": "gateway, auth on",
    "floor_rest": "ASGI transcoder",
    "floor_rest_ctx": "transcoder+context",
}

PHASES = (
    PhaseSpec("grpc.direct", "gRPC  direct to the backend", "grpc", None),
    PhaseSpec("grpc.floor", "gRPC  via the bare grpc.aio proxy (floor)", "grpc", "floor_proxy"),
    PhaseSpec("grpc.floor-ctx", "gRPC  floor+context: deadline, ids upstream", "grpc", "floor_proxy_ctx"),
    PhaseSpec("grpc.floor-ids", "gRPC  floor+ids: … and ids in the headers", "grpc", "floor_proxy_ids"),
    PhaseSpec("grpc.gateway", "gRPC  via the gateway", "grpc", "gateway"),
    PhaseSpec("grpc.gateway-quiet", "gRPC  via the gateway, telemetry off", "grpc", "gateway_quiet"),
    PhaseSpec(
        "grpc.gateway-noauth", "gRPC  GetPlayer via the gateway, tel. off", "grpc", "gateway_quiet", "player"
    ),
    PhaseSpec(
        "grpc.gateway-auth", "gRPC  GetPlayer, the same with auth on", "grpc", "gateway_auth", "player"
    ),
    PhaseSpec("rest.floor", "REST  via the bare ASGI transcoder (floor)", "rest", "floor_rest"),
    PhaseSpec("rest.floor-ctx", "REST  floor+context: deadline, ids upstream", "rest", "floor_rest_ctx"),
    PhaseSpec("rest.gateway", "REST  via the gateway", "rest", "gateway"),
    PhaseSpec("rest.gateway-quiet", "REST  via the gateway, telemetry off", "rest", "gateway_quiet"),
    PhaseSpec(
        "rest.gateway-noauth", "REST  GetPlayer via the gateway, tel. off", "rest", "gateway_quiet", "player"
    ),
    PhaseSpec(
        "rest.gateway-auth", "REST  GetPlayer, the same with auth on", "rest", "gateway_auth", "player"
    ),
)

# The target: the gateway at most 1.2x its floor's CPU per call, on both doors.
TARGET = 1.2
# Issue 9's: the identity steps with a cached verified token at most 20 µs per call.
IDENTITY_TARGET_US = 20.0
COMPARISONS = (
    Comparison("gRPC  gateway ÷ floor", ("grpc.gateway", "front"), ("grpc.floor", "front"), target=TARGET),
    Comparison("gRPC  floor ÷ backend", ("grpc.floor", "front"), ("grpc.floor", "backend")),
    Comparison("gRPC  gateway ÷ backend", ("grpc.gateway", "front"), ("grpc.gateway", "backend")),
    Comparison(
        "gRPC  deadline and ids upstream: floor+context − floor",
        ("grpc.floor-ctx", "front"),
        ("grpc.floor", "front"),
        kind="difference",
    ),
    Comparison(
        "gRPC  ids in the response headers: floor+ids − floor+context",
        ("grpc.floor-ids", "front"),
        ("grpc.floor-ctx", "front"),
        kind="difference",
    ),
    Comparison(
        "gRPC  telemetry: gateway − gateway with telemetry off",
        ("grpc.gateway", "front"),
        ("grpc.gateway-quiet", "front"),
        kind="difference",
    ),
    Comparison(
        "gRPC  the rest of the gateway: telemetry off − floor+ids",
        ("grpc.gateway-quiet", "front"),
        ("grpc.floor-ids", "front"),
        kind="difference",
    ),
    Comparison("gRPC  gateway ÷ floor+ids", ("grpc.gateway", "front"), ("grpc.floor-ids", "front")),
    Comparison(
        "gRPC  identity (cached token): gateway-auth − gateway-noauth",
        ("grpc.gateway-auth", "front"),
        ("grpc.gateway-noauth", "front"),
        kind="difference",
        target=IDENTITY_TARGET_US,
    ),
    Comparison("REST  gateway ÷ floor", ("rest.gateway", "front"), ("rest.floor", "front"), target=TARGET),
    Comparison("REST  floor ÷ backend", ("rest.floor", "front"), ("rest.floor", "backend")),
    Comparison("REST  gateway ÷ backend", ("rest.gateway", "front"), ("rest.gateway", "backend")),
    Comparison(
        "REST  deadline and ids upstream: floor+context − floor",
        ("rest.floor-ctx", "front"),
        ("rest.floor", "front"),
        kind="difference",
    ),
    Comparison(
        "REST  telemetry: gateway − gateway with telemetry off",
        ("rest.gateway", "front"),
        ("rest.gateway-quiet", "front"),
        kind="difference",
    ),
    Comparison(
        "REST  the rest of the gateway: telemetry off − floor+context",
        ("rest.gateway-quiet", "front"),
        ("rest.floor-ctx", "front"),
        kind="difference",
    ),
    Comparison("REST  gateway ÷ floor+context", ("rest.gateway", "front"), ("rest.floor-ctx", "front")),
    Comparison(
        "REST  identity (cached token): gateway-auth − gateway-noauth",
        ("rest.gateway-auth", "front"),
        ("rest.gateway-noauth", "front"),
        kind="difference",
        target=IDENTITY_TARGET_US,
    ),
)


def gateway_settings(grpc_port: int, http_port: int, upstream: str, telemetry: bool) -> dict[str, Any]:
    """The gateway's config: loopback doors, one upstream, and either the shipped telemetry (metrics,
    an access line per call at info) or none (no metrics, warnings only, no access lines)."""
    settings: dict[str, Any] = {
        "grpc": {"host": "127.0.0.1", "port": grpc_port},
        "http": {"host": "127.0.0.1", "port": http_port},
        "admin": {"host": "127.0.0.1", "port": 0},
        "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [upstream]}],
        "auth": {"enabled": False},  # the pass-through; the identity phases set auth.settings()
    }
    if not telemetry:
        settings |= {"log": {"level": "warning", "access": False}, "metrics": {"enabled": False}}
    return settings


@dataclass(frozen=True, slots=True)
class Front:
    process: psutil.Process
    grpc_target: str | None = None
    http_port: int | None = None


def _check_rest(port: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{REST_PATH}", timeout=5) as resp:
        body = json.loads(resp.read())
    if resp.status != 200 or body.get("payload") != "eHh4eA==":
        raise SystemExit(f"REST check on port {port} failed: {resp.status} {body}")


def _check_player(front: Front, auth: DevAuth, checked: bool) -> None:
    """GetPlayer with the token answers on both doors; when ``checked`` (auth on), without it the
    gateway refuses the call, so the identity step is known to run in the measured phases."""
    assert front.grpc_target is not None
    request = player_pb2.GetPlayerRequest(player_id=SUBJECT).SerializeToString()
    with grpc.insecure_channel(front.grpc_target) as channel:
        call = channel.unary_unary(PLAYER_METHOD)
        call(request, timeout=5, metadata=(("authorization", auth.header),))
        if checked:
            try:
                call(request, timeout=5)
            except grpc.RpcError as err:
                if err.code() is not grpc.StatusCode.UNAUTHENTICATED:
                    raise SystemExit(
                        f"gRPC GetPlayer without a token: {err.code()}, not UNAUTHENTICATED"
                    ) from None
            else:
                raise SystemExit("gRPC GetPlayer without a token was answered: auth is not on")
    url = f"http://127.0.0.1:{front.http_port}{PLAYER_PATH}"
    with urllib.request.urlopen(
        urllib.request.Request(url, headers={"Authorization": auth.header}), timeout=5
    ) as resp:
        if resp.status != 200:
            raise SystemExit(f"REST GET {PLAYER_PATH} with the token: {resp.status}")
    if checked:
        try:
            urllib.request.urlopen(url, timeout=5).close()
        except urllib.error.HTTPError as err:
            if err.code != 401:
                raise SystemExit(f"REST GET {PLAYER_PATH} without a token: {err.code}, not 401") from None
        else:
            raise SystemExit(f"REST GET {PLAYER_PATH} without a token was answered: auth is not on")


def _start(
    specs: list[PhaseSpec], procs: Processes, workdir: Path
) -> tuple[psutil.Process, str, dict[str, Front], DevAuth | None]:
    """Start the backend and every front the phases need; return the backend, its address, the fronts
    and, when a phase calls GetPlayer, the development key's token."""
    backend_port = free_port()
    upstream = f"127.0.0.1:{backend_port}"
    backend = procs.spawn("bench._backend", "--port", str(backend_port))
    needed = {s.front for s in specs if s.front is not None}
    auth = dev_auth(workdir) if any(s.call == "player" for s in specs) else None
    fronts: dict[str, Front] = {}
    for key in FRONTS:
        if key not in needed:
            continue
        if key.startswith("floor_proxy"):
            port = free_port()
            extra = {"floor_proxy": [], "floor_proxy_ctx": ["--context"]}.get(
                key, ["--context", "--reply-ids"]
            )
            proc = procs.spawn("bench._floor_proxy", "--port", str(port), "--upstream", upstream, *extra)
            fronts[key] = Front(proc, f"127.0.0.1:{port}")
        elif key in ("floor_rest", "floor_rest_ctx"):
            port = free_port()
            extra = ["--context"] if key == "floor_rest_ctx" else []
            proc = procs.spawn("bench._floor_rest", "--port", str(port), "--upstream", upstream, *extra)
            fronts[key] = Front(proc, http_port=port)
        else:
            grpc_port, http_port = free_port(), free_port()
            settings = gateway_settings(grpc_port, http_port, upstream, telemetry=key == "gateway")
            if key == "gateway_auth":
                assert auth is not None
                settings["auth"] = auth.settings()
            proc = procs.gateway(key, settings)
            fronts[key] = Front(proc, f"127.0.0.1:{grpc_port}", http_port)
    for spec in specs:
        if spec.door == "rest" and spec.front is not None and spec.call == "echo":
            rest_port = fronts[spec.front].http_port
            assert rest_port is not None
            _check_rest(rest_port)
        if spec.call == "player":
            assert auth is not None
            assert spec.front is not None
            _check_player(fronts[spec.front], auth, checked=spec.front == "gateway_auth")
    return backend, upstream, fronts, auth


def _generator(
    spec: PhaseSpec,
    a: argparse.Namespace,
    seconds: float,
    upstream: str,
    fronts: Mapping[str, Front],
    auth: DevAuth | None = None,
) -> list[str]:
    common = [
        "--rate",
        str(a.rate),
        "--warmup",
        str(a.warmup),
        "--seconds",
        str(seconds),
        "--late-ms",
        str(a.late_ms),
    ]
    if spec.call == "player":  # the same token with every call, whether the gateway checks it or not
        assert auth is not None
        if spec.door == "grpc":
            common += ["--metadata", f"authorization={auth.header}"]
        else:
            common += ["--header", f"Authorization: {auth.header}"]
    if spec.door == "grpc":
        target = upstream if spec.front is None else fronts[spec.front].grpc_target
        assert target is not None
        if spec.call == "player":
            method, payload = (
                PLAYER_METHOD,
                player_pb2.GetPlayerRequest(player_id=SUBJECT).SerializeToString(),
            )
        else:
            method = METHOD
            payload = diagnostics_pb2.EchoRequest(payload=b"x" * a.payload_bytes).SerializeToString()
        return [
            "bench._load",
            "--target",
            target,
            "--method",
            method,
            "--payload-hex",
            payload.hex(),
            *common,
        ]
    assert spec.front is not None
    port = fronts[spec.front].http_port
    return [
        "bench._http_load",
        "--port",
        str(port),
        "--path",
        PLAYER_PATH if spec.call == "player" else REST_PATH,
        "--connections",
        str(a.connections),
        *common,
    ]


def _profile_phase(
    spec: PhaseSpec,
    a: argparse.Namespace,
    py_spy: str,
    perf: str | None,
    workdir: Path,
    backend: psutil.Process,
    upstream: str,
    fronts: Mapping[str, Front],
    auth: DevAuth | None,
) -> tuple[Phase, _profile.Profile]:
    """One more phase of ``spec`` with py-spy recording its front, and the front's threads' CPU read
    over the same window."""
    assert spec.front is not None
    front = fronts[spec.front].process
    box: dict[str, Any] = {}

    def start() -> None:
        box["before"] = thread_cpu(front)
        out = (a.profile_dir or workdir) / f"{spec.name}.raw"
        native = a.profile_native
        box["recorder"] = _profile.Recorder(py_spy, front.pid, out, a.profile_seconds, a.profile_rate, native)
        if perf is not None:
            perf_out = (a.profile_dir or workdir) / f"{spec.name}.perf"
            box["perf"] = _profile.PerfRecorder(perf, front.pid, perf_out, a.profile_seconds)

    def stop() -> None:
        box["after"] = thread_cpu(front)

    generator = _generator(spec, a, a.profile_seconds, upstream, fronts, auth)
    phase = run_phase(spec.name, generator, {"front": front, "backend": backend}, start, stop)
    threads = box["recorder"].result()
    before, after = box["before"], box["after"]
    cpu = {key: after[key] - before.get(key, 0.0) for key in after}
    dsos = box["perf"].shares() if perf is not None else {}
    return phase, _profile.build_profile(front.pid, threads, cpu, phase.completed, dsos)


# By default each door's gateway phase is profiled beside its floor's: the difference is the gateway's own.
PROFILED = "grpc.floor:grpc.gateway,rest.floor:rest.gateway"


def _profile_doors(
    a: argparse.Namespace,
    specs: list[PhaseSpec],
    rounds: list[dict[str, Phase]],
    py_spy: str,
    workdir: Path,
    backend: psutil.Process,
    upstream: str,
    fronts: Mapping[str, Front],
    auth: DevAuth | None,
) -> list[str]:
    lines: list[str] = []
    by_name = {s.name: s for s in specs}
    mode = "native and Python frames" if a.profile_native else "Python frames only"
    perf = _profile.find_perf() if a.perf else None
    if a.perf and perf is None:
        lines.append("perf is not installed or may not sample here (Debian: apt-get install linux-perf)")
    for pair_text in a.profile_pairs.split(","):
        names = pair_text.strip().split(":")
        if len(names) != 2 or not all(n in by_name for n in names):
            continue  # a phase this run does not run (checked against PHASES by _parse)
        pair = [by_name[n] for n in names]
        measured = [
            _profile_phase(s, a, py_spy, perf, workdir, backend, upstream, fronts, auth) for s in pair
        ]
        door = pair[1].label.split()[0]
        lines += [
            "",
            f"{door} door profile, {pair[0].name} beside {pair[1].name}: py-spy at {a.profile_rate} Hz ({mode}), {a.profile_seconds:.0f} s of each at"
            f" {a.rate:.0f} calls/s; each thread's CPU from /proc, the main thread's split by its samples",
        ]
        for s, (phase, _) in zip(pair, measured, strict=True):
            unprofiled = [r[s.name].us_per_call("front") for r in rounds if s.name in r]
            note = f" (unprofiled: {statistics.median(unprofiled):.0f} µs)" if unprofiled else ""
            trouble = (
                f"; did not do the offered work: {'; '.join(phase.problems())}" if phase.problems() else ""
            )
            lines.append(
                f"  {s.label.split('  ')[1]}: {phase.completed} calls, {phase.us_per_call('front'):.0f} µs"
                f" per call while profiled{note}{trouble}"
            )
        short = tuple(s.name.split(".", 1)[1] for s in pair)
        lines += _profile.compare((short[0], short[1]), measured[0][1], measured[1][1])
    return lines


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[PhaseSpec]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=400.0, help="calls per second offered in every phase (400)")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per phase (5)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of calls before each window (1)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of all phases, alternating (3)")
    p.add_argument(
        "--phases",
        default=",".join(s.name for s in PHASES),
        help="comma-separated phases to run, of: " + ", ".join(s.name for s in PHASES),
    )
    p.add_argument("--payload-bytes", type=int, default=16, help="gRPC Echo payload (16)")
    p.add_argument("--connections", type=int, default=16, help="HTTP keep-alive connections (16)")
    p.add_argument("--late-ms", type=float, default=5.0, help="a call started later than this is late (5)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="then profile the gateway beside its floor on each door (py-spy; perf too when installed)",
    )
    p.add_argument("--profile-seconds", type=float, default=10.0, help="seconds profiled per door (10)")
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second (100)")
    p.add_argument(
        "--profile-pairs",
        default=PROFILED,
        help=f"with --profile: the phases profiled, as A:B pairs shown side by side ({PROFILED})",
    )
    p.add_argument(
        "--profile-dir",
        type=Path,
        help="keep the raw profiles here (py-spy's collapsed stacks, perf.data), e.g. for flamegraph.pl",
    )
    p.add_argument(
        "--perf",
        action="store_true",
        help="with --profile: perf record (cpu-clock) too, for native code and the kernel by shared object",
    )
    p.add_argument(
        "--profile-native",
        action="store_true",
        help="py-spy --native: C and Cython frames too (stops the process per sample: perturbs it)",
    )
    a = p.parse_args(argv)
    if a.profile_dir is not None:
        a.profile_dir = a.profile_dir.resolve()
        a.profile_dir.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in a.phases.split(",") if n.strip()]
    unknown = sorted(set(names) - {s.name for s in PHASES})
    paired = {n for pair in a.profile_pairs.split(",") for n in pair.strip().split(":")}
    if a.profile and paired - {s.name for s in PHASES}:
        p.error(
            f"--profile-pairs names unknown phases: {', '.join(sorted(paired - {s.name for s in PHASES}))}"
        )
    if unknown:
        p.error(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(s.name for s in PHASES)}")
    return a, [s for s in PHASES if s.name in names]


def _run(
    a: argparse.Namespace, specs: list[PhaseSpec], py_spy: str | None
) -> tuple[list[dict[str, Phase]], list[str]]:
    """Start the processes, run the rounds (and the profiled phases), stop the processes."""
    rounds: list[dict[str, Phase]] = []
    profile_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tta-bench-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            backend, upstream, fronts, auth = _start(specs, procs, workdir)
            started = time.monotonic()
            for i in range(a.rounds):
                r: dict[str, Phase] = {}
                for spec in specs:
                    watched = {"backend": backend}
                    if spec.front is not None:
                        watched["front"] = fronts[spec.front].process
                    generator = _generator(spec, a, a.seconds, upstream, fronts, auth)
                    r[spec.name] = run_phase(spec.name, generator, watched)
                rounds.append(r)
                print(
                    f"  round {i + 1} of {a.rounds} done ({time.monotonic() - started:.0f} s;"
                    f" load average {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
            if py_spy is not None:
                profile_lines = _profile_doors(
                    a, specs, rounds, py_spy, workdir, backend, upstream, fronts, auth
                )
        finally:
            procs.stop()
    return rounds, profile_lines


def _identity_in_process() -> list[str]:
    """The identity steps timed in-process (bench/identity_step.py), run after the phases' processes
    have stopped; a failure is reported, not fatal (it imports gateway internals, which may move)."""
    cmd = [sys.executable, "-m", "bench.identity_step", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return [
            f"  the in-process timing failed (python -m bench.identity_step, exit {done.returncode}): {tail[0]}"
        ]
    out = json.loads(done.stdout)
    per = {key: spread(values) for key, values in out["us_per_call"].items()}
    both = statistics.median(out["us_per_call"]["before"]) + statistics.median(
        out["us_per_call"]["on_request"]
    )
    lines = [
        f"identity steps in-process (python -m bench.identity_step): µs per call, median [min–max] of"
        f" {out['repeats']} loops of {out['calls']} calls on a prepared GetPlayer call:"
    ]
    for key, text in (
        ("before", "Identity.before, cached token"),
        ("on_request", "Ownership.on_request (decodes the request)"),
        ("before_uncached", "Identity.before, token not cached (signature verified)"),
    ):
        s = per[key]
        assert s is not None
        lines.append(f"  {text:62s} {s.show('{:.1f}')} µs")
    verdict = "met" if both <= IDENTITY_TARGET_US else "not met"
    lines.append(
        f"  {'identity steps with a cached token, both':62s} {both:.1f} µs"
        f"  (target ≤ {IDENTITY_TARGET_US:.0f} µs: {verdict})"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    a, specs = _parse(argv)
    py_spy = _profile.find_py_spy() if a.profile else None
    if a.profile and py_spy is None:
        print(_profile.INSTALL)
    per_phase = a.warmup + a.seconds + 0.7  # the generator's start-up, roughly
    print(
        f"open-loop bench: {a.rate:.0f} calls/s offered in every phase, {a.rounds} rounds of {len(specs)}"
        f" phases, {a.seconds:.0f} s measured after {a.warmup:.0f} s of warm-up"
        f" (about {a.rounds * len(specs) * per_phase / 60:.1f} min)"
    )
    print(
        f"  machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the start;"
        f" Python {platform.python_version()}, grpcio {version('grpcio')}, uvloop {version('uvloop')},"
        f" uvicorn {version('uvicorn')}; gRPC {METHOD} with a {a.payload_bytes}-byte payload,"
        f" REST GET {REST_PATH} over {a.connections} keep-alive connections",
        flush=True,
    )
    if any(s.call == "player" for s in specs):
        print(
            f"  identity phases: gRPC {PLAYER_METHOD}, REST GET {PLAYER_PATH}, both with the same bearer"
            " token (EdDSA, cached after its first call); gateway-noauth has no auth section, gateway-auth"
            " verifies it",
            flush=True,
        )
    rounds, profile_lines = _run(a, specs, py_spy)
    identity_lines = _identity_in_process() if any(s.front == "gateway_auth" for s in specs) else []
    labels = {s.name: s.label for s in specs}
    front_names = {s.name: FRONTS[s.front] for s in specs if s.front}
    print()
    print(
        f"CPU per call, median [min–max] over {a.rounds} rounds; switches: the front's context switches per call"
    )
    print("\n".join(table(rounds, labels, front_names)))
    print()
    print("comparisons of CPU per call within each round, median [min–max]:")
    print("\n".join(comparisons(rounds, COMPARISONS)))
    if identity_lines:
        print(
            "  (one run resolves about 100 µs per call end to end on a shared machine: the identity"
            " difference is read from the in-process timing below)"
        )
        print()
        print("\n".join(identity_lines))
    trouble = problems(rounds)
    if trouble:
        print()
        print(
            "! these phases did not do the offered work, so their CPU per call is not comparable and they are"
            f" left out of the comparisons; {a.rate:.0f} calls/s may be too much for this machine now (try a lower"
            " --rate):"
        )
        print("\n".join(trouble))
    print("\n".join(profile_lines))
    return 1 if trouble else 0


if __name__ == "__main__":
    raise SystemExit(main())
