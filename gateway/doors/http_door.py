"""The HTTP door: REST/JSON requests transcoded onto the route's chain, a thin adapter like the gRPC door.

An ASGI application (served by uvicorn, or mounted in another ASGI app). For each request: route
(the snapshot's compiled router; no route → 404, path but not method → 405 with ``Allow``) → the
body (over the limit → 413; a body that is not JSON → 415) → open the call on the route's plan (ids,
telemetry: from here on every outcome has an access line) → the request message (body, then path
variables, then query; a bad value → 400 naming the field) → the chain → JSON, or a stream in the
format ``Accept`` asks for.

Headers → metadata (then the chain's metadata step applies one allowlist to every door):
``Authorization``, ``X-Request-Id``, ``traceparent``, ``tracestate`` and ``Idempotency-Key`` always;
any ``Grpc-Metadata-<key>`` header as ``<key>``. ``Grpc-Timeout`` (gRPC's format) is the caller's
deadline. Response header metadata goes back as ``Grpc-Metadata-<key>``, trailers as
``Grpc-Trailer-<key>`` or, when negotiated (``TE: trailers`` over HTTP/2), as real HTTP trailers
(see ``_http_responses``).

A server stream starts its response (status line and headers) as soon as the upstream's headers
arrive, before its first message, so an EventSource opens and idle proxies see a live response; an
error after that is an in-band item. A stream whose client goes away cancels its upstream call; at
shutdown an open stream ends with an in-band UNAVAILABLE item, never a truncated body.

Every failure is a ``GatewayError`` rendered in one function (``_http_responses.send_status``) through
the one table in ``transcoder.status``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import orjson
from google.protobuf.message import DecodeError, Message

from gateway import chat_page
from gateway.chain.call import Call, Door
from gateway.chain.chain import RoutePlan
from gateway.config import HttpSettings
from gateway.doors._http_responses import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    answer_lifespan,
    end_body,
    header,
    response_headers,
    send_status,
    send_whole,
    stream_start,
    trailer_fields,
    trailers_negotiated,
    with_headers,
)
from gateway.doors.cors import Cors
from gateway.errors import GatewayError, Refused
from gateway.policies.deadline import parse_grpc_timeout
from gateway.telemetry.correlation import valid_request_id
from transcoder import streaming
from transcoder.codec import (
    MAX_JSON_DEPTH,
    BindingError,
    JsonOptions,
    apply_bindings,
    json_depth,
    parse_json_body,
    to_json,
    to_json_field,
)
from transcoder.query import apply_query, parse_query
from transcoder.router import MatchKind
from transcoder.rules import HttpBinding
from transcoder.status import status_body
from transcoder.template import decode_bindings

if TYPE_CHECKING:
    from gateway.snapshot import Current

log = logging.getLogger(__name__)

_ALWAYS = frozenset({"authorization", "x-request-id", "traceparent", "tracestate", "idempotency-key"})
_META_PREFIX = "grpc-metadata-"
_KEY = re.compile(r"[0-9a-z_.-]+")
# Media types a body may have (RFC 8259 JSON, RFC 6839 "+json" suffixes; NDJSON for client streams).
# Anything else is refused with 415: it is also what keeps a cross-site form or text/plain POST, which a
# browser sends without a CORS preflight, from reaching an upstream.
_JSON_TYPES = frozenset({"application/json", "application/x-ndjson", "application/jsonl"})
_SHUTDOWN = "the gateway is shutting down; retry the call"
_CLOSING = "tta-gateway: shutdown grace period over"


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """One HTTP binding as the door serves it: the binding, its route's plan, the message classes."""

    binding: HttpBinding
    plan: RoutePlan
    request_cls: type[Message]
    response_cls: type[Message]
    label: str  # "GET /api/v1/players/{player_id}": bounded, for metrics and logs
    skip: frozenset[str]  # fields bound by the path or the body: the query may not set them again


def request_metadata(headers: Iterable[tuple[bytes, bytes]]) -> tuple[list[tuple[str, str]], str | None]:
    """The headers that map to metadata (the documented set), and the Grpc-Timeout header if any.
    Values are passed as they came (latin-1); the chain's metadata step judges them."""
    out: list[tuple[str, str]] = []
    timeout: str | None = None
    for raw_key, raw_value in headers:
        key = raw_key.decode("latin-1").lower()
        name = key
        if key == "grpc-timeout":
            timeout = raw_value.decode("latin-1")
            continue
        if key.startswith(_META_PREFIX) and len(key) > len(_META_PREFIX):
            name = key[len(_META_PREFIX) :]
            if name.startswith("grpc-") or name.endswith("-bin") or not _KEY.fullmatch(name):
                continue
        elif key not in _ALWAYS:
            continue
        out.append((name, raw_value.decode("latin-1")))
    return out, timeout


class HttpDoor:
    """The ASGI application of the HTTP door, over the current snapshot."""

    def __init__(self, current: Current, settings: HttpSettings, websocket: ASGIApp | None = None) -> None:
        self.current = current
        self.settings = settings
        self.websocket = websocket  # the WebSocket door, on the same listener (or None: refused)
        self.json = JsonOptions(
            use_proto_names=settings.json_use_proto_names, emit_unpopulated=settings.json_emit_unpopulated
        )
        self.cors = Cors(settings.cors)
        # Set at the end of the shutdown grace period: calls still in flight are answered UNAVAILABLE
        # (an in-band item on a stream that has started), never cut short or left to uvicorn's 500.
        self.closing = asyncio.Event()
        self._in_flight: set[asyncio.Task[Any]] = set()

    def close(self) -> None:
        """End every call still in flight with UNAVAILABLE (the end of the shutdown grace period)."""
        self.closing.set()
        for task in list(self._in_flight):
            task.cancel(_CLOSING)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            if self.websocket is not None:
                await self.websocket(scope, receive, send)
            else:  # not served: refuse the handshake (ASGI: close before accept is a 403)
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        origin = header(scope, b"origin")
        if origin is not None and self.cors.enabled:
            asked = header(scope, b"access-control-request-method")
            if scope["method"] == "OPTIONS" and asked is not None:
                status, headers = self.cors.preflight(
                    origin, asked, header(scope, b"access-control-request-headers") or ""
                )
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
            send = with_headers(send, self.cors.response_headers(origin))
        snapshot = self.current.snapshot
        if scope["method"] in ("GET", "HEAD") and scope["path"] in chat_page.ASSETS:
            await chat_page.serve(scope, send)  # the demo's browser chat client, beside /docs
            return
        if scope["method"] in ("GET", "HEAD") and scope["path"] in snapshot.documents:
            body, content_type = snapshot.documents[scope["path"]]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", content_type), (b"cache-control", b"no-cache")],
                }
            )
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        try:
            target = self._match(scope)
            body = await _read_body(receive, self.settings.max_body_bytes)
            _check_content_type(scope, body)
        except Exception as caught:
            # Refused before a call exists: still answered with a request id, the caller's or a new one.
            rid = header(scope, b"x-request-id")
            if not valid_request_id(rid):
                rid = str(uuid.uuid4())
            err = _as_error(caught)
            extra = [(b"allow", err.allow.encode())] if isinstance(err, _NotAllowed) else []
            await send_status(send, err, [("x-request-id", str(rid))], extra=extra)
            return
        metadata, timeout_header = request_metadata(scope["headers"])
        await self._serve(target, scope, receive, send, body, metadata, timeout_header)

    def _match(self, scope: Scope) -> HttpTarget:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        match = self.current.snapshot.router.match(scope["method"], raw_path.decode("latin-1"))
        if match.kind is MatchKind.NONE:
            raise Refused(
                grpc.StatusCode.NOT_FOUND,
                f"no route for {scope['method']} {scope['path'][:200]}",
                reason="ROUTE_NOT_FOUND",
            )
        if match.kind is MatchKind.PARTIAL:
            raise _NotAllowed(scope["method"], ", ".join(match.allowed))
        assert match.target is not None
        scope["tta.bindings"] = match.bindings
        target: HttpTarget = match.target
        return target

    async def _serve(
        self,
        target: HttpTarget,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        metadata: list[tuple[str, str]],
        timeout_header: str | None,
    ) -> None:
        plan = target.plan
        call = plan.open(Door.HTTP, metadata, None, label=target.label)
        trailers = trailers_negotiated(scope)
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            if timeout_header is not None:
                call.deadline = time.monotonic() + parse_grpc_timeout(timeout_header)
            fmt = None
            if target.binding.server_streaming:
                fmt = streaming.negotiate(header(scope, b"accept"))
                if fmt is None:
                    raise Refused(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "Accept admits none of application/x-ndjson, text/event-stream, application/json",
                        reason="NOT_ACCEPTABLE",
                    )
            try:
                self._transcode(target, call, scope["tta.bindings"], body, scope.get("query_string", b""))
            except Refused:
                await plan.admit(call)  # who is asking comes first: 401 before a 400 about the request
                raise
            if fmt is None:
                await self._unary(target, call, send, trailers)
            else:
                await self._stream(target, call, fmt, send, trailers, receive)
        except asyncio.CancelledError:
            if task is None or not self.closing.is_set() or call.scope.finished:
                call.finish(grpc.StatusCode.CANCELLED)
                raise
            task.uncancel()  # the door's own cancellation at the end of the grace period: answer it
            err = GatewayError(_SHUTDOWN, code=grpc.StatusCode.UNAVAILABLE)
            call.finish(err.code)
            await send_status(send, err, call.response_metadata, trailers=trailers)
        except Exception as exc:
            err = _as_error(exc)
            call.finish(err.code)  # recorded before the status reaches the client
            try:
                await send_status(send, err, call.response_metadata, trailers=trailers)
            except RuntimeError:  # the response had already started: nothing more can be said
                log.warning("could not report an error: the response had already started")
        finally:
            if task is not None:
                self._in_flight.discard(task)

    def _transcode(
        self, target: HttpTarget, call: Call, bindings: Iterable[tuple[str, str]], body: bytes, query: bytes
    ) -> None:
        """The request message(s) onto the call: one, or for a client stream one per NDJSON line /
        JSON array element. Precedence: path > body > query."""
        if not target.binding.client_streaming:
            message = self._request(target, bindings, body, query)
            call.request_message = message
            call.request = message.SerializeToString()
            return
        items = [
            self._request(target, bindings, item, query).SerializeToString() for item in _stream_items(body)
        ]
        call.requests = _aiter(items)

    def _request(
        self, target: HttpTarget, bindings: Iterable[tuple[str, str]], body: bytes, query: bytes
    ) -> Message:
        message = target.request_cls()
        desc: Any = message.DESCRIPTOR
        b = target.binding
        try:
            if b.body == "*":
                parse_json_body(body or b"{}", desc, into=message)
            elif b.body:
                if body:
                    parse_json_body(body, desc, into=message, field=b.body)
            elif body.strip():
                raise BindingError("<body>", f"{b.http_method} {b.template.text} takes no body")
            apply_bindings(message, decode_bindings(b.template, tuple(bindings)))
            params = parse_query(query)
            if b.body == "*" and params:
                raise BindingError(
                    params[0][0], "query parameters are not accepted when the whole request is the body"
                )
            apply_query(message, params, skip=target.skip, unknown=self.settings.unknown_query_parameters)
        except BindingError as err:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(err), field=err.field) from None
        except ValueError as err:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None
        return message

    def _json(self, target: HttpTarget, payload: bytes) -> bytes:
        try:
            message = target.response_cls.FromString(payload)
        except DecodeError as exc:
            raise GatewayError(
                f"upstream answered bytes that are not a {target.binding.output_type}"
            ) from exc
        if target.binding.response_body:
            return to_json_field(message, target.binding.response_body, self.json)
        return to_json(message, self.json)

    async def _unary(self, target: HttpTarget, call: Call, send: Send, trailers: bool) -> None:
        response = await target.plan.unary(call)
        body = self._json(target, response.payload)
        call.finish(grpc.StatusCode.OK)
        await send_whole(
            send,
            200,
            [
                (b"content-type", b"application/json"),
                *response_headers(call.response_metadata, response.initial),
            ],
            body,
            trailer_fields(response.trailing),
            trailers,
        )

    async def _stream(
        self,
        target: HttpTarget,
        call: Call,
        fmt: streaming.StreamFormat,
        send: Send,
        trailers: bool,
        receive: Receive,
    ) -> None:
        stream = await target.plan.stream(call)
        # From here the watcher ends this call at shutdown (in-band), not the door's cancellation.
        self._in_flight.discard(asyncio.current_task())
        first = True  # no message framed yet
        started = False  # http.response.start sent: from here on every path ends the body
        # A stream can outlive its client by hours (a room watch): when the client goes away, or the
        # gateway closes, the watcher cancels the upstream call at once (grpc.aio then raises
        # CancelledError in this reader). A unary call is bounded by its deadline and not watched.
        watcher = asyncio.ensure_future(_watch(receive, self.closing))
        watcher.add_done_callback(lambda w: None if w.cancelled() else stream.cancel())
        messages = stream.__aiter__()
        try:
            headers = await stream.headers()
            first_payload: bytes | None = None
            if stream.ended():
                # The upstream is already done (a trailers-only failure, or a short answer): its first
                # item decides between an ordinary error response and a stream.
                first_payload = await anext(messages, None)
            await send(stream_start(fmt, response_headers(call.response_metadata, headers), trailers))
            started = True
            if first_payload is not None:
                frame = fmt.frame(self._json(target, first_payload), first)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                first = False
            async for payload in messages:
                frame = fmt.frame(self._json(target, payload), first)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                first = False
        except (asyncio.CancelledError, Exception) as exc:
            stream.cancel()
            why = _why(watcher)
            if why is None and isinstance(exc, asyncio.CancelledError):
                call.finish(grpc.StatusCode.CANCELLED)
                raise
            if why == "client":
                call.finish(grpc.StatusCode.CANCELLED)  # the client went away: nobody to tell
                return
            err = GatewayError(_SHUTDOWN, code=grpc.StatusCode.UNAVAILABLE) if why else _as_error(exc)
            call.finish(err.code)  # recorded before the status reaches the client
            if not started:  # nothing sent yet: an ordinary error response
                await send_status(send, err, call.response_metadata, trailers=trailers)
                return
            # The status line (200) is out: the failure goes in-band, never a body cut short.
            error_json = status_body(err.code.value[0], err.message, err.packed_details())
            await end_body(send, fmt.error(error_json, first), trailer_fields(err.trailing), trailers)
            return
        finally:
            watcher.cancel()
        call.finish(grpc.StatusCode.OK)
        await end_body(send, fmt.end(first), trailer_fields(stream.trailing), trailers)


def _why(watcher: asyncio.Future[str]) -> str | None:
    """Why the watcher ended the stream ("client", "closing"), or None when it did not."""
    if not watcher.done() or watcher.cancelled():
        return None
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return None  # this task itself is being cancelled: let it be
    return watcher.result()


async def _watch(receive: Receive, closing: asyncio.Event) -> str:
    """ "client" when ``http.disconnect`` arrives, "closing" when the gateway stops. The body has been
    read, so by the ASGI spec nothing but the disconnect can arrive."""
    closed = asyncio.ensure_future(closing.wait())
    got = asyncio.ensure_future(receive())
    try:
        done, _ = await asyncio.wait((closed, got), return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
    if got in done:
        if not got.cancelled() and got.exception() is None and got.result()["type"] == "http.disconnect":
            return "client"
        return await asyncio.Future()  # something else (a server quirk): never fire on it
    got.cancel()
    return "closing"


class _NotAllowed(Refused):
    def __init__(self, method: str, allowed: str) -> None:
        super().__init__(
            grpc.StatusCode.UNIMPLEMENTED,
            f"{method} is not allowed here; allowed: {allowed}",
            reason="METHOD_NOT_ALLOWED",
        )
        self.allow = allowed


def _as_error(exc: BaseException) -> GatewayError:
    """A failure as the error the client gets: a GatewayError as it is, anything else a bug (logged
    with its stack, through the redaction layer) answered INTERNAL without detail."""
    if isinstance(exc, GatewayError):
        return exc
    log.error("bug: the HTTP door failed", exc_info=exc)
    return GatewayError("internal error in the gateway")


def _check_content_type(scope: Scope, body: bytes) -> None:
    if not body:
        return
    value = header(scope, b"content-type")
    if value is None:
        return  # no type stated (not what a browser sends cross-site): read as JSON
    media = value.partition(";")[0].strip().lower()
    if media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return
    raise Refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Content-Type {value[:80]!r} is not accepted: send application/json",
        reason="UNSUPPORTED_MEDIA_TYPE",
        field="Content-Type",
    )


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(grpc.StatusCode.CANCELLED, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request body is larger than the limit of {limit} bytes",
                reason="PAYLOAD_TOO_LARGE",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _stream_items(body: bytes) -> list[bytes]:
    """A client-stream body: a JSON array of messages, or one message per line (NDJSON)."""
    text = body.strip()
    if text.startswith(b"["):
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT, f"<body>: not a JSON array ({exc})", field="<body>"
            ) from None
        # Each element is one message: it may nest as deep as one body may (and orjson re-encodes
        # only up to its own limit), so the limit is checked here, before any re-encoding.
        for i, item in enumerate(items):
            if json_depth(item, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"<body>[{i}]: nested deeper than {MAX_JSON_DEPTH} levels of JSON arrays and objects",
                    field=f"<body>[{i}]",
                )
        return [orjson.dumps(item) for item in items]
    return [line for line in text.split(b"\n") if line.strip()]


async def _aiter(items: list[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item
