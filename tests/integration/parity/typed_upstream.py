"""A typed reference upstream for the door-parity suite: real grpc.aio on loopback, real messages.

Serves four methods of the TTA contracts, each answering with proper messages of its output type so
that every door (raw bytes over gRPC, JSON over REST) can render them. The caller's ``x-behaviour``
metadata picks what happens:

- ``echo`` (default): DiagnosticsService/Echo returns the payload; ChatService/WatchRoom streams three
  ChatMessages (text m0, m1, m2); ChatService/Chat answers each ChatRequest with a ChatMessage carrying
  its text; PlayerService/GetPlayer returns a player with the id asked for, whose display name is
  the identity the gateway vouched for: ``<x-tta-subject>|<x-tta-roles>``.
- ``error``: INVALID_ARGUMENT "player_id: must not be empty" with a BadRequest detail and an
  ``x-up-trailer`` trailer; on streams after the first message.
- ``fail-first``: the same error before any response message or header (a trailers-only answer; the
  chat reads the first request first, as a service validating it would).
- ``hang``: waits until cancelled (records the method in ``cancelled``).
- ``metadata``: Echo's payload is the metadata received, one ``key=value`` per line.
- ``deadline``: Echo's payload is the remaining time seen, in seconds (``none`` without a deadline).

``calls`` counts the calls per method; ``received`` keeps the Chat texts that arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from tta.v1 import chat_pb2, diagnostics_pb2, player_pb2

ECHO = "/tta.v1.DiagnosticsService/Echo"
WATCH = "/tta.v1.ChatService/WatchRoom"
CHAT = "/tta.v1.ChatService/Chat"
GET_PLAYER = "/tta.v1.PlayerService/GetPlayer"
GET_PLAYER_V2 = "/tta.v2.PlayerService/GetPlayer"
ERROR_MESSAGE = "player_id: must not be empty"


def _details() -> bytes:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="player_id", description="must not be empty"
                )
            ]
        )
    )
    return status_pb2.Status(
        code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message=ERROR_MESSAGE, details=[detail]
    ).SerializeToString()


def _behaviour(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    return str(dict(context.invocation_metadata() or ()).get("x-behaviour", "echo"))


class TypedUpstream(grpc.GenericRpcHandler):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.received: list[str] = []
        self.cancelled: asyncio.Queue[str] = asyncio.Queue()
        self.cancelled_paths: list[str] = []
        self._hanging: asyncio.Queue[str] = asyncio.Queue()

    async def cancelled_or_hanging(self) -> str:
        """The next method that began to hang (``hang`` behaviour)."""
        return await self._hanging.get()

    async def _fail(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            ERROR_MESSAGE,
            (("grpc-status-details-bin", _details()), ("x-up-trailer", "error-trailer")),
        )

    async def _hang(self, path: str) -> None:
        await self._hanging.put(path)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled_paths.append(path)
            await self.cancelled.put(path)
            raise

    def _count(self, path: str) -> None:
        self.calls[path] = self.calls.get(path, 0) + 1

    async def echo(
        self, request: diagnostics_pb2.EchoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> diagnostics_pb2.EchoResponse:
        self._count(ECHO)
        behaviour = _behaviour(context)
        if behaviour in ("error", "fail-first"):
            await self._fail(context)
        if behaviour == "hang":
            await self._hang(ECHO)
        if behaviour == "metadata":
            lines = "\n".join(
                f"{k}={v}" for k, v in context.invocation_metadata() or () if isinstance(v, str)
            )
            return diagnostics_pb2.EchoResponse(payload=lines.encode())
        if behaviour == "deadline":
            left = context.time_remaining()
            return diagnostics_pb2.EchoResponse(payload=b"none" if left is None else f"{left:.3f}".encode())
        context.set_trailing_metadata((("x-up-trailer", "bye"),))
        return diagnostics_pb2.EchoResponse(payload=request.payload)

    async def watch(
        self, request: chat_pb2.WatchRoomRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[chat_pb2.WatchRoomResponse]:
        self._count(WATCH)
        behaviour = _behaviour(context)
        if behaviour == "fail-first":
            await self._fail(context)
        await context.send_initial_metadata((("x-up-initial", "hello"),))
        for i in range(3):
            yield chat_pb2.WatchRoomResponse(
                message=chat_pb2.ChatMessage(session_id=request.session_id, sequence=i + 1, text=f"m{i}")
            )
            if behaviour == "error":
                await self._fail(context)
            if behaviour == "hang":
                await self._hang(WATCH)

    async def chat(
        self, requests: AsyncIterator[chat_pb2.ChatRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[chat_pb2.ChatResponse]:
        self._count(CHAT)
        behaviour = _behaviour(context)
        sequence = 0
        async for request in requests:
            if behaviour == "fail-first":
                # refused on its first message, before any header: a trailers-only answer (failing before
                # reading anything races the caller's first write in grpc.aio: docs/architecture.md)
                await self._fail(context)
            self.received.append(request.text)
            sequence += 1
            yield chat_pb2.ChatResponse(
                message=chat_pb2.ChatMessage(
                    session_id=request.session_id, sequence=sequence, text=request.text
                )
            )
            if behaviour == "error":
                await self._fail(context)

    async def get_player(
        self, request: player_pb2.GetPlayerRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> player_pb2.GetPlayerResponse:
        self._count(GET_PLAYER)
        if _behaviour(context) == "error":
            await self._fail(context)
        # who the gateway says is calling, as the display name: "<x-tta-subject>|<x-tta-roles>"
        md = dict(context.invocation_metadata() or ())
        who = f"{md.get('x-tta-subject', '')}|{md.get('x-tta-roles', '')}"
        return player_pb2.GetPlayerResponse(
            player=player_pb2.Player(player_id=request.player_id, display_name=who)
        )

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        if method == ECHO:
            return grpc.unary_unary_rpc_method_handler(
                self.echo,
                request_deserializer=diagnostics_pb2.EchoRequest.FromString,
                response_serializer=diagnostics_pb2.EchoResponse.SerializeToString,
            )
        if method == WATCH:
            return grpc.unary_stream_rpc_method_handler(
                self.watch,
                request_deserializer=chat_pb2.WatchRoomRequest.FromString,
                response_serializer=chat_pb2.WatchRoomResponse.SerializeToString,
            )
        if method == CHAT:
            return grpc.stream_stream_rpc_method_handler(
                self.chat,
                request_deserializer=chat_pb2.ChatRequest.FromString,
                response_serializer=chat_pb2.ChatResponse.SerializeToString,
            )
        if method in (GET_PLAYER, GET_PLAYER_V2):
            return grpc.unary_unary_rpc_method_handler(
                self.get_player,
                request_deserializer=player_pb2.GetPlayerRequest.FromString,
                response_serializer=player_pb2.GetPlayerResponse.SerializeToString,
            )
        return None


async def start_typed_upstream(
    handler: TypedUpstream | None = None,
) -> tuple[grpc.aio.Server, TypedUpstream, int]:
    """A server on a free loopback port; pass ``handler`` to serve one upstream's state from two targets."""
    server = grpc.aio.server()
    handler = handler or TypedUpstream()
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, handler, port
