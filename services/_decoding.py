"""Requests whose bytes do not parse as the method's request type answer ``INVALID_ARGUMENT``.

grpc.aio parses each request message with the handler's ``request_deserializer``. When that raises (a
``DecodeError`` for ``b"\\xff\\xff\\xff"``), a unary request fails before any servicer code runs and a
streamed one fails inside the servicer's ``async for``; either way grpc.aio answers ``UNKNOWN`` with
``Unexpected <class 'google.protobuf.message.DecodeError'>: ...``, a Python class name the caller can
do nothing with. Bytes that do not decode are the caller's fault, so the answer is ``INVALID_ARGUMENT``
(https://grpc.github.io/grpc/core/md_doc_statuscodes.html), with the message
``the request is not a valid tta.v1.GetPlayerRequest`` and nothing of the parser's exception.

:class:`RejectMalformedRequests`, a server interceptor, wraps each handler with :func:`guard`:

- the deserializer returns a marker instead of raising, so the failure reaches the handler's call;
- the behaviour, for each of the four arities, aborts with ``INVALID_ARGUMENT`` on meeting the marker:
  at once for a unary request; for a streamed request when the servicer iterates to the message that
  did not parse (the ones before it are served as usual).

A handler that reads a streamed request with ``context.read()`` instead of iterating it would receive
the marker itself; no reference service does.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import DecodeError

from services._errors import Context, malformed_request

__all__ = ["RejectMalformedRequests", "guard", "request_types"]

Behaviour = Callable[..., Any]  # what a grpc.RpcMethodHandler holds for its arity
if TYPE_CHECKING:
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]  # generic in grpc-stubs only
    Interceptor: TypeAlias = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor


class _Malformed:
    """What a guarded deserializer returns for bytes that do not parse; never a request."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<malformed request>"


_MALFORMED = _Malformed()


def request_types(full_names: Iterable[str]) -> dict[str, str]:
    """Method path → request message name, for every method of the named services.

    >>> request_types(["tta.v1.PlayerService"])["/tta.v1.PlayerService/GetPlayer"]
    'tta.v1.GetPlayerRequest'
    """
    pool = descriptor_pool.Default()
    table: dict[str, str] = {}
    for full_name in full_names:
        try:
            service = pool.FindServiceByName(full_name)
        except KeyError:
            raise ValueError(f"service {full_name!r} is not in the default descriptor pool") from None
        for method in service.methods:
            table[f"/{service.full_name}/{method.name}"] = method.input_type.full_name
    return table


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    if deserialize is None:
        raise TypeError("a guarded handler needs a request deserializer")

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            return _MALFORMED

    return parse


async def _reject(context: Context, type_name: str) -> None:
    """Abort the call (raises ``grpc.aio.AbortError``, which grpc.aio expects to see propagate)."""
    await context.abort_with_status(malformed_request(type_name).to_status())  # type: ignore[attr-defined]  # missing in grpc-stubs


class _CheckedRequests:
    """A streamed request that aborts the call at the first message that did not parse."""

    __slots__ = ("_context", "_requests", "_type_name")

    def __init__(self, requests: AsyncIterator[Any], context: Context, type_name: str) -> None:
        self._requests = aiter(requests)
        self._context = context
        self._type_name = type_name

    def __aiter__(self) -> _CheckedRequests:
        return self

    async def __anext__(self) -> Any:
        request = await anext(self._requests)
        if request is _MALFORMED:
            await _reject(self._context, self._type_name)
        return request


def _checked_call(
    behaviour: Behaviour | None, streamed_request: bool, streamed_response: bool, type_name: str
) -> Behaviour:
    """``behaviour`` of any shape grpc.aio accepts, as an async one that checks its request first.

    The shapes: a coroutine (returning the response, or writing a streamed one with
    ``context.write``), an async generator, or a plain function returning the response or an iterator
    of them (``grpc.health.v1.Health/List`` is one). grpc.aio runs a plain function on the event loop
    when the server has no thread pool, as here, so calling it from a coroutine changes nothing.
    """
    if behaviour is None:
        raise TypeError("the handler has no behaviour for its arity")
    is_coroutine = inspect.iscoroutinefunction(behaviour)
    if streamed_request and not (is_coroutine or inspect.isasyncgenfunction(behaviour)):
        raise TypeError(f"{behaviour!r} takes a streamed request but is not async")

    def checked(request: Any, context: Context) -> Any:
        return _CheckedRequests(request, context, type_name) if streamed_request else request

    if streamed_response and not is_coroutine:

        async def replies(request: Any, context: Context) -> AsyncIterator[Any]:
            if request is _MALFORMED:
                await _reject(context, type_name)
            responses = behaviour(checked(request, context), context)
            if isinstance(responses, AsyncIterator):
                async for response in responses:
                    yield response
            else:
                for response in responses:
                    yield response

        return replies

    async def reply(request: Any, context: Context) -> Any:
        if request is _MALFORMED:
            await _reject(context, type_name)
        result = behaviour(checked(request, context), context)
        return await result if is_coroutine else result

    return reply


def guard(handler: Handler, type_name: str) -> Handler:
    """``handler``, answering ``INVALID_ARGUMENT`` to request bytes that are not a ``type_name``.

    Covers the four arities and every shape of behaviour grpc.aio serves (see :func:`_checked_call`).
    """
    parse = _tolerant(handler.request_deserializer)
    serialize = handler.response_serializer
    ins, outs = handler.request_streaming, handler.response_streaming
    if ins and outs:
        both = _checked_call(handler.stream_stream, ins, outs, type_name)
        return grpc.stream_stream_rpc_method_handler(both, parse, serialize)
    if ins:
        upload = _checked_call(handler.stream_unary, ins, outs, type_name)
        return grpc.stream_unary_rpc_method_handler(upload, parse, serialize)
    if outs:
        download = _checked_call(handler.unary_stream, ins, outs, type_name)
        return grpc.unary_stream_rpc_method_handler(download, parse, serialize)
    unary = _checked_call(handler.unary_unary, ins, outs, type_name)
    return grpc.unary_unary_rpc_method_handler(unary, parse, serialize)


class RejectMalformedRequests(Interceptor):
    """Serves every method in ``types`` (from :func:`request_types`) through :func:`guard`.

    Each handler is guarded once and the result reused while the server returns the same handler.
    """

    def __init__(self, types: Mapping[str, str]) -> None:
        self._types = dict(types)
        self._guarded: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:  # no such method (grpc-stubs leave out the None): grpc.aio answers UNIMPLEMENTED
            return handler
        method = handler_call_details.method
        known = self._guarded.get(method)
        if known is None or known[0] is not handler:
            try:
                type_name = self._types[method]
            except KeyError:
                raise LookupError(f"{method} is served but has no request type to guard it with") from None
            known = (handler, guard(handler, type_name))
            self._guarded[method] = known
        return known[1]
