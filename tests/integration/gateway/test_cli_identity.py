"""The development identity commands end to end: `tta-gateway keys` writes a signing key and its JWKS,
`tta-gateway serve` with `auth` pointing at that JWKS enforces the contract, and a token from
`tta-gateway token` is accepted on both doors while a call without one is refused."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tta.v1 import player_pb2

from tests.integration.gateway.test_shutdown import ROOT, free_port
from tests.integration.parity.typed_upstream import GET_PLAYER, start_typed_upstream


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _output(log: Path) -> str:
    return log.read_text()


async def _serving(target: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with grpc.aio.insecure_channel(target) as channel:
        while True:
            assert proc.returncode is None, _output(log)
            try:
                answer = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            assert time.monotonic() < deadline, _output(log)
            await asyncio.sleep(0.05)


async def test_keys_token_and_serve_with_auth(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = cli("keys", "--out", str(keys))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((keys / "signing-key.pem").stat().st_mode) == 0o600
    jwks = json.loads((keys / "jwks.json").read_text())
    assert [k["kty"] for k in jwks["keys"]] == ["OKP"]
    assert "d" not in jwks["keys"][0]  # the public half only

    minted = cli("token", "--key", str(keys / "signing-key.pem"), "--sub", "pl_demo", "--role", "player")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert token.count(".") == 2

    server, upstream, upstream_port = await start_typed_upstream()
    grpc_port, http_port = free_port(), free_port()
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"grpc: {{host: 127.0.0.1, port: {grpc_port}}}\n"
        f"http: {{host: 127.0.0.1, port: {http_port}}}\nadmin: {{port: 0}}\n"
        f'upstreams:\n  - services: ["tta.v1.*", "tta.v2.*"]\n    targets: ["127.0.0.1:{upstream_port}"]\n'
        "auth:\n  enabled: true\n  issuer: https://auth.tta.dev\n  audience: tta-gateway\n"
        f"  jwks: {keys / 'jwks.json'}\n",
        encoding="utf-8",
    )
    log = tmp_path / "gateway.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTA_GATEWAY__")}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "gateway", "serve", "--config", str(config)),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        await _serving(f"127.0.0.1:{grpc_port}", proc, log)
        request = player_pb2.GetPlayerRequest(player_id="pl_demo")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            get = channel.unary_unary(
                GET_PLAYER,
                request_serializer=player_pb2.GetPlayerRequest.SerializeToString,
                response_deserializer=player_pb2.GetPlayerResponse.FromString,
            )
            answer = await get(request, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
            assert answer.player.display_name == "pl_demo|player"
            with pytest.raises(grpc.aio.AioRpcError) as refused_call:
                await get(request, timeout=10)
            assert refused_call.value.code() == grpc.StatusCode.UNAUTHENTICATED
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as client:
            ok = await client.get("/api/v1/players/pl_demo", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200, ok.text
            refused = await client.get("/api/v1/players/pl_demo")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="tta"'
        assert upstream.calls[GET_PLAYER] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
        await server.stop(0)
    text = _output(log)
    assert token not in text  # the token never reaches a log line
    assert "auth.enabled is false" not in text
