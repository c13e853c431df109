"""Room fan-out: every chat message the upstream accepted goes into the session's room log, whatever
door it came by, and the WebSocket door delivers rooms from that log (issue 10 items 4-5, decision
0014 "How the door uses it").

Why a step and not door code: a message posted over gRPC, REST or WebSocket must land in the same
log, in one order, with one sequence number, and the only place all three doors share is the chain
(decision 0008). So ``RoomFanout`` is a response hook on the ChatService methods whose responses carry
a stored message (``SendMessage``, ``Chat``): it appends the message (its ``sequence`` cleared, so
the log's number is the only one) with the message id as the append key, and stamps the log's
sequence on the response. The append key makes the copies of one message seen by several ``Chat``
streams, on several processes, one entry.

On the routes a WebSocket path delivers from the log (``Chat``, ``WatchRoom``) the bound step is
also the door's ``RoomSource``: it reads the room's position, follows the log, and passes each entry
through the response hooks that come after it in the chain, per reader (an anonymised researcher
sees an anonymised copy; the log keeps what the upstream said). On a call the door serves from the
log, the upstream's own copies are appended and then dropped, so each reader gets each message once,
from the log, in the log's order.

RoomFanout is placed before the identity, ownership and anonymise steps, so it is the first response
hook: the log stores the upstream's message, never a reader's view of it. Message text is never logged.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from gateway.chain.call import Call, MessageView
from gateway.chain.chain import Step
from gateway.errors import GatewayError, Refused
from gateway.routes import Route
from gateway.state.rooms import (
    APPEND_KEY,
    Entry,
    Gap,
    InvalidKey,
    InvalidRoom,
    PayloadTooLarge,
    RoomLog,
    RoomLogError,
    RoomLogUnavailable,
    TooManyRooms,
)

__all__ = ["Delivered", "RoomFanout", "room_error", "stamped"]

SEND = "/tta.v1.ChatService/SendMessage"
CHAT = "/tta.v1.ChatService/Chat"
WATCH = "/tta.v1.ChatService/WatchRoom"
# Every response of these routes is ``{message = 1: tta.v1.ChatMessage}``; ChatMessage.sequence is 3.
_MESSAGE_TAG = b"\x0a"
_SEQUENCE_TAG = b"\x18"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def stamped(payload: bytes, seq: int) -> bytes:
    """A response message (``{message: ChatMessage}``) from a stored ChatMessage and its room sequence,
    without decoding it: the log stores the message with ``sequence`` cleared, and a field appended to
    serialized protobuf sets it (the last value of a scalar field wins).

    >>> stamped(b"", 5)
    b'\\n\\x02\\x18\\x05'
    """
    inner = payload + _SEQUENCE_TAG + _varint(seq)
    return _MESSAGE_TAG + _varint(len(inner)) + inner


def append_key(message_id: str) -> str:
    """The log's append key for a message id: the id itself when the log accepts it, else its digest."""
    if APPEND_KEY.fullmatch(message_id):
        return message_id
    return "h:" + hashlib.sha256(message_id.encode()).hexdigest()[:64]


def room_error(exc: RoomLogError) -> GatewayError:
    """The room log's errors as statuses (decision 0014's table); the door maps them to close codes."""
    if isinstance(exc, InvalidRoom):
        return Refused(grpc.StatusCode.INVALID_ARGUMENT, str(exc), field="session_id")
    if isinstance(exc, InvalidKey):
        return Refused(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, PayloadTooLarge):
        return Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), reason="PAYLOAD_TOO_LARGE")
    if isinstance(exc, TooManyRooms):
        return Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), reason="TOO_MANY_ROOMS")
    if isinstance(exc, RoomLogUnavailable):
        return GatewayError(
            "The session's room cannot be reached just now; reconnect with your last sequence.",
            code=grpc.StatusCode.UNAVAILABLE,
        )
    return GatewayError("the room log failed")


@dataclass(frozen=True, slots=True)
class Delivered:
    """One entry for one reader: its sequence, and the response message after the hooks downstream of
    the fan-out (None: a step dropped it for this reader; the position still moves on)."""

    seq: int
    payload: bytes | None


class RoomFanout(Step):
    """The step the composition root adds (one per gateway, over its one ``RoomLog``); ``for_route``
    binds it only to the ChatService routes that produce or follow stored messages."""

    name = "rooms"

    def __init__(self, log: RoomLog) -> None:
        self.log = log

    def for_route(self, route: Route) -> Step | None:
        if route.path == SEND:
            return _Append(self.log)
        if route.path == CHAT:
            return _Talk(self.log)
        if route.path == WATCH:
            return _Watch(self.log)
        return None


class _Source(Step):
    """What the WebSocket door asks of a route it delivers from the log (the door's ``RoomSource``)."""

    name = "rooms"
    room_field = "session_id"  # the request field (a path variable on every WebSocket path) naming the room
    position_field: str | None = None  # a request field carrying the resume position, if the request has one

    def __init__(self, log: RoomLog) -> None:
        self.log = log
        self._downstream: tuple[Step, ...] | None = None

    def serve(self, call: Call) -> None:
        """This call is delivered from the log: the upstream's own copies are appended, not relayed."""
        call.values[self.name] = 0

    def appended(self, call: Call) -> int:
        """The highest sequence this call appended (0: none): the door delivers up to it before ending."""
        value = call.values.get(self.name)
        return value if isinstance(value, int) else 0

    def take_position(self, request: Message) -> int:
        """The resume position a request carries, cleared from it (the upstream is not asked to replay
        what the log delivers); 0 when it carries none."""
        if self.position_field is None:
            return 0
        value = int(getattr(request, self.position_field))
        request.ClearField(self.position_field)
        return value

    async def head(self, room: str) -> int:
        try:
            return await self.log.head(room)
        except RoomLogError as exc:
            raise room_error(exc) from None

    async def follow(self, call: Call, room: str, after: int) -> AsyncGenerator[Delivered | Gap, None]:
        """The room after ``after``: the backlog then live entries, each through the response hooks
        downstream of this step; a gap as ``Gap``. Ends only by cancellation or an error (GatewayError)."""
        try:
            async with self.log.subscribe(room, after) as sub:
                async for item in sub:
                    if isinstance(item, Gap):
                        yield item
                    else:
                        yield Delivered(item.seq, await self._deliver(call, item))
        except RoomLogError as exc:
            raise room_error(exc) from None

    async def _deliver(self, call: Call, entry: Entry) -> bytes | None:
        plan = call.plan
        hooks = self._downstream
        if hooks is None:  # one bound step per plan: computed once
            chain = plan.response_hooks
            hooks = self._downstream = chain[chain.index(self) + 1 :] if self in chain else chain
        raw = stamped(entry.payload, entry.seq)
        if not hooks:
            return raw
        view = MessageView(raw, plan.response_cls, from_upstream=True)
        for step in hooks:
            await step.on_response(call, view)
            if view.dropped:
                return None
        return view.raw


class _Watch(_Source):
    """WatchRoom: the WebSocket room path follows the log; the upstream's WatchRoom is only opened as
    the session's access check. gRPC and REST still relay the upstream's stream (see the protocol doc)."""

    position_field = "after_sequence"


class _Append(_Source):
    """SendMessage: the accepted message goes into the log; the response carries the log's sequence."""

    async def on_response(self, call: Call, view: MessageView) -> None:
        serving = self.name in call.values  # delivered from the log: the reader gets it from there
        try:
            response: Any = view.message
        except Refused:
            # Not a message the fan-out can store. Relayed as it came (the gateway forwarded the
            # upstream's bytes before this step existed; the fan-out fails no call but for the log);
            # on a call delivered from the log it cannot be delivered, so the call fails instead.
            if serving:
                raise
            return
        if not response.HasField("message"):
            return
        message = response.message
        stored = type(message)()
        stored.CopyFrom(message)
        stored.ClearField("sequence")
        key = append_key(message.message_id) if message.message_id else None
        try:
            seq = await self.log.append(message.session_id, stored.SerializeToString(), key=key)
        except RoomLogError as exc:
            raise room_error(exc) from None
        if serving:
            call.values[self.name] = max(self.appended(call), seq)
            view.drop()
            return
        message.sequence = seq
        view.replace(response)


class _Talk(_Append):
    """Chat: each message of the stream is appended (once, by its id, however many streams see it);
    on the WebSocket chat path the stream is then delivered from the log."""
