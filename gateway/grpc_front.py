"""The gRPC door: one generic pass-through handler for every fronted method.

Requests and responses stay raw bytes (no (de)serialiser on either side, ARCHITECTURE decision 3).
The route table says which arity a method has, so the handler never guesses. For each call the
handler forwards request metadata (minus hop-by-hop headers), passes the caller's remaining deadline
as the upstream timeout, relays the upstream's initial metadata, messages, trailing metadata, status
code, message and ``grpc-status-details-bin`` exactly, and cancels the upstream call when the caller
goes away.

A call that could not reach any endpoint (connection refused, no route to host) is the gateway's own
failure, reported as UNAVAILABLE with a message naming the service and its upstream, never the
upstream's; a call that reached the upstream keeps the upstream's status untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import grpc

from gateway.routes import Arity, Route, RouteTable
from gateway.upstream import Endpoint, Upstream

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str | bytes], ...]

# Hop-by-hop and transport-owned headers: the upstream call sets its own (RFC 9113 §8.2.2, and the
# gRPC over HTTP/2 spec: grpc-timeout is re-derived from the remaining deadline, encodings are per hop).
_HOP_BY_HOP = frozenset(
    {
        "user-agent",
        "te",
        "content-type",
        "host",
        "connection",
        "grpc-timeout",
        "grpc-encoding",
        "grpc-accept-encoding",
        "grpc-internal-encoding-request",
    }
)

_CONNECT_FAILURE = "failed to connect to all addresses"
_EOF: Any = getattr(grpc.aio, "EOF")  # noqa: B009 - missing from the grpc-stubs release we use


def forward_metadata(metadata: Any) -> Metadata:
    """The caller's metadata minus pseudo-headers and hop-by-hop headers, in order."""
    if not metadata:
        return ()
    return tuple((k, v) for k, v in metadata if k not in _HOP_BY_HOP and k[0] != ":")


def is_connect_failure(err: grpc.aio.AioRpcError) -> bool:
    """True when the call never reached the upstream, so nothing was executed there."""
    details = err.details() or ""
    return err.code() == grpc.StatusCode.UNAVAILABLE and details.startswith(_CONNECT_FAILURE)


class _Forward:
    """The behaviours for one route; every arity shares the error relay."""

    __slots__ = ("path", "route", "upstream")

    def __init__(self, route: Route, upstream: Upstream) -> None:
        self.route = route
        self.path = route.path
        self.upstream = upstream

    def _callable(self, endpoint: Endpoint) -> Any:
        key = (self.path, self.route.arity.value)
        found = endpoint.callables.get(key)
        if found is None:
            factory = getattr(endpoint.channel, self.route.arity.value)
            found = endpoint.callables[key] = factory(self.path, None, None, _registered_method=True)
        return found

    async def _unavailable(
        self, context: grpc.aio.ServicerContext[Any, Any], endpoint: Endpoint, err: grpc.aio.AioRpcError
    ) -> NoReturn:
        self.upstream.mark(endpoint, healthy=False)
        await context.abort(
            grpc.StatusCode.UNAVAILABLE,
            f"upstream {self.upstream.name!r} for {self.route.service} is unavailable "
            f"(targets: {self.upstream.describe_targets()}): no connection could be made",
        )
        raise AssertionError("abort returned")  # pragma: no cover - abort always raises

    async def _relay_error(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        endpoint: Endpoint,
        err: grpc.aio.AioRpcError,
        headers_sent: bool,
    ) -> NoReturn:
        if is_connect_failure(err):
            await self._unavailable(context, endpoint, err)
        if not headers_sent:
            initial: Any = err.initial_metadata()
            if initial:
                await context.send_initial_metadata(tuple(initial))
        trailing: Any = err.trailing_metadata() or ()
        await context.abort(err.code(), err.details() or "", tuple(trailing))
        raise AssertionError("abort returned")  # pragma: no cover

    async def unary_unary(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        metadata = forward_metadata(context.invocation_metadata())
        timeout = context.time_remaining()
        attempts = len(self.upstream.endpoints)
        for attempt in range(attempts):
            endpoint = self.upstream.pick()
            call = self._callable(endpoint)(request, metadata=metadata, timeout=timeout)
            try:
                response: bytes = await call
            except grpc.aio.AioRpcError as err:
                # Nothing reached the upstream: safe to try the next endpoint, whatever the method.
                if is_connect_failure(err) and attempt + 1 < attempts:
                    self.upstream.mark(endpoint, healthy=False)
                    continue
                await self._relay_error(context, endpoint, err, headers_sent=False)
            except asyncio.CancelledError:
                call.cancel()
                raise
            initial = await call.initial_metadata()
            if initial:
                await context.send_initial_metadata(tuple(initial))
            trailing = await call.trailing_metadata()
            if trailing:
                context.set_trailing_metadata(tuple(trailing))
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream_out(
        self, call: Any, endpoint: Endpoint, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        headers_sent = False
        try:
            initial = await call.initial_metadata()
            if initial:
                await context.send_initial_metadata(tuple(initial))
            headers_sent = True
            while (message := await call.read()) is not _EOF:
                await context.write(message)
            code = await call.code()
        except grpc.aio.AioRpcError as err:
            await self._relay_error(context, endpoint, err, headers_sent)
        except asyncio.CancelledError:
            call.cancel()
            raise
        trailing = await call.trailing_metadata()
        if code != grpc.StatusCode.OK:
            await context.abort(code, await call.details() or "", tuple(trailing or ()))
        if trailing:
            context.set_trailing_metadata(tuple(trailing))

    async def unary_stream(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        endpoint = self.upstream.pick()
        call = self._callable(endpoint)(
            request,
            metadata=forward_metadata(context.invocation_metadata()),
            timeout=context.time_remaining(),
        )
        await self._stream_out(call, endpoint, context)

    async def stream_stream(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        endpoint = self.upstream.pick()
        call = self._callable(endpoint)(
            requests,
            metadata=forward_metadata(context.invocation_metadata()),
            timeout=context.time_remaining(),
        )
        await self._stream_out(call, endpoint, context)

    async def stream_unary(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        endpoint = self.upstream.pick()
        call = self._callable(endpoint)(
            requests,
            metadata=forward_metadata(context.invocation_metadata()),
            timeout=context.time_remaining(),
        )
        try:
            response: bytes = await call
        except grpc.aio.AioRpcError as err:
            await self._relay_error(context, endpoint, err, headers_sent=False)
        except asyncio.CancelledError:
            call.cancel()
            raise
        initial = await call.initial_metadata()
        if initial:
            await context.send_initial_metadata(tuple(initial))
        trailing = await call.trailing_metadata()
        if trailing:
            context.set_trailing_metadata(tuple(trailing))
        return response


_FACTORIES: Mapping[Arity, Callable[..., grpc.RpcMethodHandler[bytes, bytes]]] = {
    Arity.UNARY_UNARY: grpc.unary_unary_rpc_method_handler,
    Arity.UNARY_STREAM: grpc.unary_stream_rpc_method_handler,
    Arity.STREAM_UNARY: grpc.stream_unary_rpc_method_handler,
    Arity.STREAM_STREAM: grpc.stream_stream_rpc_method_handler,
}


def method_handler(route: Route, upstream: Upstream) -> grpc.RpcMethodHandler[bytes, bytes]:
    """The grpc method handler forwarding ``route`` to ``upstream``, raw bytes both ways."""
    forward = _Forward(route, upstream)
    behaviour: Callable[..., Awaitable[Any]] = getattr(forward, route.arity.value)
    return _FACTORIES[route.arity](behaviour, request_deserializer=None, response_serializer=None)


if TYPE_CHECKING:
    _GenericHandler = grpc.GenericRpcHandler[bytes, bytes]
else:  # grpc's classes are generic only in its stubs
    _GenericHandler = grpc.GenericRpcHandler


class PassThrough(_GenericHandler):
    """Generic handler over a swappable map of method path → handler; unknown paths get
    UNIMPLEMENTED from grpc itself (``service`` returns None)."""

    def __init__(self, table: RouteTable, upstreams: Mapping[str, Upstream]) -> None:
        self._handlers: Mapping[str, grpc.RpcMethodHandler[bytes, bytes]] = {}
        self.swap(table, upstreams)

    def swap(self, table: RouteTable, upstreams: Mapping[str, Upstream]) -> None:
        """Install a new route table atomically (a single reference assignment)."""
        self._handlers = {
            path: method_handler(route, upstreams[route.upstream]) for path, route in table.routes.items()
        }

    def by_service(self) -> dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]]:
        """The handlers grouped as ``{service: {method: handler}}`` for registered-method serving."""
        grouped: dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]] = {}
        for path, handler in self._handlers.items():
            service, _, method = path[1:].partition("/")
            grouped.setdefault(service, {})[method] = handler
        return grouped

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes] | None:
        return self._handlers.get(handler_call_details.method)
