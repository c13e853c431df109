"""`buf curl` (npm's @bufbuild/buf) against the running demo, through the gateway's reflection."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import require_tool
from tests.e2e.conftest import Demo

BUF = ["npx", "--yes", "@bufbuild/buf@1.75.0", "curl", "--protocol", "grpc", "--http2-prior-knowledge"]

TTA_SERVICES = {
    "tta.v1.AgentService",
    "tta.v1.AuthService",
    "tta.v1.CharacterService",
    "tta.v1.ChatService",
    "tta.v1.DiagnosticsService",
    "tta.v1.GameplayService",
    "tta.v1.PlayerService",
    "tta.v1.ProgressService",
    "tta.v1.SafetyService",
    "tta.v1.SessionService",
    "tta.v1.WorldService",
    "tta.v2.PlayerService",
}


def buf_curl(*args: str) -> subprocess.CompletedProcess[str]:
    require_tool("npx")
    return subprocess.run([*BUF, *args], capture_output=True, text=True, timeout=180, check=False)


def test_lists_every_tta_service_through_reflection(demo: Demo) -> None:
    out = buf_curl("--list-services", f"http://{demo.target}")
    assert out.returncode == 0, out.stderr
    listed = set(out.stdout.split())
    assert listed >= TTA_SERVICES
    # buf curl speaks grpc.reflection.v1; the gateway serves (and lists) v1alpha too.
    assert listed >= {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }


def test_lists_methods_of_every_arity(demo: Demo) -> None:
    out = buf_curl("--list-methods", f"http://{demo.target}")
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) >= {
        "tta.v1.DiagnosticsService/Echo",
        "tta.v1.ChatService/Chat",
        "tta.v1.ChatService/WatchRoom",
        "tta.v1.ChatService/ImportMessages",
        # every listed service resolves, the v1 reflection service (whose file the gateway derives) too
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }


def test_unary_call(demo: Demo) -> None:
    out = buf_curl("-d", '{"payload": "aGVsbG8="}', f"http://{demo.target}/tta.v1.DiagnosticsService/Echo")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["payload"] == "aGVsbG8="


def test_unary_call_to_a_stateful_service(demo: Demo) -> None:
    out = buf_curl("-d", "{}", f"http://{demo.target}/tta.v1.WorldService/ListWorlds")
    assert out.returncode == 0, out.stderr
    names = [w["title"] for w in json.loads(out.stdout)["worlds"]]
    assert "The Quiet Harbour" in names


def test_server_streaming_call(demo: Demo) -> None:
    out = buf_curl(
        "-H",
        f"Authorization: Bearer {demo.player_token}",
        "-d",
        '{"agent_id": "ag_guide", "input": "hello there"}',
        f"http://{demo.target}/tta.v1.AgentService/StreamAgentReply",
    )
    assert out.returncode == 0, out.stderr
    # buf curl prints one JSON object per streamed message.
    decoder, text, chunks, i = json.JSONDecoder(), out.stdout, [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = decoder.raw_decode(text, i)
        chunks.append(obj)
    assert len(chunks) > 2
    sequences = [int(c["sequence"]) for c in chunks if "sequence" in c]
    assert sequences == list(range(1, len(sequences) + 1))
    assert "".join(c.get("textDelta", "") for c in chunks).strip()


def test_a_call_without_a_token_is_unauthenticated(demo: Demo) -> None:
    out = buf_curl("-d", '{"player_id": "pl_demo"}', f"http://{demo.target}/tta.v1.PlayerService/GetPlayer")
    assert out.returncode != 0
    assert "unauthenticated" in out.stderr.lower()
    assert "sign in" in out.stderr.lower()  # the calm message, not internals


def test_error_reaches_buf_curl_with_code_and_message(demo: Demo) -> None:
    out = buf_curl(
        "-H",
        f"Authorization: Bearer {demo.staff_token}",
        "-d",
        '{"player_id": "pl_missing"}',
        f"http://{demo.target}/tta.v1.PlayerService/GetPlayer",
    )
    assert out.returncode != 0
    assert "not_found" in out.stderr.lower()
    assert "pl_missing" in out.stderr
