"""The gateway's exceptions: one root, each carrying the gRPC status it ends a call with.

Expected outcomes of matching and deciding are results, not exceptions (docs/architecture.md, "A pure core"); these are for calls
that end in an error and for start-up failures. Every error a call can end with is a ``GatewayError``:
a gRPC code, a message, and ``google.rpc`` details — the one error currency of every door
(docs/architecture.md, "One error currency"). Each door renders it in exactly one function:
``gateway.doors.grpc_door.abort_with`` (status, message, ``grpc-status-details-bin`` and trailers),
``gateway.doors.http_door`` through ``transcoder.status`` (HTTP status and ``google.rpc.Status`` JSON).
The tree::

    GatewayError                      (INTERNAL unless told) a call ends with this status
    ├── ConfigError                   (FAILED_PRECONDITION) bad settings, descriptors or routes at start-up
    ├── Refused                       (any code) the gateway itself refuses: bad input, policy, deadline
    ├── UpstreamUnavailable           (UNAVAILABLE) no endpoint of the upstream could take the call
    └── UpstreamStatus                (the upstream's) an upstream's own status, relayed unchanged

An ``UpstreamStatus`` carries the upstream's raw ``grpc-status-details-bin`` and its metadata so that
nothing the upstream said is lost; the gateway's own errors carry detail *messages* (ErrorInfo,
RequestInfo, BadRequest, ...) packed once, when rendered.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2

# google.rpc.ErrorInfo.domain of the errors the gateway itself raises.
ERROR_DOMAIN = "gateway.tta"

Metadata = tuple[tuple[str, str | bytes], ...]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose: a call ends with ``code`` and ``message``."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        details: Sequence[Message] = (),
        initial: Metadata = (),
        trailing: Metadata = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = tuple(details)
        self.initial = initial  # response headers the error carries (an upstream's, before it failed)
        self.trailing = trailing  # trailing metadata (an upstream's), without grpc-status-details-bin

    def details_bin(self) -> bytes | None:
        """``grpc-status-details-bin``: a ``google.rpc.Status`` holding the details, or None."""
        if not self.details:
            return None
        packed = []
        for detail in self.details:
            any_ = any_pb2.Any()
            any_.Pack(detail)
            packed.append(any_)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)
        out: bytes = status.SerializeToString()
        return out

    def packed_details(self) -> Sequence[any_pb2.Any]:
        """The details as ``Any`` messages (what the HTTP door renders)."""
        raw = self.details_bin()
        if not raw:
            return ()
        try:
            return tuple(status_pb2.Status.FromString(raw).details)
        except DecodeError:  # an upstream's undecodable details: the code and message still go out
            return ()

    def with_request_id(self, request_id: str) -> GatewayError:
        """Add ``RequestInfo`` (once), so a client can quote the id whatever door it used."""
        if any(isinstance(d, error_details_pb2.RequestInfo) for d in self.details):
            return self
        self.details = (*self.details, error_details_pb2.RequestInfo(request_id=request_id))
        return self


class ConfigError(GatewayError):
    """Start-up (or a reload) cannot continue: names the source (file or variable), the key and the reason."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Refused(GatewayError):
    """The gateway refuses the call itself: a status, a message naming what was wrong, and details.

    ``reason`` becomes an ``ErrorInfo`` (domain ``gateway.tta``) so clients can branch on it without
    parsing the message; ``field`` becomes a ``BadRequest`` field violation.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        info: dict[str, str] | None = None,
        details: Sequence[Message] = (),
    ) -> None:
        extra: list[Message] = []
        if reason is not None:
            extra.append(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=info or {}))
        if field is not None:
            extra.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
                    ]
                )
            )
        super().__init__(message, code=code, details=(*extra, *details))
        self.reason = reason
        self.field = field


class UpstreamUnavailable(GatewayError):
    """No endpoint of the service's upstream could take the call (none connected)."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, service: str, upstream: str, targets: str) -> None:
        super().__init__(
            f"upstream {upstream!r} for {service} is unavailable (targets: {targets}): "
            "no connection could be made",
            details=(
                error_details_pb2.ErrorInfo(
                    reason="UPSTREAM_UNAVAILABLE",
                    domain=ERROR_DOMAIN,
                    metadata={"service": service, "upstream": upstream},
                ),
            ),
        )


class UpstreamStatus(GatewayError):
    """The upstream ended the call with this status: relayed unchanged (message, details, metadata)."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        raw_details: bytes | None,
        initial: Metadata = (),
        trailing: Metadata = (),
    ) -> None:
        super().__init__(message, code=code, initial=initial, trailing=trailing)
        self.raw_details = raw_details

    def details_bin(self) -> bytes | None:
        return self.raw_details

    def with_request_id(self, request_id: str) -> GatewayError:
        return self  # the upstream's details pass unchanged; the id rides in the metadata
