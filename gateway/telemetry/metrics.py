"""Prometheus metrics: one registry per gateway, the call metrics every door records, and the extension
point later features (limits, shedding, breakers, WebSocket, safety events, audit) register through.

Families (names and units follow https://prometheus.io/docs/practices/naming/)::

    tta_gateway_requests_total                      counter    {door, method, code}
    tta_gateway_request_duration_seconds            histogram  {door, method}
    tta_gateway_requests_in_flight                  gauge      {door}
    tta_gateway_upstream_request_duration_seconds   histogram  {upstream, method}
    tta_gateway_upstream_requests_total             counter    {upstream, code}
    tta_gateway_upstream_healthy                    gauge      {upstream}           1 healthy, 0 not
    tta_gateway_route_table_services                gauge      {}
    tta_gateway_route_table_methods                 gauge      {}
    tta_gateway_build_info                          gauge      {version}            always 1
    process_*                                       the standard process collector (CPU, memory, fds)

Label values are bounded, because every distinct value is a time series held in memory by the gateway
and by Prometheus:

- ``door`` is one of :data:`DOORS` (``grpc``, ``http``, ``websocket``);
- ``method`` is a route-table method path (``/tta.v1.PlayerService/GetPlayer``) or an HTTP route
  *template* (``/v1/players/{player_id}``). Callers must never pass a raw request path, a query string,
  a user, player or session id, or anything else a client chooses;
- ``code`` is a gRPC status name (``OK``, ``UNAVAILABLE``, ... — :class:`grpc.StatusCode` names);
  anything else is rejected;
- ``upstream`` is a configured upstream's name.

The per-call path is :meth:`GatewayMetrics.route` once per route (cached), then
:meth:`RouteMetrics.started` / :meth:`RouteMetrics.finished` per call, which touch pre-bound children
only (no label lookups)::

    >>> metrics = GatewayMetrics()
    >>> m = metrics.route("grpc", "/tta.v1.PlayerService/GetPlayer", "tta.v1.PlayerService")
    >>> m.started()
    >>> m.finished("OK", 0.004, upstream_seconds=0.003)

Later features add their metrics to the same registry with :meth:`GatewayMetrics.counter`,
:meth:`~GatewayMetrics.gauge` and :meth:`~GatewayMetrics.histogram`, which enforce the ``tta_gateway_``
prefix, Prometheus naming and label rules, and reject a name that is already taken.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import choose_encoder

__all__ = ["DEFAULT_BUCKETS", "DOORS", "PREFIX", "GatewayMetrics", "RouteMetrics"]

PREFIX = "tta_gateway_"
DOORS = frozenset({"grpc", "http", "websocket"})
# Upper bounds in seconds; the same as MetricsSettings.duration_buckets' default (a test keeps them equal).
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

_CODES = frozenset(code.name for code in grpc.StatusCode)
_NAME = re.compile(r"tta_gateway_[a-z][a-z0-9_]*[a-z0-9]", re.ASCII)
_LABEL = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
# Suffixes Prometheus reserves for the samples of counters and histograms.
_RESERVED_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
# Labels that by their name would carry unbounded values; a metric must aggregate over them.
_UNBOUNDED_LABELS = frozenset(
    {"path", "url", "uri", "query", "user", "user_id", "player_id", "principal", "session_id",
     "request_id", "trace_id", "span_id", "ip", "client_ip"}
)  # fmt: skip


def _package_version() -> str:
    try:
        return version("tta-gateway")
    except PackageNotFoundError:
        return "unknown"


class RouteMetrics:
    """The metric children of one (door, method, upstream), bound once; per call a few µs.

    ``started()`` when a call is accepted, ``finished()`` exactly once when it ends, whatever the
    outcome (a ``try/finally`` in the door).
    """

    __slots__ = (
        "_code_children",
        "_duration",
        "_in_flight",
        "_method",
        "_metrics",
        "_upstream",
        "_upstream_code_children",
        "_upstream_duration",
        "door",
    )

    def __init__(self, metrics: GatewayMetrics, door: str, method: str, upstream: str) -> None:
        self._metrics = metrics
        self.door = door
        self._method = method
        self._upstream = upstream
        self._in_flight = metrics._in_flight.labels(door)
        self._duration = metrics._duration.labels(door, method)
        self._upstream_duration = metrics._upstream_duration.labels(upstream, method)
        # One child per status code seen, bound on first use: binding all 17 codes up front would
        # export 17 always-zero series per route.
        self._code_children: dict[str, Counter] = {}
        self._upstream_code_children: dict[str, Counter] = {}

    def started(self) -> None:
        self._in_flight.inc()

    def finished(self, code: str, seconds: float, upstream_seconds: float | None = None) -> None:
        """Record the end of a call: ``code`` is its gRPC status name, ``seconds`` its duration as the
        gateway saw it, ``upstream_seconds`` the time spent in the upstream call (``None`` when the call
        never reached the upstream, e.g. refused by a policy)."""
        self._in_flight.dec()
        counter = self._code_children.get(code)
        if counter is None:
            counter = self._code_children[code] = self._metrics._requests.labels(
                self.door, self._method, _checked_code(code)
            )
        counter.inc()
        self._duration.observe(seconds)
        if upstream_seconds is not None:
            self._upstream_duration.observe(upstream_seconds)
            counter = self._upstream_code_children.get(code)
            if counter is None:
                counter = self._upstream_code_children[code] = self._metrics._upstream_requests.labels(
                    self._upstream, code
                )
            counter.inc()


def _checked_code(code: str) -> str:
    if code not in _CODES:
        raise ValueError(f"code: {code!r} is not a gRPC status name (like 'OK' or 'UNAVAILABLE')")
    return code


class GatewayMetrics:
    """The gateway's metrics on its own :class:`CollectorRegistry` (never the process-global one, so
    tests and several gateways in one process do not collide)."""

    def __init__(
        self, buckets: Sequence[float] = DEFAULT_BUCKETS, registry: CollectorRegistry | None = None
    ) -> None:
        self.buckets = _checked_buckets(buckets)
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        self._names: set[str] = set()
        with self._registering("process_*"):
            ProcessCollector(registry=self.registry)
        self._requests = self.counter(
            "tta_gateway_requests_total",
            "Calls handled by the gateway, by door, method and final gRPC status code.",
            ("door", "method", "code"),
        )
        self._duration = self.histogram(
            "tta_gateway_request_duration_seconds",
            "Duration of calls as the gateway saw them, from acceptance to the last response byte.",
            ("door", "method"),
        )
        self._in_flight = self.gauge(
            "tta_gateway_requests_in_flight", "Calls accepted and not yet finished, by door.", ("door",)
        )
        self._upstream_duration = self.histogram(
            "tta_gateway_upstream_request_duration_seconds",
            "Duration of the upstream part of calls that reached an upstream.",
            ("upstream", "method"),
        )
        self._upstream_requests = self.counter(
            "tta_gateway_upstream_requests_total",
            "Calls that reached an upstream, by upstream and gRPC status code.",
            ("upstream", "code"),
        )
        self._upstream_healthy = self.gauge(
            "tta_gateway_upstream_healthy",
            "1 when at least one endpoint of the upstream passes its health check, else 0.",
            ("upstream",),
        )
        self._route_services = self.gauge(
            "tta_gateway_route_table_services", "Services in the loaded route table."
        )
        self._route_methods = self.gauge(
            "tta_gateway_route_table_methods", "Methods in the loaded route table."
        )
        self.gauge("tta_gateway_build_info", "The running gateway's version; always 1.", ("version",)).labels(
            _package_version()
        ).set(1)
        self._routes: dict[tuple[str, str, str], RouteMetrics] = {}

    # --- the call path ----------------------------------------------------------------------------

    def route(self, door: str, method: str, upstream: str) -> RouteMetrics:
        """The metrics of one route, bound on first use and cached.

        ``method`` must be a route-table method path or an HTTP route template, never a raw path.
        """
        key = (door, method, upstream)
        found = self._routes.get(key)
        if found is None:
            if door not in DOORS:
                raise ValueError(f"door: {door!r} is not one of {', '.join(sorted(DOORS))}")
            if not method or not upstream:
                raise ValueError("method and upstream must not be empty")
            found = self._routes[key] = RouteMetrics(self, door, method, upstream)
        return found

    def set_upstream_health(self, upstream: str, healthy: bool) -> None:
        self._upstream_healthy.labels(upstream).set(1 if healthy else 0)

    def set_route_table(self, services: int, methods: int) -> None:
        self._route_services.set(services)
        self._route_methods.set(methods)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the text format 0.0.4, or in OpenMetrics when ``accept`` (an HTTP Accept
        header) asks for ``application/openmetrics-text``; returns (body, content type)."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    # --- the extension point ----------------------------------------------------------------------

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """Register a counter; ``name`` starts with ``tta_gateway_`` and ends with ``_total``."""
        self._claim(name, documentation, labels, counter=True)
        with self._registering(name):
            return Counter(name, documentation, tuple(labels), registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """Register a gauge; ``name`` starts with ``tta_gateway_``."""
        self._claim(name, documentation, labels, counter=False)
        with self._registering(name):
            return Gauge(name, documentation, tuple(labels), registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """Register a histogram (``buckets`` default: the gateway's duration buckets); ``name`` starts
        with ``tta_gateway_`` and ends with its base unit (``_seconds``, ``_bytes``)."""
        bounds = self.buckets if buckets is None else _checked_buckets(buckets)
        self._claim(name, documentation, labels, counter=False)
        with self._registering(name):
            return Histogram(name, documentation, tuple(labels), registry=self.registry, buckets=bounds)

    @contextlib.contextmanager
    def _registering(self, name: str) -> Iterator[None]:
        # A registry passed in may already hold the name (another GatewayMetrics on it).
        try:
            yield
        except ValueError as exc:
            raise ValueError(f"metric {name!r}: the registry refused it ({exc})") from exc

    def _claim(self, name: str, documentation: str, labels: Sequence[str], *, counter: bool) -> None:
        """Check a new metric's name and labels, and reserve the name; ValueError on any problem."""
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"metric {name!r}: must start with {PREFIX!r} and continue in lower-case letters, "
                "digits and underscores"
            )
        if counter != name.endswith("_total"):
            raise ValueError(
                f"metric {name!r}: " + ("a counter's name must end with _total" if counter else
                                        "only counters end with _total")
            )  # fmt: skip
        if name.endswith(_RESERVED_SUFFIXES):
            raise ValueError(f"metric {name!r}: {', '.join(_RESERVED_SUFFIXES)} are reserved sample suffixes")
        if not documentation.strip():
            raise ValueError(f"metric {name!r}: documentation must not be empty")
        for label in labels:
            if not _LABEL.fullmatch(label) or label in ("le", "quantile"):
                raise ValueError(f"metric {name!r}: label {label!r} is not a valid label name")
            if label in _UNBOUNDED_LABELS:
                raise ValueError(
                    f"metric {name!r}: label {label!r} would carry unbounded values (ids, raw paths); "
                    "aggregate over it instead"
                )
        if len(set(labels)) != len(labels):
            raise ValueError(f"metric {name!r}: duplicate label names")
        # A counter's family is its name without _total: tta_gateway_x_total and tta_gateway_x collide.
        family = name.removesuffix("_total")
        if name in self._names or family in self._names:
            raise ValueError(f"metric {name!r} is already registered")
        self._names.update((name, family))


def _checked_buckets(buckets: Sequence[float]) -> tuple[float, ...]:
    bounds = tuple(float(b) for b in buckets)
    if not bounds:
        raise ValueError("buckets: must not be empty")
    if any(not math.isfinite(b) or b <= 0 for b in bounds):
        raise ValueError(f"buckets: must be finite and positive (got {list(bounds)})")
    if any(a >= b for a, b in itertools.pairwise(bounds)):
        raise ValueError(f"buckets: must be strictly increasing (got {list(bounds)})")
    return bounds
