"""ASGI for the gateway's HTTP apps (the HTTP door, the admin endpoints): the protocol's types, the
lifespan answer, and writing responses: headers from metadata, trailers when negotiated, whole
responses and ``google.rpc.Status`` errors, and the end of a stream.

Trailers, as grpc-gateway's runtime sends them: headers named ``Grpc-Trailer-<key>``, or, when the
client sent ``TE: trailers`` and the server implements the ASGI ``http.response.trailers`` extension
(uvicorn's zttp protocol over HTTP/2, ``http.http2``), real HTTP trailers of the same names after the
body (see :func:`send_whole` and :func:`end_body`). Once a start message says ``trailers: True`` the
trailers message must follow, or the ASGI server resets the stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from google.protobuf import any_pb2

from gateway.errors import GatewayError
from transcoder import streaming
from transcoder.status import Code, error_info, http_status, status_body

Scope = MutableMapping[str, Any]
Message_ = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message_]]
Send = Callable[[Message_], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRAILERS_EXTENSION = "http.response.trailers"  # ASGI HTTP spec, "Extensions"


async def answer_lifespan(receive: Receive, send: Send) -> None:
    """The ASGI lifespan protocol for an app with nothing to set up or tear down (the gateway owns its
    resources): acknowledge start-up and shutdown, then return."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower-case bytes), or None."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` that adds ``extra`` headers to the response start."""
    if not extra:
        return send

    async def wrapped(message: Message_) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return wrapped


def trailers_negotiated(scope: Scope) -> bool:
    """Whether trailing metadata goes out as real HTTP trailers: the server implements the ASGI
    ``http.response.trailers`` extension (uvicorn's zttp protocol does over HTTP/2) and the client
    said it accepts trailers, ``TE: trailers`` (RFC 9110 section 10.1.4: without it a server SHOULD
    NOT send trailer fields the client needs). Over HTTP/2, TE may carry nothing but ``trailers``
    (RFC 9113 section 8.2.2); over HTTP/1.1 it is a list of codings with parameters.

    >>> trailers_negotiated({"extensions": {"http.response.trailers": {}}, "headers": [(b"te", b"trailers")]})
    True
    >>> trailers_negotiated({"extensions": {}, "headers": [(b"te", b"trailers")]})
    False
    """
    if _TRAILERS_EXTENSION not in (scope.get("extensions") or {}):
        return False
    for key, value in scope["headers"]:
        if key.lower() == b"te":
            for coding in value.split(b","):
                if coding.partition(b";")[0].strip().lower() == b"trailers":
                    return True
    return False


def response_headers(
    own: Iterable[tuple[str, Any]], initial: Any, trailing: Any = ()
) -> list[tuple[bytes, bytes]]:
    """The gateway's own response metadata (the call's ids, as plain headers), the upstream's initial
    metadata as ``Grpc-Metadata-*``, and ``trailing`` metadata (when it travels as headers) as
    ``Grpc-Trailer-*``."""
    headers = [(k.encode(), v.encode()) for k, v in own if isinstance(v, str)]
    for key, value in initial or ():
        if isinstance(value, str) and not key.startswith("grpc-"):
            headers.append((f"grpc-metadata-{key}".encode(), value.encode("latin-1", "replace")))
    headers.extend(trailer_fields(trailing))
    return headers


def trailer_fields(trailing: Any) -> list[tuple[bytes, bytes]]:
    """Trailing metadata as ``grpc-trailer-<key>`` fields, the same names whether they travel as
    headers or as HTTP trailers (grpc-gateway's runtime does the same). ``grpc-*`` keys (the status is
    the HTTP status and body already) and binary ``-bin`` values are not carried."""
    return [
        (f"grpc-trailer-{key}".encode(), value.encode("latin-1", "replace"))
        for key, value in trailing or ()
        if isinstance(value, str) and not key.startswith("grpc-")
    ]


def stream_start(fmt: streaming.StreamFormat, headers: list[tuple[bytes, bytes]], trailers: bool) -> Message_:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", fmt.content_type.encode()), (b"cache-control", b"no-store"), *headers],
        "trailers": trailers,
    }


async def end_body(send: Send, last: bytes, fields: list[tuple[bytes, bytes]], trailers: bool) -> None:
    """The last body message and, when the start said ``trailers: True``, the trailers message the
    ASGI server then waits for (without it uvicorn resets the HTTP/2 stream)."""
    await send({"type": "http.response.body", "body": last, "more_body": False})
    if trailers:
        await send({"type": "http.response.trailers", "headers": fields, "more_trailers": False})


async def send_whole(
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    fields: list[tuple[bytes, bytes]],
    trailers: bool,
) -> None:
    """A response whose trailing metadata (``fields``) is known before it starts: a unary answer, an
    error. Negotiated trailers carry the fields after the body, announced by a ``Trailer`` header
    (RFC 9110 section 6.6.2), and without Content-Length (an HTTP/1.1 server that carried trailers
    would need chunked framing, RFC 9112 section 7.1.2; HTTP/2 frames the body itself); otherwise
    the fields are headers."""
    if trailers:
        names = b", ".join(dict.fromkeys(name for name, _ in fields))
        announce = [(b"trailer", names)] if names else []
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, *announce],
                "trailers": True,
            }
        )
    else:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode()), *fields],
            }
        )
    await end_body(send, body, fields, trailers)


async def send_status(
    send: Send,
    err: GatewayError,
    own: Iterable[tuple[str, Any]],
    *,
    extra: Iterable[tuple[bytes, bytes]] = (),
    trailers: bool = False,
) -> None:
    """The one rendering of an error on the HTTP door: the HTTP status from ``transcoder.status``'s
    table, a ``google.rpc.Status`` JSON body with the details, the call's ids (``own``), the headers
    and trailers the error carries (an upstream's), sent as trailers when ``trailers`` was negotiated."""
    details = err.packed_details()
    code = Code(err.code.value[0])
    if code is Code.UNAUTHENTICATED:
        extra = [*extra, (b"www-authenticate", bearer_challenge(details))]
    await send_whole(
        send,
        http_status(code, details),
        [(b"content-type", b"application/json"), *extra, *response_headers(own, err.initial)],
        status_body(code, err.message, details),
        trailer_fields(err.trailing),
        trailers,
    )


_BEARER_ERRORS = frozenset({"invalid_request", "invalid_token", "insufficient_scope"})


def bearer_challenge(details: Iterable[any_pb2.Any]) -> bytes:
    """``WWW-Authenticate`` for a 401 (RFC 6750 section 3): the Bearer scheme, and the error code an
    ``ErrorInfo`` names in its ``bearer_error`` metadata (``invalid_token`` ...). Never a description:
    what was wrong with a token is the gateway's to log (redacted), not a client's to read.

    >>> bearer_challenge(())
    b'Bearer realm="tta"'
    """
    info = error_info(details)
    error = info.metadata.get("bearer_error") if info is not None else None
    if error in _BEARER_ERRORS:
        return f'Bearer realm="tta", error="{error}"'.encode()
    return b'Bearer realm="tta"'
