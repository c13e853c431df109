"""The development identity commands end to end: `tta-gateway keys` writes a signing key and its JWKS,
`tta-gateway serve` with `auth` pointing at that JWKS enforces the contract, and a token from
`tta-gateway token` is accepted on both doors while a call without one is refused."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import pytest
from tta.v1 import player_pb2

from tests.integration.gateway.test_shutdown import ROOT, free_port, gateway_process
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
    http_port = free_port()
    auth = (
        "auth:\n  enabled: true\n  issuer: https://auth.tta.example\n  audience: tta-gateway\n"
        f"  jwks: {keys / 'jwks.json'}\n"
    )
    try:
        async with gateway_process(tmp_path, upstream_port, http_port=http_port, extra=auth) as running:
            request = player_pb2.GetPlayerRequest(player_id="pl_demo")
            async with grpc.aio.insecure_channel(running.target) as channel:
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
            running.proc.send_signal(signal.SIGTERM)
            assert await running.wait_exit(20) == 0
            text = running.output()
    finally:
        await server.stop(0)
    assert token not in text  # the token never reaches a log line
    assert "auth.enabled is false" not in text
