"""HTTP/1.1 load generator process: one GET at a fixed offered rate (open loop, bench/_pacing.py).

A pool of keep-alive connections, opened before the first due instant, each carrying one request at a
time (no pipelining), with the same extra headers on every request if asked (``--header
'Authorization: Bearer …'``). A due call takes the connection idle longest (so every connection stays
in use and no server closes one for idleness); when none is idle it waits for the first to free, and
starts late. The request is one pre-built byte string; the response is framed by Content-Length or chunked
encoding. Any status other than 200 is an error. uvloop when installed.

There is no ``wrk`` path any more: wrk runs a closed loop (and wrk2, which paces, is not packaged here).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from bench._pacing import Schedule, Tally, drive, emit, run_loop

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked")


def response_end(buf: bytearray | bytes, end: int, head: bytes) -> int | None:
    """Where the response whose (lower-cased) head ends at ``end`` ends in ``buf``; None while incomplete.

    >>> response_end(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok", 34, b"http/1.1 200 ok\\r\\ncontent-length: 2")
    40
    """
    m = _CONTENT_LENGTH.search(head)
    if m is not None:
        total = end + 4 + int(m.group(1))
        return total if len(buf) >= total else None
    if not _CHUNKED.search(head):
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


class _Pool:
    """The connections, the idle ones in the order they freed, and the calls waiting for one."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.tally: Tally | None = None  # set when the pacer starts
        self.idle: deque[_Conn] = deque()
        self.waiting: deque[float] = deque()  # due instants of calls with no connection yet
        self.closing = False
        self.failure: str | None = None  # the first thing that went wrong with a connection

    def send(self, due: float) -> None:
        if self.idle:
            self.idle.popleft().send(due)
        else:
            self.waiting.append(due)

    def freed(self, conn: _Conn) -> None:
        if self.waiting:
            conn.send(self.waiting.popleft())
        else:
            self.idle.append(conn)


class _Conn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.buf = bytearray()
        self.due: float | None = None  # the call on the wire, if any
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def send(self, due: float) -> None:
        assert self.transport is not None
        assert self.pool.tally is not None
        self.due = due
        self.pool.tally.started(due, time.perf_counter())
        self.transport.write(self.pool.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        try:
            total = response_end(self.buf, end, head)
        except ValueError as err:
            self._fail(str(err))
            return
        if total is None:
            return
        if self.due is None or self.pool.tally is None:
            self._fail(f"a response nobody asked for: {head[:200]!r}")
            return
        del self.buf[:total]
        due, self.due = self.due, None
        status = head[9:12].decode(errors="replace")  # b"http/1.1 200 ok"
        self.pool.tally.finished(due, time.perf_counter(), None if status == "200" else f"HTTP {status}")
        self.pool.freed(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.pool.closing:  # every connection is used every few ms: a close is the server's doing
            self._fail(f"the server closed a connection ({exc or 'EOF'})")

    def _fail(self, reason: str) -> None:
        """Take this connection out of the pool; the call on it, if any, is an error."""
        self.pool.failure = self.pool.failure or reason
        if self.due is not None and self.pool.tally is not None:
            self.pool.tally.finished(self.due, time.perf_counter(), "connection")
            self.due = None
        if self in self.pool.idle:
            self.pool.idle.remove(self)
        if self.transport is not None:
            self.transport.close()


async def _run(a: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    extra = "".join(f"{_header(h)}\r\n" for h in a.header)
    pool = _Pool(f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n{extra}\r\n".encode())
    for _ in range(a.connections):
        _, conn = await loop.create_connection(lambda: _Conn(pool), a.host, a.port)
        pool.idle.append(conn)

    def issuer(tally: Tally) -> Callable[[float], None]:
        pool.tally = tally
        return pool.send

    result = await drive(Schedule(a.rate, a.warmup, a.seconds), a.late_ms / 1e3, issuer, drain_seconds=5.0)
    pool.closing = True
    for conn in pool.idle:
        assert conn.transport is not None
        conn.transport.close()
    return {**result, "failure": pool.failure}


def _header(text: str) -> str:
    """One ``Name: value`` header line, checked (no line breaks: one header, not a smuggled request).

    >>> _header("Authorization:  Bearer x")
    'Authorization: Bearer x'
    """
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in text for c in "\r\n"):
        raise SystemExit(f"--header wants 'Name: value' on one line, not {text!r}")
    return f"{name.strip()}: {value.strip()}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--rate", type=float, required=True, help="requests per second")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument(
        "--header", action="append", default=[], help="'Name: value' sent with every request (repeatable)"
    )
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--late-ms", type=float, default=5.0, help="a request sent later than this is late")
    a = p.parse_args()
    result, loop = run_loop(_run(a))
    emit({**result, "generator": f"HTTP/1.1 keep-alive on {loop}, {a.connections} connections"})


if __name__ == "__main__":
    main()
