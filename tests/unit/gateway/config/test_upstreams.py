"""Upstreams and descriptor sources: host:port targets, service names and wildcards, the two forms of
a descriptor source, and relative descriptor paths."""

from __future__ import annotations

from pathlib import Path

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

# --- upstreams -------------------------------------------------------------------------------------


def test_upstream_name_defaults_to_first_service_pattern() -> None:
    upstream = UpstreamSettings(services=("tta.v1.ChatService", "tta.v1.*"), targets=("h:1",))
    assert upstream.name == "tta.v1.ChatService"


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
