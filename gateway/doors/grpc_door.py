"""The gRPC door: one generic handler per fronted method, a thin adapter around the route's chain.

For each call: the route's plan (from the current snapshot) opens a ``Call`` from the caller's metadata
and remaining deadline, the chain runs, and what comes back is written to the caller as it is —
the upstream's initial metadata, messages, trailing metadata, status code, message and details, with
the call's ids (``x-request-id``, ``traceparent``) added to the headers or, on an error, the trailers.
Requests and responses stay raw bytes (docs/architecture.md, principle 3).

Errors are rendered in exactly one function, ``abort_with``. Policy lives in the chain; this module
only translates between grpc.aio and the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import grpc

from gateway.chain.call import Call, Door
from gateway.chain.chain import RoutePlan
from gateway.errors import GatewayError, Refused
from gateway.routes import Arity

if TYPE_CHECKING:
    from gateway.snapshot import Current

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


async def abort_with(
    context: Context, call: Call | None, err: GatewayError, headers_sent: bool = False
) -> NoReturn:
    """End the call with ``err``: status, message, ``grpc-status-details-bin``, the error's trailing
    metadata and the call's ids (``call`` None: refused before a call exists). The one place the gRPC
    door renders an error."""
    trailing: list[tuple[str, str | bytes]] = list(err.trailing)
    details = err.details_bin()
    if details is not None:
        trailing.append(("grpc-status-details-bin", details))
    if call is not None and err.initial and not headers_sent:
        # The upstream sent headers before failing: the caller sees them, with the call's ids.
        await context.send_initial_metadata((*err.initial, *call.response_metadata))
    elif call is not None:
        trailing.extend(call.response_metadata)
    await context.abort(err.code, err.message, tuple(trailing))
    raise AssertionError("abort returned")  # pragma: no cover - abort always raises


def _failure(exc: BaseException) -> GatewayError:
    """A failure of the door or a step that is not a GatewayError: a bug, logged with its stack
    (through the redaction layer) and answered INTERNAL without detail."""
    if isinstance(exc, GatewayError):
        return exc
    log.error("bug: the gRPC door failed", exc_info=exc)
    return GatewayError("internal error in the gateway")


class _Handlers:
    """The four behaviours, each looking the route's plan up in the current snapshot per call."""

    def __init__(self, current: Current) -> None:
        self.current = current
        self.closing = False
        self.in_flight: set[asyncio.Task[Any]] = set()

    def _open(self, plan: RoutePlan, context: Context) -> Call:
        call = plan.open(Door.GRPC, context.invocation_metadata() or (), context.time_remaining())
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
            call.values["grpc.task"] = task
        return call

    def _done(self, call: Call) -> None:
        self.in_flight.discard(call.values.get("grpc.task"))

    async def _end(
        self, context: Context, call: Call, exc: BaseException, headers_sent: bool = False
    ) -> NoReturn:
        self._done(call)
        if isinstance(exc, asyncio.CancelledError):
            task = call.values.get("grpc.task")
            if not self.closing or task is None or call.scope.finished:
                call.finish(grpc.StatusCode.CANCELLED)
                raise exc
            # The door's own cancellation at the end of the shutdown grace period: answered UNAVAILABLE
            # (a status clients retry), as the HTTP door answers its calls then.
            task.uncancel()
            exc = GatewayError(_SHUTDOWN, code=grpc.StatusCode.UNAVAILABLE)
        err = _failure(exc)
        call.finish(err.code)  # recorded before the status reaches the caller
        await abort_with(context, call, err, headers_sent)

    async def unary_response(self, plan: RoutePlan, request: Any, context: Context, streaming: bool) -> bytes:
        call = self._open(plan, context)
        try:
            if streaming:
                call.requests = request
            else:
                call.request = request
            response = await plan.unary(call)
            await context.send_initial_metadata((*response.initial, *call.response_metadata))
        except BaseException as exc:
            await self._end(context, call, exc)
        self._done(call)
        if response.trailing:
            context.set_trailing_metadata(response.trailing)
        call.finish(grpc.StatusCode.OK)
        return response.payload

    async def stream_response(self, plan: RoutePlan, request: Any, context: Context, streaming: bool) -> None:
        call = self._open(plan, context)
        headers_sent = False
        try:
            if streaming:
                call.requests = request
            else:
                call.request = request
            stream = await plan.stream(call)
            try:
                headers = await stream.headers()
                await context.send_initial_metadata((*headers, *call.response_metadata))
                headers_sent = True
                async for message in stream:
                    await context.write(message)
            except BaseException:
                stream.cancel()
                raise
        except BaseException as exc:
            await self._end(context, call, exc, headers_sent)
        self._done(call)
        call.finish(grpc.StatusCode.OK)
        if stream.trailing:
            context.set_trailing_metadata(stream.trailing)


_SHUTDOWN = "the gateway is shutting down; retry the call"


class _Unserved(Exception):
    """A method the current snapshot no longer serves (a reload removed it)."""


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


class GrpcDoor(_GenericHandler):
    """Every fronted method over the current snapshot.

    At start the server registers one handler per method (``by_service``: grpc core matches them
    before Python sees the call); each looks its plan up in the current snapshot, so a reload changes
    where calls go without re-registering, and a method the new snapshot dropped answers UNIMPLEMENTED.
    Methods a reload adds are served through ``service``, the generic handler.
    """

    def __init__(self, current: Current) -> None:
        self.current = current
        self._handlers = _Handlers(current)
        self._generic: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {}
        self._arity: dict[str, Arity] = {}
        self.refresh()

    def close(self) -> None:
        """End every call still in flight with UNAVAILABLE (the end of the shutdown grace period)."""
        self._handlers.closing = True
        for task in list(self._handlers.in_flight):
            task.cancel("tta-gateway: shutdown grace period over")

    def refresh(self) -> None:
        """Make handlers for the methods of the current snapshot not yet known (after a reload)."""
        generic, arity = dict(self._generic), dict(self._arity)
        for path, plan in self.current.snapshot.plans.by_path.items():
            if arity.get(path) is not plan.route.arity:
                generic[path] = self._handler(path, plan.route.arity)
                arity[path] = plan.route.arity
        self._generic, self._arity = generic, arity

    def _handler(self, path: str, arity: Arity) -> grpc.RpcMethodHandler[bytes, bytes]:
        handlers = self._handlers
        client_streaming = arity in (Arity.STREAM_UNARY, Arity.STREAM_STREAM)
        run = handlers.stream_response if arity in (Arity.UNARY_STREAM, Arity.STREAM_STREAM) else None

        async def dispatch(request: Any, context: Context) -> Any:
            try:
                plan = handlers.current.snapshot.plans.get(path)
                if plan is None or plan.route.arity is not arity:
                    raise _Unserved(path)
                if run is None:
                    return await handlers.unary_response(plan, request, context, client_streaming)
                return await run(plan, request, context, client_streaming)
            except _Unserved:
                unserved = Refused(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"method {path} is not served any more",
                    reason="METHOD_NOT_SERVED",
                )
                await abort_with(context, None, unserved)

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
