"""The wording of configuration errors: one reason per kind of mistake, every problem at once, and
secret-looking values never echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import Settings, load_settings
from gateway.errors import ConfigError
from tests.unit.gateway.config._support import NO_ENV, problems, write

# --- one reason per kind of mistake -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "grpc: {prot: 1}",
            ["grpc.prot: unknown key (known keys: host, port, max_message_bytes, reflection)"],
        ),
        ("grpc: {port: 70000}", ["grpc.port: must be between 0 and 65535 (0 picks a free port) (got 70000)"]),
        ("http: {port: eighty}", ['http.port: must be an integer (got "eighty")']),
        ("admin: {port: -1}", ["admin.port: must be between 0 and 65535 (0 picks a free port) (got -1)"]),
        ("grpc: {max_message_bytes: 0}", ["grpc.max_message_bytes: must be greater than 0 (got 0)"]),
        ("grpc: {reflection: maybe}", ['grpc.reflection: must be true or false (got "maybe")']),
        ("http: {http2: h2c}", ['http.http2: must be true or false (got "h2c")']),
        ("grpc: 5", ["grpc: must be a mapping (got 5)"]),
        (
            "log: {level: verbose}",
            ['log.level: must be one of debug, info, warning or error (got "verbose")'],
        ),
        (
            "shutdown: {grace_period_seconds: -1}",
            ["shutdown.grace_period_seconds: must be at least 0 (got -1)"],
        ),
        (
            "shutdown: {drain_seconds: 301}",
            ["shutdown.drain_seconds: must be at most 300 (got 301)"],
        ),
        (
            "redis: {url: 'http://cache:6379'}",
            ['redis.url: must start with redis://, rediss:// or unix:// (got "http://cache:6379")'],
        ),
        (
            "upstreams: [{services: [a.B], targets: [h:1], health_check_interval_seconds: 0}]",
            ["upstreams[0].health_check_interval_seconds: must be greater than 0 (got 0)"],
        ),
        ("upstreams: [{targets: [h:1]}]", ["upstreams[0].services: required key is missing"]),
        ("upstreams: [{services: [], targets: [h:1]}]", ["upstreams[0].services: must not be empty"]),
        ("upstreams: [{services: [a.B], targets: []}]", ["upstreams[0].targets: must not be empty"]),
        (
            "upstreams: [{services: a.B, targets: [h:1]}]",
            ['upstreams[0].services: must be a list (got "a.B")'],
        ),
        (
            "upstreams: [{services: [a.B], targets: [h:1]}, {services: [a.B], targets: [k:2], name: other}]",
            ['upstreams: service "a.B" is claimed by both upstreams[0] and upstreams[1]'],
        ),
        (
            "upstreams: [{services: [a.B], targets: [h:1], name: x},"
            " {services: [c.D], targets: [k:2], name: x}]",
            ['upstreams: upstreams[0] and upstreams[1] are both named "x"'],
        ),
    ],
)
def test_file_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert problems(excinfo) == [f"{path}: {line}" for line in expected]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "grpc: {port: 70000, prot: 1}\nlog: {level: loud}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert [line.split(": ")[1] for line in problems(excinfo)] == ["grpc.port", "grpc.prot", "log.level"]


# --- secrets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected", "secret"),
    [
        (
            {"redis": {"url": "http://user:hunter2@cache:6379"}},
            'redis.url: must start with redis://, rediss:// or unix:// (got "http://user:<redacted>@cache:6379")',
            "hunter2",
        ),
        (
            {"descriptors": [{"file": "a.binpb", "api_token": "hunter2"}]},
            "descriptors[0]: must be exactly one of {file: PATH} or {reflection: true} "
            '(got {"file": "a.binpb", "api_token": "<redacted>"})',
            "hunter2",
        ),
        (
            {"redis": {"password": "hunter2"}},
            "redis.password: unknown key (known keys: url)",
            "hunter2",
        ),
        (
            {"grpc": {"tls_key": 12345}},
            "grpc.tls_key: unknown key (known keys: host, port, max_message_bytes, reflection)",
            "12345",
        ),
        (
            {"redis": {"secret": {"nested": "hunter2"}}},
            "redis.secret: unknown key (known keys: url)",
            "hunter2",
        ),
        (
            {"upstreams": {"token": "hunter2"}},
            'upstreams: must be a list (got {"token": "<redacted>"})',
            "hunter2",
        ),
    ],
)
def test_secret_looking_values_are_never_echoed(data: dict[str, Any], expected: str, secret: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping(data, source="gateway.yaml")
    assert problems(excinfo) == [f"gateway.yaml: {expected}"]
    assert secret not in str(excinfo.value)


def test_secret_from_environment_is_never_echoed() -> None:
    environ = {"TTA_GATEWAY__REDIS__URL": "http://:s3cr3t@cache:6379"}
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ=environ)
    assert "s3cr3t" not in str(excinfo.value)
    assert str(excinfo.value).startswith("environment TTA_GATEWAY__REDIS__URL: redis.url: must start with")
