"""gRPC load generator process: one unary method at a fixed offered rate (open loop, bench/_pacing.py).

One channel, one pre-serialised request sent as raw bytes (no serialiser runs per call), the same
metadata on every call if asked (``--metadata 'authorization=Bearer …'``), uvloop when installed.
Prints the JSON lines bench/_pacing.py describes; the last one also names the generator.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc

from bench._pacing import Schedule, Tally, drive, emit, run_loop


async def _run(a: argparse.Namespace) -> dict[str, Any]:
    payload = bytes.fromhex(a.payload_hex)
    metadata = tuple(_pair(m) for m in a.metadata) or None
    clock = time.perf_counter
    loop = asyncio.get_running_loop()
    async with grpc.aio.insecure_channel(a.target) as channel:
        call = channel.unary_unary(a.method, _registered_method=True)
        await call(payload, timeout=10, metadata=metadata)  # connected before the first due instant

        tasks: set[Any] = set()

        def issuer(tally: Tally) -> Callable[[float], None]:
            async def one(due: float) -> None:
                tally.started(due, clock())
                try:
                    await call(payload, timeout=a.timeout, metadata=metadata)
                except grpc.aio.AioRpcError as err:
                    tally.finished(due, clock(), err.code().name)
                else:
                    tally.finished(due, clock(), None)

            def issue(due: float) -> None:
                task = loop.create_task(one(due))
                tasks.add(task)  # the loop keeps only a weak reference to a task
                task.add_done_callback(tasks.discard)

            return issue

        schedule = Schedule(a.rate, a.warmup, a.seconds)
        return await drive(schedule, a.late_ms / 1e3, issuer, drain_seconds=a.timeout + 1)


def _pair(text: str) -> tuple[str, str]:
    """``key=value`` as gRPC metadata (the key lower-cased).

    >>> _pair("authorization=Bearer a=b")
    ('authorization', 'Bearer a=b')
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--metadata wants key=value, not {text!r}")
    return key.strip().lower(), value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--payload-hex", default="")
    p.add_argument(
        "--metadata", action="append", default=[], help="key=value sent with every call (repeatable)"
    )
    p.add_argument("--rate", type=float, required=True, help="calls per second")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--late-ms", type=float, default=5.0, help="a call started later than this is late")
    p.add_argument("--timeout", type=float, default=5.0, help="each call's deadline, seconds")
    a = p.parse_args()
    result, loop = run_loop(_run(a))
    emit({**result, "generator": f"grpc.aio on {loop}, one channel"})


if __name__ == "__main__":
    main()
