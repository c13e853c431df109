"""The ``deadlines`` section: how long a call may take, whichever door it came through.

A call's deadline is the caller's own (``grpc-timeout`` on either door) or, when the caller sends none,
a default; either way no longer than the cap. Defaults and caps are global, per service
(``"tta.v1.ChatService"``) or per method (``"/tta.v1.ChatService/Chat"``)::

    deadlines:
      default_seconds: 30        # unary and client-streaming calls whose caller sends no deadline
      stream_default_seconds: 0  # server- and bidi-streaming calls whose caller sends none; 0 = none
      max_seconds: 300           # cap on any call's deadline, the caller's own included; 0 = no cap
      routes:
        "/tta.v1.PlayerService/GetPlayer": {default_seconds: 5}
        "tta.v1.ChatService": {default_seconds: 60, max_seconds: 3600}

Each value is looked up on its own: the method's entry, else its service's, else the global key. Route
keys are checked here by shape only; whether they name a method the gateway fronts is checked against
the route table when it is compiled.
"""

from __future__ import annotations

import re
from typing import Annotated, NamedTuple

from pydantic import AfterValidator, Field, model_validator

from gateway.config._errors import Invalid, dotted
from gateway.config._types import SERVICE_NAME, Section

__all__ = ["MAX_DEADLINE_SECONDS", "DeadlineSettings", "RouteDeadline"]

# One day: far above any call the TTA services answer; a longer value is a unit mistake (minutes or
# milliseconds written as seconds). 0, not a large number, is how to say "none".
MAX_DEADLINE_SECONDS = 86_400

DeadlineSeconds = Annotated[float, Field(ge=0, le=MAX_DEADLINE_SECONDS, allow_inf_nan=False)]

# "/pkg.Service/Method", as a gRPC request's :path (the gRPC HTTP/2 protocol), or "pkg.Service".
_METHOD_KEY = re.compile(rf"/{SERVICE_NAME}/[A-Za-z_]\w*", re.ASCII)
_SERVICE_KEY = re.compile(SERVICE_NAME, re.ASCII)


def _check_route_key(key: str) -> str:
    if not (_METHOD_KEY.fullmatch(key) or _SERVICE_KEY.fullmatch(key)):
        raise Invalid(
            "is not a method or a service (like /tta.v1.PlayerService/GetPlayer or tta.v1.ChatService)",
            show="before",
        )
    return key


RouteKey = Annotated[str, AfterValidator(_check_route_key)]


class RouteDeadline(Section):
    """A method's or a service's own default and cap; an unset value is inherited (method → service →
    global), and 0 means none, as in :class:`DeadlineSettings`."""

    default_seconds: DeadlineSeconds | None = None
    max_seconds: DeadlineSeconds | None = None

    @model_validator(mode="after")
    def _sets_something(self) -> RouteDeadline:
        if self.default_seconds is None and self.max_seconds is None:
            raise Invalid("sets neither default_seconds nor max_seconds", show="none")
        return self


class _Resolved(NamedTuple):
    """A value as a method gets it, and where it came from, to name it in errors."""

    seconds: float
    key: str  # default_seconds, stream_default_seconds or max_seconds
    route: str | None  # the routes entry that set it; None: the global key

    @property
    def name(self) -> str:
        return self.key if self.route is None else dotted(("routes", self.route, self.key))


class DeadlineSettings(Section):
    """Deadline defaults and caps, in seconds; 0 means none (no default deadline, no cap)."""

    default_seconds: DeadlineSeconds = 30.0
    stream_default_seconds: DeadlineSeconds = 0.0
    max_seconds: DeadlineSeconds = 300.0
    routes: dict[RouteKey, RouteDeadline] = Field(default_factory=dict)

    def for_route(
        self, path: str, service: str, streaming_response: bool
    ) -> tuple[float | None, float | None]:
        """The default deadline and the cap of one method, in seconds; None means none.

        ``path`` is the method's ``/pkg.Service/Method``, ``service`` its ``pkg.Service``, and
        ``streaming_response`` whether the server streams (server or bidirectional streaming), which
        picks ``stream_default_seconds`` over ``default_seconds`` as the global default. The default
        is never above the cap (validation refuses such settings).

        >>> d = DeadlineSettings.model_validate({"routes": {"tta.v1.ChatService": {"max_seconds": 3600}}})
        >>> d.for_route("/tta.v1.ChatService/Chat", "tta.v1.ChatService", streaming_response=True)
        (None, 3600.0)
        >>> d.for_route("/tta.v1.PlayerService/GetPlayer", "tta.v1.PlayerService", False)
        (30.0, 300.0)
        """
        default, cap = self._resolve(path, service, streaming_response)
        return (default.seconds or None), (cap.seconds or None)

    def _resolve(self, path: str | None, service: str, streaming: bool) -> tuple[_Resolved, _Resolved]:
        default = (
            _Resolved(self.stream_default_seconds, "stream_default_seconds", None)
            if streaming
            else _Resolved(self.default_seconds, "default_seconds", None)
        )
        cap = _Resolved(self.max_seconds, "max_seconds", None)
        # The service's entry first, so that the method's, applied after it, wins.
        for key in (service, path):
            entry = self.routes.get(key) if key is not None else None
            if entry is not None and entry.default_seconds is not None:
                default = _Resolved(entry.default_seconds, "default_seconds", key)
            if entry is not None and entry.max_seconds is not None:
                cap = _Resolved(entry.max_seconds, "max_seconds", key)
        return default, cap

    @model_validator(mode="after")
    def _defaults_within_caps(self) -> DeadlineSettings:
        # Every method resolves like the global keys, its service's entry or its own entry, so checking
        # those (both kinds of method each) covers every pair for_route can return.
        scopes: list[tuple[str | None, str]] = [(None, "")]
        for key in self.routes:
            scopes.append((key, key[1:].rpartition("/")[0]) if key.startswith("/") else (None, key))
        problems: list[str] = []
        for path, service in scopes:
            for streaming in (False, True):
                default, cap = self._resolve(path, service, streaming)
                if not (default.seconds and cap.seconds and default.seconds > cap.seconds):
                    continue
                problem = f"{default.name} ({default.seconds:g}) is above {cap.name} ({cap.seconds:g})"
                scope = path or service
                if scope and (cap.route == scope) != (default.route == scope):
                    # One of the two is inherited: the fix is the route's own value for it.
                    inherited = "default" if cap.route == scope else "cap"
                    own = "default_seconds" if cap.route == scope else "max_seconds"
                    where = dotted(("routes", scope))
                    problem += f" ({where} inherits that {inherited}; give it its own {own})"
                if problem not in problems:
                    problems.append(problem)
        if problems:
            raise Invalid("; ".join(problems), show="none")
        return self
