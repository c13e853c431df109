"""Pass-through cost: the trivial unary method called directly and through the gateway, one run.

Four processes besides this one: the trivial backend, the gateway in front of it, a bare grpc.aio
proxy (the floor, bench/_floor_proxy.py) and a load
generator. Each phase runs the same load; CPU time is read from the processes themselves, so the
figures are CPU microseconds per call, not wall-clock guesses on a noisy machine.

Prints the throughput ratio (through the gateway ÷ direct) and the gateway's CPU per call beside the
backend's (the ratio the issue targets: ≤ 1.2×, the project's goal ≤ 1.0×).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tta.v1 import diagnostics_pb2

METHOD = "/tta.v1.DiagnosticsService/Echo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def wait_serving(target: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise SystemExit(f"{target} did not become ready")


@dataclass
class Phase:
    calls: int
    seconds: float
    cpu: dict[str, float]  # process name -> CPU seconds during the measured window

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def us_per_call(self, name: str) -> float:
        return self.cpu[name] / self.calls * 1e6


def run_load(
    target: str, payload: bytes, concurrency: int, seconds: float, watched: dict[str, psutil.Process]
) -> Phase:
    load = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench._load",
            "--target",
            target,
            "--method",
            METHOD,
            "--payload-hex",
            payload.hex(),
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert load.stdout is not None
    assert json.loads(load.stdout.readline())["event"] == "measuring"
    before = {n: cpu_seconds(p) for n, p in watched.items()}
    result = json.loads(load.stdout.readline())
    after = {n: cpu_seconds(p) for n, p in watched.items()}
    load.wait(timeout=30)
    if result["errors"]:
        raise SystemExit(f"load saw {result['errors']} errors")
    return Phase(int(result["calls"]), float(result["seconds"]), {n: after[n] - before[n] for n in watched})


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    """Terminate the helper processes a benchmark started, and reap them."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def _spawn(args: list[str], procs: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """Start a helper process that prints "ready" once it serves."""
    proc = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--payload-bytes", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    payload = diagnostics_pb2.EchoRequest(payload=b"x" * a.payload_bytes).SerializeToString()
    backend_port, gateway_port, floor_port = free_port(), free_port(), free_port()
    upstream = f"127.0.0.1:{backend_port}"
    procs: list[subprocess.Popen[str]] = []
    try:
        backend = _spawn(["bench._backend", "--port", str(backend_port)], procs)
        floor = _spawn(["bench._floor_proxy", "--port", str(floor_port), "--upstream", upstream], procs)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "gateway.yaml"
            config.write_text(
                json.dumps(
                    {
                        "grpc": {"host": "127.0.0.1", "port": gateway_port},
                        "log": {"level": "warning"},
                        "admin": {"port": 0},
                        "http": {"port": 0},
                        "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [upstream]}],
                    }
                )
            )
            gateway = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--config", str(config)], text=True
            )
            procs.append(gateway)
            wait_serving(f"127.0.0.1:{gateway_port}")
        watched = {
            "backend": psutil.Process(backend.pid),
            "gateway": psutil.Process(gateway.pid),
            "floor": psutil.Process(floor.pid),
        }
        # Alternate the phases so drift in the machine's load hits all alike; report medians.
        rounds: list[tuple[Phase, Phase, Phase]] = []
        for _ in range(a.rounds):
            direct = run_load(upstream, payload, a.concurrency, a.seconds, watched)
            via = run_load(f"127.0.0.1:{gateway_port}", payload, a.concurrency, a.seconds, watched)
            bare = run_load(f"127.0.0.1:{floor_port}", payload, a.concurrency, a.seconds, watched)
            rounds.append((direct, via, bare))
    finally:
        stop_all(procs)

    print(
        f"pass-through bench: unary {METHOD}, {a.payload_bytes}-byte payload, "
        f"{a.concurrency} in flight, {a.rounds} rounds of {a.seconds:.0f}s per phase"
    )
    for i, (direct, via, bare) in enumerate(rounds, 1):
        print(
            f"  round {i}: direct {direct.rate:6.0f}/s (backend {direct.us_per_call('backend'):5.1f} µs)"
            f" | gateway {via.rate:6.0f}/s (backend {via.us_per_call('backend'):5.1f} µs,"
            f" gateway {via.us_per_call('gateway'):5.1f} µs)"
            f" | floor proxy {bare.rate:6.0f}/s (backend {bare.us_per_call('backend'):5.1f} µs,"
            f" proxy {bare.us_per_call('floor'):5.1f} µs)"
        )

    def med(values: Iterable[float]) -> float:
        return statistics.median(list(values))

    throughput = med(via.rate / direct.rate for direct, via, _ in rounds)
    gw_us = med(via.us_per_call("gateway") for _, via, _ in rounds)
    be_us = med(via.us_per_call("backend") for _, via, _ in rounds)
    cpu = med(via.us_per_call("gateway") / via.us_per_call("backend") for _, via, _ in rounds)
    floor_cpu = med(bare.us_per_call("floor") / bare.us_per_call("backend") for _, _, bare in rounds)
    print(f"  median throughput ratio (via gateway / direct): {throughput:.2f}")
    print(
        f"  median CPU per call: gateway {gw_us:.1f} µs, backend {be_us:.1f} µs -> "
        f"ratio {cpu:.2f}x (target <= 1.2x, goal <= 1.0x)"
    )
    print(f"  floor: a bare grpc.aio+uvloop proxy costs {floor_cpu:.2f}x the backend's CPU per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
