"""HTTP/1.1 keep-alive load generator process: one GET path, N connections, a fixed time.

Uses ``wrk`` when it is on PATH (``-t1 -c{N} -d{s}s``, no Lua), else an asyncio client here: each
connection sends one request, reads the response (Content-Length or chunked framing), sends the next — no
pipelining. Prints the same JSON lines as bench/_load.py: ``{"event": "measuring"}`` after the
warm-up, then ``{"calls": ..., "errors": ..., "seconds": ..., "generator": ...}``. Any status other
than 200 counts as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import time
from typing import cast


def _response_end(buf: bytearray, end: int, head: bytes) -> int | None:
    """Where the response whose head ends at ``end`` ends in ``buf``; None while incomplete."""
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
    if m is not None:
        total = end + 4 + int(m.group(1))
        return total if len(buf) >= total else None
    if not re.search(rb"\r\ntransfer-encoding:\s*chunked", head):
        raise ValueError(f"response framed by neither Content-Length nor chunked: {head[:200]!r}")
    pos = end + 4
    while True:  # chunk: hex size CRLF data CRLF; the last one is size 0, then (no) trailers, CRLF
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        if size == 0:
            fin = buf.find(b"\r\n\r\n", eol)
            return fin + 4 if fin >= 0 else None
        pos = eol + 2 + size + 2
        if len(buf) < pos:
            return None


class _Conn(asyncio.Protocol):
    """One keep-alive connection: request, full response, request again, until the deadline."""

    def __init__(self, request: bytes, counts: dict[str, int], deadline: float) -> None:
        self.request, self.counts, self.deadline = request, counts, deadline
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buf = bytearray()
        self.measuring = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        try:
            total = _response_end(self.buf, end, head)
        except ValueError as err:
            self.done.set_exception(err)
            self.transport.close()
            return
        if total is None:
            return
        del self.buf[:total]
        if self.measuring:
            key = "calls" if head.startswith(b"http/1.1 200 ") else "errors"
            self.counts[key] += 1
        if time.monotonic() < self.deadline:
            self.transport.write(self.request)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if time.monotonic() < self.deadline:  # the server hung up early: fail loudly
                self.done.set_exception(ConnectionError(f"connection closed before the deadline: {exc}"))
            else:
                self.done.set_result(None)


async def _python(
    host: str, port: int, path: str, connections: int, warmup: float, seconds: float
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    counts = {"calls": 0, "errors": 0}
    deadline = time.monotonic() + warmup + seconds
    conns: list[_Conn] = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Conn(request, counts, deadline), host, port)
        conns.append(conn)
    await asyncio.sleep(warmup)
    print(json.dumps({"event": "measuring"}), flush=True)
    for c in conns:
        c.measuring = True
    start = time.monotonic()
    await asyncio.gather(*(c.done for c in conns))
    return {**counts, "seconds": time.monotonic() - start}


def _wrk(wrk: str, url: str, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if m is None or rps is None:
        raise SystemExit(f"cannot parse wrk output:\n{out}")
    scale = {"ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non200 = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors += int(non200.group(1)) if non200 else 0
    return {"calls": int(m.group(1)), "errors": errors, "seconds": float(m.group(2)) * scale,
            "requests_per_sec": float(rps.group(1))}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--python", action="store_true", help="use the asyncio client even if wrk is on PATH")
    a = p.parse_args()
    wrk = None if a.python else shutil.which("wrk")
    if wrk is not None:
        url = f"http://{a.host}:{a.port}{a.path}"
        _wrk(wrk, url, a.connections, max(1, round(a.warmup)))  # warm-up run, discarded
        print(json.dumps({"event": "measuring"}), flush=True)
        result = {**_wrk(wrk, url, a.connections, max(1, round(a.seconds))), "generator": "wrk"}
    else:
        work = _python(a.host, a.port, a.path, a.connections, a.warmup, a.seconds)
        try:
            import uvloop  # the generator shares the machine with the measured processes: keep it lean
        except ImportError:
            result = {**asyncio.run(work), "generator": "python asyncio"}
        else:
            result = {**uvloop.run(work), "generator": "python asyncio (uvloop)"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
