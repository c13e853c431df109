"""GatewayMetrics: what a scrape sees after calls, read back through Prometheus' own text parser."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import MetricsSettings
from gateway.telemetry.metrics import DEFAULT_BUCKETS, GatewayMetrics

GET = "/tta.v1.PlayerService/GetPlayer"
UPSTREAM = "tta.v1.PlayerService"


def scrape(metrics: GatewayMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text-format scrape, keyed by (sample name, labels)."""
    body, content_type = metrics.exposition()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_calls_are_counted_by_door_method_and_code() -> None:
    metrics = GatewayMetrics()
    route = metrics.route("grpc", GET, UPSTREAM)
    for code in ("OK", "OK", "OK", "UNAVAILABLE"):
        route.started()
        route.finished(code, 0.003, upstream_seconds=0.002)
    http = metrics.route("http", "/v1/players/{player_id}", UPSTREAM)
    http.started()
    http.finished("NOT_FOUND", 0.02)  # refused before the upstream: no upstream observation

    s = scrape(metrics)
    assert sample(s, "tta_gateway_requests_total", door="grpc", method=GET, code="OK") == 3
    assert sample(s, "tta_gateway_requests_total", door="grpc", method=GET, code="UNAVAILABLE") == 1
    assert (
        sample(
            s, "tta_gateway_requests_total", door="http", method="/v1/players/{player_id}", code="NOT_FOUND"
        )
        == 1
    )
    assert sample(s, "tta_gateway_upstream_requests_total", upstream=UPSTREAM, code="OK") == 3
    assert sample(s, "tta_gateway_upstream_requests_total", upstream=UPSTREAM, code="UNAVAILABLE") == 1
    assert (
        "tta_gateway_upstream_requests_total",
        frozenset({("upstream", UPSTREAM), ("code", "NOT_FOUND")}),
    ) not in s
    assert (
        sample(s, "tta_gateway_upstream_request_duration_seconds_count", upstream=UPSTREAM, method=GET) == 4
    )
    assert sample(s, "tta_gateway_request_duration_seconds_sum", door="grpc", method=GET) == pytest.approx(
        0.012
    )


def test_durations_land_in_the_right_buckets() -> None:
    metrics = GatewayMetrics(buckets=(0.01, 0.1, 1.0))
    route = metrics.route("grpc", GET, UPSTREAM)
    for seconds in (0.005, 0.01, 0.05, 0.5, 3.0):  # a bound is inclusive: 0.01 counts in le="0.01"
        route.started()
        route.finished("OK", seconds)

    s = scrape(metrics)
    buckets = {
        le: sample(s, "tta_gateway_request_duration_seconds_bucket", door="grpc", method=GET, le=le)
        for le in ("0.01", "0.1", "1.0", "+Inf")
    }
    assert buckets == {"0.01": 2, "0.1": 3, "1.0": 4, "+Inf": 5}
    assert sample(s, "tta_gateway_request_duration_seconds_count", door="grpc", method=GET) == 5


def test_in_flight_rises_while_calls_run_and_returns_to_zero() -> None:
    metrics = GatewayMetrics()
    a = metrics.route("grpc", GET, UPSTREAM)
    b = metrics.route("grpc", "/tta.v1.PlayerService/ListPlayers", UPSTREAM)
    a.started()
    b.started()
    b.started()
    assert sample(scrape(metrics), "tta_gateway_requests_in_flight", door="grpc") == 3
    a.finished("OK", 0.001)
    b.finished("CANCELLED", 0.001)
    b.finished("OK", 0.001)
    assert sample(scrape(metrics), "tta_gateway_requests_in_flight", door="grpc") == 0


def test_route_metrics_are_cached_per_route() -> None:
    metrics = GatewayMetrics()
    assert metrics.route("grpc", GET, UPSTREAM) is metrics.route("grpc", GET, UPSTREAM)
    assert metrics.route("grpc", GET, UPSTREAM) is not metrics.route("http", GET, UPSTREAM)


def test_health_route_table_and_build_info() -> None:
    metrics = GatewayMetrics()
    metrics.set_upstream_health("tta.v1.PlayerService", True)
    metrics.set_upstream_health("tta.v1.ChatService", True)
    metrics.set_upstream_health("tta.v1.ChatService", False)
    metrics.set_route_table(services=11, methods=64)

    s = scrape(metrics)
    assert sample(s, "tta_gateway_upstream_healthy", upstream="tta.v1.PlayerService") == 1
    assert sample(s, "tta_gateway_upstream_healthy", upstream="tta.v1.ChatService") == 0
    assert sample(s, "tta_gateway_route_table_services") == 11
    assert sample(s, "tta_gateway_route_table_methods") == 64
    (build,) = [v for (name, _), v in s.items() if name == "tta_gateway_build_info"]
    assert build == 1


@pytest.mark.parametrize(
    ("door", "method", "upstream", "code", "error"),
    [
        ("ftp", GET, UPSTREAM, "OK", "door"),
        ("grpc", "", UPSTREAM, "OK", "must not be empty"),
        ("grpc", GET, UPSTREAM, "200", "not a gRPC status name"),
        ("grpc", GET, UPSTREAM, "ok", "not a gRPC status name"),
    ],
)
def test_unbounded_label_values_are_rejected(
    door: str, method: str, upstream: str, code: str, error: str
) -> None:
    metrics = GatewayMetrics()

    def call() -> None:
        route = metrics.route(door, method, upstream)
        route.started()
        route.finished(code, 0.001)

    with pytest.raises(ValueError, match=error):
        call()


def test_openmetrics_when_asked_for() -> None:
    metrics = GatewayMetrics()
    body, content_type = metrics.exposition("application/openmetrics-text; version=1.0.0, text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_extension_point_registers_on_the_same_registry() -> None:
    metrics = GatewayMetrics()
    shed = metrics.counter("tta_gateway_shed_total", "Calls shed under load.", ("priority",))
    breaker = metrics.gauge("tta_gateway_breaker_open", "1 when the breaker is open.", ("upstream",))
    frame = metrics.histogram("tta_gateway_ws_frame_bytes", "WebSocket frame sizes.", buckets=(64, 1024))
    shed.labels("gameplay").inc(2)
    breaker.labels(UPSTREAM).set(1)
    frame.observe(100)

    s = scrape(metrics)
    assert sample(s, "tta_gateway_shed_total", priority="gameplay") == 2
    assert sample(s, "tta_gateway_breaker_open", upstream=UPSTREAM) == 1
    assert sample(s, "tta_gateway_ws_frame_bytes_bucket", le="1024.0") == 1


@pytest.mark.parametrize(
    ("kind", "name", "labels", "error"),
    [
        ("counter", "limits_rejected_total", (), "must start with 'tta_gateway_'"),
        ("counter", "tta_gateway_Limits_total", (), "must start with"),
        ("counter", "tta_gateway_rejected", (), "must end with _total"),
        ("gauge", "tta_gateway_sessions_total", (), "only counters end with _total"),
        ("histogram", "tta_gateway_scan_count", (), "reserved sample suffixes"),
        ("gauge", "tta_gateway_sessions", ("player_id",), "unbounded"),
        ("gauge", "tta_gateway_sessions", ("path",), "unbounded"),
        ("gauge", "tta_gateway_sessions", ("le",), "not a valid label name"),
        ("gauge", "tta_gateway_sessions", ("door", "door"), "duplicate label"),
    ],
)
def test_extension_point_enforces_prometheus_conventions(
    kind: str, name: str, labels: tuple[str, ...], error: str
) -> None:
    metrics = GatewayMetrics()
    with pytest.raises(ValueError, match=error):
        getattr(metrics, kind)(name, "Some documentation.", labels)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("counter", "tta_gateway_requests_total"),  # a built-in family
        ("gauge", "tta_gateway_requests"),  # the counter's family name
        ("gauge", "tta_gateway_upstream_healthy"),
        ("histogram", "tta_gateway_request_duration_seconds"),
    ],
)
def test_extension_point_rejects_taken_names(kind: str, name: str) -> None:
    metrics = GatewayMetrics()
    with pytest.raises(ValueError, match="already registered"):
        getattr(metrics, kind)(name, "Again.", ())


def test_a_name_registered_twice_by_a_feature_is_rejected() -> None:
    metrics = GatewayMetrics()
    metrics.counter("tta_gateway_audit_events_total", "Audit events written.", ("kind",))
    with pytest.raises(ValueError, match="already registered"):
        metrics.counter("tta_gateway_audit_events_total", "Audit events written.", ("kind",))


def test_separate_gateways_have_separate_registries() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()  # would raise "Duplicated timeseries" if shared
    first.route("grpc", GET, UPSTREAM).finished("OK", 0.001)
    assert first.registry is not second.registry
    assert sample(scrape(first), "tta_gateway_requests_total", door="grpc", method=GET, code="OK") == 1
    assert (
        "tta_gateway_requests_total",
        frozenset({("door", "grpc"), ("method", GET), ("code", "OK")}),
    ) not in (scrape(second))


def test_a_registry_passed_in_that_already_holds_the_names_is_refused() -> None:
    registry = CollectorRegistry()
    GatewayMetrics(registry=registry)
    with pytest.raises(ValueError, match="registry refused"):
        GatewayMetrics(registry=registry)


@pytest.mark.parametrize("buckets", [(), (0.1, 0.1), (0.5, 0.1), (0, 1), (float("inf"),)])
def test_bad_buckets_are_rejected(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="buckets"):
        GatewayMetrics(buckets=buckets)


def test_default_buckets_match_the_config_default() -> None:
    assert MetricsSettings().duration_buckets == DEFAULT_BUCKETS
