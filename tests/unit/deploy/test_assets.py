"""The Prometheus rules and the Grafana dashboard in deploy/ are well-formed and use only metrics the
gateway really exports: a renamed metric must fail here, not silently empty a panel or disarm an alert."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.telemetry.metrics import GatewayMetrics

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
RULES = DEPLOY / "prometheus" / "tta-gateway-rules.yaml"
DASHBOARD = DEPLOY / "grafana" / "tta-gateway-dashboard.json"

# A metric name on its own, not a piece of a recording rule's level:metric:operation name.
METRIC = re.compile(r"(?<![\w:])tta_gateway_[a-z0-9_]*[a-z0-9](?![\w:])")
# A recording rule's name (level:metric:operation, https://prometheus.io/docs/practices/rules/).
RECORDED = re.compile(r"(?<![\w:])[a-z_]+:tta_gateway_[a-z0-9_]+:[a-z0-9_]+(?![\w:])")
SAMPLE_SUFFIX = re.compile(r"_(bucket|sum|count|created)$")


def rules() -> dict[str, Any]:
    loaded = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def all_rules() -> Iterator[dict[str, Any]]:
    for group in rules()["groups"]:
        yield from group["rules"]


def strings(node: object) -> Iterator[str]:
    """Every string in a JSON document: targets, template variable queries, descriptions."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def exported_families() -> set[str]:
    """Family names a fresh gateway exports, plus the names Prometheus selects them by."""
    body, _ = GatewayMetrics().exposition()
    names: set[str] = set()
    for family in text_string_to_metric_families(body.decode()):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def referenced(texts: Iterator[str]) -> set[str]:
    return {SAMPLE_SUFFIX.sub("", name) for text in texts for name in METRIC.findall(text)}


def rule_expressions() -> Iterator[str]:
    for rule in all_rules():
        yield rule["expr"]


def dashboard_queries() -> Iterator[str]:
    return strings(dashboard())


@pytest.mark.parametrize(
    ("asset", "texts"),
    [("rules", rule_expressions), ("dashboard", dashboard_queries)],
    ids=["rules", "dashboard"],
)
def test_every_referenced_metric_is_exported(asset: str, texts: Any) -> None:
    names = referenced(texts())
    assert names, f"the {asset} reference no tta_gateway_ metric at all: is the extraction broken?"
    assert names - exported_families() == set(), f"the {asset} use metrics the gateway does not export"


def test_the_assets_cover_the_core_families() -> None:
    used = referenced(rule_expressions()) | referenced(dashboard_queries())
    assert {
        "tta_gateway_requests_total",
        "tta_gateway_request_duration_seconds",
        "tta_gateway_requests_in_flight",
        "tta_gateway_upstream_healthy",
        "tta_gateway_upstream_request_duration_seconds",
    } <= used


def test_recorded_series_used_are_recorded_here() -> None:
    recorded = {rule["record"] for rule in all_rules() if "record" in rule}
    assert recorded, "expected recording rules"
    for name in recorded:
        assert RECORDED.fullmatch(name), f"{name} is not level:metric:operation"
        (metric,) = re.findall(r":(tta_gateway_[a-z0-9_]+):", name)
        assert metric.startswith(("tta_gateway_request", "tta_gateway_upstream")), name
    used = {name for text in rule_expressions() for name in RECORDED.findall(text)}
    used |= {name for text in dashboard_queries() for name in RECORDED.findall(text)}
    assert used - recorded == set()


def test_rules_file_is_well_formed() -> None:
    groups = rules()["groups"]
    assert [g["name"] for g in groups] == ["tta-gateway.recording", "tta-gateway.alerts"]
    alerts = [r for r in all_rules() if "alert" in r]
    assert {a["alert"] for a in alerts} >= {
        "TTAGatewayHighErrorRatio",
        "TTAGatewayUpstreamUnhealthy",
        "TTAGatewayHighLatencyP99",
        "TTAGatewayDown",
    }
    for rule in all_rules():
        assert ("alert" in rule) != ("record" in rule), rule
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["expr"]
    for alert in alerts:
        assert re.fullmatch(r"\d+[smh]", alert["for"]), alert["alert"]
        assert alert["labels"]["severity"] in {"page", "warning", "info"}, alert["alert"]
        assert alert["annotations"]["summary"].strip(), alert["alert"]
    unhealthy = next(a for a in alerts if a["alert"] == "TTAGatewayUpstreamUnhealthy")
    assert unhealthy["for"] == "1m"


def test_error_codes_are_the_server_failures() -> None:
    (errors,) = [r for r in all_rules() if r.get("record") == "door_method:tta_gateway_request_errors:rate5m"]
    (codes,) = re.findall(r'code=~"([A-Z_|]+)"', errors["expr"])
    assert set(codes.split("|")) == {"UNAVAILABLE", "INTERNAL", "UNKNOWN", "DATA_LOSS", "DEADLINE_EXCEEDED"}


def test_dashboard_is_well_formed() -> None:
    board = dashboard()
    assert board["title"]
    assert board["uid"] == "tta-gateway"
    assert isinstance(board["schemaVersion"], int)
    panels = board["panels"]
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["title"]
        assert panel["type"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no targets"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    variables = {v["name"] for v in board["templating"]["list"]}
    used = {m for text in strings(panels) for m in re.findall(r"\$(\w+)", text)} - {"__rate_interval"}
    assert used <= variables, f"undefined dashboard variables: {used - variables}"
