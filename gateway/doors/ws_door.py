"""The WebSocket door: a streaming method's WebSocket path bridged onto the route's one chain.

The third door, as thin as the other two (docs/architecture.md, "Adding a door"). It is an ASGI
handler for ``websocket`` scopes, handed to the HTTP door (same listener, same uvicorn server, whose
``websockets-sansio`` engine does all the framing, masking, UTF-8 checks, ping/pong and size limits;
decision 0015). One connection is one call: one access line, one set of metrics with
``door="websocket"``, and every client frame passes the route's request hooks as a message of the
call's request stream, exactly as on gRPC and REST. The protocol is docs/websocket-protocol.md.

The life of a connection:

1. Before the handshake: the token is taken out of the query string (so no log line, uvicorn's
   included, can carry it); the path is matched (no route: 404); Origin is checked (403); the per-IP
   cap (accepted, then closed 1013).
2. The call opens with the caller's ``authorization`` (header, ``bearer.<token>`` subprotocol or
   ``?token=``), ``x-request-id``, ``traceparent`` and ``tracestate``, and the handshake is accepted
   with the call's ids as headers. The chain runs: identity, ownership, every step. A refusal is an
   ``{"error": Status}`` frame and a close (1008 for UNAUTHENTICATED and PERMISSION_DENIED).
3. Client frames go through a bounded queue that is the call's request stream (full: closed 1008);
   responses through a bounded send queue (full, the client reading too slowly: closed 1008).
4. The token's ``exp`` closes the connection 4001 unless a ``{"reauthenticate": token}`` frame for the
   same subject, with at least the same roles, came first.
5. The call ends once: ``call.finish`` before the last frame reaches the client.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import re
import time
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import grpc
import orjson
from google.protobuf.message import DecodeError, Message

from gateway.chain.call import Call, Door, Metadata, Principal
from gateway.chain.chain import ResponseStream
from gateway.config import HttpSettings
from gateway.config.websocket import WebSocketSettings
from gateway.doors._http_responses import Receive, Scope, Send, header
from gateway.doors._ws_routes import WS_METHOD, WsTarget
from gateway.errors import GatewayError, Refused
from gateway.routes import Arity
from gateway.state.rooms import Gap
from transcoder.codec import BindingError, JsonOptions, apply_bindings, parse_json_body, to_json
from transcoder.query import apply_query, parse_query
from transcoder.router import MatchKind
from transcoder.status import status_body
from transcoder.template import decode_bindings

if TYPE_CHECKING:
    from gateway.snapshot import Current

log = logging.getLogger(__name__)

PROTO_SUBPROTOCOL = "tta.v1.proto"  # binary frames: each a serialized message
JSON_SUBPROTOCOL = "tta.v1.json"  # the default, also when the client names no subprotocol
BEARER_PREFIX = "bearer."  # a Sec-WebSocket-Protocol entry carrying the token; never selected

# Close codes (RFC 6455 section 7.4.1, and the application range 4000-4999 for ours).
NORMAL = 1000
GOING_AWAY = 1001
POLICY = 1008
TOO_BIG = 1009  # sent by the engine (websockets) itself
INTERNAL = 1011
TRY_LATER = 1013
TOKEN_EXPIRED = 4001

_SEND_TIMEOUT = 2.0  # how long a last frame and the close may wait for a client that is not reading
_FLUSH_TIMEOUT = 5.0  # how long queued frames may take to drain at an ordinary end
_HEADERS = frozenset({"authorization", "x-request-id", "traceparent", "tracestate"})
_META_PREFIX = "grpc-metadata-"  # any other metadata, as the HTTP door reads it
_KEY = re.compile(r"[0-9a-z_.-]+")
_SHUTDOWN = "the gateway is shutting down; reconnect"


class _Delivered(Protocol):
    seq: int
    payload: bytes | None  # the response message after the chain's hooks; None: dropped for this reader


class _RoomSource(Protocol):
    """A route's room step as the door uses it (gateway/policies/rooms.py): the door imports no policy."""

    room_field: str

    def serve(self, call: Call) -> None: ...

    def appended(self, call: Call) -> int: ...

    def take_position(self, request: Message) -> int: ...

    async def head(self, room: str) -> int: ...

    def follow(self, call: Call, room: str, after: int) -> AsyncGenerator[_Delivered | Gap, None]: ...


class _Authenticator(Protocol):
    """The route's identity step, as the door uses it for ``reauthenticate`` (the step is found by
    name on the plan: the door imports no policy)."""

    async def authenticate(self, header: str | None) -> Principal: ...


@dataclass(frozen=True, slots=True)
class _Ending:
    """Why a connection ends other than by its call ending: what the client is told, and how."""

    error: GatewayError | None  # the {"error": ...} frame, None: none (the client went away)
    close_code: int
    close_reason: str
    code: grpc.StatusCode  # what the call finishes with (access line, metrics)


def _client_gone() -> _Ending:
    return _Ending(None, NORMAL, "", grpc.StatusCode.CANCELLED)


def _expired() -> _Ending:
    err = Refused(
        grpc.StatusCode.UNAUTHENTICATED,
        "Your sign-in has expired. Please sign in again to continue.",
        reason="TOKEN_EXPIRED",
        info={"bearer_error": "invalid_token"},
    )
    return _Ending(err, TOKEN_EXPIRED, "token expired", err.code)


def _revoked() -> _Ending:
    err = Refused(
        grpc.StatusCode.UNAUTHENTICATED,
        "You have been signed out. Please sign in again to continue.",
        reason="TOKEN_REVOKED",
        info={"bearer_error": "invalid_token"},
    )
    return _Ending(err, POLICY, "signed out", err.code)


def _shutting_down() -> _Ending:
    err = GatewayError(_SHUTDOWN, code=grpc.StatusCode.UNAVAILABLE)
    return _Ending(err, GOING_AWAY, "going away", err.code)


def _too_many_messages() -> _Ending:
    err = Refused(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "Too many messages at once. Please slow down.",
        reason="WEBSOCKET_FLOOD",
    )
    return _Ending(err, POLICY, "too many messages", err.code)


def _too_slow() -> _Ending:
    err = Refused(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "The connection could not keep up with its messages. Please reconnect.",
        reason="WEBSOCKET_SLOW_CONSUMER",
    )
    return _Ending(err, POLICY, "client too slow", err.code)


def close_code_for(code: grpc.StatusCode) -> int:
    """The close code after an ``{"error": ...}`` frame, by the call's status (docs/websocket-protocol.md).

    >>> close_code_for(grpc.StatusCode.UNAUTHENTICATED), close_code_for(grpc.StatusCode.NOT_FOUND)
    (1008, 1000)
    """
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return POLICY
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS):
        return INTERNAL
    if code is grpc.StatusCode.UNAVAILABLE:
        return TRY_LATER
    return NORMAL


def _reason(code: grpc.StatusCode) -> str:
    """A calm close reason (at most 123 bytes by RFC 6455): the status name in words, no internals."""
    return "" if code is grpc.StatusCode.OK else code.name.lower().replace("_", " ")


def scrub_token(query: bytes) -> tuple[bytes, str | None]:
    """The query string without its ``token`` parameter, and the token. Done before anything can log
    the query (uvicorn's own handshake line prints the path with it).

    >>> scrub_token(b"token=abc&after_sequence=3")
    (b'after_sequence=3', 'abc')
    """
    if b"token=" not in query:
        return query, None
    kept: list[tuple[str, str]] = []
    token: str | None = None
    for key, value in urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == "token":
            token = token or value
        else:
            kept.append((key, value))
    return urllib.parse.urlencode(kept).encode("latin-1"), token


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a handshake's Origin may open a connection (against cross-site WebSocket hijacking: a
    browser sends the page's cookies and Origin with any site's handshake). No Origin is allowed (a
    non-browser client); the same host as the request's Host is allowed; else the allowlist decides.

    >>> origin_allowed("https://evil.example", "gw.example", ())
    False
    >>> origin_allowed("https://gw.example", "gw.example", ()), origin_allowed(None, "gw.example", ())
    (True, True)
    """
    if origin is None:
        return True
    origin = origin.strip().lower()
    listed = tuple(allowed)
    if "*" in listed or origin in listed:
        return True
    netloc = urllib.parse.urlsplit(origin).netloc
    return bool(netloc) and host is not None and netloc == host.strip().lower()


def _metadata_dict(metadata: Iterable[tuple[str, str | bytes]]) -> dict[str, str]:
    return {k: v for k, v in metadata if isinstance(v, str)}


class WsDoor:
    """The ASGI handler of ``websocket`` scopes, over the current snapshot."""

    def __init__(self, current: Current, settings: WebSocketSettings, http: HttpSettings) -> None:
        self.current = current
        self.settings = settings
        self.unknown_query = http.unknown_query_parameters
        self.json = JsonOptions(
            use_proto_names=http.json_use_proto_names, emit_unpopulated=http.json_emit_unpopulated
        )
        self.closing = asyncio.Event()
        self.connections: set[_Connection] = set()
        self._by_ip: collections.Counter[str] = collections.Counter()
        self._by_user: collections.Counter[str] = collections.Counter()
        self._by_token: dict[str, set[_Connection]] = {}  # jti -> the connections it opened

    def revoked(self, jti: str) -> None:
        """A denylist listener: the connections holding ``jti`` end now (1008, TOKEN_REVOKED), not at
        the token's expiry. Sign-out and an administrator's revocation reach open sockets too."""
        for connection in tuple(self._by_token.get(jti, ())):
            connection.stop(_revoked())

    def hold_token(self, jti: str | None, connection: _Connection, previous: str | None) -> None:
        """``connection`` now holds ``jti`` (None: none) instead of ``previous``."""
        if previous is not None and previous in self._by_token:
            self._by_token[previous].discard(connection)
            if not self._by_token[previous]:
                del self._by_token[previous]
        if jti is not None:
            self._by_token.setdefault(jti, set()).add(connection)

    async def close(self, grace: float) -> None:
        """Close every connection with 1001 (after an UNAVAILABLE frame) and wait up to ``grace``
        seconds for them to end: at shutdown, before the HTTP server stops (uvicorn would close them
        1012 without a word)."""
        self.closing.set()
        tasks = {c.main for c in self.connections if c.main is not None}
        for connection in list(self.connections):
            connection.stop(_shutting_down())
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query, token = scrub_token(scope.get("query_string", b""))
        scope["query_string"] = query  # from here on no log line can carry the token
        if self.closing.is_set():
            await _deny(send, 503, GatewayError(_SHUTDOWN, code=grpc.StatusCode.UNAVAILABLE))
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        match = self.current.snapshot.ws_router.match(WS_METHOD, raw_path.decode("latin-1"))
        if match.kind is not MatchKind.FULL or match.target is None:
            err = Refused(grpc.StatusCode.NOT_FOUND, "no WebSocket route here", reason="ROUTE_NOT_FOUND")
            await _deny(send, 404, err)
            return
        if not origin_allowed(
            header(scope, b"origin"), header(scope, b"host"), self.settings.allowed_origins
        ):
            err = Refused(
                grpc.StatusCode.PERMISSION_DENIED, "This origin may not connect.", reason="ORIGIN_NOT_ALLOWED"
            )
            await _deny(send, 403, err)
            return
        ip = (scope.get("client") or ("?", 0))[0]
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        offered = [p for p in scope.get("subprotocols", ()) if isinstance(p, str)]
        binary = PROTO_SUBPROTOCOL in offered
        selected = (
            PROTO_SUBPROTOCOL if binary else (JSON_SUBPROTOCOL if JSON_SUBPROTOCOL in offered else None)
        )
        cap = self.settings.max_connections_per_ip
        if cap and self._by_ip[ip] >= cap:
            await send({"type": "websocket.accept", "subprotocol": selected})
            await _close(send, TRY_LATER, "too many connections")
            return
        self._by_ip[ip] += 1
        try:
            metadata = self._metadata(scope, offered, token)
            connection = _Connection(self, match.target, match.bindings, scope, receive, send, binary)
            self.connections.add(connection)
            try:
                await connection.run(metadata, selected)
            finally:
                self.connections.discard(connection)
        finally:
            self._by_ip[ip] -= 1
            if not self._by_ip[ip]:
                del self._by_ip[ip]

    @staticmethod
    def _metadata(scope: Scope, offered: list[str], query_token: str | None) -> list[tuple[str, str]]:
        """The handshake's headers as metadata, as the HTTP door maps them (``Authorization``,
        ``X-Request-Id``, ``traceparent``, ``tracestate``, ``Grpc-Metadata-<key>``; the chain's metadata
        step then judges them), with the token from the header, else a ``bearer.`` subprotocol, else
        the query."""
        out: list[tuple[str, str]] = []
        for raw_key, raw_value in scope["headers"]:
            key = raw_key.decode("latin-1").lower()
            if key.startswith(_META_PREFIX) and len(key) > len(_META_PREFIX):  # as on the HTTP door
                key = key[len(_META_PREFIX) :]
                if key.startswith("grpc-") or key.endswith("-bin") or not _KEY.fullmatch(key):
                    continue
            elif key not in _HEADERS:
                continue
            out.append((key, raw_value.decode("latin-1")))
        if not any(k == "authorization" for k, _ in out):
            token = next((p[len(BEARER_PREFIX) :] for p in offered if p.startswith(BEARER_PREFIX)), None)
            token = token or query_token
            if token:
                out.append(("authorization", f"Bearer {token}"))
        return out

    def admit_user(self, subject: str) -> bool:
        cap = self.settings.max_connections_per_user
        if cap and self._by_user[subject] >= cap:
            return False
        self._by_user[subject] += 1
        return True

    def release_user(self, subject: str) -> None:
        self._by_user[subject] -= 1
        if not self._by_user[subject]:
            del self._by_user[subject]


class _End(enum.Enum):
    END = "end"


_END = _End.END
_Item = bytes | _End | BaseException


class _Connection:
    """One WebSocket connection: one call, its reader, its writer, its timers."""

    def __init__(
        self,
        door: WsDoor,
        target: WsTarget,
        bindings: tuple[tuple[str, str], ...],
        scope: Scope,
        receive: Receive,
        send: Send,
        binary: bool,
    ) -> None:
        self.door = door
        self.target = target
        self.bindings = decode_bindings(target.template, bindings)
        self.scope = scope
        self.receive = receive
        self.send = send
        self.binary = binary
        settings = door.settings
        self.requests: asyncio.Queue[_Item] = asyncio.Queue(settings.receive_queue)
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(settings.send_queue)
        self.ending: _Ending | None = None
        self.main: asyncio.Task[Any] | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.token_id: str | None = None  # the jti of the token the connection holds
        self.principal: Principal | None = None
        self.call: Call | None = None
        self.admitted: str | None = None  # the subject counted against the per-user cap
        self.decided = asyncio.Event()  # the chain has decided who is calling (a renewal waits for it)
        self.streams = target.plan.route.arity in (Arity.STREAM_STREAM, Arity.STREAM_UNARY)
        self.position = 0  # a room path: the sequence of the last entry sent to the client
        self.moved = asyncio.Event()  # set when ``position`` moves

    # --- ending ------------------------------------------------------------------------------------

    def stop(self, ending: _Ending) -> None:
        """End the connection for ``ending`` (the first reason wins): cancels the call's task."""
        if self.ending is not None:
            return
        self.ending = ending
        main = self.main
        if main is not None and main is not asyncio.current_task() and not main.done():
            main.cancel("tta-gateway: websocket ending")

    async def _send_now(self, events: list[dict[str, Any]]) -> None:
        """Send ``events`` past the queue, bounded: a client that is not reading does not hold us."""
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            async with asyncio.timeout(_SEND_TIMEOUT):
                for event in events:
                    await self.send(event)

    def _error_frame(self, err: GatewayError) -> dict[str, Any]:
        body = status_body(err.code.value[0], err.message, err.packed_details())
        trailing = _metadata_dict(err.trailing)
        if trailing:
            text = b'{"error":' + body + b',"trailers":' + orjson.dumps(trailing) + b"}"
        else:
            text = b'{"error":' + body + b"}"
        return {"type": "websocket.send", "text": text.decode()}

    # --- the connection's life --------------------------------------------------------------------

    async def run(self, metadata: list[tuple[str, str]], subprotocol: str | None) -> None:
        plan = self.target.plan
        self.main = asyncio.current_task()
        call = self.call = plan.open(Door.WEBSOCKET, metadata, None, label=self.target.label)
        headers = [(k.encode(), v.encode()) for k, v in call.response_metadata if isinstance(v, str)]
        await self.send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers})
        reader = asyncio.ensure_future(self._read())
        writer = asyncio.ensure_future(self._write())
        try:
            trailing = await self._serve(call)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            ending = self.ending
            if ending is None or task is None:
                call.finish(grpc.StatusCode.CANCELLED)
                raise
            task.uncancel()
            call.finish(ending.code)  # recorded before the client hears it
            writer.cancel()
            if ending.error is not None:  # else the client or the engine has closed already
                close = {"type": "websocket.close", "code": ending.close_code, "reason": ending.close_reason}
                await self._send_now([self._error_frame(ending.error), close])
        except Exception as exc:
            err = _as_error(exc)
            call.finish(err.code)
            await self._finish([self._error_frame(err)], close_code_for(err.code), _reason(err.code), writer)
        else:
            call.finish(grpc.StatusCode.OK)
            end = {"trailers": _metadata_dict(trailing)} if trailing else {}
            frame = {"type": "websocket.send", "text": orjson.dumps({"end": end}).decode()}
            await self._finish([frame], NORMAL, "", writer)
        finally:
            if self.expiry is not None:
                self.expiry.cancel()
            self.door.hold_token(None, self, self.token_id)
            if self.admitted is not None:
                self.door.release_user(self.admitted)
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    async def _serve(self, call: Call) -> Metadata:
        """The call through the chain, its answers queued for the client; the trailing metadata."""
        plan = self.target.plan
        stream: ResponseStream | None = None
        source = self._room_source()
        try:
            if source is not None:
                return await self._serve_room(call, source)
            if self.streams:
                call.requests = self._request_stream()
            else:
                message = self._initial_request()
                call.request_message = message
                call.request = message.SerializeToString()
            if plan.route.arity is Arity.STREAM_UNARY:
                response = await plan.unary(call)
                self._admit(call)
                self._headers_frame(response.initial)
                self._message_frame(response.payload)
                return response.trailing
            stream = await plan.stream(call)
            self._admit(call)
            self._headers_frame(await stream.headers())
            async for payload in stream:
                self._message_frame(payload)
            return stream.trailing
        except _SlowConsumer:
            self.ending = self.ending or _too_slow()
            raise asyncio.CancelledError from None
        except asyncio.CancelledError:
            if stream is not None:
                stream.cancel()
            raise
        except _OverCap as over:
            if stream is not None:
                stream.cancel()
            self.ending = self.ending or over.ending
            raise asyncio.CancelledError from None

    # --- rooms: delivered from the room log (issue 10 items 4-5, decision 0014) ----------------------

    def _room_source(self) -> _RoomSource | None:
        """The route's room step, when the chain has one (``websocket.room_log``): found by name on the
        plan, as the identity step is, so the door imports no policy."""
        step: Any = next((s for s in self.target.plan.steps if s.name == "rooms"), None)
        return step if step is not None and hasattr(step, "follow") else None

    async def _serve_room(self, call: Call, source: _RoomSource) -> Metadata:
        """A room or chat path whose messages come from the room log, not from the upstream's stream.

        The upstream call is still made, through the whole chain: it is the access check (the service
        that owns the session says whether this caller may watch or talk in it; its refusal reaches
        the client as on the other doors) and, on the chat path, the way client messages are posted.
        Only once its headers came (the service accepted the caller for the room) does the door
        follow the log. On the room path the upstream's watch is then cancelled: one check per
        connection, no upstream stream per socket. On the chat path the upstream's responses are
        appended to the log by the chain's room step and dropped there; the door drains them, and
        when the upstream ends the call it delivers up to the last message the call appended first.
        """
        plan = self.target.plan
        room = dict(self.bindings).get(source.room_field, "")
        after = self._query_position()
        gate = asyncio.Event()  # the upstream gets no client message before the position is taken
        if self.streams:
            call.requests = self._request_stream(gate)
        else:
            message = self._initial_request()
            after = source.take_position(message) or after
            call.request_message = message
            call.request = message.SerializeToString()
        if not 0 <= after < 2**53:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                "after_sequence is a whole number, 0 or more",
                field="after_sequence",
            )
        source.serve(call)
        stream: ResponseStream | None = None
        tasks: list[asyncio.Future[None]] = []
        try:
            stream = await plan.stream(call)
            self._admit(call)
            if not after:  # from now on; taken before this client's first message can be posted
                after = await source.head(room)
            gate.set()
            self._headers_frame(await stream.headers())  # the service accepted the caller for the room
            if not self.streams:
                stream.cancel()  # the access check is done; the log delivers
            self.position = after
            deliver = asyncio.ensure_future(self._follow(call, source, room, after))
            tasks.append(deliver)
            if not self.streams:
                await deliver  # ends only by an error or the connection's end
                return ()
            drain = asyncio.ensure_future(self._drain(stream))
            tasks.append(drain)
            await asyncio.wait({deliver, drain}, return_when=asyncio.FIRST_COMPLETED)
            if deliver.done():
                deliver.result()
            drain.result()  # the upstream's own error, if it ended with one
            await self._delivered_up_to(source.appended(call), deliver)
            return stream.trailing
        except BaseException:
            if stream is not None:
                stream.cancel()
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, call: Call, source: _RoomSource, room: str, after: int) -> None:
        """Each entry of the room after ``after`` as a frame stamped with its sequence; a gap as a
        control frame (never a silent hole). Through the bounded send queue: a client that cannot keep
        up is closed, and comes back with its last sequence."""
        async with contextlib.aclosing(source.follow(call, room, after)) as items:
            async for item in items:
                if isinstance(item, Gap):
                    gap = {
                        "after": item.after,
                        "firstAvailable": item.first_available,
                        "missed": item.missed,
                        "reason": item.reason.value,
                    }
                    self._push({"type": "websocket.send", "text": orjson.dumps({"gap": gap}).decode()})
                    self.position = item.first_available - 1
                else:
                    if item.payload is not None:  # None: a step dropped it for this reader
                        self._message_frame(item.payload, item.seq)
                    self.position = item.seq
                self.moved.set()

    async def _drain(self, stream: ResponseStream) -> None:
        """Read the upstream's chat stream: the chain's room step appends each message and drops it."""
        async for _ in stream:
            pass

    async def _delivered_up_to(self, seq: int, deliver: asyncio.Future[None]) -> None:
        """Wait (bounded) until the client has been sent everything up to ``seq``: a chat call that ends
        still delivers the messages it posted."""
        try:
            async with asyncio.timeout(_FLUSH_TIMEOUT):
                while self.position < seq and not deliver.done():
                    self.moved.clear()
                    moved: asyncio.Future[Any] = asyncio.ensure_future(self.moved.wait())
                    await asyncio.wait({moved, deliver}, return_when=asyncio.FIRST_COMPLETED)
                    moved.cancel()
        except TimeoutError:
            pass
        if deliver.done():
            deliver.result()

    def _query_position(self) -> int:
        """``?after_sequence=N``: resume after the room sequence N (0 or absent: from now on)."""
        values = urllib.parse.parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get(
            "after_sequence"
        )
        if not values:
            return 0
        try:
            return int(values[-1])
        except ValueError:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                "after_sequence is a whole number, 0 or more",
                field="after_sequence",
            ) from None

    def _admit(self, call: Call) -> None:
        """The per-user cap, once the chain knows the user; then the token's expiry is watched."""
        self.principal = call.principal
        self.decided.set()
        if call.principal is None:
            return
        if not self.door.admit_user(call.principal.subject):
            raise _OverCap(_too_many_connections(self.door.settings.max_connections_per_user))
        self.admitted = call.principal.subject
        self._arm_expiry(call.principal)

    async def _finish(
        self, frames: list[dict[str, Any]], code: int, reason: str, writer: asyncio.Future[None]
    ) -> None:
        """An ordinary end: what is queued goes first, then ``frames`` and the close; a client that does
        not read them in time gets the close past the queue."""
        close = {"type": "websocket.close", "code": code, "reason": reason}
        try:
            async with asyncio.timeout(_FLUSH_TIMEOUT):
                for frame in (*frames, close):
                    await self.outbox.put(frame)
                await self.outbox.put(None)
                await asyncio.shield(writer)
        except Exception:  # TimeoutError included
            writer.cancel()
            await self._send_now([close])

    # --- to the client -------------------------------------------------------------------------------

    def _push(self, event: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(event)
        except asyncio.QueueFull:
            raise _SlowConsumer from None

    def _headers_frame(self, initial: Metadata) -> None:
        headers = _metadata_dict(initial)
        if headers:
            self._push({"type": "websocket.send", "text": orjson.dumps({"headers": headers}).decode()})

    def _message_frame(self, payload: bytes, seq: int | None = None) -> None:
        """One response message; ``seq``: its room sequence, stamped on the frame (``"seq"``)."""
        if self.binary:  # pass-through: the upstream's bytes as they came (principle 3)
            self._push({"type": "websocket.send", "bytes": payload})
            return
        try:
            message = self.target.response_cls.FromString(payload)
        except DecodeError as exc:
            raise GatewayError(
                f"upstream answered bytes that are not a {self.target.plan.route.output_type}"
            ) from exc
        text = b'{"message":' + to_json(message, self.door.json)
        text += b"}" if seq is None else b',"seq":' + str(seq).encode() + b"}"
        self._push({"type": "websocket.send", "text": text.decode()})

    async def _write(self) -> None:
        """The one writer: frames in order, each waiting for the transport (uvicorn's flow control)."""
        while (event := await self.outbox.get()) is not None:
            await self.send(event)

    # --- from the client ------------------------------------------------------------------------------

    async def _read(self) -> None:
        """The one reader: client frames to the request queue (full: too many messages), control frames
        answered, the client's going away ends the call."""
        try:
            while True:
                event = await self.receive()
                if event["type"] == "websocket.disconnect":
                    code = event.get("code", 1005)
                    self.stop(_client_gone() if code != TOO_BIG else _engine_closed(code))
                    return
                if event["type"] != "websocket.receive":
                    continue
                text: str | None = event.get("text")
                data: bytes | None = event.get("bytes")
                if text is not None and await self._control(text):
                    continue
                if not self.streams:
                    err = Refused(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "This path takes no messages after it opens; send control frames only.",
                        reason="UNEXPECTED_MESSAGE",
                    )
                    self.stop(_Ending(err, POLICY, "unexpected message", err.code))
                    return
                item: _Item
                try:
                    item = self._request_bytes(text, data)
                except Refused as refused:
                    item = refused  # raised where the chain reads it: the call's own error path
                try:
                    self.requests.put_nowait(item)
                except asyncio.QueueFull:
                    self.stop(_too_many_messages())
                    return
        except Exception:  # the engine's own disconnect (ClientDisconnected) and the like
            self.stop(_client_gone())

    async def _control(self, text: str) -> bool:
        """Handle a control frame (``{"end": {}}``, ``{"reauthenticate": token}``); False: a message."""
        stripped = text.lstrip()
        if not stripped.startswith(('{"end"', '{"reauthenticate"')):
            return False
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(value, dict) or len(value) != 1:
            return False
        if "end" in value:
            if self.streams:
                try:
                    self.requests.put_nowait(_END)
                except asyncio.QueueFull:
                    self.stop(_too_many_messages())
            return True
        token = value.get("reauthenticate")
        if not isinstance(token, str):
            return False
        await self._reauthenticate(token)
        return True

    async def _reauthenticate(self, token: str) -> None:
        """A fresh token for the same connection: verified by the route's identity step (signature,
        issuer, audience, expiry, denylist), accepted for the same subject with at least the same
        roles; anything else ends the connection 1008 (a connection never changes whose it is)."""
        await self.decided.wait()
        identity: Any = next((s for s in self.target.plan.steps if s.name == "identity"), None)
        if identity is None or self.principal is None:
            self._push_control({"reauthenticated": {}})  # no identity on this route: nothing expires
            return
        authenticator: _Authenticator = identity
        try:
            principal = await authenticator.authenticate(f"Bearer {token}")
            if principal.subject != self.principal.subject or not self.principal.roles <= principal.roles:
                raise Refused(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "A connection can only be renewed by the same user with the same roles.",
                    reason="REAUTHENTICATION_MISMATCH",
                )
        except Refused as refused:
            self.stop(_Ending(refused, POLICY, _reason(refused.code), refused.code))
            return
        expires = self._arm_expiry(principal)
        self._push_control({"reauthenticated": {"expiresAt": expires} if expires is not None else {}})

    def _push_control(self, value: dict[str, Any]) -> None:
        try:
            self._push({"type": "websocket.send", "text": orjson.dumps(value).decode()})
        except _SlowConsumer:
            self.stop(_too_slow())

    def _arm_expiry(self, principal: Principal) -> float | None:
        """Close 4001 when the principal's token expires, and 1008 as soon as it is revoked (both as
        the identity step verified them); a reauthentication re-arms both for the new token."""
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        self.door.hold_token(principal.token_id, self, self.token_id)
        self.token_id = principal.token_id
        expires = principal.expires_at
        if expires is None:
            return None
        delay = max(expires - time.time(), 0.0)
        self.expiry = asyncio.get_running_loop().call_later(delay, self.stop, _expired())
        return expires

    def _request_bytes(self, text: str | None, data: bytes | None) -> bytes:
        """One client frame as the request message's bytes, with the path's variables filled in."""
        cls = self.target.request_cls
        desc: Any = cls.DESCRIPTOR
        try:
            if self.binary and data is not None:
                message = cls.FromString(data)
            elif not self.binary and text is not None:
                message = parse_json_body(text.encode(), desc)
            else:
                want = "binary" if self.binary else "text"
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"This connection carries {want} frames.",
                    reason="WRONG_FRAME_TYPE",
                )
            apply_bindings(message, self.bindings)
        except DecodeError:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the message is not a valid {desc.full_name}",
                reason="MALFORMED_MESSAGE",
            ) from None
        except BindingError as err:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(err), field=err.field) from None
        except ValueError as err:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None
        return message.SerializeToString()

    def _initial_request(self) -> Message:
        """A server-streaming path's one request: the path's variables and the query's parameters."""
        message = self.target.request_cls()
        bound = {v.field_path for v in self.target.template.variables}
        try:
            apply_bindings(message, self.bindings)
            params = parse_query(self.scope.get("query_string", b""))
            apply_query(message, params, skip=bound, unknown=self.door.unknown_query)
        except BindingError as err:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(err), field=err.field) from None
        except ValueError as err:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None
        return message

    async def _request_stream(self, gate: asyncio.Event | None = None) -> AsyncIterator[bytes]:
        """The call's request stream: what the reader queued, until ``{"end": {}}``; not before
        ``gate`` is set."""
        if gate is not None:
            await gate.wait()
        while True:
            item = await self.requests.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item


class _SlowConsumer(Exception):
    """The send queue is full: the client reads more slowly than its messages arrive."""


class _OverCap(Exception):
    def __init__(self, ending: _Ending) -> None:
        super().__init__(ending.close_reason)
        self.ending = ending


def _too_many_connections(cap: int) -> _Ending:
    err = Refused(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"Too many open connections (at most {cap}). Close one and try again.",
        reason="WEBSOCKET_CONNECTION_LIMIT",
    )
    return _Ending(err, TRY_LATER, "too many connections", err.code)


def _engine_closed(code: int) -> _Ending:
    """The engine closed the connection itself (1009: a message over ``max_message_bytes``)."""
    return _Ending(None, code, "", grpc.StatusCode.RESOURCE_EXHAUSTED)


def _as_error(exc: BaseException) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    log.error("bug: the WebSocket door failed", exc_info=exc)
    return GatewayError("internal error in the gateway")


async def _close(send: Send, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": code, "reason": reason})


async def _deny(send: Send, status: int, err: GatewayError) -> None:
    """Refuse the handshake with an HTTP status and a ``google.rpc.Status`` body (the ASGI WebSocket
    denial response), before any connection exists."""
    body = status_body(err.code.value[0], err.message, err.packed_details())
    try:
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    except RuntimeError:  # a server without the denial extension: a plain 403
        await _close(send, POLICY, "")
