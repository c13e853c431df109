"""Deadlines, the same on every door: the caller's own, else the route's default, never past its cap.

Per route (``deadlines`` in the configuration: a method's setting beats its service's, which beats the
global one): ``default_seconds`` for calls with one response, ``stream_default_seconds`` for server
streams (0: none, so a watch may stay open), and ``max_seconds`` capping every deadline a call has, the
caller's included (0: no cap). As Envoy's ``grpc_timeout_header_max``, the cap shortens deadlines; it
does not give one to a call that has none (a stream whose default is none stays open until it ends). A gRPC caller that sends no ``grpc-timeout`` gets the default just as a REST
client without ``Grpc-Timeout`` does.

A deadline already spent (less than a millisecond left, e.g. ``Grpc-Timeout: 0S`` or ``1n``) is refused
with DEADLINE_EXCEEDED here, every time, rather than racing the upstream call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import grpc

from gateway.chain.call import Call, Reply
from gateway.chain.chain import Step
from gateway.config import DeadlineSettings
from gateway.errors import Refused
from gateway.routes import Route

_SPENT = 0.001  # seconds: less than this left cannot carry a call to an upstream and back
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def parse_grpc_timeout(value: str) -> float:
    """``grpc-timeout`` in the gRPC wire format (at most 8 digits and a unit) as seconds.

    >>> parse_grpc_timeout("250m")
    0.25
    """
    m = _TIMEOUT.fullmatch(value.strip())
    if m is None:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Grpc-Timeout {value[:20]!r}: expected up to 8 digits and a unit H, M, S, m, u or n",
            field="Grpc-Timeout",
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def effective_deadline(
    caller: float | None, default: float | None, cap: float | None, now: float
) -> float | None:
    """The absolute deadline a call gets (pure; times in seconds on one monotonic clock).

    >>> effective_deadline(None, 30.0, 300.0, now=100.0)   # no caller deadline: the default
    130.0
    >>> effective_deadline(100.0 + 900, 30.0, 300.0, now=100.0)  # the caller's, capped
    400.0
    >>> effective_deadline(None, None, 300.0, now=100.0) is None  # the cap gives none where none is
    True

    Raises ``Refused`` (DEADLINE_EXCEEDED) when less than a millisecond is left.
    """
    deadline = caller
    if deadline is None and default is not None:
        deadline = now + default
    if cap is not None and deadline is not None and deadline > now + cap:
        deadline = now + cap
    if deadline is not None and deadline - now < _SPENT:
        raise Refused(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "the call's deadline expired before it could be forwarded",
            reason="DEADLINE_SPENT",
        )
    return deadline


class Deadline(Step):
    name = "deadline"

    def __init__(
        self,
        settings: DeadlineSettings,
        default: float | None = None,
        cap: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.default = default
        self.cap = cap
        self.clock = clock  # the clock Call.deadline is on

    def for_route(self, route: Route) -> Step | None:
        default, cap = self.settings.for_route(route.path, route.service, route.server_streaming)
        return Deadline(self.settings, default, cap, self.clock)

    def decide(self, call: Call) -> Reply | None:
        call.deadline = effective_deadline(call.deadline, self.default, self.cap, self.clock())
        return None
