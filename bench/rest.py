"""REST cost: GET /api/v1/diagnostics:echo through the gateway's HTTP door beside the same Echo called
directly over gRPC, one run.

Processes besides this one: the trivial backend, the gateway in front of it (HTTP door on a free
loopback port), the REST floor (bench/_floor_rest.py: the least an ASGI transcoder on the same stack,
uvicorn + httptools + uvloop + grpc.aio, can do) and, per phase, a load generator — bench/_load.py for direct gRPC, bench/_http_load.py
(wrk if on PATH, else an asyncio keep-alive client) for REST. CPU time is read from the processes.

Prints the throughput ratio (REST via gateway ÷ direct gRPC), the gateway's CPU microseconds per
request beside the backend's in the REST phase (target: at most 0.9×), and the same ratio for the floor,
which bounds what any door on this stack can reach.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import psutil
from tta.v1 import diagnostics_pb2

from bench.passthrough import Phase, _spawn, cpu_seconds, free_port, run_load, stop_all, wait_serving

PATH = "/api/v1/diagnostics:echo?payload=eHh4eA=="  # base64 of b"xxxx"


def run_http_load(
    port: int, connections: int, seconds: float, watched: dict[str, psutil.Process], python: bool
) -> tuple[Phase, str]:
    """bench.passthrough.run_load for the HTTP generator: CPU read between its two JSON lines."""
    args = ["--port", str(port), "--path", PATH, "--connections", str(connections), "--seconds", str(seconds)]
    load = subprocess.Popen(
        [sys.executable, "-m", "bench._http_load", *args, *(["--python"] if python else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert load.stdout is not None
    assert json.loads(load.stdout.readline())["event"] == "measuring"
    before = {n: cpu_seconds(p) for n, p in watched.items()}
    line = load.stdout.readline()
    after = {n: cpu_seconds(p) for n, p in watched.items()}
    if load.wait(timeout=30) != 0 or not line:
        raise SystemExit(f"HTTP load generator failed (exit {load.returncode})")
    load.stdout.close()
    result = json.loads(line)
    if result["errors"]:
        raise SystemExit(f"HTTP load saw {result['errors']} errors (non-200 or socket errors)")
    cpu = {n: after[n] - before[n] for n in watched}
    return Phase(int(result["calls"]), float(result["seconds"]), cpu), str(result["generator"])


def _report(rounds: list[tuple[Phase, Phase, Phase, Phase]], a: argparse.Namespace, generator: str) -> None:
    print(
        f"REST bench: GET {PATH} via the gateway vs direct gRPC Echo, {a.concurrency} in flight,"
        f" {a.rounds} rounds of {a.seconds:.0f}s per phase; HTTP load generator: {generator}"
    )

    def ratio(phase: Phase, name: str) -> float:
        return phase.us_per_call(name) / phase.us_per_call("backend")

    for i, (direct, rest, bare, ctx) in enumerate(rounds, 1):
        print(
            f"  round {i}: direct gRPC {direct.rate:6.0f}/s (backend {direct.us_per_call('backend'):5.1f} µs)"
            f" | REST via gateway {rest.rate:6.0f}/s (throughput ratio {rest.rate / direct.rate:.2f};"
            f" gateway {rest.us_per_call('gateway'):5.1f} µs, backend {rest.us_per_call('backend'):5.1f} µs"
            f" -> {ratio(rest, 'gateway'):.2f}x)"
            f" | floor {bare.us_per_call('floor'):5.1f} µs -> {ratio(bare, 'floor'):.2f}x"
            f" | floor+context {ctx.us_per_call('floor_ctx'):5.1f} µs -> {ratio(ctx, 'floor_ctx'):.2f}x"
        )
    med = statistics.median
    throughput = med(rest.rate / direct.rate for direct, rest, _, _ in rounds)
    gw_us = med(rest.us_per_call("gateway") for _, rest, _, _ in rounds)
    be_us = med(rest.us_per_call("backend") for _, rest, _, _ in rounds)
    cpu = med(ratio(rest, "gateway") for _, rest, _, _ in rounds)
    floor_cpu = med(ratio(bare, "floor") for _, _, bare, _ in rounds)
    ctx_cpu = med(ratio(ctx, "floor_ctx") for *_, ctx in rounds)
    context_us = med(ctx.us_per_call("floor_ctx") - bare.us_per_call("floor") for _, _, bare, ctx in rounds)
    own_us = med(rest.us_per_call("gateway") - ctx.us_per_call("floor_ctx") for _, rest, _, ctx in rounds)
    print(f"  median throughput ratio (REST via gateway / direct gRPC): {throughput:.2f}")
    print(
        f"  median CPU per request (REST phase): gateway {gw_us:.1f} µs, backend {be_us:.1f} µs -> "
        f"ratio {cpu:.2f}x (target <= 0.9x)"
    )
    print(
        f"  floors on the same stack (uvicorn+httptools+uvloop, grpc.aio): bare {floor_cpu:.2f}x;"
        f" with a deadline and the two ids upstream {ctx_cpu:.2f}x (+{context_us:.1f} µs)."
        f" The gateway's own work (routing, binding, policy, telemetry, JSON) adds {own_us:.1f} µs to that"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=16, help="gRPC calls / HTTP connections in flight")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--python-client", action="store_true", help="skip wrk even if it is installed")
    a = p.parse_args(argv)
    payload = diagnostics_pb2.EchoRequest(payload=b"xxxx").SerializeToString()
    backend_port, grpc_port, http_port = free_port(), free_port(), free_port()
    floor_port, context_port = free_port(), free_port()
    upstream = f"127.0.0.1:{backend_port}"
    procs: list[subprocess.Popen[str]] = []
    rounds: list[tuple[Phase, Phase, Phase, Phase]] = []
    generator = ""
    try:
        backend = _spawn(["bench._backend", "--port", str(backend_port)], procs)
        floor = _spawn(["bench._floor_rest", "--port", str(floor_port), "--upstream", upstream], procs)
        floor_ctx = _spawn(
            ["bench._floor_rest", "--port", str(context_port), "--upstream", upstream, "--context"], procs
        )
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "gateway.yaml"
            config.write_text(
                json.dumps(
                    {
                        "grpc": {"host": "127.0.0.1", "port": grpc_port},
                        "http": {"host": "127.0.0.1", "port": http_port},
                        "log": {"level": "warning"},
                        "admin": {"port": 0},
                        "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [upstream]}],
                    }
                )
            )
            gateway = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--config", str(config)], text=True
            )
            procs.append(gateway)
            wait_serving(f"127.0.0.1:{grpc_port}")  # the HTTP door starts before the gRPC one
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{PATH}", timeout=5) as resp:
            body = json.loads(resp.read())
            if resp.status != 200 or body.get("payload") != "eHh4eA==":
                raise SystemExit(f"REST check failed: {resp.status} {body}")
        watched = {
            "backend": psutil.Process(backend.pid),
            "gateway": psutil.Process(gateway.pid),
            "floor": psutil.Process(floor.pid),
            "floor_ctx": psutil.Process(floor_ctx.pid),
        }
        # Alternate the phases so drift in the machine's load hits both alike; report medians.
        for _ in range(a.rounds):
            direct = run_load(upstream, payload, a.concurrency, a.seconds, watched)
            rest, generator = run_http_load(http_port, a.concurrency, a.seconds, watched, a.python_client)
            bare, _ = run_http_load(floor_port, a.concurrency, a.seconds, watched, a.python_client)
            ctx, _ = run_http_load(context_port, a.concurrency, a.seconds, watched, a.python_client)
            rounds.append((direct, rest, bare, ctx))
    finally:
        stop_all(procs)

    _report(rounds, a, generator)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
