"""The processes a benchmark runs beside itself: helpers from bench/ and the gateway, started through its
command line only (``python -m gateway serve --config FILE``), so the bench does not depend on how
gateway/ is laid out inside."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

# The repository: every process runs from here, so ``python -m gateway`` is this checkout's gateway.
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def thread_cpu(proc: psutil.Process) -> dict[tuple[int, str], float]:
    """CPU seconds so far per thread, keyed (thread id, name from /proc: ``python`` for the main
    thread and Python's own threads; grpc core names its threads, e.g. ``event_engine``)."""
    out: dict[tuple[int, str], float] = {}
    for t in proc.threads():
        try:
            name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:  # the thread ended in between
            continue
        out[(t.id, name)] = t.user_time + t.system_time
    return out


def wait_serving(target: str, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Wait until the gRPC server at ``target`` answers a health check with SERVING (or ``proc`` ends)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise SystemExit(f"{target} did not become ready (exit code {proc.poll()})")


class Processes:
    """The helper processes of one benchmark run; ``stop()`` terminates and reaps them all."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[str]] = []

    def spawn(self, module: str, *args: str) -> psutil.Process:
        """Start ``python -m module args`` (a bench helper that prints "ready" once it serves)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"{module} {' '.join(args)} did not start (exit {proc.wait()})")
        return psutil.Process(proc.pid)

    def gateway(self, name: str, settings: Mapping[str, Any]) -> psutil.Process:
        """Start the gateway with ``settings`` (written as a YAML file: JSON is YAML) and wait until its
        gRPC door serves (the HTTP door starts before it). Its logs go to a file in the work directory,
        as a deployed gateway's go to a pipe: writing the access lines is part of its cost."""
        config = self.workdir / f"{name}.yaml"
        config.write_text(json.dumps(settings))
        log = (self.workdir / f"{name}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        log.close()
        self.procs.append(proc)
        try:
            wait_serving(f"127.0.0.1:{settings['grpc']['port']}", proc)
        except SystemExit:
            tail = (self.workdir / f"{name}.log").read_text()[-2000:]
            raise SystemExit(f"the gateway {name!r} did not start; its log ends:\n{tail}") from None
        return psutil.Process(proc.pid)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
