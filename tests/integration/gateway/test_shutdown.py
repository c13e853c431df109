"""Graceful shutdown of a real ``tta-gateway serve`` process: on SIGTERM it stops taking new calls,
lets in-flight calls finish within the grace period and exits 0; a second signal exits at once (130).

The upstream is a grpc.aio server in the test process whose Echo answers after the delay the caller
asks for in ``x-sleep`` metadata, so a test controls exactly how long a call stays in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[3]
ECHO = "/tta.v1.DiagnosticsService/Echo"
GRACE = 5.0


class SlowEcho(grpc.GenericRpcHandler):
    """Echo that sleeps ``x-sleep`` seconds first; records calls that arrive and that finish."""

    def __init__(self) -> None:
        self.arrived: asyncio.Queue[bytes] = asyncio.Queue()
        self.finished: list[bytes] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != ECHO:
            return None

        async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            await self.arrived.put(request)
            delay = float(dict(context.invocation_metadata() or ()).get("x-sleep", "0"))
            await asyncio.sleep(delay)
            self.finished.append(request)
            return request

        return grpc.unary_unary_rpc_method_handler(echo)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[SlowEcho, int]]:
    server = grpc.aio.server()
    handler = SlowEcho()
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield handler, port
    await server.stop(0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_exit(self, within: float) -> int | None:
        """The exit status, or None if still running after ``within`` seconds."""
        try:
            return await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            return None


async def health(target: str) -> int | None:
    """The gateway's overall health status, or None when it cannot be asked."""
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            resp = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=0.5
            )
        except grpc.aio.AioRpcError:
            return None
    return int(resp.status)


@asynccontextmanager
async def gateway_process(
    tmp_path: Path, upstream_port: int, drain: float = 0.0, *, http_port: int = 0, extra: str = ""
) -> AsyncIterator[Running]:
    """A real ``tta-gateway serve`` in front of ``upstream_port``, ready; ``extra``: more YAML."""
    port = free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"grpc: {{host: 127.0.0.1, port: {port}}}\n"
        f"http: {{host: 127.0.0.1, port: {http_port}}}\nadmin: {{port: 0}}\n"
        "upstreams:\n"
        '  - services: ["tta.v1.*", "tta.v2.*"]\n'
        f'    targets: ["127.0.0.1:{upstream_port}"]\n'
        f"shutdown: {{grace_period_seconds: {GRACE}, drain_seconds: {drain}}}\n"
        # identity has its own tests; a caller that configures auth passes it in ``extra``
        + ("" if "auth:" in extra else "auth: {enabled: false}\n")
        + extra,
        encoding="utf-8",
    )
    log = tmp_path / "gateway.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTA_GATEWAY__")}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "gateway", "serve", "--config", str(config)),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    running = Running(proc, port, log)
    try:
        deadline = time.monotonic() + 30
        while await health(running.target) != health_pb2.HealthCheckResponse.SERVING:
            assert proc.returncode is None, (
                f"gateway exited {proc.returncode} before ready:\n{running.output()}"
            )
            assert time.monotonic() < deadline, f"gateway not ready within 30 s:\n{running.output()}"
            await asyncio.sleep(0.05)
        yield running
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)


async def echo(target: str, payload: bytes, sleep: float = 0.0, deadline_s: float = 30.0) -> bytes:
    async with grpc.aio.insecure_channel(target) as channel:
        result: bytes = await channel.unary_unary(ECHO)(
            payload, metadata=(("x-sleep", str(sleep)),), timeout=deadline_s
        )
    return result


@asynccontextmanager
async def in_flight_call(
    running: Running, upstream: SlowEcho, sleep: float
) -> AsyncIterator[asyncio.Task[bytes]]:
    """A call that has reached the upstream and will be answered after ``sleep`` seconds."""
    call = asyncio.create_task(echo(running.target, b"in-flight", sleep=sleep))
    try:
        assert await asyncio.wait_for(upstream.arrived.get(), timeout=10) == b"in-flight"
        yield call
    finally:
        if not call.done():
            call.cancel()
        await asyncio.gather(call, return_exceptions=True)


async def refuse_new_calls(running: Running, upstream: SlowEcho, within: float = 3.0) -> grpc.aio.AioRpcError:
    """Make new calls until one is refused because the listener is closed, and return that error.

    The signal is handled asynchronously, so the first calls may still be served. A call that arrives
    while the server is stopping may be reset (CANCELLED) before any handler runs: grpc core resets
    streams it accepted but had not yet handed to the application. That is tolerated here (it is
    reported as a gateway issue: clients only retry UNAVAILABLE), but no refused call may reach the
    upstream.
    """
    deadline = time.monotonic() + within
    refused: list[bytes] = []
    attempt = 0
    while True:
        attempt += 1
        payload = b"new-%d" % attempt
        error: grpc.aio.AioRpcError | None = None
        try:
            await echo(running.target, payload, deadline_s=1.0)
        except grpc.aio.AioRpcError as err:
            error = err
        if error is not None:
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), error
            refused.append(payload)
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                assert not set(refused) & set(upstream.finished), "a refused call reached the upstream"
                return error
        assert time.monotonic() < deadline, "new calls were still accepted after SIGTERM"
        await asyncio.sleep(0.02)


async def test_sigterm_drains_in_flight_calls_refuses_new_ones_and_exits_0(
    tmp_path: Path, upstream: tuple[SlowEcho, int]
) -> None:
    handler, upstream_port = upstream
    async with gateway_process(tmp_path, upstream_port) as running:
        assert await echo(running.target, b"warm-up") == b"warm-up"
        await handler.arrived.get()
        async with in_flight_call(running, handler, sleep=1.5) as in_flight:
            running.proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()

            refused = await refuse_new_calls(running, handler)
            assert "Connection refused" in (refused.details() or ""), refused
            assert not in_flight.done(), "the in-flight call ended before new calls were refused"

            assert await asyncio.wait_for(in_flight, timeout=GRACE) == b"in-flight"
            assert handler.finished[-1] == b"in-flight"
            code = await running.wait_exit(within=GRACE + 5)
            exited_after = time.monotonic() - signalled
            assert code == 0, running.output()
            assert exited_after < GRACE, f"exit took {exited_after:.1f} s, grace is {GRACE} s"
            assert "Traceback" not in running.output()


async def test_a_second_sigterm_exits_at_once_with_130(
    tmp_path: Path, upstream: tuple[SlowEcho, int]
) -> None:
    handler, upstream_port = upstream
    async with (
        gateway_process(tmp_path, upstream_port) as running,
        in_flight_call(running, handler, sleep=60) as in_flight,
    ):
        running.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # Once new calls are refused the first signal has been handled and the gateway is draining.
        await refuse_new_calls(running, handler)
        assert running.proc.returncode is None, "the gateway exited before the second signal"

        running.proc.send_signal(signal.SIGTERM)
        code = await running.wait_exit(within=GRACE)
        exited_after = time.monotonic() - signalled
        assert code == 130, running.output()
        assert exited_after < GRACE / 2, f"exit took {exited_after:.1f} s after the first signal"
        assert "second signal: exiting now without draining" in running.output()

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await asyncio.wait_for(in_flight, timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert b"in-flight" not in handler.finished


async def test_sigterm_with_a_drain_window_reports_not_serving_but_keeps_serving_first(
    tmp_path: Path, upstream: tuple[SlowEcho, int]
) -> None:
    """``shutdown.drain_seconds``: health says NOT_SERVING at once (load balancers move away), yet
    new calls are still answered during the window; then the listener closes, and the process exits 0
    after about drain + the in-flight work, not before the window ends."""
    handler, upstream_port = upstream
    drain = 5.0
    async with gateway_process(tmp_path, upstream_port, drain=drain) as running:
        assert await echo(running.target, b"warm-up") == b"warm-up"
        running.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        while await health(running.target) != health_pb2.HealthCheckResponse.NOT_SERVING:
            assert time.monotonic() - signalled < drain / 2, "health did not turn NOT_SERVING"
            await asyncio.sleep(0.02)
        # Not ready, yet a new call (a new connection, even) is still answered inside the window.
        assert await echo(running.target, b"during-drain", deadline_s=drain) == b"during-drain"
        assert time.monotonic() - signalled < drain, "the call was answered only after the window"
        assert running.proc.returncode is None

        refused = await refuse_new_calls(running, handler, within=drain + 5)
        refused_after = time.monotonic() - signalled
        assert refused.code() == grpc.StatusCode.UNAVAILABLE
        assert refused_after >= drain - 0.2, f"refused after {refused_after:.1f} s, the drain is {drain} s"
        assert await running.wait_exit(within=GRACE + 5) == 0, running.output()
        assert "draining: not ready, still serving for 5.0 s" in running.output()


async def test_sigint_skips_the_drain_window(tmp_path: Path, upstream: tuple[SlowEcho, int]) -> None:
    """Ctrl-C is a person at a terminal: no waiting, even with a drain window configured."""
    _, upstream_port = upstream
    async with gateway_process(tmp_path, upstream_port, drain=30.0) as running:
        running.proc.send_signal(signal.SIGINT)
        assert await running.wait_exit(within=10) == 0, running.output()
        assert "draining: not ready" not in running.output()
