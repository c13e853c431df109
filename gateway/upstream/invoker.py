"""The one place that calls upstreams, for every door: endpoint choice, failover, deadline propagation,
the multicallable cache and error normalisation.

- **Endpoint choice** is the upstream's (``Upstream.pick``: healthy endpoints in turn).
- **Failover on connect failure**: a call that could not connect to an endpoint executed nothing there,
  so it is tried on the next endpoint, whatever the method (at most once per endpoint). A unary request
  is simply sent again; a streaming request is not read from the caller until the upstream call is
  connected (``wait_for_connection``), so no message is lost by a failover.
- **Deadline**: the call's remaining time (``Call.deadline``, set by the deadline step) becomes the
  upstream call's timeout, so ``grpc-timeout`` shrinks by the time spent in the gateway.
- **Errors**: every failure is a ``GatewayError``. No endpoint connected: ``UpstreamUnavailable``
  (UNAVAILABLE with ErrorInfo ``UPSTREAM_UNAVAILABLE`` and RequestInfo), the same on every door. The
  upstream's own status: ``UpstreamStatus``, its message, details and metadata unchanged.

Requests and responses are raw bytes (no serialiser on the channel): the chain decodes only what a step
asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc

from gateway.chain.call import Response
from gateway.errors import GatewayError, UpstreamStatus, UpstreamUnavailable
from gateway.upstream.pool import Endpoint, Upstream

if TYPE_CHECKING:
    from gateway.chain.call import Call, Metadata

log = logging.getLogger(__name__)

_CONNECT_FAILURE = "failed to connect to all addresses"
_DETAILS_KEY = "grpc-status-details-bin"
_EOF: Any = getattr(grpc.aio, "EOF")  # noqa: B009 - missing from the grpc-stubs release we use


def is_connect_failure(err: grpc.aio.AioRpcError) -> bool:
    """True when the call never reached the upstream, so nothing was executed there."""
    return err.code() == grpc.StatusCode.UNAVAILABLE and (err.details() or "").startswith(_CONNECT_FAILURE)


def _multicallable(endpoint: Endpoint, path: str, arity: str) -> Any:
    # Multicallables are cheap to build but not free: one per (method, arity) and endpoint.
    key = (path, arity)
    found = endpoint.callables.get(key)
    if found is None:
        factory = getattr(endpoint.channel, arity)
        found = endpoint.callables[key] = factory(path, None, None, _registered_method=True)
    return found


def _upstream_metadata(call: Call) -> Metadata:
    return call.scope.upstream_metadata(tuple(call.upstream_metadata))


def _relayed(err: grpc.aio.AioRpcError) -> UpstreamStatus:
    """The upstream's status as the gateway relays it: code, message, details and metadata unchanged."""
    return _status(
        err.code(), err.details() or "", err.initial_metadata() or (), err.trailing_metadata() or ()
    )


def _status(code: grpc.StatusCode, message: str, initial: Any, trailing: Any) -> UpstreamStatus:
    raw = None
    kept = []
    for key, value in trailing:
        if key == _DETAILS_KEY:
            raw = value if isinstance(value, bytes) else None
        else:
            kept.append((key, value))
    return UpstreamStatus(code, message, raw, tuple(initial), tuple(kept))


def _unavailable(upstream: Upstream, call: Call) -> GatewayError:
    err = UpstreamUnavailable(call.route.service, upstream.name, upstream.describe_targets())
    return err.with_request_id(call.scope.correlation.request_id)


def _normalised(
    err: grpc.aio.AioRpcError, upstream: Upstream, endpoint: Endpoint, call: Call
) -> GatewayError:
    if is_connect_failure(err):
        upstream.mark(endpoint, healthy=False)
        return _unavailable(upstream, call)
    return _relayed(err)


async def unary(upstream: Upstream, call: Call, request: bytes | None) -> Response:
    """A unary-request, unary-response call, with failover on connect failure."""
    metadata = _upstream_metadata(call)
    path, attempts = call.route.path, len(upstream.endpoints)
    for attempt in range(attempts):
        endpoint = upstream.pick()
        rpc = _multicallable(endpoint, path, "unary_unary")(
            request, metadata=metadata, timeout=call.time_remaining()
        )
        try:
            payload: bytes = await rpc
        except grpc.aio.AioRpcError as err:
            if is_connect_failure(err) and attempt + 1 < attempts:
                upstream.mark(endpoint, healthy=False)
                continue
            call.scope.upstream_finished()
            raise _normalised(err, upstream, endpoint, call) from None
        except asyncio.CancelledError:
            rpc.cancel()
            raise
        call.scope.upstream_finished()
        return Response(payload, tuple(await rpc.initial_metadata()), tuple(await rpc.trailing_metadata()))
    raise AssertionError("unreachable")  # pragma: no cover


async def _connect(upstream: Upstream, call: Call, arity: str, request: bytes | None) -> tuple[Any, Endpoint]:
    """Start a streaming call on the first endpoint that connects (the request, if unary, sent)."""
    metadata = _upstream_metadata(call)
    path, attempts = call.route.path, len(upstream.endpoints)
    for attempt in range(attempts):
        endpoint = upstream.pick()
        factory = _multicallable(endpoint, path, arity)
        timeout = call.time_remaining()
        rpc = (
            factory(metadata=metadata, timeout=timeout)
            if request is None
            else factory(request, metadata=metadata, timeout=timeout)
        )
        try:
            await rpc.wait_for_connection()
        except grpc.aio.AioRpcError as err:
            if is_connect_failure(err) and attempt + 1 < attempts:
                upstream.mark(endpoint, healthy=False)
                continue
            call.scope.upstream_finished()
            raise _normalised(err, upstream, endpoint, call) from None
        except asyncio.CancelledError:
            rpc.cancel()
            raise
        return rpc, endpoint
    raise AssertionError("unreachable")  # pragma: no cover


class _Pump:
    """Copies the caller's messages into a connected upstream call, then half-closes it. A failure of
    the source (a step refused a message, the caller broke off) cancels the upstream call and is kept
    for the reader to raise."""

    __slots__ = ("error", "stopped", "task")

    def __init__(self, rpc: Any, source: AsyncIterator[bytes]) -> None:
        self.error: BaseException | None = None
        self.stopped = False
        self.task = asyncio.ensure_future(self._run(rpc, source))

    async def _run(self, rpc: Any, source: AsyncIterator[bytes]) -> None:
        try:
            async for raw in source:
                if self.stopped or rpc.done():
                    return  # the upstream has ended the call: nothing more to send
                await rpc.write(raw)
            if not rpc.done():
                await rpc.done_writing()
        except asyncio.CancelledError:
            raise
        except (asyncio.InvalidStateError, grpc.aio.UsageError):
            return  # the upstream ended the call while we wrote: its status tells the caller
        except grpc.aio.AioRpcError:
            return  # likewise, reported by the reader
        except BaseException as exc:
            self.error = exc
            rpc.cancel()

    def stop(self) -> None:
        # Not cancelled: the pump may be inside a read of the caller's stream (a grpc.aio server
        # iterator), which is left to end with the door's call. It writes nothing more once stopped
        # or once the upstream call is over.
        self.stopped = True

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def raise_instead_of_cancel(self) -> None:
        """grpc.aio raises CancelledError in the reader of a call cancelled by the pump: when that is
        what happened (and the task itself is not being cancelled), raise the pump's reason instead."""
        task = asyncio.current_task()
        if self.error is not None and (task is None or not task.cancelling()):
            raise self.error


async def client_stream(upstream: Upstream, call: Call, requests: AsyncIterator[bytes]) -> Response:
    """A client-streaming call with one response."""
    rpc, endpoint = await _connect(upstream, call, "stream_unary", None)
    pump = _Pump(rpc, requests)
    try:
        payload: bytes = await rpc
    except grpc.aio.AioRpcError as err:
        call.scope.upstream_finished()
        pump.raise_if_failed()
        raise _normalised(err, upstream, endpoint, call) from None
    except asyncio.CancelledError:
        rpc.cancel()
        pump.raise_instead_of_cancel()
        raise
    finally:
        pump.stop()
    call.scope.upstream_finished()
    return Response(payload, tuple(await rpc.initial_metadata()), tuple(await rpc.trailing_metadata()))


async def open_stream(
    upstream: Upstream, call: Call, request: bytes | None, requests: AsyncIterator[bytes] | None
) -> UpstreamStream:
    """A server-streaming call (unary or streaming request), connected."""
    arity = "unary_stream" if requests is None else "stream_stream"
    rpc, endpoint = await _connect(upstream, call, arity, request)
    pump = _Pump(rpc, requests) if requests is not None else None
    return UpstreamStream(rpc, endpoint, upstream, call, pump)


class UpstreamStream:
    """The responses of a connected server-streaming upstream call, read one at a time."""

    __slots__ = ("_call", "_endpoint", "_pump", "_rpc", "_upstream", "trailing")

    def __init__(
        self, rpc: Any, endpoint: Endpoint, upstream: Upstream, call: Call, pump: _Pump | None
    ) -> None:
        self._rpc = rpc
        self._endpoint = endpoint
        self._upstream = upstream
        self._call = call
        self._pump = pump
        self.trailing: Metadata = ()

    def _failed(self, err: grpc.aio.AioRpcError) -> GatewayError:
        self._call.scope.upstream_finished()
        self._stop_pump()
        return _normalised(err, self._upstream, self._endpoint, self._call)

    def _stop_pump(self) -> None:
        if self._pump is not None:
            self._pump.stop()
            self._pump.raise_if_failed()

    async def headers(self) -> Metadata:
        """The upstream's initial metadata (empty when it failed before sending any)."""
        try:
            return tuple(await self._rpc.initial_metadata())
        except asyncio.CancelledError:
            self.cancel()
            raise

    async def read(self) -> bytes | None:
        """The next response, or None at a successful end (then ``trailing`` is set)."""
        try:
            message = await self._rpc.read()
            if message is not _EOF:
                return message  # type: ignore[no-any-return]
            code = await self._rpc.code()
        except grpc.aio.AioRpcError as err:
            raise self._failed(err) from None
        except asyncio.CancelledError:
            self.cancel()
            if self._pump is not None:
                self._pump.raise_instead_of_cancel()
            raise
        self._call.scope.upstream_finished()
        self._stop_pump()
        trailing = tuple(await self._rpc.trailing_metadata())
        if code != grpc.StatusCode.OK:
            details = await self._rpc.details()
            raise _status(code, details or "", (), trailing)
        self.trailing = trailing
        return None

    def ended(self) -> bool:
        return bool(self._rpc.done())

    def cancel(self) -> None:
        self._rpc.cancel()
        if self._pump is not None:
            self._pump.stop()
        with contextlib.suppress(Exception):
            self._call.scope.upstream_finished()
