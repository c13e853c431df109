"""The WebSocket door's benchmarks (issue 10's Must-show, decision 0016), run by ``make bench`` after
the CPU-per-call phases (bench/__main__.py), or alone: ``python -m bench.ws``.

Three measurements, each against one gateway started by its command line with the shipped telemetry,
auth on (a development key made for the run, a token for the reference services' demo player
``pl_demo``), and the reference services as their own process (``python -m services all``):

1. **Idle connections**: ``--idle`` (10,000) WebSocket connections to one session's room watch
   (``/ws/v1/sessions/{id}/room``), opened by ``--idle-clients`` client processes (2) in batches of
   ``--idle-batch`` (100 per process at a time), held by one gateway process that serves nothing else
   (started for this part and stopped after it). Each connection proves that its handshake, the
   chain (identity) and the room's subscription completed: it asks to resume after sequence 1 of a
   room holding two messages and must receive message 2. RSS per connection = (the gateway's RSS with
   them open − its RSS before, after a warm-up of 50 connections) ÷ connections open; target ≤ 50
   KiB. While they are open, a REST and a gRPC call through the same gateway must be answered.
2. **Fan-out**: ``--fanout-watchers`` (100) room watchers on one session (``--fanout-procs`` client
   processes), one sender posting ``--fanout-rate`` (500) messages a second, open loop, over the
   WebSocket *chat* path (so the door itself takes each message in, whether the room is served by the
   upstream's WatchRoom or by the gateway's room log). Each message's text carries its due instant
   (CLOCK_MONOTONIC, shared by every process on the machine); each watcher records receive − due for
   every message of the measured window. Deliveries that never arrive count as slower than any that
   did: p99 is read over the deliveries *expected*, so a missing 1 % makes it "not reached".
3. **Chat message CPU**: the gateway's CPU per chat message at one offered rate (``--chat-rate``,
   200/s) on one bidirectional ``tta.v1.ChatService/Chat`` stream, over the WebSocket door (JSON
   frames) and over the gateway's gRPC door, beside the floor: the same stream straight to the
   upstream, where only the backend's CPU is spent. A message is one request in and its echo out (the
   room delivers every message to its sender too); latency is from its due instant to its echo. As
   in bench/cost.py: open loop (bench/_pacing.py), rounds alternate the phases, CPU read from /proc at
   the generator's markers (bench/_phase.py), ratios computed within each round.

Every process this starts is stopped by its pid in a ``finally``. Every process raises its soft
RLIMIT_NOFILE to the hard limit (the gateway inherits this process's); when the hard limit cannot hold
the idle connections, part 1 says so and is skipped.

The helper processes are this module again: ``python -m bench.ws idle-client|watchers|chat-load``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import platform
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import grpc
import orjson
import psutil
from cryptography.hazmat.primitives import serialization
from tta.v1 import chat_pb2, diagnostics_pb2, session_pb2

from bench._pacing import Schedule, Tally, drive, emit, run_loop
from bench._phase import Phase, run_phase
from bench._processes import ROOT, Processes, free_port, wait_serving
from bench._report import Comparison, comparisons, problems, table
from bench._tokens import AUDIENCE, ISSUER, DevAuth
from bench.cost import METHOD, REST_PATH, gateway_settings

PLAYER = "pl_demo"  # the reference services' seeded player: the token's subject owns the sessions
WORLD = "wd_quiet_harbour"
CHAT_METHOD = "/tta.v1.ChatService/Chat"
CREATE_SESSION = "/tta.v1.SessionService/CreateSession"
RSS_TARGET_KIB = 50.0
P99_TARGET_MS = 50.0
WARMUP_CONNECTIONS = 50
PARTS = ("idle", "fanout", "chat")


# --- shared by the orchestrator and the helpers -------------------------------------------------------


def raise_nofile() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it); return both."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _message_text(i: int, measured: bool, due: float) -> str:
    """What each bench message says: its index, whether it is in the measured window, and its due
    instant in ns of CLOCK_MONOTONIC (``time.perf_counter`` on Linux), which every process shares.

    >>> _message_text(7, True, 1.5)
    'f 7 m 1500000000'
    """
    return f"f {i} {'m' if measured else 'w'} {round(due * 1e9)}"


def _ws_connect(url: str, auth: str, **kw: Any) -> Any:
    from websockets.asyncio.client import connect

    return connect(
        url,
        additional_headers={"Authorization": auth},
        compression=None,  # the gateway's default (websocket.per_message_deflate: false)
        proxy=None,
        ping_interval=None,  # the gateway pings every 20 s; the client answers without its own
        **kw,
    )


def _frame_text(raw: str | bytes) -> tuple[str | None, dict[str, Any] | None]:
    """A JSON server frame: the chat message's text, or None and the frame when it is something else."""
    frame = orjson.loads(raw)
    body = frame.get("message")
    if isinstance(body, dict):
        return str(body.get("message", {}).get("text", "")), None
    return None, frame


async def _stdin_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


# --- helper: idle connections ----------------------------------------------------------------------


async def _idle_client(a: argparse.Namespace) -> None:
    """Open ``count`` room watches in batches; each must receive the replayed message (its proof);
    report; hold them until told to close."""
    from websockets.exceptions import ConnectionClosed

    held: list[Any] = []
    unproven = 0
    failed: collections.Counter[str] = collections.Counter()

    async def one() -> None:
        nonlocal unproven
        try:
            ws = await _ws_connect(a.url, a.auth, open_timeout=a.timeout, close_timeout=2, max_queue=4)
        except Exception as exc:  # counted by kind, the run goes on
            failed[f"connect: {type(exc).__name__}: {str(exc)[:80]}"] += 1
            return
        try:
            async with asyncio.timeout(a.proof_seconds):
                while True:
                    text, other = _frame_text(await ws.recv())
                    if text is not None:
                        break
                    if other is not None and "error" in other:
                        failed[f"error frame: {other['error'].get('message', '')[:80]}"] += 1
                        await ws.close()
                        return
        except TimeoutError:
            if ws.state.name != "OPEN":
                failed["closed before its first message"] += 1
                return
            unproven += 1  # open, but the replayed message did not come: counted apart
        except ConnectionClosed as closed:
            failed[f"closed {closed.rcvd.code if closed.rcvd else 'abnormally'}"] += 1
            return
        held.append(ws)

    started = time.perf_counter()
    for first in range(0, a.count, a.batch):
        await asyncio.gather(*(one() for _ in range(min(a.batch, a.count - first))))
    emit(
        {
            "event": "opened",
            "open": len(held),
            "unproven": unproven,
            "failed": dict(failed),
            "seconds": time.perf_counter() - started,
            "rss": psutil.Process().memory_info().rss,
        }
    )
    await _stdin_line()
    still = sum(1 for ws in held if ws.state.name == "OPEN")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    emit({"event": "closed", "still_open_at_close": still})


# --- helper: room watchers for the fan-out ----------------------------------------------------------


async def _watchers(a: argparse.Namespace) -> None:
    """Open ``count`` room watches; record receive − due of every measured message until told to
    report."""
    conns = await asyncio.gather(
        *(_ws_connect(a.url, a.auth, open_timeout=30, max_queue=None) for _ in range(a.count)),
        return_exceptions=True,
    )
    held = [c for c in conns if not isinstance(c, BaseException)]
    errors = collections.Counter(type(c).__name__ for c in conns if isinstance(c, BaseException))
    latencies: list[int] = []  # µs
    out_of_order = 0
    other: collections.Counter[str] = collections.Counter()
    closes: collections.Counter[str] = collections.Counter()
    clock = time.monotonic_ns

    async def watch(ws: Any) -> None:
        nonlocal out_of_order
        last = -1
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = clock()
                text, frame = _frame_text(raw)
                if text is None:
                    assert frame is not None
                    other[next(iter(frame), "?")] += 1
                    continue
                if not text.startswith("f "):
                    continue
                _, index, flag, due = text.split()
                i = int(index)
                if i <= last:
                    out_of_order += 1
                last = i
                if flag == "m":
                    latencies.append((now - int(due)) // 1000)
        closes[str(ws.close_code)] += 1

    tasks = [asyncio.ensure_future(watch(ws)) for ws in held]
    emit({"event": "connected", "open": len(held), "failed": dict(errors)})
    await _stdin_line()
    emit(
        {
            "event": "report",
            "latencies_us": latencies,
            "out_of_order": out_of_order,
            "other_frames": dict(other),
            "closed_early": dict(closes),
            "open_at_report": sum(1 for ws in held if ws.state.name == "OPEN"),
        }
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    for task in tasks:
        task.cancel()


# --- helper: the open-loop chat stream (the fan-out's sender, and the CPU phases) --------------------


_Stream = tuple[Callable[[str], Any], AsyncIterator[str], Callable[[], Any]]


async def _chat_stream(a: argparse.Namespace) -> _Stream:
    """A Chat stream over the WebSocket door or gRPC: how to send a text, the texts received, and how
    to end it."""
    if a.door == "ws":
        ws = await _ws_connect(a.url, a.auth, open_timeout=30, max_queue=None)

        async def send_ws(text: str) -> None:
            await ws.send(orjson.dumps({"text": text}).decode())

        async def texts_ws() -> AsyncIterator[str]:
            async for raw in ws:
                text, frame = _frame_text(raw)
                if text is not None:
                    yield text
                elif frame is not None and "error" in frame:
                    raise RuntimeError(f"error frame: {frame['error']}")

        async def finish_ws() -> None:
            with contextlib.suppress(Exception):
                await ws.send('{"end": {}}')
                await asyncio.wait_for(ws.close(), 5)

        return send_ws, texts_ws(), finish_ws
    channel = grpc.aio.insecure_channel(a.target)
    metadata = (("authorization", a.auth),) if a.auth else None
    call = channel.stream_stream(CHAT_METHOD)(metadata=metadata)  # raw bytes both ways

    async def send_grpc(text: str) -> None:
        await call.write(chat_pb2.ChatRequest(session_id=a.session, text=text).SerializeToString())

    async def texts_grpc() -> AsyncIterator[str]:
        async for raw in call:
            yield chat_pb2.ChatResponse.FromString(raw).message.text

    async def finish_grpc() -> None:
        with contextlib.suppress(Exception):
            await call.done_writing()
        call.cancel()
        await channel.close()

    return send_grpc, texts_grpc(), finish_grpc


async def _chat_load(a: argparse.Namespace) -> dict[str, Any]:
    """One Chat stream, a message at every due instant; a message is completed when its echo comes
    back on the same stream."""
    clock = time.perf_counter
    schedule = Schedule(a.rate, a.warmup, a.seconds)
    due_of: dict[int, float] = {}
    outbox: asyncio.Queue[str] = asyncio.Queue()
    send, texts, finish = await _chat_stream(a)

    # Connected and answered before the first due instant.
    await send("probe")
    async with asyncio.timeout(15):
        async for text in texts:
            if text == "probe":
                break

    async def writer() -> None:
        while True:
            await send(await outbox.get())

    tally_box: list[Tally] = []
    reader_error: list[str] = []

    async def reader() -> None:
        try:
            async for text in texts:
                if not text.startswith("f "):
                    continue
                due = due_of.pop(int(text.split()[1]), None)
                if due is not None and tally_box:
                    tally_box[0].finished(due, clock(), None)
        except Exception as exc:  # the tally shows it as unfinished calls
            reader_error.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    def issuer(tally: Tally) -> Callable[[float], None]:
        tally_box.append(tally)
        counter = iter(range(schedule.total))

        def issue(due: float) -> None:
            i = next(counter)
            due_of[i] = due
            tally.started(due, clock())
            outbox.put_nowait(_message_text(i, i >= schedule.first_measured, due))

        return issue

    tasks = [asyncio.ensure_future(writer()), asyncio.ensure_future(reader())]
    result = await drive(schedule, a.late_ms / 1e3, issuer, drain_seconds=a.drain)
    for task in tasks:
        task.cancel()
    await finish()
    if reader_error:
        result["failure"] = reader_error[0]
    return result


# --- the orchestrator ---------------------------------------------------------------------------------


class Helper:
    """A helper process speaking JSON lines on stdout and reading commands on stdin."""

    def __init__(self, procs: Processes, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ws", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        procs.procs.append(self.proc)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(f"a helper (pid {self.proc.pid}) said nothing for {timeout:.0f} s") from None
        if not line:
            raise SystemExit(f"a helper (pid {self.proc.pid}) ended (exit {self.proc.wait()})")
        record: dict[str, Any] = json.loads(line)
        if record.get("event") != event:
            raise SystemExit(f"a helper said {line[:200]!r}, not {event!r}")
        return record

    def tell(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 30) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stop_process(procs: Processes, pid: int) -> None:
    """Stop one of ``procs`` (by its pid) now, rather than at the end of the run."""
    for proc in procs.procs:
        if proc.pid == pid:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Stack:
    procs: Processes
    workdir: Path
    services: psutil.Process
    upstream: str
    auth: DevAuth

    def session(self) -> str:
        """A new session of the demo player, made on the upstream directly."""
        request = session_pb2.CreateSessionRequest(
            session=session_pb2.Session(player_id=PLAYER, world_id=WORLD)
        ).SerializeToString()
        with grpc.insecure_channel(self.upstream) as channel:
            raw = channel.unary_unary(CREATE_SESSION)(request, timeout=10)
        return str(session_pb2.CreateSessionResponse.FromString(raw).session.session_id)

    def gateway(self, name: str) -> Gateway:
        grpc_port, http_port = free_port(), free_port()
        settings = gateway_settings(grpc_port, http_port, self.upstream, telemetry=True)
        settings["auth"] = self.auth.settings()
        settings["websocket"] = {
            # One client address and one user hold every connection of the bench.
            "max_connections_per_ip": 0,
            "max_connections_per_user": 0,
            # The fan-out's one sender stands for a room's many speakers: its 500 messages a second
            # may queue behind a busy loop for longer than the default 16 allow.
            "receive_queue": 4096,
        }
        proc = self.procs.gateway(name, settings)
        return Gateway(proc, grpc_port, http_port)


@dataclass(frozen=True)
class Gateway:
    process: psutil.Process
    grpc_port: int
    http_port: int

    def url(self, session: str, kind: str, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws/v1/sessions/{session}/{kind}{query}"


def _dev_auth(workdir: Path) -> DevAuth:
    """A development key, its JWKS and a token for the demo player (bench/_tokens.py's, another subject)."""
    from gateway.identity.mint import generate_dev_keypair, mint

    key = generate_dev_keypair()
    jwks = workdir / "jwks.json"
    jwks.write_text(json.dumps(key.jwks()))
    private = serialization.load_pem_private_key(key.private_pem, None)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": PLAYER, "roles": ["player"], "jti": "bench-ws-1"}
    token = mint(claims, private, kid=key.kid, alg=key.algorithm, ttl_seconds=3600, now=time.time())
    return DevAuth(jwks, token)


def _start_services(procs: Processes) -> tuple[psutil.Process, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "all", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    procs.procs.append(proc)
    assert proc.stdout is not None
    if not proc.stdout.readline().startswith("serving"):
        raise SystemExit(f"python -m services all did not start (exit {proc.wait()})")
    target = f"127.0.0.1:{port}"
    wait_serving(target, proc)
    return psutil.Process(proc.pid), target


async def _post_over_ws(url: str, auth: str, texts: list[str]) -> None:
    """Post ``texts`` on a chat connection and wait for the last one's echo."""
    async with _ws_connect(url, auth, open_timeout=30) as ws:
        for text in texts:
            await ws.send(orjson.dumps({"text": text}).decode())
        async with asyncio.timeout(15):
            while True:
                text, frame = _frame_text(await ws.recv())
                if frame is not None and "error" in frame:
                    raise SystemExit(f"posting to {url} failed: {frame}")
                if text == texts[-1]:
                    break
        await ws.send('{"end": {}}')


def _timed_calls(gw: Gateway) -> str:
    """A REST and a gRPC Echo through the gateway: answered, and how fast."""
    out = []
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.http_port}{REST_PATH}", timeout=10) as resp:
        body = json.loads(resp.read())
    ok = resp.status == 200 and body.get("payload") == "eHh4eA=="
    out.append(f"REST {'answered' if ok else 'FAILED'} in {(time.perf_counter() - started) * 1e3:.1f} ms")
    request = diagnostics_pb2.EchoRequest(payload=b"xxxx").SerializeToString()
    started = time.perf_counter()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
            channel.unary_unary(METHOD)(request, timeout=10)
        out.append(f"gRPC answered in {(time.perf_counter() - started) * 1e3:.1f} ms")
    except grpc.RpcError as err:
        out.append(f"gRPC FAILED: {err.code()}")
        ok = False
    return ("" if ok else "! ") + ", ".join(out)


def _settle_rss(proc: psutil.Process, seconds: float = 1.5) -> int:
    """The process's RSS once it stops moving (three readings 0.5 s apart within 1 %), at most
    ``seconds`` × 4."""
    readings = [proc.memory_info().rss]
    deadline = time.monotonic() + seconds * 4
    while time.monotonic() < deadline:
        time.sleep(0.5)
        readings.append(proc.memory_info().rss)
        last = readings[-3:]
        if len(last) == 3 and max(last) - min(last) <= 0.01 * max(last):
            break
    return readings[-1]


def _idle(a: argparse.Namespace, stack: Stack) -> tuple[list[str], bool]:
    n = a.idle
    lines = [f"{n:,} idle WebSocket connections (room watch, JSON) held by one gateway process:"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_client = math.ceil(n / a.idle_clients)
    need_gateway, need_client = n + 512, per_client + 256
    low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    if soft < max(need_gateway, need_client):
        lines.append(
            f"! not measured: the open-files limit is {soft} (hard limit {hard}); the gateway needs about"
            f" {need_gateway} and each of the {a.idle_clients} client processes about {need_client}. Raise"
            " the hard limit (ulimit -Hn; limits.conf; systemd LimitNOFILE) or run with a smaller --idle."
        )
        return lines, False
    if high - low + 1 < n + 1000:
        lines.append(
            f"! not measured: {high - low + 1} local ports ({low}–{high}) for {n} connections from one"
            " address; widen net.ipv4.ip_local_port_range or run with a smaller --idle"
        )
        return lines, False
    gw = stack.gateway("gateway-idle")
    ok = True
    try:
        gw_soft = gw.process.rlimit(psutil.RLIMIT_NOFILE)[0]
        if gw_soft < need_gateway:
            lines.append(f"! the gateway's open-files limit is {gw_soft}, under the {need_gateway} needed")
            return lines, False
        more, ok = _hold_idle(a, stack, gw, gw_soft, per_client)
        lines += more
    finally:
        stop_process(stack.procs, gw.process.pid)
    return lines, ok


def _hold_idle(
    a: argparse.Namespace, stack: Stack, gw: Gateway, gw_soft: int, per_client: int
) -> tuple[list[str], bool]:
    """Part 1 on its gateway: warm up, read the RSS, open the connections, read it again, check the
    gateway still serves, close them."""
    n = a.idle
    lines: list[str] = []
    session = stack.session()
    asyncio.run(_post_over_ws(gw.url(session, "chat"), stack.auth.header, ["idle 1", "idle 2"]))
    url = gw.url(session, "room", "?after_sequence=1")  # each connection gets message 2: its proof
    common = ["--url", url, "--auth", stack.auth.header, "--timeout", "60"]

    warm = Helper(stack.procs, "idle-client", *common, "--count", str(WARMUP_CONNECTIONS), "--batch", "25")
    warmed = warm.expect("opened", 120)
    warm.tell("close")
    warm.expect("closed", 60)
    warm.wait()
    if warmed["open"] != WARMUP_CONNECTIONS:
        lines.append(f"! the warm-up's connections did not all open: {warmed}")
        return lines, False
    _wait_fds(gw.process, None, 20)
    before = _settle_rss(gw.process)
    fds_before = gw.process.num_fds()
    services_before = stack.services.memory_info().rss
    counts = [per_client] * (n // per_client) + ([n % per_client] if n % per_client else [])
    clients = [
        Helper(stack.procs, "idle-client", *common, "--count", str(c), "--batch", str(a.idle_batch))
        for c in counts
    ]
    started = time.perf_counter()
    opened = [c.expect("opened", 600) for c in clients]
    took = time.perf_counter() - started
    held = sum(o["open"] for o in opened)
    unproven = sum(o["unproven"] for o in opened)
    failed: collections.Counter[str] = collections.Counter()
    for o in opened:
        failed.update(o["failed"])
    after = _settle_rss(gw.process)
    fds = gw.process.num_fds()
    services_after = _settle_rss(stack.services)
    calls = _timed_calls(gw)
    still = gw.process.is_running() and gw.process.status() != psutil.STATUS_ZOMBIE
    per = (after - before) / max(held, 1) / 1024
    verdict = "met" if per <= RSS_TARGET_KIB else "not met"
    ok = held == n and not failed and "!" not in calls and still
    lines += [
        f"  connections open         {held:,} of {n:,} ({unproven} open without their proof message;"
        f" {sum(failed.values())} failed), opened in {took:.1f} s by {len(clients)} client processes,"
        f" {a.idle_batch} at a time each",
        f"  gateway sockets          {fds - fds_before:+,} file descriptors (open-files limit {gw_soft})",
        f"  gateway RSS              {before / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB with them open",
        f"  RSS per connection       {per:.1f} KiB  (target ≤ {RSS_TARGET_KIB:.0f} KiB: {verdict})",
        f"  while open               {calls}",
        f"  for scale (not the target): the reference services' RSS"
        f" {(services_after - services_before) / max(held, 1) / 1024:+.1f} KiB per connection (an upstream"
        f" WatchRoom stream each, where the door opens one); the client processes"
        f" {statistics.mean(o['rss'] for o in opened) / max(per_client, 1) / 1024:.1f} KiB per connection",
    ]
    if failed:
        lines.append(f"! failures: {dict(failed.most_common(5))}")
    for c in clients:
        c.tell("close")
    for c in clients:
        with contextlib.suppress(SystemExit):
            c.expect("closed", 60)
        c.wait()
    drained = _wait_fds(gw.process, fds_before, 60)
    lines.append(
        f"  after they closed        the gateway's sockets back to where they were in {drained:.1f} s"
        if drained >= 0
        else f"! after they closed, the gateway still held {gw.process.num_fds() - fds_before:+} sockets after 60 s"
    )
    return lines, ok


def _wait_fds(proc: psutil.Process, target: int | None, timeout: float) -> float:
    """Wait until ``proc`` holds at most ``target`` (+8) file descriptors (None: until the count stops
    falling); the seconds it took, or -1."""
    started = time.monotonic()
    last = proc.num_fds()
    while time.monotonic() - started < timeout:
        time.sleep(0.25)
        now = proc.num_fds()
        if target is not None and now <= target + 8:
            return time.monotonic() - started
        if target is None and now >= last:
            return time.monotonic() - started
        last = now
    return -1.0


def _latency_line(latencies: list[int], expected: int) -> tuple[str, float | None]:
    """p50/p99/max over the *expected* deliveries, missing ones counted as slowest."""
    lat = sorted(latencies)

    def at(q: float) -> float | None:
        rank = max(1, math.ceil(q / 100 * expected))
        return lat[rank - 1] / 1e3 if rank <= len(lat) else None

    def show(v: float | None) -> str:
        return f"{v:.1f}" if v is not None else "not reached (deliveries missing)"

    p50, p99 = at(50), at(99)
    worst = f"{lat[-1] / 1e3:.1f}" if lat else "-"
    return f"p50 {show(p50)} ms, p99 {show(p99)} ms, max {worst} ms", p99


def _fanout(a: argparse.Namespace, stack: Stack, gw: Gateway, rate: float) -> tuple[list[str], bool]:
    session = stack.session()
    counts = [a.fanout_watchers // a.fanout_procs] * a.fanout_procs
    counts[0] += a.fanout_watchers - sum(counts)
    room = gw.url(session, "room")
    watchers = [
        Helper(stack.procs, "watchers", "--url", room, "--auth", stack.auth.header, "--count", str(c))
        for c in counts
    ]
    try:
        connected = [w.expect("connected", 120) for w in watchers]
        watching = sum(c["open"] for c in connected)
        time.sleep(0.5)  # every watch subscribed before the first message
        generator = [
            "bench.ws",
            "chat-load",
            "--door",
            "ws",
            "--url",
            gw.url(session, "chat"),
            "--auth",
            stack.auth.header,
            "--rate",
            str(rate),
            "--warmup",
            str(a.warmup),
            "--seconds",
            str(a.fanout_seconds),
            "--late-ms",
            str(a.late_ms),
            "--drain",
            str(a.fanout_drain),
        ]
        watched = {"front": gw.process, "backend": stack.services}
        watched |= {f"watchers{i}": psutil.Process(w.proc.pid) for i, w in enumerate(watchers)}
        machine: list[Any] = []
        phase = run_phase(
            "fanout",
            generator,
            watched,
            lambda: machine.append(psutil.cpu_times()),
            lambda: machine.append(psutil.cpu_times()),
        )
        time.sleep(a.fanout_drain)
        for w in watchers:
            w.tell("report")
        reports = [w.expect("report", 120) for w in watchers]
    finally:
        for w in watchers:
            w.wait(15)
    latencies = [x for r in reports for x in r["latencies_us"]]
    offered = phase.offered
    expected = watching * offered
    text, p99 = _latency_line(latencies, expected)
    out_of_order = sum(r["out_of_order"] for r in reports)
    closed: collections.Counter[str] = collections.Counter()
    for r in reports:
        closed.update(r["closed_early"])
    load = phase.load
    cpu = phase.used["front"].cpu
    deliveries = len(latencies)
    watcher_cpu = sum(u.cpu for role, u in phase.used.items() if role.startswith("watchers"))
    busy = _busy_cores(machine[0], machine[1]) if len(machine) == 2 else math.nan
    met = p99 is not None and p99 <= P99_TARGET_MS
    sender_trouble = phase.problems()
    lines = [
        f"fan-out: {watching} room watchers (of {a.fanout_watchers}) on one session, {len(watchers)} client"
        f" processes; one sender at {rate:.0f} messages/s, open loop, over the WebSocket chat path"
        f" (JSON); {a.fanout_seconds:.0f} s measured after {a.warmup:.0f} s:",
        f"  deliveries               {deliveries:,}/{expected:,} expected ({watching} × {offered} messages);"
        f" every watcher in sending order: {'yes' if not out_of_order else f'no, {out_of_order} out of order'}",
        f"  receive − due            {text}  (target p99 ≤ {P99_TARGET_MS:.0f} ms: {'met' if met else 'not met'})",
        f"  the sender               {phase.completed}/{offered} echoes, {load['late']} late starts,"
        f" echo p50/p99 {load['latency_ms']['p50']:.1f}/{load['latency_ms']['p99']:.1f} ms"
        + (f"; ! {'; '.join(sender_trouble)}" if sender_trouble else ""),
        f"  CPU in the window        gateway {cpu / a.fanout_seconds:.0%} of a core"
        f" ({cpu / max(expected, 1) * 1e6:.1f} µs per expected delivery,"
        f" {phase.used['front'].system / max(cpu, 1e-9):.0%} of it system time), the watchers' processes"
        f" {watcher_cpu / a.fanout_seconds:.0%} ({watcher_cpu / max(expected, 1) * 1e6:.1f} µs),"
        f" reference services {phase.used['backend'].cpu / a.fanout_seconds:.0%}; the machine"
        f" {busy:.2f} of {os.cpu_count()} cores busy (everything, other sessions' work included)",
    ]
    if closed:
        lines.append(f"! watchers closed before the report: {dict(closed)}")
    # A missed target is a result, not a failed run (as in bench/cost.py); a watcher that did not
    # connect makes the run fail.
    return lines, watching == a.fanout_watchers


def _busy_cores(before: Any, after: Any) -> float:
    """Cores busy on average between two ``psutil.cpu_times()`` readings (all but idle and iowait)."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    cores = os.cpu_count() or 1
    return (total - idle) / total * cores if total > 0 else math.nan


@dataclass(frozen=True)
class ChatSpec:
    name: str
    label: str
    door: str  # ws | grpc | direct


CHAT_PHASES = (
    ChatSpec("chat.ws", "WS    Chat via the gateway's WebSocket door", "ws"),
    ChatSpec("chat.grpc", "gRPC  Chat via the gateway's gRPC door", "grpc"),
    ChatSpec("chat.direct", "gRPC  Chat direct to the upstream (floor)", "direct"),
)
CHAT_COMPARISONS = (
    Comparison(
        "gateway CPU per message: WebSocket door ÷ gRPC door", ("chat.ws", "front"), ("chat.grpc", "front")
    ),
    Comparison(
        "gateway CPU per message: WebSocket door − gRPC door",
        ("chat.ws", "front"),
        ("chat.grpc", "front"),
        kind="difference",
    ),
    Comparison(
        "WebSocket door (gateway) ÷ backend, direct", ("chat.ws", "front"), ("chat.direct", "backend")
    ),
    Comparison("gRPC door (gateway) ÷ backend, direct", ("chat.grpc", "front"), ("chat.direct", "backend")),
)


def _chat(a: argparse.Namespace, stack: Stack, gw: Gateway) -> tuple[list[str], bool]:
    rounds: list[dict[str, Phase]] = []
    for i in range(a.chat_rounds):
        r: dict[str, Phase] = {}
        for spec in CHAT_PHASES:
            session = stack.session()
            common = ["--rate", str(a.chat_rate), "--warmup", str(a.warmup), "--seconds", str(a.chat_seconds)]
            common += ["--late-ms", str(a.late_ms), "--session", session]
            watched = {"backend": stack.services}
            if spec.door == "ws":
                target = ["--door", "ws", "--url", gw.url(session, "chat"), "--auth", stack.auth.header]
            elif spec.door == "grpc":
                target = [
                    "--door",
                    "grpc",
                    "--target",
                    f"127.0.0.1:{gw.grpc_port}",
                    "--auth",
                    stack.auth.header,
                ]
            else:
                target = ["--door", "grpc", "--target", stack.upstream]
            if spec.door != "direct":
                watched["front"] = gw.process
            r[spec.name] = run_phase(spec.name, ["bench.ws", "chat-load", *target, *common], watched)
        rounds.append(r)
        print(
            f"  chat round {i + 1} of {a.chat_rounds} done (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    labels = {s.name: s.label for s in CHAT_PHASES}
    fronts = {s.name: "gateway" for s in CHAT_PHASES if s.door != "direct"}
    lines = [
        f"chat message CPU: one Chat stream, {a.chat_rate:.0f} messages/s offered (each one in and its echo"
        f" out), {a.chat_rounds} rounds of {a.chat_seconds:.0f} s; median [min–max]; p50/p99: due → echo",
        *table(rounds, labels, fronts),
        "comparisons within each round, median [min–max]:",
        *comparisons(rounds, CHAT_COMPARISONS),
    ]
    trouble = problems(rounds)
    if trouble:
        lines += ["! these phases did not do the offered work and are left out of the comparisons:", *trouble]
    return lines, not trouble


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ws", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)} (all)")
    p.add_argument("--idle", type=int, default=10_000, help="idle connections held (10000)")
    p.add_argument("--idle-clients", type=int, default=2, help="client processes opening them (2)")
    p.add_argument(
        "--idle-batch", type=int, default=100, help="handshakes in flight per client process (100)"
    )
    p.add_argument("--fanout-watchers", type=int, default=100, help="room members watching (100)")
    p.add_argument("--fanout-procs", type=int, default=2, help="client processes holding the watchers (2)")
    p.add_argument(
        "--fanout-rate",
        default="500,100",
        help="messages per second posted; a comma-separated list runs each (500,100: the issue's rate, and"
        " one this machine keeps up with)",
    )
    p.add_argument("--fanout-seconds", type=float, default=5.0, help="measured seconds of the fan-out (5)")
    p.add_argument("--fanout-drain", type=float, default=2.0, help="seconds for late deliveries after (2)")
    p.add_argument("--chat-rate", type=float, default=200.0, help="chat messages per second offered (200)")
    p.add_argument("--chat-rounds", type=int, default=2, help="rounds of the three chat phases (2)")
    p.add_argument("--chat-seconds", type=float, default=4.0, help="measured seconds per chat phase (4)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of messages before each window (1)")
    p.add_argument("--late-ms", type=float, default=5.0, help="a message sent later than this is late (5)")
    a = p.parse_args(argv)
    a.parts = [x.strip() for x in a.parts.split(",") if x.strip()]
    unknown = set(a.parts) - set(PARTS)
    if unknown:
        p.error(f"unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    a.fanout_rates = [float(x) for x in a.fanout_rate.split(",") if x.strip()]
    return a


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    soft, hard = raise_nofile()
    print(
        f"WebSocket bench ({', '.join(a.parts)}): {os.cpu_count()} cores, load average"
        f" {os.getloadavg()[0]:.2f}; Python {platform.python_version()}, websockets {version('websockets')},"
        f" uvicorn {version('uvicorn')}; open-files limit {soft} (hard {hard})",
        flush=True,
    )
    sections: list[list[str]] = []
    ok = True
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tta-bench-ws-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            services, upstream = _start_services(procs)
            stack = Stack(procs, workdir, services, upstream, _dev_auth(workdir))
            if "idle" in a.parts:
                lines, good = _idle(a, stack)
                sections.append(lines)
                ok &= good
                print(f"  idle connections done ({time.monotonic() - started:.0f} s)", flush=True)
            if "chat" in a.parts or "fanout" in a.parts:
                gw = stack.gateway("gateway")
                if "chat" in a.parts:
                    lines, good = _chat(a, stack, gw)
                    sections.append(lines)
                    ok &= good
                if "fanout" in a.parts:
                    for rate in a.fanout_rates:
                        lines, good = _fanout(a, stack, gw, rate)
                        sections.append(lines)
                        ok &= good
                    print(f"  fan-out done ({time.monotonic() - started:.0f} s)", flush=True)
        finally:
            procs.stop()
    print()
    print(f"WebSocket door ({time.monotonic() - started:.0f} s):")
    for lines in sections:
        print()
        print("\n".join(lines))
    return 0 if ok else 1


def _helper(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ws")
    sub = p.add_subparsers(dest="role", required=True)
    idle = sub.add_parser("idle-client")
    idle.add_argument("--url", required=True)
    idle.add_argument("--auth", required=True)
    idle.add_argument("--count", type=int, required=True)
    idle.add_argument("--batch", type=int, default=100)
    idle.add_argument("--timeout", type=float, default=60)
    idle.add_argument("--proof-seconds", type=float, default=30)
    watch = sub.add_parser("watchers")
    watch.add_argument("--url", required=True)
    watch.add_argument("--auth", required=True)
    watch.add_argument("--count", type=int, required=True)
    load = sub.add_parser("chat-load")
    load.add_argument("--door", choices=("ws", "grpc"), required=True)
    load.add_argument("--url")
    load.add_argument("--target")
    load.add_argument("--auth", default="")
    load.add_argument("--session", default="")
    load.add_argument("--rate", type=float, required=True)
    load.add_argument("--warmup", type=float, default=1.0)
    load.add_argument("--seconds", type=float, default=5.0)
    load.add_argument("--late-ms", type=float, default=5.0)
    load.add_argument("--drain", type=float, default=10.0)
    a = p.parse_args(argv)
    raise_nofile()
    if a.role == "idle-client":
        run_loop(_idle_client(a))
    elif a.role == "watchers":
        run_loop(_watchers(a))
    else:
        result, loop = run_loop(_chat_load(a))
        emit({**result, "generator": f"chat-load ({a.door}) on {loop}"})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("idle-client", "watchers", "chat-load"):
        _helper(sys.argv[1:])
    else:
        raise SystemExit(main())
