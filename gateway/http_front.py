"""The HTTP door: REST/JSON requests transcoded onto the same upstream gRPC calls.

An ASGI application (served by uvicorn, or mounted in another ASGI app). For each request:
route (compiled matcher; no route → 404, path but not method → 405 with ``Allow``) → read the body
(over the limit → 413) → build the request message (body, then path variables, then query
parameters; a bad value → 400 naming the field) → the same telemetry as every door → the upstream,
straight (no second gRPC hop through the gateway) → JSON, or a stream in the format the client's
``Accept`` asks for.

Headers → metadata: ``Authorization``, ``X-Request-Id``, ``traceparent``, ``tracestate`` and
``Idempotency-Key`` always;
any ``Grpc-Metadata-<key>`` header as ``<key>``. ``Grpc-Timeout`` (gRPC's format, e.g. ``5S``,
``250m``) sets the deadline, else ``http.default_timeout_seconds``. Response header metadata comes
back as ``Grpc-Metadata-<key>``, trailers as ``Grpc-Trailer-<key>``.

Trailers, as grpc-gateway's runtime sends them: headers named ``Grpc-Trailer-<key>``, or, when the
client sent ``TE: trailers`` and the server implements the ASGI ``http.response.trailers`` extension
(uvicorn's zttp protocol over HTTP/2, ``http.http2``), real HTTP trailers of the same names, after the
body. No ``grpc-status``/``grpc-message`` trailer: the outcome is the HTTP status and the
``google.rpc.Status`` body, or the in-band error item of a stream. With trailers negotiated, a unary
answer or error announces them in a ``Trailer`` header and has no Content-Length; a server stream
sends the upstream's trailing metadata after its last item, success or in-band error (grpc-gateway
sends none for streams; without negotiation neither do we, the headers having gone out first).
Refusals before the upstream call have no trailing metadata, and get no trailers.

A server stream whose client goes away (``http.disconnect``: the connection closed, or the HTTP/2
stream reset) cancels its upstream call at once, as a cancelled gRPC caller does on the gRPC door.

Every failure becomes a gRPC status first and an HTTP response in exactly one place
(``transcoder.status``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from gateway._http_responses import (
    Receive,
    Scope,
    Send,
    answer_lifespan,
    end_body,
    header,
    response_headers,
    send_error,
    send_whole,
    stream_start,
    trailer_fields,
    trailers_negotiated,
    with_headers,
)
from gateway.api_docs import docs_page
from gateway.config import HttpSettings
from gateway.cors import Cors
from gateway.grpc_front import is_connect_failure
from gateway.routes import Route, RouteTable
from gateway.telemetry.calls import CallScope, Telemetry
from gateway.telemetry.correlation import valid_request_id
from gateway.upstream import Upstream
from transcoder import streaming
from transcoder.codec import (
    BindingError,
    JsonOptions,
    apply_bindings,
    parse_json_body,
    to_json,
    to_json_field,
)
from transcoder.query import apply_query, parse_query
from transcoder.router import MatchKind, Router, RouterBuilder
from transcoder.rules import HttpBinding
from transcoder.status import Code, parse_details, status_body
from transcoder.template import decode_bindings

log = logging.getLogger(__name__)


_ALWAYS = frozenset({"authorization", "x-request-id", "traceparent", "tracestate", "idempotency-key"})
_META_PREFIX = "grpc-metadata-"
_PRINTABLE = re.compile(rb"[ -~]*")
_KEY = re.compile(r"[0-9a-z_.-]+")
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_GRPC_STATUS = {status.value[0]: status for status in grpc.StatusCode}


class HttpError(Exception):
    """A request the door refuses before any upstream call: a gRPC code, a message, an HTTP status."""

    def __init__(
        self,
        code: Code,
        message: str,
        status: int | None = None,
        field: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.headers = tuple(headers)


@dataclass(frozen=True, slots=True)
class _Target:
    binding: HttpBinding
    route: Route
    upstream: Upstream
    request_cls: type[Message]
    response_cls: type[Message]
    label: str  # "GET /api/v1/players/{player_id}": bounded, for metrics and logs
    skip: frozenset[str]  # fields bound by the path or the body: the query may not set them again
    deadline_s: float  # when the client sends no Grpc-Timeout


def parse_grpc_timeout(value: str) -> float:
    """``Grpc-Timeout`` in the gRPC wire format (at most 8 digits and a unit) as seconds."""
    m = _TIMEOUT.fullmatch(value.strip())
    if m is None:
        raise HttpError(
            Code.INVALID_ARGUMENT,
            f"Grpc-Timeout {value[:20]!r}: expected up to 8 digits and a unit H, M, S, m, u or n",
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def request_metadata(headers: Iterable[tuple[bytes, bytes]]) -> tuple[list[tuple[str, str]], str | None]:
    """The metadata to forward, and the Grpc-Timeout header if any (the documented allowlist)."""
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
        # gRPC ASCII metadata values are printable ASCII (gRPC over HTTP/2, "Custom-Metadata").
        if not _PRINTABLE.fullmatch(raw_value):
            raise HttpError(Code.INVALID_ARGUMENT, f"header {key}: the value must be printable ASCII")
        out.append((name, raw_value.decode("ascii")))
    return out, timeout


class HttpDoor:
    """The ASGI application of the HTTP door."""

    def __init__(
        self,
        bindings: Iterable[HttpBinding],
        table: RouteTable,
        upstreams: Mapping[str, Upstream],
        telemetry: Telemetry,
        pool: descriptor_pool.DescriptorPool,
        settings: HttpSettings,
    ) -> None:
        self.settings = settings
        self.telemetry = telemetry
        self.json = JsonOptions(
            use_proto_names=settings.json_use_proto_names, emit_unpopulated=settings.json_emit_unpopulated
        )
        self.cors = Cors(settings.cors)
        self.router = self.compile(bindings, table, upstreams, pool, settings)
        self.documents: dict[str, tuple[bytes, bytes]] = {}

    @staticmethod
    def compile(
        bindings: Iterable[HttpBinding],
        table: RouteTable,
        upstreams: Mapping[str, Upstream],
        pool: descriptor_pool.DescriptorPool,
        settings: HttpSettings,
    ) -> Router[_Target]:
        """A new router for these bindings; raises RouteConflict/ValueError without touching the door."""
        builder: RouterBuilder[_Target] = RouterBuilder()
        for b in bindings:
            route = table.lookup(b.grpc_path)
            if route is None:
                continue
            request_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(b.input_type))
            response_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(b.output_type))
            bound = {v.field_path for v in b.template.variables}
            if b.body and b.body != "*":
                bound.add(b.body)
            target = _Target(
                b,
                route,
                upstreams[route.upstream],
                request_cls,
                response_cls,
                f"{b.http_method} {b.template.text}",
                frozenset(bound),
                settings.route_timeouts.get(
                    b.grpc_path, settings.route_timeouts.get(b.service, settings.default_timeout_seconds)
                ),
            )
            builder.add(b.http_method, b.template, target)
        return builder.build()

    def swap(self, router: Router[_Target], documents: dict[str, tuple[bytes, bytes]] | None = None) -> None:
        """Serve a new router (and its documents) from the next request on (reference assignments)."""
        self.router = router
        if documents is not None:
            self.documents = documents

    def publish(self, openapi_json: bytes) -> dict[str, tuple[bytes, bytes]]:
        """The documents served beside the API: the OpenAPI contract and its offline index page."""
        self.documents = {
            "/openapi.json": (openapi_json, b"application/json"),
            "/docs": (docs_page(openapi_json), b"text/html; charset=utf-8"),
        }
        return self.documents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
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
        if scope["method"] in ("GET", "HEAD") and scope["path"] in self.documents:
            body, content_type = self.documents[scope["path"]]
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
            await self._serve(scope, receive, send)
        except Exception as caught:
            err = _as_http_error(caught)
            # Refused before the call began: still answer with a request id, the caller's or a new one.
            rid = header(scope, b"x-request-id")
            if not valid_request_id(rid):
                rid = str(uuid.uuid4())
            headers = [*err.headers, (b"x-request-id", str(rid).encode())]
            try:
                await send_error(send, err.code, err.message, err.status, field=err.field, headers=headers)
            except RuntimeError:  # the response had already started: nothing more can be said
                log.warning("could not report an error: the response had already started")

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        match = self.router.match(scope["method"], raw_path.decode("latin-1"))
        if match.kind is MatchKind.NONE:
            raise HttpError(Code.NOT_FOUND, f"no route for {scope['method']} {scope['path'][:200]}")
        if match.kind is MatchKind.PARTIAL:
            allowed = ", ".join(match.allowed)
            raise HttpError(
                Code.UNIMPLEMENTED,
                f"{scope['method']} is not allowed here; allowed: {allowed}",
                status=405,
                headers=[(b"allow", allowed.encode())],
            )
        target = match.target
        assert target is not None
        body = await _read_body(receive, self.settings.max_body_bytes)
        metadata, timeout_header = request_metadata(scope["headers"])
        timeout = parse_grpc_timeout(timeout_header) if timeout_header else target.deadline_s
        fmt = None
        if target.binding.server_streaming:
            fmt = streaming.negotiate(header(scope, b"accept"))
            if fmt is None:
                raise HttpError(
                    Code.INVALID_ARGUMENT,
                    "Accept admits none of application/x-ndjson, text/event-stream, application/json",
                    status=406,
                )
        requests = self._requests(target, match.bindings, body, scope.get("query_string", b""))
        call = self.telemetry.begin("http", target.route, metadata, label=target.label)
        outcome = grpc.StatusCode.CANCELLED
        try:
            trailers = trailers_negotiated(scope)
            if fmt is None:
                outcome = await self._unary(target, requests, call, metadata, timeout, send, trailers)
            else:
                outcome = await self._stream(
                    target, requests, call, metadata, timeout, fmt, send, trailers, receive
                )
        except grpc.aio.UsageError:
            raise
        except Exception as exc:
            # grpc core refuses a call whose metadata it cannot send (cygrpc.ExecuteBatchError, not
            # exported by grpc): a header the allowlist let through that gRPC forbids. Name the keys.
            if type(exc).__name__ != "ExecuteBatchError":
                raise
            outcome = grpc.StatusCode.INVALID_ARGUMENT
            keys = ", ".join(sorted({k for k, _ in metadata}))
            raise HttpError(
                Code.INVALID_ARGUMENT, f"a forwarded header is not valid gRPC metadata (one of: {keys})"
            ) from None
        finally:
            call.finish(outcome)

    def _requests(
        self, target: _Target, bindings: Iterable[tuple[str, str]], body: bytes, query: bytes
    ) -> list[bytes]:
        """The request message(s): one, or for a client stream one per NDJSON line / array element."""
        if not target.binding.client_streaming:
            return [self._request(target, bindings, body, query)]
        items = _stream_items(body)
        return [self._request(target, bindings, item, query) for item in items]

    def _request(
        self, target: _Target, bindings: Iterable[tuple[str, str]], body: bytes, query: bytes
    ) -> bytes:
        """Body first, then path variables, then the query (precedence: path > body > query)."""
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
            raise HttpError(Code.INVALID_ARGUMENT, str(err), field=err.field) from None
        except ValueError as err:
            raise HttpError(Code.INVALID_ARGUMENT, str(err)) from None
        return message.SerializeToString()

    async def _call(
        self,
        target: _Target,
        requests: list[bytes],
        metadata: list[tuple[str, str]],
        deadline_s: float,
        call: CallScope,
    ) -> Any:
        endpoint = target.upstream.pick()
        b = target.binding
        upstream_md = call.upstream_metadata(tuple(metadata))
        arity = target.route.arity.value
        # One multicallable per (method, arity) and endpoint, shared with the gRPC door.
        key = (b.grpc_path, arity)
        invoke = endpoint.callables.get(key)
        if invoke is None:
            invoke = endpoint.callables[key] = getattr(endpoint.channel, arity)(
                b.grpc_path, None, None, _registered_method=True
            )
        first: Any = iter(requests) if b.client_streaming else requests[0]
        return invoke(first, metadata=upstream_md, timeout=deadline_s)  # type: ignore[operator]

    def _json(self, target: _Target, payload: bytes) -> bytes:
        try:
            message = target.response_cls.FromString(payload)
        except DecodeError as exc:
            raise HttpError(
                Code.INTERNAL, f"upstream answered bytes that are not a {target.binding.output_type}"
            ) from exc
        if target.binding.response_body:
            return to_json_field(message, target.binding.response_body, self.json)
        return to_json(message, self.json)

    async def _unary(
        self,
        target: _Target,
        requests: list[bytes],
        call: CallScope,
        metadata: list[tuple[str, str]],
        deadline_s: float,
        send: Send,
        trailers: bool,
    ) -> grpc.StatusCode:
        rpc = await self._call(target, requests, metadata, deadline_s, call)
        try:
            payload: bytes = await rpc
        except grpc.aio.AioRpcError as err:
            call.upstream_finished()
            return await _send_rpc_error(send, err, target, call, trailers)
        call.upstream_finished()
        try:
            body = self._json(target, payload)
        except Exception as exc:  # an answer the door cannot render: a 500 within this call
            return await _send_door_failure(send, exc, call, await rpc.initial_metadata(), trailers)
        await send_whole(
            send,
            200,
            [(b"content-type", b"application/json"), *response_headers(call, await rpc.initial_metadata())],
            body,
            trailer_fields(await rpc.trailing_metadata()),
            trailers,
        )
        return grpc.StatusCode.OK

    async def _stream(
        self,
        target: _Target,
        requests: list[bytes],
        call: CallScope,
        metadata: list[tuple[str, str]],
        deadline_s: float,
        fmt: streaming.StreamFormat,
        send: Send,
        trailers: bool,
        receive: Receive,
    ) -> grpc.StatusCode:
        rpc = await self._call(target, requests, metadata, deadline_s, call)
        first = True  # no message framed yet
        started = False  # http.response.start sent: from here on every path ends the body (and trailers)
        initial: Any = ()
        # A stream can outlive its client by hours (a room watch): when the client goes away, cancel
        # the upstream call at once, as the gRPC door does when its caller cancels. (A unary call is
        # bounded by its deadline, so it is not watched: a watcher task per request costs CPU.)
        watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, rpc))
        try:
            initial = await rpc.initial_metadata()
            async for payload in rpc:
                # Rendered before the status line goes out, so that a first message the door cannot
                # render is still an ordinary error response.
                frame = fmt.frame(self._json(target, payload), first)
                if not started:
                    await send(stream_start(fmt, response_headers(call, initial), trailers))
                    started = True
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                first = False
        except grpc.aio.AioRpcError as err:
            call.upstream_finished()
            if not started:
                return await _send_rpc_error(send, err, target, call, trailers)
            if _client_left(watcher) and err.code() is grpc.StatusCode.CANCELLED:
                return grpc.StatusCode.CANCELLED  # the client went away: nobody to tell
            trailing: Any = err.trailing_metadata() or ()
            details = parse_details(dict(trailing).get("grpc-status-details-bin"))
            code = err.code()
            error_json = status_body(code.value[0], _message(err, target), details)
            await end_body(send, fmt.error(error_json, first), trailer_fields(trailing), trailers)
            return code
        except Exception as exc:
            rpc.cancel()
            call.upstream_finished()
            if not started:  # nothing sent yet: an ordinary error response, within this call
                return await _send_door_failure(send, exc, call, initial, trailers)
            # The status line (200) is out: report the failure in-band, as an upstream error after the
            # first message is, rather than cutting the body short (and, with trailers negotiated,
            # leaving the response without the trailers its start promised).
            failure = _as_http_error(exc)
            await end_body(
                send, fmt.error(status_body(failure.code, failure.message, ()), first), [], trailers
            )
            return _GRPC_STATUS[failure.code]
        except asyncio.CancelledError:
            if _client_left(watcher):
                call.upstream_finished()
                return grpc.StatusCode.CANCELLED  # grpc.aio raises this in the reader of a cancelled call
            raise
        finally:
            watcher.cancel()
        call.upstream_finished()
        trailing = await rpc.trailing_metadata()
        if not started:
            # No message: the stream ended before the response started, so its trailing metadata is
            # known in time to go where a unary call's goes (headers, unless trailers are negotiated).
            headers = response_headers(call, initial, () if trailers else trailing)
            await send(stream_start(fmt, headers, trailers))
        await end_body(send, fmt.end(first), trailer_fields(trailing), trailers)
        return grpc.StatusCode.OK


async def _cancel_on_disconnect(receive: Receive, rpc: Any) -> bool:
    """Wait for ``http.disconnect``, then cancel the upstream call; True when the client left. The body
    has been read, so by the ASGI spec nothing else can arrive; a server that sends something else
    anyway (or fails) is not watched."""
    try:
        message = await receive()
    except Exception:
        log.exception("bug: receive() failed while watching for the client to leave")
        return False
    if message["type"] != "http.disconnect":
        return False
    rpc.cancel()
    return True


def _client_left(watcher: asyncio.Future[bool]) -> bool:
    return watcher.done() and not watcher.cancelled() and watcher.result()


def _as_http_error(exc: Exception) -> HttpError:
    """A failure of the door itself as the error its client gets: its own refusal, or a bug (logged with
    its stack, through the redaction layer) answered as INTERNAL without detail."""
    if isinstance(exc, HttpError):
        return exc
    log.exception("bug: the HTTP door failed")
    return HttpError(Code.INTERNAL, "internal error in the gateway")


async def _send_door_failure(
    send: Send, exc: Exception, call: CallScope, initial: Any, trailers: bool
) -> grpc.StatusCode:
    """The door failed after the upstream call began, before the response started: an error response
    carrying the call's own ids (the ones in its access line and sent upstream)."""
    err = _as_http_error(exc)
    await send_error(
        send,
        err.code,
        err.message,
        err.status,
        headers=response_headers(call, initial),
        trailers=trailers,
    )
    return _GRPC_STATUS[err.code]


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(Code.CANCELLED, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HttpError(
                Code.INVALID_ARGUMENT, f"request body is larger than the limit of {limit} bytes", status=413
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
            raise HttpError(Code.INVALID_ARGUMENT, f"<body>: not a JSON array ({exc})") from None
        return [orjson.dumps(item) for item in items]
    return [line for line in text.split(b"\n") if line.strip()]


def _message(err: grpc.aio.AioRpcError, target: _Target) -> str:
    if is_connect_failure(err):
        return (
            f"upstream {target.upstream.name!r} for {target.route.service} is unavailable "
            f"(targets: {target.upstream.describe_targets()}): no connection could be made"
        )
    return err.details() or ""


async def _send_rpc_error(
    send: Send, err: grpc.aio.AioRpcError, target: _Target, call: CallScope, trailers: bool = False
) -> grpc.StatusCode:
    code = grpc.StatusCode.UNAVAILABLE if is_connect_failure(err) else err.code()
    trailing: Any = err.trailing_metadata() or ()
    details = parse_details(dict(trailing).get("grpc-status-details-bin"))
    await send_error(
        send,
        Code(code.value[0]),
        _message(err, target),
        None,
        details=details,
        headers=response_headers(call, err.initial_metadata()),
        trailing=trailer_fields(trailing),
        trailers=trailers,
    )
    return code
