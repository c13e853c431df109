"""Telemetry cost: the same pass-through call through a gateway with telemetry on (the defaults:
metrics, one access line per call, correlation ids) and one with it off, alternating in one run.

Prints the gateway CPU per call added by telemetry (target: at most 30 µs). Tracing is measured
separately because it only costs when an exporter is configured (``--tracing console`` records spans
into a processor that drops them, by sending the console output to /dev/null).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
from tta.v1 import diagnostics_pb2

from bench.passthrough import Phase, _spawn, free_port, run_load, stop_all, wait_serving


def _gateway(
    tmp: Path, name: str, port: int, upstream: str, on: bool, tracing: str, procs: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    config = tmp / f"{name}.yaml"
    config.write_text(
        json.dumps(
            {
                "grpc": {"host": "127.0.0.1", "port": port},
                "admin": {"port": 0},
                "http": {"port": 0},
                "log": {"level": "info" if on else "warning", "access": on},
                "metrics": {"enabled": on},
                "tracing": {"exporter": tracing if on else "none"},
                "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": [upstream]}],
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    procs.append(proc)
    wait_serving(f"127.0.0.1:{port}")
    return proc


def hot_path(calls: int = 20000) -> tuple[float, float]:
    """CPU µs per call of the telemetry the door runs around each call — begin, upstream metadata,
    metrics, one access line (to /dev/null), finish — beside the same loop with only the metadata
    filtering the door does anyway. In-process and repeated, so it resolves a few µs where the
    end-to-end A/B above cannot on a shared machine."""
    import os
    import time

    import grpc

    from gateway.config import Settings
    from gateway.descriptors import embedded_descriptor_set
    from gateway.grpc_front import forward_metadata
    from gateway.routes import compile_routes
    from gateway.telemetry.calls import Telemetry
    from gateway.telemetry.logs import AccessLog
    from gateway.telemetry.metrics import GatewayMetrics

    settings = Settings.from_mapping(
        {"upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": ["h:1"]}]}
    )
    route = compile_routes(embedded_descriptor_set(), settings.upstreams).lookup(
        "/tta.v1.DiagnosticsService/Echo"
    )
    assert route is not None
    metadata = (("user-agent", "grpc-python-asyncio/1.85.1 grpc-c/58.0.0 (linux; chttp2)"),)
    with open(os.devnull, "w") as sink:
        telemetry = Telemetry(GatewayMetrics(), AccessLog(sink))

        def with_telemetry() -> None:
            scope = telemetry.begin("grpc", route, metadata)
            scope.upstream_metadata(forward_metadata(metadata))
            scope.upstream_finished()
            scope.finish(grpc.StatusCode.OK)

        def baseline() -> None:
            forward_metadata(metadata)

        def cpu_us(fn: object) -> float:
            best = float("inf")
            for _ in range(5):
                start = time.process_time()
                for _ in range(calls):
                    fn()  # type: ignore[operator]
                best = min(best, (time.process_time() - start) / calls * 1e6)
            return best

        return cpu_us(with_telemetry), cpu_us(baseline)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tracing", choices=["none", "console"], default="none")
    a = p.parse_args(argv)
    payload = diagnostics_pb2.EchoRequest(payload=b"x" * 16).SerializeToString()
    backend_port, on_port, off_port = free_port(), free_port(), free_port()
    upstream = f"127.0.0.1:{backend_port}"
    procs: list[subprocess.Popen[str]] = []
    rounds: list[tuple[Phase, Phase]] = []
    try:
        backend = _spawn(["bench._backend", "--port", str(backend_port)], procs)
        with tempfile.TemporaryDirectory() as tmp:
            on = _gateway(Path(tmp), "on", on_port, upstream, True, a.tracing, procs)
            off = _gateway(Path(tmp), "off", off_port, upstream, False, "none", procs)
        watched = {
            "backend": psutil.Process(backend.pid),
            "on": psutil.Process(on.pid),
            "off": psutil.Process(off.pid),
        }
        for _ in range(a.rounds):
            with_t = run_load(f"127.0.0.1:{on_port}", payload, a.concurrency, a.seconds, watched)
            without = run_load(f"127.0.0.1:{off_port}", payload, a.concurrency, a.seconds, watched)
            rounds.append((with_t, without))
    finally:
        stop_all(procs)

    print(
        f"telemetry bench: unary Echo, {a.concurrency} in flight, {a.rounds} rounds of {a.seconds:.0f}s, tracing={a.tracing}"
    )
    for i, (w, wo) in enumerate(rounds, 1):
        print(
            f"  round {i}: on {w.rate:6.0f}/s gateway {w.us_per_call('on'):6.1f} µs/call (backend {w.us_per_call('backend'):5.1f})"
            f" | off {wo.rate:6.0f}/s gateway {wo.us_per_call('off'):6.1f} µs/call (backend {wo.us_per_call('backend'):5.1f})"
        )
    on_us = statistics.median(w.us_per_call("on") for w, _ in rounds)
    off_us = statistics.median(wo.us_per_call("off") for _, wo in rounds)
    added = statistics.median(w.us_per_call("on") - wo.us_per_call("off") for w, wo in rounds)
    print(f"  median gateway CPU per call: on {on_us:.1f} µs, off {off_us:.1f} µs")
    print(
        f"  end to end, telemetry adds {added:+.1f} µs CPU per call (median of per-round differences;"
        " on this shared machine the rounds scatter by more than the effect)"
    )
    on_hot, base_hot = hot_path()
    print(
        f"  hot path in-process: {on_hot:.1f} µs per call with telemetry, {base_hot:.1f} µs without"
        f" -> telemetry adds {on_hot - base_hot:.1f} µs CPU per call (target <= 30 µs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
