"""Stream format negotiation and framing."""

from __future__ import annotations

import json

import pytest

from transcoder.streaming import StreamFormat, negotiate


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, StreamFormat.NDJSON),
        ("", StreamFormat.NDJSON),
        ("*/*", StreamFormat.NDJSON),
        ("application/x-ndjson", StreamFormat.NDJSON),
        ("text/event-stream", StreamFormat.SSE),
        ("application/json", StreamFormat.JSON_ARRAY),
        ("text/html, text/event-stream;q=0.9", StreamFormat.SSE),
        ("application/json;q=0.5, text/event-stream", StreamFormat.SSE),
        ("text/event-stream;q=0, application/json", StreamFormat.JSON_ARRAY),
        ("text/html", None),
    ],
)
def test_negotiate(accept: str | None, fmt: StreamFormat | None) -> None:
    assert negotiate(accept) is fmt


def _body(fmt: StreamFormat, messages: list[bytes], error: bytes | None) -> bytes:
    out = b""
    for i, m in enumerate(messages):
        out += fmt.frame(m, first=i == 0)
    if error is not None:
        out += fmt.error(error, first=not messages)
    else:
        out += fmt.end(first=not messages)
    return out


def test_json_array_is_valid_json_even_with_a_mid_stream_error() -> None:
    fmt = StreamFormat.JSON_ARRAY
    assert json.loads(_body(fmt, [], None)) == []
    assert json.loads(_body(fmt, [b'{"a":1}', b'{"a":2}'], None)) == [{"a": 1}, {"a": 2}]
    assert json.loads(_body(fmt, [b'{"a":1}'], b'{"code":14}')) == [{"a": 1}, {"error": {"code": 14}}]


def test_ndjson_lines() -> None:
    lines = _body(StreamFormat.NDJSON, [b'{"a":1}'], b'{"code":14}').splitlines()
    assert [json.loads(x) for x in lines] == [{"a": 1}, {"error": {"code": 14}}]


def test_sse_events() -> None:
    body = _body(StreamFormat.SSE, [b'{"a":1}'], b'{"code":14}').decode()
    assert body == 'event: message\ndata: {"a":1}\n\nevent: error\ndata: {"code":14}\n\n'
