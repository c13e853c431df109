"""Settings: defaults, YAML files, the TTA `gateway:` section, environment overrides, and the wording
of every kind of error (source, key path, reason). Tests pass `environ=` explicitly, never os.environ."""

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

NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str, name: str = "gateway.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return str(excinfo.value).splitlines()


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


def test_upstream_name_defaults_to_first_service_pattern() -> None:
    upstream = UpstreamSettings(services=("tta.v1.ChatService", "tta.v1.*"), targets=("h:1",))
    assert upstream.name == "tta.v1.ChatService"


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
            "(known keys: grpc, http, admin, redis, descriptors, upstreams, shutdown, log, tracing, metrics)",
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


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("localhost", "is not host:port"),
        ("localhost:", "is not host:port"),
        (":50061", "is not host:port"),
        ("localhost:70000", "is not host:port (the port must be between 1 and 65535)"),
        ("localhost:0", "is not host:port (the port must be between 1 and 65535)"),
        ("localhost:http", "is not host:port (the port must be between 1 and 65535)"),
        ("::1:50061", "is not host:port (write IPv6 in brackets, as [::1]:50061)"),
        ("[::1]", "is not host:port (IPv6 as [::1]:50061)"),
        ("[nope]:50061", "is not host:port (IPv6 as [::1]:50061)"),
        ("bad host:1", "is not host:port (the host is not a valid host name)"),
        ("http://h:1", "is not host:port (write IPv6 in brackets, as [::1]:50061)"),
    ],
)
def test_bad_target(target: str, reason: str) -> None:
    data = {"upstreams": [{"services": ["tta.v1.*"], "targets": ["ok:1", target]}]}
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping(data, source="gateway.yaml")
    assert problems(excinfo) == [f'gateway.yaml: upstreams[0].targets[1]: "{target}" {reason}']


@pytest.mark.parametrize(
    "target", ["localhost:50061", "10.0.0.7:1", "[::1]:50061", "[fe80::1%eth0]:65535", "players-0.tta_svc:8"]
)
def test_good_target(target: str) -> None:
    settings = Settings.from_mapping({"upstreams": [{"services": ["tta.v1.*"], "targets": [target]}]})
    assert settings.upstreams[0].targets == (target,)


@pytest.mark.parametrize("pattern", ["tta.v1.PlayerService", "tta.v1.*", "PlayerService", "a_b.c2.*"])
def test_good_service_pattern(pattern: str) -> None:
    settings = Settings.from_mapping({"upstreams": [{"services": [pattern], "targets": ["h:1"]}]})
    assert settings.upstreams[0].services == (pattern,)


@pytest.mark.parametrize(
    "pattern",
    ["*", "tta.*.PlayerService", "tta.v1.", ".tta.v1.PlayerService", "tta.v1.Player Service", "1tta.X", ""],
)
def test_bad_service_pattern(pattern: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_mapping({"upstreams": [{"services": [pattern], "targets": ["h:1"]}]}, source="g.yaml")
    assert problems(excinfo) == [
        f'g.yaml: upstreams[0].services[0]: "{pattern}" is not a service name or package wildcard '
        "(like tta.v1.PlayerService or tta.v1.*)"
    ]


# --- descriptors ------------------------------------------------------------------------------------


def test_descriptor_forms(tmp_path: Path) -> None:
    path = write(tmp_path, "descriptors:\n  - file: /abs/tta.binpb\n  - reflection: true\n")
    assert load_settings(path, environ=NO_ENV).descriptors == (
        FileDescriptorSource(file=Path("/abs/tta.binpb")),
        ReflectionDescriptorSource(reflection=True),
    )


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (
            "{file: a.binpb, reflection: true}",
            "must be exactly one of {file: PATH} or {reflection: true} "
            '(got {"file": "a.binpb", "reflection": true})',
        ),
        ("{url: x}", 'must be exactly one of {file: PATH} or {reflection: true} (got {"url": "x"})'),
        ("{}", "must be exactly one of {file: PATH} or {reflection: true} (got {})"),
        ("a.binpb", 'must be exactly one of {file: PATH} or {reflection: true} (got "a.binpb")'),
    ],
)
def test_invalid_descriptor_item(tmp_path: Path, item: str, reason: str) -> None:
    path = write(tmp_path, f"descriptors:\n  - reflection: true\n  - {item}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert problems(excinfo) == [f"{path}: descriptors[1]: {reason}"]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("{reflection: false}", "descriptors[0].reflection: must be true (got false)"),
        ("{file: 5}", "descriptors[0].file: must be a path (got 5)"),
    ],
)
def test_invalid_descriptor_value(tmp_path: Path, item: str, expected: str) -> None:
    path = write(tmp_path, f"descriptors: [{item}]\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ=NO_ENV)
    assert problems(excinfo) == [f"{path}: {expected}"]


def test_relative_descriptor_path_resolves_against_the_config_file(tmp_path: Path) -> None:
    config_dir = tmp_path / "deploy"
    config_dir.mkdir()
    path = write(config_dir, "descriptors: [{file: descriptors/tta.binpb}, {file: /abs/x.binpb}]\n")
    assert load_settings(path, environ=NO_ENV).descriptors == (
        FileDescriptorSource(file=config_dir / "descriptors" / "tta.binpb"),
        FileDescriptorSource(file=Path("/abs/x.binpb")),
    )


def test_relative_descriptor_path_from_environment_or_code_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "descriptors: [{file: from_file.binpb}]\n")
    environ = {"TTA_GATEWAY__DESCRIPTORS": '[{"file": "from_env.binpb"}]'}
    assert load_settings(path, environ=environ).descriptors == (
        FileDescriptorSource(file=Path("from_env.binpb")),
    )
    from_code = Settings.from_mapping({"descriptors": [{"file": "rel.binpb"}]})
    assert from_code.descriptors == (FileDescriptorSource(file=Path("rel.binpb")),)


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
