"""Door adapters for the parity suite: the same call through each door, as one normalised ``Outcome``.

Each adapter speaks its door's real protocol with a real client (grpc.aio; httpx) and reports what a
client of that door learns: the gRPC status code and message, the ``google.rpc`` details (as proto3
JSON), the response messages (as proto3 JSON), and the metadata that came back. A third door joins
the suite by adding an adapter with the same four methods.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
import httpx
from google.protobuf import json_format
from google.rpc import status_pb2
from tta.v1 import chat_pb2, diagnostics_pb2, player_pb2

from tests.integration.parity.typed_upstream import CHAT, ECHO, GET_PLAYER, GET_PLAYER_V2, WATCH

Metadata = Sequence[tuple[str, str]]


@dataclass
class Outcome:
    code: int
    message: str = ""
    details: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # headers and trailers, lower-case keys
    http_status: int | None = None

    def detail(self, type_name: str) -> dict[str, Any]:
        found = [d for d in self.details if d["@type"].endswith("/" + type_name)]
        assert found, f"no {type_name} in {self.details}"
        return found[0]


class DoorClient(Protocol):
    name: str

    async def echo(
        self, payload: bytes, metadata: Metadata = (), grpc_timeout: str | None = None
    ) -> Outcome: ...
    async def watch(self, session_id: str, metadata: Metadata = ()) -> Outcome: ...
    async def chat(self, session_id: str, texts: Sequence[str], metadata: Metadata = ()) -> Outcome: ...
    async def get_player(self, player_id: str, version: int = 1, metadata: Metadata = ()) -> Outcome: ...


_UNITS = {"S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "M": 60.0, "H": 3600.0}


def _seconds(timeout: str | None) -> float | None:
    return None if timeout is None else int(timeout[:-1]) * _UNITS[timeout[-1]]


async def raw_grpc_unary(port: int, path: str, request: bytes, metadata: Metadata) -> Outcome:
    """A unary gRPC call written frame by frame (the h2 library, no grpc client): for metadata that
    grpc's own clients refuse to send but other HTTP/2 peers can (control bytes, obs-text)."""
    import h2.config
    import h2.connection
    import h2.events

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    headers = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", f"127.0.0.1:{port}".encode()),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *((k.encode(), v.encode("latin-1")) for k, v in metadata),
    ]
    conn.send_headers(1, headers)
    conn.send_data(1, b"\x00" + len(request).to_bytes(4, "big") + request, end_stream=True)
    writer.write(conn.data_to_send())
    got: dict[str, str] = {}
    try:
        while "grpc-status" not in got:
            data = await asyncio.wait_for(reader.read(65536), 10)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    got.update((k.decode(), v.decode("latin-1")) for k, v in event.headers)
            writer.write(conn.data_to_send())
    finally:
        writer.close()
    from urllib.parse import unquote

    return Outcome(int(got.get("grpc-status", "-1")), unquote(got.get("grpc-message", "")), metadata=got)


class GrpcClient:
    name = "grpc"

    def __init__(self, channel: grpc.aio.Channel, port: int = 0) -> None:
        self.channel = channel
        self.port = port

    @staticmethod
    async def _outcome(call: Any, messages: list[Any], err: grpc.aio.AioRpcError | None) -> Outcome:
        initial = err.initial_metadata() if err is not None else await call.initial_metadata()
        trailing = err.trailing_metadata() if err is not None else await call.trailing_metadata()
        md: dict[str, str] = {}
        details: list[dict[str, Any]] = []
        for key, value in (*(initial or ()), *(trailing or ())):
            if key == "grpc-status-details-bin":
                details = [json_format.MessageToDict(d) for d in status_pb2.Status.FromString(value).details]
            elif isinstance(value, str):
                md[key] = value
        out = [json_format.MessageToDict(m) for m in messages]
        if err is not None:
            return Outcome(err.code().value[0], err.details() or "", details, out, md)
        return Outcome(0, "", details, out, md)

    async def echo(self, payload: bytes, metadata: Metadata = (), grpc_timeout: str | None = None) -> Outcome:
        rpc = self.channel.unary_unary(
            ECHO,
            request_serializer=diagnostics_pb2.EchoRequest.SerializeToString,
            response_deserializer=diagnostics_pb2.EchoResponse.FromString,
        )
        call = rpc(
            diagnostics_pb2.EchoRequest(payload=payload),
            metadata=tuple(metadata),
            timeout=_seconds(grpc_timeout),
        )
        try:
            return await self._outcome(call, [await call], None)
        except grpc.aio.AioRpcError as err:
            return await self._outcome(call, [], err)

    async def _stream(self, call: Any) -> Outcome:
        got: list[Any] = []
        try:
            async for message in call:
                got.append(message)
        except grpc.aio.AioRpcError as err:
            return await self._outcome(call, got, err)
        return await self._outcome(call, got, None)

    async def watch(self, session_id: str, metadata: Metadata = ()) -> Outcome:
        rpc = self.channel.unary_stream(
            WATCH,
            request_serializer=chat_pb2.WatchRoomRequest.SerializeToString,
            response_deserializer=chat_pb2.WatchRoomResponse.FromString,
        )
        return await self._stream(
            rpc(chat_pb2.WatchRoomRequest(session_id=session_id), metadata=tuple(metadata))
        )

    async def chat(self, session_id: str, texts: Sequence[str], metadata: Metadata = ()) -> Outcome:
        rpc = self.channel.stream_stream(
            CHAT,
            request_serializer=chat_pb2.ChatRequest.SerializeToString,
            response_deserializer=chat_pb2.ChatResponse.FromString,
        )
        requests = [chat_pb2.ChatRequest(session_id=session_id, text=t) for t in texts]
        return await self._stream(rpc(iter(requests), metadata=tuple(metadata)))

    async def get_player(self, player_id: str, version: int = 1, metadata: Metadata = ()) -> Outcome:
        rpc = self.channel.unary_unary(
            GET_PLAYER if version == 1 else GET_PLAYER_V2,
            request_serializer=player_pb2.GetPlayerRequest.SerializeToString,
            response_deserializer=player_pb2.GetPlayerResponse.FromString,
        )
        call = rpc(player_pb2.GetPlayerRequest(player_id=player_id), metadata=tuple(metadata))
        try:
            return await self._outcome(call, [await call], None)
        except grpc.aio.AioRpcError as err:
            return await self._outcome(call, [], err)


_ALWAYS = {"authorization", "x-request-id", "traceparent", "tracestate", "idempotency-key"}


def _headers(metadata: Metadata, timeout: str | None = None) -> list[tuple[str, str]]:
    out = [(k if k in _ALWAYS else f"Grpc-Metadata-{k}", v) for k, v in metadata]
    if timeout is not None:
        out.append(("Grpc-Timeout", timeout))
    return out


def _metadata(resp: httpx.Response) -> dict[str, str]:
    md: dict[str, str] = {}
    for name, value in resp.headers.items():
        key = name.lower()
        for prefix in ("grpc-metadata-", "grpc-trailer-"):
            key = key.removeprefix(prefix)
        md[key] = value
    return md


class HttpClient:
    name = "http"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @staticmethod
    def _unary(resp: httpx.Response) -> Outcome:
        body = resp.json()
        md = _metadata(resp)
        if resp.status_code != 200:
            return Outcome(
                body["code"], body.get("message", ""), body.get("details", []), [], md, resp.status_code
            )
        return Outcome(0, "", [], [body], md, 200)

    @staticmethod
    def _stream(resp: httpx.Response) -> Outcome:
        md = _metadata(resp)
        if resp.status_code != 200:
            body = resp.json()
            return Outcome(
                body["code"], body.get("message", ""), body.get("details", []), [], md, resp.status_code
            )
        messages: list[dict[str, Any]] = []
        for line in resp.text.splitlines():
            item = json.loads(line)
            if "error" in item:
                err = item["error"]
                return Outcome(err["code"], err.get("message", ""), err.get("details", []), messages, md, 200)
            messages.append(item)
        return Outcome(0, "", [], messages, md, 200)

    async def echo(self, payload: bytes, metadata: Metadata = (), grpc_timeout: str | None = None) -> Outcome:
        body = {"payload": base64.b64encode(payload).decode()}
        resp = await self.client.post(
            "/api/v1/diagnostics:echo", json=body, headers=_headers(metadata, grpc_timeout)
        )
        return self._unary(resp)

    async def watch(self, session_id: str, metadata: Metadata = ()) -> Outcome:
        resp = await self.client.get(
            f"/api/v1/sessions/{session_id}/messages:watch",
            headers=[*_headers(metadata), ("Accept", "application/x-ndjson")],
        )
        return self._stream(resp)

    async def chat(self, session_id: str, texts: Sequence[str], metadata: Metadata = ()) -> Outcome:
        body = "\n".join(json.dumps({"text": t}) for t in texts).encode()
        resp = await self.client.post(
            f"/api/v1/sessions/{session_id}/chat",
            content=body,
            headers=[
                *_headers(metadata),
                ("Content-Type", "application/x-ndjson"),
                ("Accept", "application/x-ndjson"),
            ],
        )
        return self._stream(resp)

    async def get_player(self, player_id: str, version: int = 1, metadata: Metadata = ()) -> Outcome:
        resp = await self.client.get(f"/api/v{version}/players/{player_id}", headers=_headers(metadata))
        return self._unary(resp)


class WsClient:
    """The WebSocket door with the ``websockets`` client (docs/websocket-protocol.md): the streaming
    methods the contracts give a WebSocket path. Unary methods have none, so ``echo`` and
    ``get_player`` cannot run here (the parity suite leaves those scenarios out for this door)."""

    name = "websocket"

    def __init__(self, base: str) -> None:
        self.base = base  # ws://host:port

    @staticmethod
    def _headers(metadata: Metadata) -> list[tuple[str, str]]:
        return [(k if k in _ALWAYS else f"Grpc-Metadata-{k}", v) for k, v in metadata]

    async def _run(self, path: str, metadata: Metadata, frames: Sequence[str] = ()) -> Outcome:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        async with connect(self.base + path, additional_headers=self._headers(metadata)) as ws:
            md = {
                k.lower(): v
                for k, v in ws.response.headers.raw_items()
                if k.lower() in ("x-request-id", "traceparent")
            }
            for item in frames:
                await ws.send(item)
            messages: list[dict[str, Any]] = []
            try:
                async with asyncio.timeout(10):
                    async for raw in ws:
                        value = json.loads(raw)
                        if "headers" in value:
                            md.update(value["headers"])
                        elif "message" in value:
                            messages.append(value["message"])
                        elif "end" in value:
                            md.update(value["end"].get("trailers", {}))
                            return Outcome(0, "", [], messages, md)
                        elif "error" in value:
                            err = value["error"]
                            md.update(value.get("trailers", {}))
                            return Outcome(
                                err["code"], err.get("message", ""), err.get("details", []), messages, md
                            )
            except ConnectionClosed:
                pass
        return Outcome(-1, f"closed {ws.close_code} without an end or error frame", [], messages, md)

    async def echo(self, payload: bytes, metadata: Metadata = (), grpc_timeout: str | None = None) -> Outcome:
        raise NotImplementedError("a unary method has no WebSocket path")

    async def get_player(self, player_id: str, version: int = 1, metadata: Metadata = ()) -> Outcome:
        raise NotImplementedError("a unary method has no WebSocket path")

    async def watch(self, session_id: str, metadata: Metadata = ()) -> Outcome:
        return await self._run(f"/ws/v1/sessions/{session_id}/room", metadata)

    async def chat(self, session_id: str, texts: Sequence[str], metadata: Metadata = ()) -> Outcome:
        frames = [*(json.dumps({"text": t}) for t in texts), json.dumps({"end": {}})]
        return await self._run(f"/ws/v1/sessions/{session_id}/chat", metadata, frames)
