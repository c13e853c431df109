"""A raw-bytes upstream for pass-through tests: its behaviour is chosen by the caller's metadata.

It is a real grpc.aio server on loopback serving every method of the route table with the right
arity, so the gateway cannot tell it from a TTA service; only what it does differs:

- ``x-behaviour: echo`` (default): echo the request bytes, send initial metadata ``x-up-initial``
  and trailing metadata ``x-up-trailer`` (plus a binary ``x-up-bin`` trailer).
- ``error``: fail with INVALID_ARGUMENT, a message, ``grpc-status-details-bin`` (google.rpc.Status
  with a BadRequest) and a trailer, after sending initial metadata.
- ``deadline``: answer with the remaining time it sees, as ASCII seconds.
- ``metadata``: answer with the metadata it received, as ``key=value`` lines.
- ``hang``: record the method in ``hanging``, wait until cancelled, then record it in ``cancelled``.
- ``stream-hang`` (server streams): send one message, then the same as ``hang``.
- streams: ``echo`` sends each request back (server stream: three copies), ``stream-error`` fails
  after the first message, ``stream-error-empty`` sends one empty message then fails,
  ``stream-garbage`` (server stream) sends the request back, then bytes no message type decodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.routes import Arity, RouteTable

BAD_REQUEST = error_details_pb2.BadRequest(
    field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="player_id", description="must not be empty")
    ]
)


def status_details() -> bytes:
    detail = any_pb2.Any()
    detail.Pack(BAD_REQUEST)
    return status_pb2.Status(
        code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
        message="player_id: must not be empty",
        details=[detail],
    ).SerializeToString()


def _field1(data: bytes) -> bytes:
    length, out = len(data), bytearray(b"\x0a")
    while length > 0x7F:
        out.append((length & 0x7F) | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out) + data


def _behaviour(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    return dict(context.invocation_metadata() or ()).get("x-behaviour", "echo")


class UpstreamDouble(grpc.GenericRpcHandler):
    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.cancelled: asyncio.Queue[str] = asyncio.Queue()
        self.hanging: asyncio.Queue[str] = asyncio.Queue()  # ``hang`` calls, as they begin to wait
        self.calls: list[str] = []
        self.stream_sizes: list[int] = []  # how many messages each client stream carried

    async def _fail(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "player_id: must not be empty",
            (("grpc-status-details-bin", status_details()), ("x-up-trailer", "error-trailer")),
        )

    async def _common(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any], path: str) -> bytes:
        self.calls.append(path)
        behaviour = _behaviour(context)
        if behaviour == "error":
            await context.send_initial_metadata((("x-up-initial", "before-error"),))
            await self._fail(context)
        if behaviour == "deadline":
            return f"{context.time_remaining():.3f}".encode()
        if behaviour in ("metadata", "metadata-field1"):
            md = context.invocation_metadata() or ()
            text = "\n".join(f"{k}={v!r}" for k, v in md).encode()
            # As field 1 (length-delimited) it is a valid message of any type whose field 1 is
            # bytes or string, e.g. EchoResponse: the HTTP door can render it.
            return text if behaviour == "metadata" else _field1(text)
        if behaviour == "hang":
            await self.hanging.put(path)
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await self.cancelled.put(path)
                raise
        await context.send_initial_metadata((("x-up-initial", "hello"),))
        context.set_trailing_metadata((("x-up-trailer", "bye"), ("x-up-bin", b"\x00\xff")))
        return request

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        route = self.table.lookup(details.method)
        if route is None:
            return None
        path = route.path

        async def unary_unary(request: bytes, context: Any) -> bytes:
            return await self._common(request, context, path)

        async def unary_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
            if _behaviour(context) == "stream-error-empty":
                # An empty message is a valid message of every type: the HTTP door can render it.
                yield b""
                await self._fail(context)
            if _behaviour(context) == "stream-hang":
                # One (empty) message, then nothing until the call is cancelled (a watch nobody ends).
                yield b""
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    await self.cancelled.put(path)
                    raise
            first = await self._common(request, context, path)
            yield first
            if _behaviour(context) == "stream-garbage":
                yield b"\xff"  # a truncated tag: DecodeError for every message type
                return
            if _behaviour(context) == "stream-error":
                await self._fail(context)
            for _ in range(2):
                yield first

        async def stream_unary(requests: AsyncIterator[bytes], context: Any) -> bytes:
            parts = [r async for r in requests]
            self.stream_sizes.append(len(parts))
            if _behaviour(context) == "empty":
                return b""
            return await self._common(b"|".join(parts), context, path)

        async def stream_stream(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
            started = False
            async for r in requests:
                if not started:
                    started = True
                    yield await self._common(r, context, path)
                    if _behaviour(context) == "stream-error":
                        await self._fail(context)
                    continue
                yield r

        factory = {
            Arity.UNARY_UNARY: (grpc.unary_unary_rpc_method_handler, unary_unary),
            Arity.UNARY_STREAM: (grpc.unary_stream_rpc_method_handler, unary_stream),
            Arity.STREAM_UNARY: (grpc.stream_unary_rpc_method_handler, stream_unary),
            Arity.STREAM_STREAM: (grpc.stream_stream_rpc_method_handler, stream_stream),
        }[route.arity]
        return factory[0](factory[1])
