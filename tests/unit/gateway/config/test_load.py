"""Loading settings: defaults, YAML files, the TTA `gateway:` section, environment overrides, and
errors that name the file or the variable a value came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import (
    FileDescriptorSource,
    ReflectionDescriptorSource,
    Settings,
    UpstreamSettings,
    load_settings,
)
from gateway.errors import ConfigError
from tests.unit.gateway.config._support import NO_ENV, problems, write

# --- defaults and sources ---------------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ=NO_ENV)
    assert settings == Settings()
    assert (settings.grpc.host, settings.grpc.port) == ("0.0.0.0", 50051)
    assert settings.grpc.max_message_bytes == 16 * 1024 * 1024
    assert settings.grpc.reflection is True
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8080)
    assert settings.http.http2 is False
    assert (settings.admin.host, settings.admin.port) == ("127.0.0.1", 9090)
    assert settings.redis.url is None
    assert settings.descriptors == ()
    assert settings.upstreams == ()
    assert settings.shutdown.grace_period_seconds == 10.0
    assert settings.shutdown.drain_seconds == 0.0
    assert settings.log.level == "info"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.grpc.port = 1


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n", "---\n"])
def test_empty_file_means_defaults(tmp_path: Path, text: str) -> None:
    assert load_settings(write(tmp_path, text), environ=NO_ENV) == Settings()


def test_yaml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
grpc: {port: 50052, reflection: false}
http: {host: 127.0.0.1, port: 8081}
redis: {url: "redis://cache:6379/0"}
upstreams:
  - services: [tta.v1.*]
    targets: ["10.0.0.7:50061", "[::1]:50061"]
    health_check_interval_seconds: 1.5
  - name: players
    services: [tta.v1.PlayerService, tta.v1.CharacterService]
    targets: [players.tta.svc:50061]
shutdown: {grace_period_seconds: 0}
log: {level: debug}
""",
    )
    settings = load_settings(path, environ=NO_ENV)
    assert settings.grpc == settings.grpc.model_copy(update={"port": 50052, "reflection": False})
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8081)
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.upstreams == (
        UpstreamSettings(
            name="tta.v1.*",
            services=("tta.v1.*",),
            targets=("10.0.0.7:50061", "[::1]:50061"),
            health_check_interval_seconds=1.5,
        ),
        UpstreamSettings(
            name="players",
            services=("tta.v1.PlayerService", "tta.v1.CharacterService"),
            targets=("players.tta.svc:50061",),
        ),
    )
    assert settings.shutdown.grace_period_seconds == 0
    assert settings.log.level == "debug"


def test_tta_config_gateway_section_only(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
database: {url: "postgres://x"}
player_service: {port: 7000, whatever: [1, 2]}
gateway:
  grpc: {port: 6000}
  log: {level: warning}
""",
        name="tta_config.yaml",
    )
    settings = load_settings(path, environ=NO_ENV)
    assert settings.grpc.port == 6000
    assert settings.log.level == "warning"


def test_tta_config_errors_name_the_gateway_section(tmp_path: Path) -> None:
    path = write(tmp_path, "other: 1\ngateway:\n  grpc: {port: 70000}\n", name="tta_config.yaml")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert problems(excinfo) == [
        f"{path}: gateway.grpc.port: must be between 0 and 65535 (0 picks a free port) (got 70000)"
    ]


def test_empty_gateway_section_means_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\nother: {a: 1}\n", name="tta_config.yaml")
    assert load_settings(path, environ=NO_ENV) == Settings()


def test_from_mapping() -> None:
    settings = Settings.from_mapping({"upstreams": [{"services": ["tta.v1.*"], "targets": ["h:50061"]}]})
    assert settings.upstreams[0].targets == ("h:50061",)
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping({"http": {"port": "x"}}, source="demo")
    assert problems(excinfo) == ['demo: http.port: must be an integer (got "x")']


# --- environment ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "read"),
    [
        ({"TTA_GATEWAY__GRPC__PORT": "50099"}, lambda s: s.grpc.port == 50099),
        ({"tta_gateway__grpc__port": "50099"}, lambda s: s.grpc.port == 50099),
        ({"TTA_GATEWAY__GRPC__REFLECTION": "false"}, lambda s: s.grpc.reflection is False),
        ({"TTA_GATEWAY__HTTP__HTTP2": "true"}, lambda s: s.http.http2 is True),
        ({"TTA_GATEWAY__REDIS__URL": "rediss://r:6380"}, lambda s: s.redis.url == "rediss://r:6380"),
        ({"TTA_GATEWAY__LOG__LEVEL": "error"}, lambda s: s.log.level == "error"),
        (
            {"TTA_GATEWAY__SHUTDOWN__DRAIN_SECONDS": "5"},
            lambda s: s.shutdown.drain_seconds == 5.0,
        ),
        (
            {"TTA_GATEWAY__SHUTDOWN__GRACE_PERIOD_SECONDS": "2.5"},
            lambda s: s.shutdown.grace_period_seconds == 2.5,
        ),
        (
            {"TTA_GATEWAY__GRPC": '{"port": 1234, "host": "::"}'},
            lambda s: (s.grpc.port, s.grpc.host) == (1234, "::"),
        ),
        (
            {"TTA_GATEWAY__GRPC": '{"port": 1234}', "TTA_GATEWAY__GRPC__PORT": "4321"},
            lambda s: s.grpc.port == 4321,  # the more specific variable wins
        ),
        (
            {"TTA_GATEWAY__UPSTREAMS": '[{"services": ["tta.v1.*"], "targets": ["127.0.0.1:50061"]}]'},
            lambda s: (
                s.upstreams == (UpstreamSettings(services=("tta.v1.*",), targets=("127.0.0.1:50061",)),)
            ),
        ),
        (
            {"TTA_GATEWAY__DESCRIPTORS": '[{"reflection": true}, {"file": "gen/tta.binpb"}]'},
            lambda s: (
                s.descriptors
                == (
                    ReflectionDescriptorSource(reflection=True),
                    FileDescriptorSource(file=Path("gen/tta.binpb")),
                )
            ),
        ),
        ({"TTA_GATEWAY_GRPC_PORT": "1", "REDIS_URL": "x", "PATH": "/bin"}, lambda s: s == Settings()),
    ],
)
def test_environment_overrides(environ: dict[str, str], read: Any) -> None:
    assert read(load_settings(environ=environ))


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, "grpc: {port: 1, host: 10.1.1.1}\nupstreams: [{services: [a.B], targets: [h:1]}]\n"
    )
    environ = {
        "TTA_GATEWAY__GRPC__PORT": "2",
        "TTA_GATEWAY__UPSTREAMS": '[{"services": ["c.D"], "targets": ["k:2"]}]',
    }
    settings = load_settings(path, environ=environ)
    assert (settings.grpc.host, settings.grpc.port) == ("10.1.1.1", 2)
    assert [u.services for u in settings.upstreams] == [("c.D",)]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"TTA_GATEWAY__GRPC__PORT": "70000"},
            'environment TTA_GATEWAY__GRPC__PORT: grpc.port: must be between 0 and 65535 (0 picks a free port) (got "70000")',
        ),
        (
            {"TTA_GATEWAY__GRPC__PORT": "fifty"},
            'environment TTA_GATEWAY__GRPC__PORT: grpc.port: must be an integer (got "fifty")',
        ),
        (
            {"TTA_GATEWAY__GRPC__PROT": "50051"},
            "environment TTA_GATEWAY__GRPC__PROT: grpc.prot: unknown key "
            "(known keys: host, port, max_message_bytes, reflection)",
        ),
        (
            {"TTA_GATEWAY__GRCP__PORT": "1"},
            "environment TTA_GATEWAY__GRCP__PORT: grcp: unknown key "
            "(known keys: grpc, http, admin, redis, descriptors, upstreams, deadlines, auth, shutdown, log, tracing, metrics, websocket)",
        ),
        (
            {"TTA_GATEWAY__UPSTREAMS": '[{"services": ["tta.v1.*"], "targets": ["localhost"]}]'},
            'environment TTA_GATEWAY__UPSTREAMS: upstreams[0].targets[0]: "localhost" is not host:port',
        ),
        (
            {"TTA_GATEWAY__UPSTREAMS": "[{oops"},
            "environment TTA_GATEWAY__UPSTREAMS: invalid YAML at line 1, column 7:",
        ),
        (
            {"TTA_GATEWAY__GRPC__": "1"},
            "environment TTA_GATEWAY__GRPC__: not a setting name",
        ),
        (
            {"TTA_GATEWAY__LOG": "debug", "TTA_GATEWAY__LOG__LEVEL": "debug"},
            "environment TTA_GATEWAY__LOG__LEVEL: cannot set log.level: log is a string, not a mapping",
        ),
        (
            {"TTA_GATEWAY__LOG__LEVEL": "debug", "tta_gateway__log__level": "info"},
            "environment tta_gateway__log__level: sets log.level again, as TTA_GATEWAY__LOG__LEVEL does",
        ),
    ],
)
def test_environment_errors_name_the_variable(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ=environ)
    first, *rest = problems(excinfo)
    assert first.startswith(expected)
    # e.g. TTA_GATEWAY__LOG=debug is also "log: must be a mapping"; still named by its variable
    assert all(line.startswith("environment TTA_GATEWAY__") for line in rest)


def test_variable_and_value_problems_are_reported_together() -> None:
    environ = {"TTA_GATEWAY__UPSTREAMS": "[{oops", "TTA_GATEWAY__GRPC__PORT": "99999"}
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ=environ)
    assert [line.split(": ")[0] for line in problems(excinfo)] == [
        "environment TTA_GATEWAY__UPSTREAMS",
        "environment TTA_GATEWAY__GRPC__PORT",
    ]


def test_errors_name_file_or_variable_by_where_the_key_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, "grpc: {port: 70000}\nhttp: {port: 8080}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={"TTA_GATEWAY__HTTP__PORT": "-5"})
    assert problems(excinfo) == [
        f"{path}: grpc.port: must be between 0 and 65535 (0 picks a free port) (got 70000)",
        'environment TTA_GATEWAY__HTTP__PORT: http.port: must be between 0 and 65535 (0 picks a free port) (got "-5")',
    ]


# --- the file itself --------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert str(excinfo.value) == f"{path}: cannot read config file (No such file or directory)"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file \(Is a directory\)"):
        load_settings(tmp_path, environ=NO_ENV)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grpc:\n  port: 1\n  host: [unclosed\n", "invalid YAML at line 4, column 1:"),
        ("grpc:\n  port: 1\n bad: indent\n", "invalid YAML at line 3, column 2:"),
        ("grpc:\n  port: 1\n  port: 2\n", "invalid YAML at line 3, column 3: duplicate key 'port'"),
    ],
)
def test_yaml_syntax_error_shows_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert str(excinfo.value).startswith(f"{path}: {expected}")


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, "x: &base {port: 1}\ngateway:\n  grpc:\n    <<: *base\n    port: 2\n")
    assert load_settings(path, environ=NO_ENV).grpc.port == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- grpc\n- http\n", "the top level must be a mapping of settings (got a list)"),
        ("just a string\n", "the top level must be a mapping of settings (got a string)"),
        ("gateway: [1]\n", "gateway: must be a mapping of settings (got a list)"),
    ],
)
def test_non_mapping_top_level(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert str(excinfo.value) == f"{path}: {expected}"
