"""The running demo (`tta-gateway demo`) as a real process, shared by the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.cli import DEMO_AUDIENCE, DEMO_ISSUER
from gateway.identity.mint import mint


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
    keys: Path  # the demo's development signing key (--keys)
    # Values a test sent that must never appear in any log line (tokens, PHI, scanned player text).
    secrets: set[str] = field(default_factory=set)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def banner_token(self, name: str) -> str:
        """A token the banner printed (``export TTA_<NAME>_TOKEN=...``)."""
        prefix = f"export TTA_{name.upper()}_TOKEN="
        deadline = time.monotonic() + 10  # the banner follows readiness by a moment
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if line.strip().startswith(prefix):
                    return line.strip().removeprefix(prefix)
            time.sleep(0.05)
        raise AssertionError(f"the demo's banner printed no {prefix}")

    def token(self, subject: str, *roles: str, ttl: float = 3600, **claims: Any) -> str:
        """A token the demo accepts, minted with its key as `tta-gateway token` would; recorded as a
        secret, so the end-of-run check fails if a log line ever shows it."""
        pem = (self.keys / "signing-key.pem").read_bytes()
        kid = json.loads((self.keys / "jwks.json").read_text())["keys"][0]["kid"]
        body = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": subject, "roles": list(roles), **claims}
        token = mint(body, pem, kid=kid, alg="EdDSA", ttl_seconds=ttl, now=time.time())
        self.secrets.add(token)
        return token

    @property
    def player_token(self) -> str:
        """The banner's ready-made token of pl_demo, a player."""
        return self.banner_token("player")

    @property
    def staff_token(self) -> str:
        """For tests about the doors, not about access: a staff member who may call every method."""
        return self.token("st_e2e", "admin", "therapist", "service")

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
    run_dir = tmp_path_factory.mktemp("demo")
    log_path, keys = run_dir / "demo.log", run_dir / "keys"
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
                "--keys",
                str(keys),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    try:
        wait_serving(f"127.0.0.1:{grpc_port}")
        demo = Demo(grpc_port, http_port, admin_port, proc, log_path, keys)
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
