"""The REST floor: the least an ASGI transcoder on the gateway's stack (uvicorn + httptools + uvloop,
grpc.aio to the upstream) can do for GET /api/v1/diagnostics:echo — no routing table, no policy, no
telemetry, no metadata, no deadline. bench/rest.py runs it beside the gateway to show how much of the
gateway's cost is the stack itself and how much is the gateway's own work."""

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


def _app(upstream: str) -> Any:
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
        response = await echo(diagnostics_pb2.EchoRequest(payload=base64.b64decode(query.get("payload", ""))))
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


async def _serve(port: int, upstream: str) -> None:
    config = uvicorn.Config(
        _app(upstream),
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
    a = p.parse_args()
    uvloop.run(_serve(a.port, a.upstream))


if __name__ == "__main__":
    main()
