"""The call: what every door makes of its transport, and all the policy chain ever sees.

A door (gRPC, REST, WebSocket) turns what arrived into a ``Call`` — the route, the door's name, the
caller's metadata (header names already mapped to gRPC metadata keys), the caller's deadline, the
request as raw bytes (or a stream of them) — and nothing else. The chain's steps read and write the
call: the principal, metadata for the upstream, headers for the client, the deadline. Messages are
seen through a ``MessageView``: raw bytes until a step asks for the decoded message, re-encoded only
when a step changed it (docs/architecture.md, principle 3: pass-through by default).

Example::

    >>> call = plan.open(Door.GRPC, [("x-request-id", "r1")], caller_timeout=None)
    >>> call.request = b"\\n\\x02hi"
    >>> view = MessageView(call.request, EchoRequest)
    >>> view.message.text          # decoded on first use
    'hi'
    >>> view.replace(EchoRequest(text="ho")); view.raw
    b'\\n\\x02ho'
"""

from __future__ import annotations

import enum
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError, Message

from gateway.errors import Refused

if TYPE_CHECKING:
    from gateway.chain.chain import RoutePlan
    from gateway.telemetry.calls import CallScope

Metadata = tuple[tuple[str, str | bytes], ...]


class Door(enum.Enum):
    """How the call came in (the ``tta.door`` of metrics, spans and the access line)."""

    GRPC = "grpc"
    HTTP = "http"
    WEBSOCKET = "websocket"


@dataclass(slots=True)
class Principal:
    """Who is calling, once an identity step has said so (issue 9 fills it; empty until then)."""

    subject: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    session_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    patients: frozenset[str] = frozenset()  # the players a therapist is assigned to (the issuer says)
    token_id: str | None = None  # the token's jti: what a revocation names
    expires_at: float | None = None  # the token's exp (seconds since the epoch): a long call ends there


class MessageView:
    """One message on its way through the chain: raw bytes, decoded on first use.

    A step may read ``message``, replace it (``replace``), or drop it (``drop``: a stream message that
    must not reach the other side, the call going on). Refusing the whole call is raising ``Refused``.
    """

    __slots__ = ("_cls", "_from_upstream", "_message", "_raw", "changed", "dropped")

    def __init__(
        self, raw: bytes, cls: type[Message], message: Message | None = None, *, from_upstream: bool = False
    ) -> None:
        self._raw: bytes | None = raw
        self._cls = cls
        self._message = message
        self._from_upstream = from_upstream
        self.changed = False
        self.dropped = False

    @property
    def message(self) -> Message:
        if self._message is None:
            try:
                self._message = self._cls.FromString(self._raw or b"")
            except DecodeError:
                name = self._cls.DESCRIPTOR.full_name
                if self._from_upstream:  # the upstream broke its contract: not the caller's fault
                    raise Refused(
                        grpc.StatusCode.INTERNAL,
                        f"the upstream answered bytes that are not a {name}",
                        reason="MALFORMED_UPSTREAM_MESSAGE",
                    ) from None
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the message is not a valid {name}",
                    reason="MALFORMED_MESSAGE",
                ) from None
        return self._message

    def replace(self, message: Message) -> None:
        self._message = message
        self._raw = None
        self.changed = True

    def drop(self) -> None:
        self.dropped = True

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            assert self._message is not None
            self._raw = self._message.SerializeToString()
        return self._raw


@dataclass(frozen=True, slots=True)
class Reply:
    """A step's own answer to the call (the upstream is not called): the response message(s), raw."""

    messages: tuple[bytes, ...]
    initial: Metadata = ()
    trailing: Metadata = ()


@dataclass(frozen=True, slots=True)
class Response:
    """A unary answer: the response message, raw, with the upstream's metadata."""

    payload: bytes
    initial: Metadata = ()
    trailing: Metadata = ()


class Call:
    """One call in flight, door-neutral. Made by ``RoutePlan.open``; ended once by ``finish``."""

    __slots__ = (
        "deadline",
        "door",
        "label",
        "metadata",
        "plan",
        "principal",
        "request",
        "request_message",
        "requests",
        "response_metadata",
        "route",
        "scope",
        "upstream_metadata",
        "values",
    )

    def __init__(
        self,
        plan: RoutePlan,
        door: Door,
        metadata: Metadata,
        deadline: float | None,
        scope: CallScope,
        label: str,
    ) -> None:
        self.plan = plan
        self.route = plan.route
        self.door = door
        self.metadata = metadata  # the caller's, as the door mapped it: read-only for steps
        self.deadline = deadline  # absolute, time.monotonic(); None: no deadline
        self.scope = scope
        self.label = label
        self.principal: Principal | None = None
        # Filled by the metadata step, added to by others; the correlation ids are added last.
        self.upstream_metadata: list[tuple[str, str | bytes]] = []
        # To the client with the response headers (gRPC initial metadata / HTTP Grpc-Metadata-*).
        self.response_metadata: list[tuple[str, str | bytes]] = list(scope.response_metadata)
        self.request: bytes = b""  # unary request, raw
        self.request_message: Message | None = None  # the same, decoded, when the door already has it
        self.requests: AsyncIterator[bytes] | None = None  # client stream, raw
        self.values: dict[str, Any] = {}  # per-call scratch space of steps, by step name

    def time_remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def finish(self, code: grpc.StatusCode) -> None:
        """End the call once: the steps' ``after`` hooks, then metrics, access line and spans. Doors call
        it before the status reaches the client, so what the client sees has been recorded."""
        self.plan.finish(self, code)
