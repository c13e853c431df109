"""When the HTTP door sends trailing metadata as real HTTP trailers: the server offers the ASGI
``http.response.trailers`` extension and the client sent ``TE: trailers``. Pure: scope in, bool out."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.doors._http_responses import trailers_negotiated

OFFERED: dict[str, Any] = {"http.response.trailers": {}}


@pytest.mark.parametrize(
    ("extensions", "headers", "expected"),
    [
        (OFFERED, [(b"te", b"trailers")], True),
        (OFFERED, [(b"te", b"Trailers")], True),  # t-codings are case-insensitive (RFC 9110 10.1.4)
        (OFFERED, [(b"te", b"gzip;q=0.5, trailers")], True),  # HTTP/1.1: a list of codings
        (OFFERED, [(b"te", b"gzip"), (b"te", b"trailers")], True),  # the field split over two lines
        (OFFERED, [(b"TE", b"trailers")], True),
        (OFFERED, [(b"te", b"gzip")], False),
        (OFFERED, [(b"te", b"x-trailers")], False),  # a token, not a substring
        (OFFERED, [], False),  # the client did not ask: trailer metadata stays in headers
        ({}, [(b"te", b"trailers")], False),  # the server cannot send trailers (httptools, h11)
        (None, [(b"te", b"trailers")], False),
        ({"http.response.early_hint": {}}, [(b"te", b"trailers")], False),
    ],
)
def test_trailers_are_negotiated_by_the_server_extension_and_the_te_header(
    extensions: dict[str, Any] | None, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    scope: dict[str, Any] = {"type": "http", "headers": headers}
    if extensions is not None:
        scope["extensions"] = extensions
    assert trailers_negotiated(scope) is expected
