"""Settings of what the gateway tells its operators: structured logs, OpenTelemetry traces and
Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gateway.config._types import Section

__all__ = ["LogSettings", "MetricsSettings", "TracingSettings"]


class LogSettings(Section):
    """Structured logs: one JSON object per line on stderr, every line passing the redaction layer."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    # One access line per call at info; off only for benchmarks that measure logging apart.
    access: bool = True
    # Extra metadata keys / message field names to redact, beyond authorization headers, tokens and
    # the fields the protos mark phi or scan.
    redact_keys: tuple[str, ...] = ()
    # Salt of the hash that replaces redacted values (equal values hash equal within one salt, so a
    # clinician can follow one player across lines without seeing who it is). Empty: a random salt per
    # process. Set it from a secret (TTA_GATEWAY__LOG__HASH_SALT) to correlate across processes.
    hash_salt: str = ""


class TracingSettings(Section):
    """OpenTelemetry traces. Correlation ids (X-Request-Id, traceparent) flow whatever the exporter."""

    exporter: Literal["none", "console", "otlp"] = "none"
    # Ratio of new traces recorded (parent-based: a caller's sampled flag is honoured).
    sampling_ratio: Annotated[float, Field(ge=0, le=1)] = 1.0
    # OTLP/gRPC collector endpoint, used when exporter is otlp (needs the `otlp` extra installed).
    otlp_endpoint: str = "http://127.0.0.1:4317"
    service_name: str = "tta-gateway"


class MetricsSettings(Section):
    """Prometheus metrics, served at /metrics on the admin port."""

    enabled: bool = True
    # Upper bounds (seconds) of the call duration histograms.
    duration_buckets: tuple[float, ...] = (
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    )
