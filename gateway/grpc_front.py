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
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.routes import Arity, Route, RouteTable
from gateway.telemetry.calls import CallScope, Telemetry
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
# google.rpc.ErrorInfo.domain of errors the gateway itself raises.
ERROR_DOMAIN = "gateway.tta"
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
    """The behaviours for one route; every arity shares the telemetry scope and the error relay."""

    __slots__ = ("path", "route", "telemetry", "upstream")

    def __init__(self, route: Route, upstream: Upstream, telemetry: Telemetry) -> None:
        self.route = route
        self.path = route.path
        self.upstream = upstream
        self.telemetry = telemetry

    def _callable(self, endpoint: Endpoint) -> Any:
        key = (self.path, self.route.arity.value)
        found = endpoint.callables.get(key)
        if found is None:
            factory = getattr(endpoint.channel, self.route.arity.value)
            found = endpoint.callables[key] = factory(self.path, None, None, _registered_method=True)
        return found

    def _begin(
        self, context: grpc.aio.ServicerContext[Any, Any], request: bytes | None
    ) -> tuple[CallScope, Metadata]:
        incoming = context.invocation_metadata() or ()
        scope = self.telemetry.begin("grpc", self.route, incoming)
        if log.isEnabledFor(logging.DEBUG):
            self.telemetry.debug_request(self.route, incoming, request)
        return scope, scope.upstream_metadata(forward_metadata(incoming))

    async def _unavailable(
        self, context: grpc.aio.ServicerContext[Any, Any], endpoint: Endpoint, scope: CallScope
    ) -> NoReturn:
        self.upstream.mark(endpoint, healthy=False)
        message = (
            f"upstream {self.upstream.name!r} for {self.route.service} is unavailable "
            f"(targets: {self.upstream.describe_targets()}): no connection could be made"
        )
        details = unavailable_details(
            message, self.route.service, self.upstream.name, scope.correlation.request_id
        )
        await context.abort(
            grpc.StatusCode.UNAVAILABLE,
            message,
            (*scope.response_metadata, ("grpc-status-details-bin", details)),
        )
        raise AssertionError("abort returned")  # pragma: no cover - abort always raises

    async def _relay_error(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        endpoint: Endpoint,
        err: grpc.aio.AioRpcError,
        scope: CallScope,
        headers_sent: bool,
    ) -> NoReturn:
        scope.upstream_finished()
        if is_connect_failure(err):
            await self._unavailable(context, endpoint, scope)
        if not headers_sent:
            initial: Any = err.initial_metadata()
            if initial:
                await context.send_initial_metadata((*initial, *scope.response_metadata))
        trailing: Any = err.trailing_metadata() or ()
        # The upstream's status, message and details pass unchanged; the ids ride in the trailers.
        await context.abort(err.code(), err.details() or "", (*trailing, *scope.response_metadata))
        raise AssertionError("abort returned")  # pragma: no cover

    @staticmethod
    async def _unary_reply(call: Any, context: grpc.aio.ServicerContext[Any, Any], scope: CallScope) -> None:
        """After a unary response arrived: relay the upstream's metadata with the call's ids, record OK."""
        scope.upstream_finished()
        initial = await call.initial_metadata()
        await context.send_initial_metadata((*initial, *scope.response_metadata))
        trailing = await call.trailing_metadata()
        if trailing:
            context.set_trailing_metadata(tuple(trailing))
        scope.finish(grpc.StatusCode.OK)

    @staticmethod
    def _outcome(exc: BaseException, relayed: grpc.StatusCode | None) -> grpc.StatusCode:
        if relayed is not None:
            return relayed
        if isinstance(exc, asyncio.CancelledError):
            return grpc.StatusCode.CANCELLED
        log.exception("bug: the pass-through failed")
        return grpc.StatusCode.INTERNAL

    async def unary_unary(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        scope, metadata = self._begin(context, request)
        timeout = context.time_remaining()
        attempts = len(self.upstream.endpoints)
        relayed: grpc.StatusCode | None = None
        try:
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
                    relayed = grpc.StatusCode.UNAVAILABLE if is_connect_failure(err) else err.code()
                    await self._relay_error(context, endpoint, err, scope, headers_sent=False)
                except asyncio.CancelledError:
                    call.cancel()
                    raise
                await self._unary_reply(call, context, scope)
                return response
            raise AssertionError("unreachable")  # pragma: no cover
        except BaseException as exc:
            scope.finish(self._outcome(exc, relayed))
            raise

    async def _stream_out(
        self, call: Any, endpoint: Endpoint, context: grpc.aio.ServicerContext[Any, Any], scope: CallScope
    ) -> None:
        headers_sent = False
        relayed: grpc.StatusCode | None = None
        try:
            try:
                initial = await call.initial_metadata()
                await context.send_initial_metadata((*initial, *scope.response_metadata))
                headers_sent = True
                while (message := await call.read()) is not _EOF:
                    await context.write(message)
                code = await call.code()
            except grpc.aio.AioRpcError as err:
                relayed = grpc.StatusCode.UNAVAILABLE if is_connect_failure(err) else err.code()
                await self._relay_error(context, endpoint, err, scope, headers_sent)
            except asyncio.CancelledError:
                call.cancel()
                raise
            scope.upstream_finished()
            trailing = await call.trailing_metadata()
            if code != grpc.StatusCode.OK:
                relayed = code
                await context.abort(
                    code, await call.details() or "", (*(trailing or ()), *scope.response_metadata)
                )
            if trailing:
                context.set_trailing_metadata(tuple(trailing))
            scope.finish(grpc.StatusCode.OK)
        except BaseException as exc:
            scope.finish(self._outcome(exc, relayed))
            raise

    async def unary_stream(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        scope, metadata = self._begin(context, request)
        endpoint = self.upstream.pick()
        call = self._callable(endpoint)(request, metadata=metadata, timeout=context.time_remaining())
        await self._stream_out(call, endpoint, context, scope)

    async def stream_stream(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        scope, metadata = self._begin(context, None)
        endpoint = self.upstream.pick()
        call = self._callable(endpoint)(requests, metadata=metadata, timeout=context.time_remaining())
        await self._stream_out(call, endpoint, context, scope)

    async def stream_unary(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        scope, metadata = self._begin(context, None)
        endpoint = self.upstream.pick()
        relayed: grpc.StatusCode | None = None
        try:
            call = self._callable(endpoint)(requests, metadata=metadata, timeout=context.time_remaining())
            try:
                response: bytes = await call
            except grpc.aio.AioRpcError as err:
                relayed = grpc.StatusCode.UNAVAILABLE if is_connect_failure(err) else err.code()
                await self._relay_error(context, endpoint, err, scope, headers_sent=False)
            except asyncio.CancelledError:
                call.cancel()
                raise
            await self._unary_reply(call, context, scope)
            return response
        except BaseException as exc:
            scope.finish(self._outcome(exc, relayed))
            raise


def unavailable_details(message: str, service: str, upstream: str, request_id: str) -> bytes:
    """``grpc-status-details-bin`` for the gateway's own UNAVAILABLE: ErrorInfo + RequestInfo."""
    info, req = any_pb2.Any(), any_pb2.Any()
    info.Pack(
        error_details_pb2.ErrorInfo(
            reason="UPSTREAM_UNAVAILABLE",
            domain=ERROR_DOMAIN,
            metadata={"service": service, "upstream": upstream},
        )
    )
    req.Pack(error_details_pb2.RequestInfo(request_id=request_id))
    status = status_pb2.Status(
        code=grpc.StatusCode.UNAVAILABLE.value[0], message=message, details=[info, req]
    )
    details: bytes = status.SerializeToString()
    return details


_FACTORIES: Mapping[Arity, Callable[..., grpc.RpcMethodHandler[bytes, bytes]]] = {
    Arity.UNARY_UNARY: grpc.unary_unary_rpc_method_handler,
    Arity.UNARY_STREAM: grpc.unary_stream_rpc_method_handler,
    Arity.STREAM_UNARY: grpc.stream_unary_rpc_method_handler,
    Arity.STREAM_STREAM: grpc.stream_stream_rpc_method_handler,
}


if TYPE_CHECKING:
    _GenericHandler = grpc.GenericRpcHandler[bytes, bytes]
else:  # grpc's classes are generic only in its stubs
    _GenericHandler = grpc.GenericRpcHandler


class PassThrough(_GenericHandler):
    """Every fronted method over a swappable route table.

    At start the server registers one handler per method (``by_service``: grpc core matches them
    before Python sees the call); each looks its ``_Forward`` up in the current table, so a reload
    (``swap``) changes where calls go without re-registering, and a method the new table dropped
    answers UNIMPLEMENTED. Methods a reload adds are served through ``service``, the generic handler.
    """

    def __init__(self, table: RouteTable, upstreams: Mapping[str, Upstream], telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._forwards: Mapping[str, _Forward] = {}
        self._generic: Mapping[str, grpc.RpcMethodHandler[bytes, bytes]] = {}
        self.swap(table, upstreams)

    def swap(self, table: RouteTable, upstreams: Mapping[str, Upstream]) -> None:
        """Install a new route table atomically (single reference assignments)."""
        forwards = {
            path: _Forward(route, upstreams[route.upstream], self.telemetry)
            for path, route in table.routes.items()
        }
        self._generic = {path: self._handler(path, f.route.arity) for path, f in forwards.items()}
        self._forwards = forwards

    def _handler(self, path: str, arity: Arity) -> grpc.RpcMethodHandler[bytes, bytes]:
        behaviour_name = arity.value

        async def dispatch(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            forward = self._forwards.get(path)
            if forward is None or forward.route.arity is not arity:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"method {path} is not served any more")
            return await getattr(forward, behaviour_name)(request, context)

        return _FACTORIES[arity](dispatch, request_deserializer=None, response_serializer=None)

    def by_service(self) -> dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]]:
        """The handlers grouped as ``{service: {method: handler}}`` for registered-method serving."""
        grouped: dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]] = {}
        for path, handler in self._generic.items():
            service, _, method = path[1:].partition("/")
            grouped.setdefault(service, {})[method] = handler
        return grouped

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes] | None:
        return self._generic.get(handler_call_details.method)
