"""The trivial backend: tta.v1.DiagnosticsService/Echo with generated (de)serialisers, and
tta.v1.PlayerService/GetPlayer answered with an empty message (a valid GetPlayerResponse) as raw bytes,
without reading the request: a method whose contract requires auth, for the identity phases. Nothing
else.

Run as its own process so its CPU time can be read apart from the gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import grpc
from tta.v1 import diagnostics_pb2, diagnostics_pb2_grpc


class _Echo(diagnostics_pb2_grpc.DiagnosticsServiceServicer):
    async def Echo(self, request: diagnostics_pb2.EchoRequest, context: Any) -> diagnostics_pb2.EchoResponse:
        return diagnostics_pb2.EchoResponse(payload=request.payload)


async def _get_player(request: bytes, context: Any) -> bytes:
    return b""  # GetPlayerResponse() serialised: no fields set


async def _serve(port: int) -> None:
    server = grpc.aio.server()
    diagnostics_pb2_grpc.add_DiagnosticsServiceServicer_to_server(_Echo(), server)
    # No (de)serialisers: the request arrives and the response leaves as bytes.
    players = {"GetPlayer": grpc.unary_unary_rpc_method_handler(_get_player)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("tta.v1.PlayerService", players),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    asyncio.run(_serve(p.parse_args().port))


if __name__ == "__main__":
    main()
