"""The floor: the least a grpc.aio proxy can do for one unary method (no policy, no metadata,
no deadline, no health), on uvloop like the gateway. Benchmarks run it beside the gateway to show
how much of the gateway's cost is grpc.aio itself and how much is the gateway's own work."""

from __future__ import annotations

import argparse
from typing import Any

import grpc
import uvloop

SERVICE, METHOD = "tta.v1.DiagnosticsService", "Echo"


async def _serve(port: int, upstream: str) -> None:
    channel = grpc.aio.insecure_channel(upstream)
    forward = channel.unary_unary(f"/{SERVICE}/{METHOD}", None, None, _registered_method=True)

    async def echo(request: bytes, context: Any) -> bytes:
        response: bytes = await forward(request)
        return response

    server = grpc.aio.server()
    server.add_registered_method_handlers(SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(echo)})
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    a = p.parse_args()
    uvloop.run(_serve(a.port, a.upstream))


if __name__ == "__main__":
    main()
