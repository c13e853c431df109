"""The one table from gRPC status to HTTP: status code, and the ``google.rpc.Status`` JSON body.

Every failure inside the gateway is a gRPC status (docs/architecture.md, principle 4); the HTTP door converts it
here and nowhere else. The mapping is grpc-gateway's (``runtime/errors.go``) with one TTA addition:
an ``ErrorInfo`` reason can name a more precise HTTP status than its code (content that fails the
safety policy is 422, a privacy or consent refusal is 451).

Example::

    >>> http_status(Code.NOT_FOUND, ())
    404
    >>> http_status(Code.FAILED_PRECONDITION, [ErrorInfo(reason="CONSENT_REQUIRED", ...)])
    451
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterable, Sequence

import orjson
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2


class Code(enum.IntEnum):
    """gRPC status codes (the transcoder does not import grpc)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 499,  # client closed request (nginx's convention, as grpc-gateway uses)
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}

# ErrorInfo reasons (domain-independent) that carry a more precise HTTP status than their code.
REASON_STATUS: dict[str, int] = {
    # the HTTP door's own refusals, before any call: HTTP's words for what gRPC has no code for
    "METHOD_NOT_ALLOWED": 405,
    "NOT_ACCEPTABLE": 406,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "CONTENT_SAFETY_VIOLATION": 422,
    "PRIVACY_RESTRICTED": 451,
    "CONSENT_REQUIRED": 451,
}


def error_info(details: Iterable[any_pb2.Any]) -> error_details_pb2.ErrorInfo | None:
    """The first ``google.rpc.ErrorInfo`` among ``details``, or None."""
    for detail in details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def http_status(code: int, details: Iterable[any_pb2.Any]) -> int:
    """The HTTP status for a gRPC code and its details (an unknown code is 500)."""
    info = error_info(details)
    if info is not None and info.reason in REASON_STATUS:
        return REASON_STATUS[info.reason]
    try:
        return HTTP_STATUS[Code(code)]
    except ValueError:
        return 500


def parse_details(details_bin: bytes | None) -> Sequence[any_pb2.Any]:
    """The details of a ``grpc-status-details-bin`` trailer; undecodable bytes give none."""
    if not details_bin:
        return ()
    try:
        return tuple(status_pb2.Status.FromString(details_bin).details)
    except DecodeError:
        return ()


def status_body(code: int, message: str, details: Sequence[any_pb2.Any] = ()) -> bytes:
    """``google.rpc.Status`` as JSON (proto3 mapping: ``code``, ``message``, ``details`` with ``@type``).

    A detail whose type is not known to this process is rendered as ``{"@type": ..., "value": base64}``
    rather than dropped, so nothing the upstream said is lost.
    """
    rendered = []
    for detail in details:
        try:
            rendered.append(json_format.MessageToDict(detail))
        except (TypeError, KeyError, json_format.Error):
            rendered.append(
                {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode("ascii")}
            )
    body: dict[str, object] = {"code": int(code), "message": message}
    if rendered:
        body["details"] = rendered
    return orjson.dumps(body)
