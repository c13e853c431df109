"""The running demo (`tta-gateway demo`) as a real process, shared by the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Demo:
    grpc_port: int
    http_port: int
    admin_port: int
    process: subprocess.Popen[str]
    log_path: Path
    # Values a test sent that must never appear in any log line (tokens, PHI, scanned player text).
    secrets: set[str] = field(default_factory=set)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def wait_serving(target: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"the demo gateway at {target} did not become ready in {timeout}s")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    # Debug level: the most the gateway ever logs, so the redaction check below sees all of it.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TTA_GATEWAY__LOG__LEVEL": "debug"}
    log_path = tmp_path_factory.mktemp("demo") / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "demo",
                "--grpc-port",
                str(grpc_port),
                "--http-port",
                str(http_port),
                "--admin-port",
                str(admin_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    try:
        wait_serving(f"127.0.0.1:{grpc_port}")
        demo = Demo(grpc_port, http_port, admin_port, proc, log_path)
        yield demo
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        assert code == 0, f"the demo exited {code}:\n{log_path.read_text()}"
    # The redaction check of the whole end-to-end run: no secret any test sent reached a log line.
    text = log_path.read_text()
    leaked = sorted(s for s in demo.secrets if s in text)
    assert not leaked, f"{len(leaked)} sensitive values appear in the gateway's log: {log_path}"
