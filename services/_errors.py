"""gRPC status errors of the reference services, and the one place they become statuses.

Servicer methods ``raise`` a :class:`ServiceError` built by one of the constructors below
(``not_found``, ``invalid_argument``, ...); :func:`translate_errors`, applied to every servicer class,
turns it into a real gRPC status with ``context.abort_with_status`` for both handler shapes used here
(coroutines for unary responses, async generators for streamed responses). Doing it in one wrapper lets
code that runs outside the handler's own frame (for example the reader task of a bidi stream) fail with
a precise status too.

``INVALID_ARGUMENT`` about a field carries a ``google.rpc.BadRequest`` detail naming it, so a client (or
the gateway's error table) can point at it without parsing the message; a request whose bytes do not
parse (:func:`malformed_request`, used by :mod:`services._decoding`) has no field to name, and carries
none. ``ABORTED`` carries a ``google.rpc.ErrorInfo`` whose ``reason`` a client can branch on.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services import _caller

__all__ = [
    "Context",
    "ServiceError",
    "aborted",
    "already_exists",
    "failed_precondition",
    "invalid_argument",
    "malformed_request",
    "not_found",
    "require",
    "translate_errors",
    "unauthenticated",
]


if TYPE_CHECKING:
    Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext  # what every servicer method receives


class ServiceError(Exception):
    """A failure a servicer reports to its caller as a gRPC status."""

    def __init__(self, code: grpc.StatusCode, message: str, details: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_status(self) -> grpc.Status:
        """The ``grpc.Status`` (with ``grpc-status-details-bin`` when there are details) to abort with."""
        packed = []
        for detail in self.details:
            wrapper = any_pb2.Any()
            wrapper.Pack(detail)
            packed.append(wrapper)
        proto = status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)
        return rpc_status.to_status(proto)


def not_found(kind: str, ident: str) -> ServiceError:
    """``NOT_FOUND`` naming the missing thing: ``player "pl_000007" not found``."""
    return ServiceError(grpc.StatusCode.NOT_FOUND, f'{kind} "{ident}" not found')


def invalid_argument(field: str, reason: str) -> ServiceError:
    """``INVALID_ARGUMENT`` naming the field, with a ``google.rpc.BadRequest`` field violation."""
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=reason)
    return ServiceError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{field}: {reason}",
        (error_details_pb2.BadRequest(field_violations=[violation]),),
    )


def malformed_request(type_name: str) -> ServiceError:
    """``INVALID_ARGUMENT`` for request bytes that do not parse: ``the request is not a valid tta.v1.X``.

    It says nothing of the parser's exception: the caller sent the bytes and needs no Python names.
    """
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid {type_name}")


def already_exists(message: str) -> ServiceError:
    """``ALREADY_EXISTS`` with a message saying what clashes (never echoing personal data)."""
    return ServiceError(grpc.StatusCode.ALREADY_EXISTS, message)


def failed_precondition(message: str) -> ServiceError:
    """``FAILED_PRECONDITION``: the request is fine but the resource is in the wrong state for it."""
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, message)


def aborted(
    message: str, *, reason: str, domain: str, metadata: Mapping[str, str] | None = None
) -> ServiceError:
    """``ABORTED`` (HTTP 409) with a ``google.rpc.ErrorInfo``: ``reason`` is UPPER_SNAKE_CASE, stable
    for clients to branch on; ``domain`` names the service that decided it (``"diagnostics.tta"``)."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=dict(metadata or {}))
    return ServiceError(grpc.StatusCode.ABORTED, message, (info,))


def not_owner(kind: str) -> ServiceError:
    """``PERMISSION_DENIED`` (HTTP 403) with ``ErrorInfo`` reason ``NOT_OWNER``, the gateway's own
    answer when a request names another player: a player reaches only their own records."""
    info = error_details_pb2.ErrorInfo(reason="NOT_OWNER", domain="tta.v1")
    return ServiceError(grpc.StatusCode.PERMISSION_DENIED, f"You can only reach your own {kind}.", (info,))


def unauthenticated(message: str) -> ServiceError:
    """``UNAUTHENTICATED``: credentials or tokens were missing, unknown, revoked or expired."""
    return ServiceError(grpc.StatusCode.UNAUTHENTICATED, message)


def require(field: str, value: object) -> None:
    """Raise ``INVALID_ARGUMENT`` for ``field`` when ``value`` is empty (``""``, 0, unset message)."""
    if not value:
        raise invalid_argument(field, "is required")


_C = TypeVar("_C", bound=type)


def _wrap(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def streaming(self: Any, request: Any, context: Context) -> AsyncIterator[Any]:
            _caller.CURRENT.set(_caller.caller(context))
            try:
                async for response in method(self, request, context):
                    yield response
            except ServiceError as err:
                await context.abort_with_status(err.to_status())  # type: ignore[attr-defined]  # missing in grpc-stubs

        return streaming

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: Context) -> Any:
        _caller.CURRENT.set(_caller.caller(context))  # this call's own task: no reset needed
        try:
            return await method(self, request, context)
        except ServiceError as err:
            await context.abort_with_status(err.to_status())  # type: ignore[attr-defined]  # missing in grpc-stubs

    return unary


def translate_errors(cls: _C) -> _C:
    """Class decorator: every public ``async`` method of a servicer reports ``ServiceError`` as a status."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member):
            setattr(cls, name, _wrap(member))
    return cls
