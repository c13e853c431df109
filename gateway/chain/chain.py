"""The policy chain: one ordered list of steps per route, compiled when the contracts are loaded.

Every door hands its calls to the same ``RoutePlan`` (docs/architecture.md, principle 2), so a policy written
as a step holds on the gRPC, REST and WebSocket doors alike. A step is an object with up to four hooks:

- ``before(call)`` (or ``decide(call)``, the same without a coroutine, for a step that needs no
  I/O): decide before the upstream is called — refuse (raise ``Refused``), add to the principal or
  the metadata for the upstream or the client, or answer the call itself (return a ``Reply``, e.g. a
  cache hit);
- ``on_request(call, view)`` / ``on_response(call, view)``: see, change or drop one message, on every
  message of every stream (client, server and bidirectional) as well as on unary calls;
- ``after(call, code)``: the call ended with ``code``.

Compiling asks each step ``for_route(route)``: a step with nothing to do for a route returns None and
is left out, and a hook a step does not override is never called — so a route pays only for what it
declares. In particular a route without message hooks forwards raw bytes and its streams are not
wrapped at all.

Example::

    >>> plans = compile_plans(table, upstreams, telemetry, pool, steps=[MetadataAllowlist(), ...])
    >>> plan = plans["/tta.v1.DiagnosticsService/Echo"]
    >>> [s.name for s in plan.befores]
    ['metadata', 'deadline']
    >>> plan.request_hooks
    ()
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from gateway.chain.call import Call, Door, MessageView, Metadata, Reply, Response
from gateway.errors import GatewayError
from gateway.routes import Route, RouteTable
from gateway.telemetry.calls import Telemetry
from gateway.upstream import invoker
from gateway.upstream.pool import Upstream

log = logging.getLogger(__name__)
_calls_log = logging.getLogger("gateway.calls")  # Telemetry.debug_request's logger


class Step:
    """A policy step. Override only the hooks the step needs; the others cost nothing."""

    name: ClassVar[str] = "step"

    def for_route(self, route: Route) -> Step | None:
        """The step as it applies to ``route`` (itself, or a copy bound to the route's settings), or
        None when it has nothing to do there."""
        return self

    async def before(self, call: Call) -> Reply | None:
        return None

    def decide(self, call: Call) -> Reply | None:
        """``before`` for a step that needs no I/O: called without a coroutine (cheaper per call)."""
        return None

    async def on_request(self, call: Call, view: MessageView) -> None:
        return None

    async def on_response(self, call: Call, view: MessageView) -> None:
        return None

    def after(self, call: Call, code: grpc.StatusCode) -> None:
        return None


def _overrides(step: Step, hook: str) -> bool:
    return getattr(type(step), hook) is not getattr(Step, hook)


class RoutePlan:
    """One route's compiled chain and its upstream; immutable once built, shared by every door."""

    __slots__ = (
        "_before_hooks",
        "afters",
        "befores",
        "label",
        "request_cls",
        "request_hooks",
        "response_cls",
        "response_hooks",
        "route",
        "steps",
        "telemetry",
        "upstream",
    )

    def __init__(
        self,
        route: Route,
        upstream: Upstream,
        telemetry: Telemetry,
        request_cls: type[Message],
        response_cls: type[Message],
        steps: Sequence[Step],
    ) -> None:
        self.route = route
        self.upstream = upstream
        self.telemetry = telemetry
        self.request_cls = request_cls
        self.response_cls = response_cls
        self.steps = tuple(steps)
        self.befores = tuple(s for s in steps if _overrides(s, "before") or _overrides(s, "decide"))
        # (hook, is a coroutine function): in step order, each step's decide then its before
        self._before_hooks: tuple[tuple[Any, bool], ...] = tuple(
            hook
            for s in self.befores
            for hook in (
                *(((s.decide, False),) if _overrides(s, "decide") else ()),
                *(((s.before, True),) if _overrides(s, "before") else ()),
            )
        )
        self.request_hooks = tuple(s for s in steps if _overrides(s, "on_request"))
        self.response_hooks = tuple(s for s in steps if _overrides(s, "on_response"))
        self.afters = tuple(reversed([s for s in steps if _overrides(s, "after")]))

    # --- the call's life -------------------------------------------------------------------------

    def open(
        self,
        door: Door,
        metadata: Iterable[tuple[str, Any]],
        caller_timeout: float | None,
        label: str | None = None,
    ) -> Call:
        """Correlate and start the call's telemetry (the chain's first step, for every route), with
        the caller's own deadline if it set one (the deadline step applies defaults and the cap)."""
        md: Metadata = tuple((k, v) for k, v in metadata)
        label = label or self.route.path
        scope = self.telemetry.begin(door.value, self.route, md, label=label)
        deadline = None if caller_timeout is None else time.monotonic() + caller_timeout
        return Call(self, door, md, deadline, scope, label)

    def finish(self, call: Call, code: grpc.StatusCode) -> None:
        if call.scope.finished:
            return
        for step in self.afters:
            try:
                step.after(call, code)
            except Exception:
                log.exception("bug: step %s failed after the call", step.name)
        call.scope.finish(code)

    async def _before(self, call: Call) -> Reply | None:
        if _calls_log.isEnabledFor(logging.DEBUG):
            # At debug level only: what arrived, through the redaction layer (decoding costs).
            self.telemetry.debug_request(
                self.route, call.metadata, None if self.route.client_streaming else call.request
            )
        for hook, is_async in self._before_hooks:
            reply = await hook(call) if is_async else hook(call)
            if reply is not None:
                return reply  # type: ignore[no-any-return]
        return None

    async def admit(self, call: Call) -> None:
        """Only the ``before`` hooks (identity first), for a door about to refuse a request it could
        not read: an unauthenticated caller hears 401 before anything about the request's shape, as a
        gRPC caller does (its bytes are decoded only after identity). A step's reply is ignored."""
        for hook, is_async in self._before_hooks:
            await hook(call) if is_async else hook(call)

    # --- messages --------------------------------------------------------------------------------

    async def _request(self, call: Call, raw: bytes, message: Message | None = None) -> bytes | None:
        """Run the request hooks on one message: its bytes to forward, or None when a step dropped it."""
        view = MessageView(raw, self.request_cls, message)
        for step in self.request_hooks:
            await step.on_request(call, view)
            if view.dropped:
                return None
        return view.raw

    async def _response(self, call: Call, raw: bytes) -> bytes | None:
        view = MessageView(raw, self.response_cls, from_upstream=True)
        for step in self.response_hooks:
            await step.on_response(call, view)
            if view.dropped:
                return None
        return view.raw

    async def _requests(self, call: Call, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for raw in source:
            out = await self._request(call, raw)
            if out is not None:
                yield out

    def _request_stream(self, call: Call) -> AsyncIterator[bytes]:
        assert call.requests is not None, "a client-streaming call needs call.requests"
        return self._requests(call, call.requests) if self.request_hooks else call.requests

    # --- the two shapes of answer ----------------------------------------------------------------

    async def unary(self, call: Call) -> Response:
        """A call with one response (unary, or client streaming): steps, the upstream, response hooks.
        Raises GatewayError for every failure the client should hear about."""
        reply = await self._before(call)
        if reply is not None:
            if len(reply.messages) != 1:
                raise GatewayError("a step answered a unary call with a number of messages other than one")
            # A step's answer passes the response hooks like the upstream's would (safety, audit).
            response = Response(reply.messages[0], reply.initial, reply.trailing)
            return await self._unary_response(call, response)
        if self.route.client_streaming:
            response = await invoker.client_stream(self.upstream, call, self._request_stream(call))
        else:
            request: bytes | None = call.request
            if self.request_hooks:
                request = await self._request(call, call.request, call.request_message)
                if request is None:
                    raise GatewayError("a step dropped a unary request; it must refuse the call instead")
            response = await invoker.unary(self.upstream, call, request)
        return await self._unary_response(call, response)

    async def _unary_response(self, call: Call, response: Response) -> Response:
        if not self.response_hooks:
            return response
        payload = await self._response(call, response.payload)
        if payload is None:
            raise GatewayError("a step dropped a unary response; it must refuse the call instead")
        return Response(payload, response.initial, response.trailing)

    async def stream(self, call: Call) -> ResponseStream:
        """A server-streaming call, connected upstream (or answered by a step); iterate it for the
        responses. Raises GatewayError before the stream exists; ``ResponseStream`` raises it after."""
        reply = await self._before(call)
        if reply is not None:
            return ResponseStream(self, call, None, reply)
        if self.route.client_streaming:
            upstream = await invoker.open_stream(self.upstream, call, None, self._request_stream(call))
        else:
            request: bytes | None = call.request
            if self.request_hooks:
                request = await self._request(call, call.request, call.request_message)
                if request is None:
                    raise GatewayError("a step dropped a unary request; it must refuse the call instead")
            upstream = await invoker.open_stream(self.upstream, call, request, None)
        return ResponseStream(self, call, upstream, None)


class ResponseStream:
    """A server stream through the chain: headers, then messages (after the response hooks), then
    trailing metadata. Every failure, the upstream's included, is raised as a GatewayError."""

    __slots__ = ("_call", "_plan", "_reply", "_upstream", "trailing")

    def __init__(
        self, plan: RoutePlan, call: Call, upstream: invoker.UpstreamStream | None, reply: Reply | None
    ) -> None:
        self._plan = plan
        self._call = call
        self._upstream = upstream
        self._reply = reply
        self.trailing: Metadata = reply.trailing if reply is not None else ()

    async def headers(self) -> Metadata:
        if self._upstream is None:
            assert self._reply is not None
            return self._reply.initial
        return await self._upstream.headers()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[bytes]:
        hooks = bool(self._plan.response_hooks)
        if self._upstream is None:
            assert self._reply is not None
            for answer in self._reply.messages:
                # A step's answer passes the response hooks like the upstream's would.
                out = await self._plan._response(self._call, answer) if hooks else answer
                if out is not None:
                    yield out
            return
        while (raw := await self._upstream.read()) is not None:
            if hooks:
                out = await self._plan._response(self._call, raw)
                if out is None:
                    continue
                raw = out
            yield raw
        self.trailing = self._upstream.trailing

    def ended(self) -> bool:
        """Whether the upstream has already finished the call (all it sent is buffered): a door that
        has not started its response yet can then tell a failure before any message from a stream."""
        return self._upstream is None or self._upstream.ended()

    def cancel(self) -> None:
        if self._upstream is not None:
            self._upstream.cancel()


@dataclass(frozen=True, slots=True)
class Plans:
    """Every route's plan, by gRPC path (immutable)."""

    by_path: Mapping[str, RoutePlan]

    def get(self, path: str) -> RoutePlan | None:
        return self.by_path.get(path)


def compile_plans(
    table: RouteTable,
    upstreams: Mapping[str, Upstream],
    telemetry: Telemetry,
    pool: descriptor_pool.DescriptorPool,
    steps: Sequence[Step],
) -> Plans:
    """One plan per route: the steps that apply to it, in order, and its upstream."""
    plans: dict[str, RoutePlan] = {}
    for path, route in table.routes.items():
        bound = [b for s in steps if (b := s.for_route(route)) is not None]
        request_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(route.input_type))
        response_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(route.output_type))
        plans[path] = RoutePlan(route, upstreams[route.upstream], telemetry, request_cls, response_cls, bound)
    return Plans(MappingProxyType(plans))
