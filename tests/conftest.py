"""Shared fixtures: real servers on loopback ports, cleaned up after each test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """The path of an external tool; under CI a missing tool fails the run, elsewhere it skips."""
    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but is not on PATH")
        pytest.skip(f"{name} is not installed")
    return found


def _redis_answers(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: the one at REDIS_URL (default 127.0.0.1:6379), else a redis-server started here;
    under CI a missing Redis fails the run (never a skip)."""
    import subprocess
    import time
    from urllib.parse import urlparse

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    parsed = urlparse(url)
    if _redis_answers(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        yield url
        return
    server = require_tool("redis-server")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers("127.0.0.1", port):
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
