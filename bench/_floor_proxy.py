"""The floor: the least a grpc.aio proxy can do for one unary method (no policy, no metadata,
no deadline, no health), on uvloop like the gateway. Benchmarks run it beside the gateway to show
how much of the gateway's cost is grpc.aio itself and how much is the gateway's own work.

``--context`` adds what every gateway call must carry upstream and nothing more: the caller's
deadline and the two correlation ids (``x-request-id``, ``traceparent``) as metadata. ``--reply-ids``
also returns the two ids in the response headers, as the gateway does (issue 3's contract): grpc.aio
then sends the headers in a batch of their own (``send_initial_metadata``) instead of with the answer.
The gaps between the variants are the prices of those two requirements in grpc.aio itself."""

from __future__ import annotations

import argparse
from typing import Any

import grpc
import uvloop

SERVICE, METHOD = "tta.v1.DiagnosticsService", "Echo"
_IDS = (
    ("x-request-id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
)


async def _serve(port: int, upstream: str, context_upstream: bool, reply_ids: bool) -> None:
    channel = grpc.aio.insecure_channel(upstream)
    forward = channel.unary_unary(f"/{SERVICE}/{METHOD}", None, None, _registered_method=True)

    async def echo(request: bytes, context: Any) -> bytes:
        if context_upstream:
            remaining = context.time_remaining()
            response: bytes = await forward(request, metadata=_IDS, timeout=remaining)
        else:
            response = await forward(request)
        if reply_ids:
            await context.send_initial_metadata(_IDS)
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
    p.add_argument("--context", action="store_true", help="send the deadline and the two ids upstream")
    p.add_argument("--reply-ids", action="store_true", help="return the two ids in the response headers")
    a = p.parse_args()
    uvloop.run(_serve(a.port, a.upstream, a.context, a.reply_ids))


if __name__ == "__main__":
    main()
