"""Server streams over HTTP: the format chosen from ``Accept``, and the bytes of each frame. Pure.

Formats (content negotiation, RFC 9110 §12.5.1, by media type, ignoring q-values of 0):

- ``application/x-ndjson`` (also ``application/jsonl``): one JSON message per line. The default when
  the client states no preference (``*/*`` or no ``Accept``), as grpc-gateway streams newline-delimited.
- ``text/event-stream``: Server-Sent Events; each message an ``event: message`` with ``data:``; an error
  after the first message is ``event: error`` with the ``google.rpc.Status`` JSON.
- ``application/json``: one JSON array; an error after the first message ends the array with an
  ``{"error": Status}`` element, so the body is still valid JSON.

In NDJSON an error after the first message is a final line ``{"error": Status}``.

Example::

    >>> negotiate("text/event-stream")
    <StreamFormat.SSE: 'text/event-stream'>
    >>> StreamFormat.NDJSON.frame(b'{"a":1}', first=True)
    b'{"a":1}\\n'
"""

from __future__ import annotations

import enum


class StreamFormat(enum.Enum):
    NDJSON = "application/x-ndjson"
    SSE = "text/event-stream"
    JSON_ARRAY = "application/json"

    @property
    def content_type(self) -> str:
        return self.value + ("; charset=utf-8" if self is not StreamFormat.NDJSON else "")

    def frame(self, message_json: bytes, first: bool) -> bytes:
        """The bytes that carry one message."""
        if self is StreamFormat.NDJSON:
            return message_json + b"\n"
        if self is StreamFormat.SSE:
            return b"event: message\ndata: " + message_json + b"\n\n"
        return (b"[" if first else b",") + message_json

    def error(self, status_json: bytes, first: bool) -> bytes:
        """The bytes that carry an error arriving after the response started."""
        wrapped = b'{"error":' + status_json + b"}"
        if self is StreamFormat.NDJSON:
            return wrapped + b"\n"
        if self is StreamFormat.SSE:
            return b"event: error\ndata: " + status_json + b"\n\n"
        return (b"[" if first else b",") + wrapped + b"]"

    def end(self, first: bool) -> bytes:
        """The bytes that close a stream that ended well (``first``: no message was sent)."""
        if self is StreamFormat.JSON_ARRAY:
            return b"[]" if first else b"]"
        return b""


_BY_TYPE = {
    "application/x-ndjson": StreamFormat.NDJSON,
    "application/jsonl": StreamFormat.NDJSON,
    "application/json-seq": StreamFormat.NDJSON,
    "text/event-stream": StreamFormat.SSE,
    "application/json": StreamFormat.JSON_ARRAY,
}


def negotiate(accept: str | None) -> StreamFormat | None:
    """The format for an ``Accept`` header; None when it admits none of them (the door answers 406)."""
    if not accept or not accept.strip():
        return StreamFormat.NDJSON
    best: tuple[float, int, StreamFormat] | None = None
    for order, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        fmt = _BY_TYPE.get(media) or (StreamFormat.NDJSON if media in ("*/*", "application/*") else None)
        if fmt is not None and (best is None or q > best[0]):
            best = (q, order, fmt)
    return None if best is None else best[2]
