"""``tta-gateway`` as a real process: help that explains the commands, and start-up configuration
errors that stop it with status 2 and one precise line on stderr (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[3]


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment without any TTA_GATEWAY__ override that would change the outcome."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTA_GATEWAY__")}
    env.update(extra)
    return env


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        check=False,
        cwd=ROOT,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(result: subprocess.CompletedProcess[str]) -> str:
    """The reported error, after checking it is a clean configuration failure."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    prefix = "tta-gateway: configuration error: "
    assert result.stderr.startswith(prefix), result.stderr
    return result.stderr.removeprefix(prefix)


UPSTREAMS = """
upstreams:
  - services: ["tta.v1.*", "tta.v2.*"]
    targets: ["127.0.0.1:1"]
"""


# --- help -------------------------------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: tta-gateway ")
    assert "serve" in result.stdout
    assert "run the gateway from a YAML config file" in result.stdout
    assert "demo" in result.stdout
    assert "every reference TTA service" in result.stdout


def test_serve_help_explains_config_and_environment() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: tta-gateway serve ")
    assert "--config" in result.stdout
    assert "TTA_GATEWAY__SECTION__KEY" in result.stdout


def test_demo_help_explains_ports() -> None:
    result = run("demo", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: tta-gateway demo ")
    for option in ("--grpc-port", "--http-port", "--host"):
        assert option in result.stdout
    assert "default 50051" in result.stdout
    assert "default 8080" in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"), [((), "required: COMMAND"), (("bogus",), "invalid choice: 'bogus'")]
)
def test_a_missing_or_unknown_command_is_a_usage_error(args: tuple[str, ...], reason: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert reason in result.stderr
    assert "usage: tta-gateway" in result.stderr


# --- start-up configuration errors ------------------------------------------------------------------


def test_unknown_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "grpc:\n  port: 50051\n  prot: 1\n" + UPSTREAMS)
    message = config_error(run("serve", "--config", str(path)))
    assert message.startswith(f"{path}: grpc.prot: unknown key")
    assert "port" in message  # the known keys are listed


def test_bad_port_names_the_key_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, "grpc:\n  port: 70000\n" + UPSTREAMS)
    message = config_error(run("serve", "--config", str(path)))
    assert message.startswith(f"{path}: grpc.port: ")
    assert "between 0 and 65535" in message
    assert "70000" in message


def test_bad_port_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, UPSTREAMS)
    message = config_error(run("serve", "--config", str(path), TTA_GATEWAY__GRPC__PORT="99999"))
    assert "TTA_GATEWAY__GRPC__PORT" in message
    assert "99999" in message


def test_missing_config_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    message = config_error(run("serve", "--config", str(path)))
    assert message.startswith(f"{path}: cannot read config file")


def test_unreadable_descriptor_file_names_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "descriptors: [{file: /nonexistent.binpb}]\n" + UPSTREAMS)
    message = config_error(run("serve", "--config", str(path)))
    assert message.strip() == "descriptors: file /nonexistent.binpb: cannot read: No such file or directory"


def test_a_relative_descriptor_file_is_resolved_next_to_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, "descriptors: [{file: contracts/missing.binpb}]\n" + UPSTREAMS)
    message = config_error(run("serve", "--config", str(path)))
    assert f"descriptors: file {tmp_path / 'contracts' / 'missing.binpb'}: cannot read" in message


def test_a_service_without_upstream_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'upstreams:\n  - services: ["tta.v1.PlayerService"]\n    targets: ["127.0.0.1:1"]\n',
    )
    message = config_error(run("serve", "--config", str(path), TTA_GATEWAY__AUTH__ENABLED="false"))
    assert message.startswith("route table: ")
    assert "service tta.v1.AuthService (from tta/v1/auth.proto) has no upstream" in message
    assert "service tta.v1.PlayerService " not in message


def test_serve_without_config_explains_that_auth_is_on_and_needs_its_keys() -> None:
    message = config_error(run("serve"))
    assert message.startswith("auth.enabled is true (the default) but auth.issuer, auth.audience, auth.jwks")
    assert "auth.enabled: false" in message  # and how to run without identity, deliberately


def test_serve_without_identity_or_upstreams_explains_that_upstreams_are_needed() -> None:
    message = config_error(run("serve", TTA_GATEWAY__AUTH__ENABLED="false"))
    assert "service tta.v1.PlayerService (from tta/v1/player.proto) has no upstream" in message


def test_a_descriptor_with_an_unresolvable_type_is_a_config_error(tmp_path: Path) -> None:
    f = descriptor_pb2.FileDescriptorProto(name="acme/v1/x.proto", package="acme.v1", syntax="proto3")
    f.service.add(name="S").method.add(
        name="M", input_type=".acme.v1.Missing", output_type=".acme.v1.Missing"
    )
    contracts = tmp_path / "x.binpb"
    contracts.write_bytes(descriptor_pb2.FileDescriptorSet(file=[f]).SerializeToString())
    path = write(
        tmp_path,
        f"grpc: {{host: 127.0.0.1, port: 0}}\nhttp: {{port: 0}}\nadmin: {{port: 0}}\ndescriptors: [{{file: {contracts}}}]\n"
        'upstreams:\n  - services: ["acme.v1.*"]\n    targets: ["127.0.0.1:1"]\n',
    )
    message = config_error(run("serve", "--config", str(path)))
    assert "acme/v1/x.proto" in message
    assert "acme.v1.Missing" in message
