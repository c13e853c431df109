"""The HTTP door against a real upstream double on loopback, with a real HTTP client (httpx)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from tests.integration.gateway.test_passthrough import ALL_TTA, _start_double
from tests.integration.gateway.upstream_double import UpstreamDouble

WATCH = "/api/v1/sessions/se_1/messages:watch"


@pytest.fixture(params=["http1.1", "h2c"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[tuple[httpx.AsyncClient, UpstreamDouble]]:
    """The door over HTTP/1.1 (httptools, the default), and over HTTP/2 prior knowledge (``http.http2``:
    uvicorn's zttp protocol) with httpx speaking HTTP/2 only; every test here runs over both."""
    h2c = request.param == "h2c"
    server, double, port = await _start_double()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0, "max_body_bytes": 2048, "http2": h2c},
            "admin": {"port": 0},
            "upstreams": [{**ALL_TTA, "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10, http1=not h2c, http2=h2c
    ) as client:
        probe = await client.get("/openapi.json")
        assert probe.http_version == ("HTTP/2" if h2c else "HTTP/1.1")
        yield client, double
    await gateway.stop(0)
    await server.stop(0)


@pytest.mark.parametrize("accept", ["application/x-ndjson", "text/event-stream", "application/json"])
async def test_an_error_after_the_first_message_is_delivered_in_band(
    http: tuple[httpx.AsyncClient, UpstreamDouble], accept: str
) -> None:
    client, _ = http
    resp = await client.get(
        WATCH, headers={"Accept": accept, "Grpc-Metadata-X-Behaviour": "stream-error-empty"}
    )
    assert resp.status_code == 200  # the status line went out with the first message
    assert resp.headers["content-type"].startswith(accept)
    text = resp.text
    if accept == "application/x-ndjson":
        lines = [json.loads(x) for x in text.splitlines()]
        assert lines[0] == {}
        assert lines[-1]["error"]["code"] == 3
        assert lines[-1]["error"]["message"] == "player_id: must not be empty"
    elif accept == "text/event-stream":
        assert text.startswith("event: message\ndata: {}\n\n")
        assert "event: error\ndata: " in text
        error = json.loads(text.split("event: error\ndata: ")[1].split("\n")[0])
        assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    else:
        body = json.loads(text)
        assert body[0] == {}
        assert body[-1]["error"]["code"] == 3


async def test_an_error_before_any_message_is_an_http_status(
    http: tuple[httpx.AsyncClient, UpstreamDouble],
) -> None:
    client, _ = http
    resp = await client.get("/api/v1/players/p1", headers={"Grpc-Metadata-X-Behaviour": "error"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 3
    assert body["message"] == "player_id: must not be empty"
    assert body["details"][0]["fieldViolations"][0]["field"] == "player_id"
    assert resp.headers["x-request-id"]
    assert resp.headers["grpc-trailer-x-up-trailer"] == "error-trailer"


async def test_headers_become_metadata_and_metadata_comes_back_as_headers(
    http: tuple[httpx.AsyncClient, UpstreamDouble],
) -> None:
    client, _ = http
    resp = await client.get(
        "/api/v1/players/p1",
        headers={
            "Grpc-Metadata-X-Behaviour": "echo",
            "Authorization": "Bearer t0k",
            "X-Request-Id": "rest-1",
            "X-Not-Forwarded": "nope",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["x-request-id"] == "rest-1"
    assert resp.headers["grpc-metadata-x-up-initial"] == "hello"
    assert resp.headers["grpc-trailer-x-up-trailer"] == "bye"


async def test_upstream_sees_only_the_allowed_headers(http: tuple[httpx.AsyncClient, UpstreamDouble]) -> None:
    client, _ = http
    # The double answers "metadata" with the metadata it received, as the response message's bytes:
    # an Echo response carries bytes, so the door renders them as base64 in `payload`.
    resp = await client.post(
        "/api/v1/diagnostics:echo",
        json={"payload": ""},
        headers={
            "Grpc-Metadata-X-Behaviour": "metadata-field1",
            "Authorization": "Bearer t0k",
            "X-Secret-Header": "s",
        },
    )
    assert resp.status_code == 200
    import base64

    seen = base64.b64decode(resp.json()["payload"]).decode()
    assert "authorization='Bearer t0k'" in seen
    assert "x-secret-header" not in seen


async def test_grpc_timeout_header_sets_the_deadline(http: tuple[httpx.AsyncClient, UpstreamDouble]) -> None:
    client, _ = http
    resp = await client.get(
        "/api/v1/players/p1", headers={"Grpc-Metadata-X-Behaviour": "hang", "Grpc-Timeout": "300m"}
    )
    assert resp.status_code == 504
    assert resp.json()["code"] == 4


async def test_bad_grpc_timeout_is_400(http: tuple[httpx.AsyncClient, UpstreamDouble]) -> None:
    client, _ = http
    resp = await client.get("/api/v1/players/p1", headers={"Grpc-Timeout": "soon"})
    assert resp.status_code == 400
    assert "Grpc-Timeout" in resp.json()["message"]


async def test_body_over_the_limit_is_413(http: tuple[httpx.AsyncClient, UpstreamDouble]) -> None:
    client, _ = http
    resp = await client.post("/api/v1/diagnostics:echo", content=b"{" + b" " * 4096 + b"}")
    assert resp.status_code == 413
    assert "2048" in resp.json()["message"]


async def test_client_stream_takes_ndjson_and_json_arrays(
    http: tuple[httpx.AsyncClient, UpstreamDouble],
) -> None:
    client, double = http
    for body in (b'{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n', b'[{"text": "a"}, {"text": "b"}]'):
        resp = await client.post(
            "/api/v1/sessions/se_1/messages:import",
            content=body,
            headers={"Grpc-Metadata-X-Behaviour": "empty"},
        )
        assert resp.status_code == 200
        assert resp.json() == {}
    assert double.stream_sizes[-2:] == [3, 2]


async def test_a_malformed_client_stream_line_names_the_problem(
    http: tuple[httpx.AsyncClient, UpstreamDouble],
) -> None:
    client, _ = http
    resp = await client.post("/api/v1/sessions/se_1/messages:import", content=b'{"text": "a"}\n{"text": \n')
    assert resp.status_code == 400
    assert resp.json()["code"] == 3


@pytest.mark.parametrize("depth", [101, 300, 1000])
async def test_a_client_stream_element_nested_too_deep_is_400(
    http: tuple[httpx.AsyncClient, UpstreamDouble], depth: int
) -> None:
    client, _ = http
    deep = "[" * (depth - 1) + "]" * (depth - 1)
    body = f'[{{"text": "a"}}, {{"text": {deep}}}]'.encode()
    resp = await client.post("/api/v1/sessions/se_1/messages:import", content=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"].startswith("<body>[1]: nested deeper than 100 levels")
    assert resp.json()["details"][0]["fieldViolations"][0]["field"] == "<body>[1]"
    assert (await client.get("/api/v1/players/p1")).status_code == 200  # and the door goes on


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_body_that_is_not_json_is_415(
    http: tuple[httpx.AsyncClient, UpstreamDouble], content_type: str
) -> None:
    """A browser sends these cross-site without a CORS preflight: refused before any upstream call."""
    client, double = http
    before = len(double.calls)
    resp = await client.post(
        "/api/v1/diagnostics:echo", content=b'{"payload": ""}', headers={"Content-Type": content_type}
    )
    assert resp.status_code == 415
    assert resp.json()["details"][0]["reason"] == "UNSUPPORTED_MEDIA_TYPE"
    assert len(double.calls) == before
    ok = await client.post(
        "/api/v1/diagnostics:echo",
        content=b'{"payload": ""}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


@pytest.fixture
async def cors_http() -> AsyncIterator[httpx.AsyncClient]:
    server, _, port = await _start_double()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {
                "host": "127.0.0.1",
                "port": 0,
                "cors": {"allowed_origins": ["https://app.tta.example"], "max_age_seconds": 120},
            },
            "admin": {"port": 0},
            "upstreams": [{**ALL_TTA, "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client:
        yield client
    await gateway.stop(0)
    await server.stop(0)


async def test_cors_preflight_for_an_allowed_origin(cors_http: httpx.AsyncClient) -> None:
    resp = await cors_http.options(
        "/api/v1/players/p1",
        headers={
            "Origin": "https://app.tta.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "https://app.tta.example"
    assert "PATCH" in resp.headers["access-control-allow-methods"]
    assert resp.headers["access-control-max-age"] == "120"


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.example", "GET", ""),
        ("https://app.tta.example", "TRACE", ""),
        ("https://app.tta.example", "GET", "x-custom-header"),
    ],
)
async def test_cors_preflight_refused(
    cors_http: httpx.AsyncClient, origin: str, method: str, headers: str
) -> None:
    resp = await cors_http.options(
        "/api/v1/players/p1",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )
    assert resp.status_code == 403
    assert "access-control-allow-origin" not in resp.headers


async def test_cors_headers_on_actual_responses(cors_http: httpx.AsyncClient) -> None:
    allowed = await cors_http.get("/api/v1/players/p1", headers={"Origin": "https://app.tta.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.tta.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"]
    other = await cors_http.get("/api/v1/players/p1", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_a_header_that_cannot_be_grpc_metadata_is_400(
    http: tuple[httpx.AsyncClient, UpstreamDouble],
) -> None:
    client, double = http
    before = len(double.calls)
    resp = await client.get("/api/v1/players/p1", headers={"Authorization": "Bearer\tx"})
    assert resp.status_code == 400
    assert resp.json()["message"] == "metadata authorization: the value must be printable ASCII"
    assert len(double.calls) == before  # refused before any upstream call


async def test_a_route_timeout_from_config_applies_without_grpc_timeout() -> None:
    server, _, port = await _start_double()
    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "deadlines": {"routes": {"/tta.v1.PlayerService/GetPlayer": {"default_seconds": 0.3}}},
            "admin": {"port": 0},
            "upstreams": [{**ALL_TTA, "targets": [f"127.0.0.1:{port}"]}],
        }
    )
    gateway = await Gateway.build(settings)
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client:
            resp = await client.get("/api/v1/players/p1", headers={"Grpc-Metadata-X-Behaviour": "hang"})
            assert resp.status_code == 504
    finally:
        await gateway.stop(0)
        await server.stop(0)


async def test_a_route_timeout_for_an_unknown_method_stops_start_up() -> None:
    from gateway.errors import ConfigError

    settings = Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "deadlines": {"routes": {"/tta.v1.PlayerService/GetPlayr": {"default_seconds": 1.0}}},
            "upstreams": [{**ALL_TTA, "targets": ["127.0.0.1:1"]}],
        }
    )
    with pytest.raises(ConfigError, match=r"GetPlayr' is not a fronted method"):
        await Gateway.build(settings)


async def test_a_client_that_leaves_a_stream_cancels_the_upstream_call(
    http: tuple[httpx.AsyncClient, UpstreamDouble],
) -> None:
    """A watch nobody ends: the upstream sends one message and waits. The client reads it and goes
    away (its connection closes: httpx never resets an HTTP/2 stream it stops reading), which must
    cancel the upstream call rather than leave it open for hours."""
    client, double = http
    h2 = (await client.get("/openapi.json")).http_version == "HTTP/2"
    leaver = httpx.AsyncClient(base_url=client.base_url, timeout=10, http1=not h2, http2=h2)
    headers = {"Accept": "application/x-ndjson", "Grpc-Metadata-X-Behaviour": "stream-hang"}
    try:
        async with leaver.stream("GET", WATCH, headers=headers) as resp:
            assert resp.status_code == 200
            assert json.loads(await anext(resp.aiter_lines())) == {}  # the first message arrived
            await leaver.aclose()
    except httpx.HTTPError:
        pass  # closing the client under an open response may surface as a read error: expected
    cancelled = await asyncio.wait_for(double.cancelled.get(), timeout=5)
    assert cancelled == "/tta.v1.ChatService/WatchRoom"
    # The door keeps serving after it.
    assert (await client.get("/api/v1/players/p1")).status_code == 200
