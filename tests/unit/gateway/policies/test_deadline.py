"""The deadline step's decision, pure: the caller's deadline, the route's default, the cap, a spent
deadline refused; and the ``grpc-timeout`` wire format."""

from __future__ import annotations

import grpc
import pytest

from gateway.errors import Refused
from gateway.policies.deadline import effective_deadline, parse_grpc_timeout

NOW = 1000.0


@pytest.mark.parametrize(
    ("caller", "default", "cap", "expected"),
    [
        (None, 30.0, 300.0, NOW + 30),  # no caller deadline: the default
        (NOW + 5, 30.0, 300.0, NOW + 5),  # the caller's own, shorter than the default
        (NOW + 900, 30.0, 300.0, NOW + 300),  # the caller's own, capped
        (None, None, 300.0, None),  # a stream without default: the cap gives it none
        (NOW + 900, None, None, NOW + 900),  # no cap: the caller's stands
        (None, None, None, None),
        (None, 600.0, 300.0, NOW + 300),  # (config refuses default > cap; the cap still wins)
        (NOW + 0.002, None, None, NOW + 0.002),  # just above a millisecond: forwarded
    ],
)
def test_the_effective_deadline(
    caller: float | None, default: float | None, cap: float | None, expected: float | None
) -> None:
    assert effective_deadline(caller, default, cap, NOW) == expected


@pytest.mark.parametrize("caller", [NOW, NOW - 1, NOW + 0.0009, NOW + 1e-9])
def test_a_spent_deadline_is_refused_every_time(caller: float) -> None:
    with pytest.raises(Refused) as info:
        effective_deadline(caller, 30.0, 300.0, NOW)
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert info.value.reason == "DEADLINE_SPENT"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5S", 5.0),
        ("250m", 0.25),
        ("1n", 1e-9),
        ("0S", 0.0),
        ("2M", 120.0),
        ("1H", 3600.0),
        ("99999999u", 99.999999),
    ],
)
def test_grpc_timeout_values(value: str, seconds: float) -> None:
    assert parse_grpc_timeout(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "5", "S", "5s", "123456789S", "-1S", "1.5S", "5 S", "5SS"])
def test_a_malformed_grpc_timeout_names_the_header(value: str) -> None:
    with pytest.raises(Refused) as info:
        parse_grpc_timeout(value)
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.field == "Grpc-Timeout"
