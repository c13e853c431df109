"""Correlation ids: ``X-Request-Id`` and W3C trace-context ``traceparent``, pure.

Every call keeps the caller's ids when they are well-formed and gets fresh ones when they are not,
so a malformed or hostile header can neither break tracing nor inject text into logs.

Example::

    >>> c = correlate(None, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", fixed_bytes)
    >>> c.trace_id, c.parent_id, c.sampled
    ('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', True)
    >>> c.traceparent  # the gateway's own span is the parent the upstream sees
    '00-4bf92f3577b34da6a3ce929d0e0e4736-<c.span_id>-01'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# W3C Trace Context §3.2: version-traceid-parentid-flags, lower-case hex. A future version may append
# fields after a dash; version ff is forbidden, and all-zero ids are invalid.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# A request id is an opaque token; visible ASCII only, bounded, so it is safe in any log line or header.
_REQUEST_ID = re.compile(r"[!-~]{1,128}")

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class TraceParent:
    trace_id: str
    parent_id: str
    sampled: bool


def parse_traceparent(value: str | None) -> TraceParent | None:
    """The caller's trace context, or None when absent or malformed (then a new trace starts)."""
    if not value:
        return None
    m = _TRACEPARENT.fullmatch(value.strip())
    if m is None:
        return None
    version, trace_id, parent_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, parent_id, bool(int(flags, 16) & 0x01))


def valid_request_id(value: str | None) -> bool:
    return bool(value) and _REQUEST_ID.fullmatch(value or "") is not None


@dataclass(frozen=True, slots=True)
class Correlation:
    """The ids of one call as the gateway serves it."""

    request_id: str
    trace_id: str
    span_id: str  # the gateway's span: the parent the upstream sees
    parent_id: str | None  # the caller's span, when it sent a traceparent
    sampled: bool

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def correlate(request_id: str | None, traceparent: str | None, random_bytes: RandomBytes) -> Correlation:
    """Keep the caller's well-formed ids, mint the missing ones; a new trace is sampled."""
    parent = parse_traceparent(traceparent)
    span_id = _nonzero_hex(random_bytes, 8)
    rid = keep_or_mint_request_id(request_id, random_bytes)
    if parent is None:
        return Correlation(rid, _nonzero_hex(random_bytes, 16), span_id, None, True)
    return Correlation(rid, parent.trace_id, span_id, parent.parent_id, parent.sampled)


def keep_or_mint_request_id(request_id: str | None, random_bytes: RandomBytes) -> str:
    """The caller's request id when it is well-formed, else a new UUIDv4."""
    return request_id if request_id is not None and valid_request_id(request_id) else _uuid4(random_bytes)


def _nonzero_hex(random_bytes: RandomBytes, n: int) -> str:
    while True:
        value = random_bytes(n).hex()
        if value.strip("0"):
            return value


def _uuid4(random_bytes: RandomBytes) -> str:
    """An RFC 9562 version-4 UUID string from the given randomness."""
    b = bytearray(random_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
