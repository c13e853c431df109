"""Load generator process: keep N unary calls in flight against one method for a fixed time.

Prints one JSON line: {"calls": ..., "errors": ..., "seconds": ...}. Requests are pre-serialised
bytes so the generator spends as little CPU per call as grpc allows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc


async def _run(
    target: str, method: str, payload: bytes, concurrency: int, warmup: float, seconds: float
) -> dict[str, float]:
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(method, _registered_method=True)
        counts = {"calls": 0, "errors": 0}
        measuring = False
        deadline = time.monotonic() + warmup + seconds

        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    await call(payload, timeout=10)
                    if measuring:
                        counts["calls"] += 1
                except grpc.aio.AioRpcError:
                    counts["errors"] += 1

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        print(json.dumps({"event": "measuring"}), flush=True)
        measuring = True
        start = time.monotonic()
        await asyncio.gather(*workers)
        return {**counts, "seconds": time.monotonic() - start}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--payload-hex", default="")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=5.0)
    a = p.parse_args()
    result = asyncio.run(
        _run(a.target, a.method, bytes.fromhex(a.payload_hex), a.concurrency, a.warmup, a.seconds)
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
