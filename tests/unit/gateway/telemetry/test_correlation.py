"""Correlation ids: W3C traceparent parsing and request id minting, pure."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.telemetry.correlation import correlate, parse_traceparent, valid_request_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def counter_bytes() -> object:
    counter = itertools.count(1)
    return lambda n: next(counter).to_bytes(n, "big")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"00-{TRACE}-{SPAN}-01", (TRACE, SPAN, True)),
        (f"00-{TRACE}-{SPAN}-00", (TRACE, SPAN, False)),
        (f"00-{TRACE}-{SPAN}-03", (TRACE, SPAN, True)),  # other flag bits are ignored
        (f"  00-{TRACE}-{SPAN}-01 ", (TRACE, SPAN, True)),
        (f"01-{TRACE}-{SPAN}-01-future-field", (TRACE, SPAN, True)),  # a later version may add fields
        (f"00-{TRACE}-{SPAN}-01-extra", None),  # but version 00 may not
        (f"ff-{TRACE}-{SPAN}-01", None),  # version ff is forbidden
        (f"00-{'0' * 32}-{SPAN}-01", None),  # all-zero trace id
        (f"00-{TRACE}-{'0' * 16}-01", None),  # all-zero parent id
        (f"00-{TRACE.upper()}-{SPAN}-01", None),  # upper-case hex is not allowed
        (f"00-{TRACE[:-1]}-{SPAN}-01", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_traceparent(header: str | None, expected: tuple[str, str, bool] | None) -> None:
    parsed = parse_traceparent(header)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.trace_id, parsed.parent_id, parsed.sampled) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("r-123", True),
        ("6f1c2a9e-3c1d-4f7a-9d3e-2b8f1c0a9e11", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        (None, False),
        ("has space", False),
        ("line\nbreak", False),
        ('{"json": "injection"}', False),
        ("ünïcode", False),
    ],
)
def test_valid_request_id(value: str | None, ok: bool) -> None:
    assert valid_request_id(value) is ok


def test_keeps_the_callers_ids_and_mints_a_new_span() -> None:
    c = correlate("r-1", f"00-{TRACE}-{SPAN}-01", counter_bytes())  # type: ignore[arg-type]
    assert c.request_id == "r-1"
    assert c.trace_id == TRACE
    assert c.parent_id == SPAN
    assert c.span_id != SPAN
    assert re.fullmatch(r"[0-9a-f]{16}", c.span_id)
    assert c.traceparent == f"00-{TRACE}-{c.span_id}-01"


def test_keeps_the_callers_sampling_decision() -> None:
    c = correlate(None, f"00-{TRACE}-{SPAN}-00", counter_bytes())  # type: ignore[arg-type]
    assert c.sampled is False
    assert c.traceparent.endswith("-00")


def test_mints_everything_for_a_bare_call() -> None:
    c = correlate(None, None, counter_bytes())  # type: ignore[arg-type]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", c.request_id)
    assert re.fullmatch(r"[0-9a-f]{32}", c.trace_id)
    assert c.trace_id.strip("0")
    assert c.parent_id is None
    assert c.sampled is True


def test_replaces_a_malformed_request_id() -> None:
    c = correlate("bad id\n", None, counter_bytes())  # type: ignore[arg-type]
    assert c.request_id != "bad id\n"
    assert valid_request_id(c.request_id)


def test_never_mints_an_all_zero_id() -> None:
    zeros_then_ones = iter([b"\x00" * 8, b"\x01" * 8, b"\x00" * 16, b"\x02" * 16, b"\x03" * 16])
    c = correlate("r", None, lambda n: next(zeros_then_ones))
    assert c.span_id == "01" * 8
    assert c.trace_id.strip("0")


@given(st.text(max_size=80))
def test_parse_never_raises_and_round_trips(header: str) -> None:
    parsed = parse_traceparent(header)
    if parsed is not None:
        again = parse_traceparent(
            f"00-{parsed.trace_id}-{parsed.parent_id}-{'01' if parsed.sampled else '00'}"
        )
        assert again == parsed
