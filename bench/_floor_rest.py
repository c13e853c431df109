"""The REST floor: the least an ASGI transcoder on the gateway's stack (uvicorn + httptools + uvloop,
grpc.aio to the upstream) can do for GET /api/v1/diagnostics:echo — no routing table, no policy, no
telemetry, no metadata, no deadline. bench/rest.py runs it beside the gateway to show how much of the
gateway's cost is the stack itself and how much is the gateway's own work.

With ``--context`` it also sends what every gateway call must carry upstream and nothing more: a
deadline and the two correlation ids (``x-request-id``, ``traceparent``) as gRPC metadata. The gap
between the two floors is the price of deadline and id propagation in grpc.aio."""

from __future__ import annotations

import argparse
import asyncio
import base64
from typing import Any
from urllib.parse import parse_qsl

import grpc
import orjson
import uvicorn
import uvloop
from tta.v1 import diagnostics_pb2

_CONTEXT = (
    ("x-request-id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
)


def _app(upstream: str, context: bool) -> Any:
    channel: Any = None
    echo: Any = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal channel, echo
        if scope["type"] != "http":
            return
        if channel is None:  # created on the server's loop
            channel = grpc.aio.insecure_channel(upstream)
            echo = channel.unary_unary(
                "/tta.v1.DiagnosticsService/Echo",
                diagnostics_pb2.EchoRequest.SerializeToString,
                diagnostics_pb2.EchoResponse.FromString,
                _registered_method=True,
            )
        query = dict(parse_qsl(scope["query_string"].decode()))
        request = diagnostics_pb2.EchoRequest(payload=base64.b64decode(query.get("payload", "")))
        if context:
            response = await echo(request, metadata=_CONTEXT, timeout=30.0)
        else:
            response = await echo(request)
        body = orjson.dumps({"payload": base64.b64encode(response.payload).decode()})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def _serve(port: int, upstream: str, context: bool) -> None:
    config = uvicorn.Config(
        _app(upstream, context),
        host="127.0.0.1",
        port=port,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            raise SystemExit("the REST floor did not start")
        await asyncio.sleep(0.02)
    print("ready", flush=True)
    await task


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--context", action="store_true", help="send a deadline and the two ids upstream")
    a = p.parse_args()
    uvloop.run(_serve(a.port, a.upstream, a.context))


if __name__ == "__main__":
    main()
