"""Upstream trailing metadata as real HTTP trailers, when the client sends ``TE: trailers`` and the
server implements the ASGI ``http.response.trailers`` extension (uvicorn's zttp protocol over HTTP/2,
``http.http2: true``); as ``Grpc-Trailer-*`` headers otherwise.

Two levels: the ASGI messages the door sends (the door called in-process with a scope that offers
the extension, or not), and the bytes a real HTTP/2 client receives (curl with nghttp2, prior
knowledge h2c) from a gateway serving HTTP/1.1 and HTTP/2 on one port.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from tests.conftest import require_tool
from tests.integration.gateway.test_passthrough import ALL_TTA, _start_double

# StreamNarrative's request and response agree on field 1 (string) and 2 (int64): the double's echo
# is a valid response, three times, with trailing metadata x-up-trailer: bye.
NARRATIVE = "/api/v1/sessions/se_1/narrative:stream"
PLAYER = "/api/v1/players/p1"
OFFERED: dict[str, Any] = {"http.response.trailers": {}}
TE = (b"te", b"trailers")

Door = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def _http2_settings(upstream_port: int) -> Settings:
    """A gateway on free loopback ports whose HTTP door also speaks h2c, in front of the double."""
    return Settings.from_mapping(
        {
            "auth": {"enabled": False},  # identity has its own tests (parity/test_identity_parity.py)
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0, "http2": True},
            "admin": {"port": 0},
            "upstreams": [{**ALL_TTA, "targets": [f"127.0.0.1:{upstream_port}"]}],
        }
    )


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    server, _, port = await _start_double()
    gw = await Gateway.build(_http2_settings(port))
    await gw.start()
    yield gw
    await gw.stop(0)
    await server.stop(0)


async def call(
    door: Door,
    path: str,
    headers: list[tuple[bytes, bytes]],
    extensions: dict[str, Any] | None = OFFERED,
    behaviour: str = "echo",
) -> list[MutableMapping[str, Any]]:
    """The ASGI messages the door sends for a GET of ``path``."""
    path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "2",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [*headers, (b"grpc-metadata-x-behaviour", behaviour.encode())],
    }
    if extensions is not None:
        scope["extensions"] = extensions
    sent: list[MutableMapping[str, Any]] = []

    body = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if body:
            return body.pop()
        await asyncio.Event().wait()  # as a server does: nothing more until the client leaves
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await door(scope, receive, send)
    return sent


def kinds(messages: list[MutableMapping[str, Any]]) -> list[str]:
    return [m["type"].removeprefix("http.response.") for m in messages]


def header_names(message: MutableMapping[str, Any]) -> set[bytes]:
    return {name for name, _ in message["headers"]}


# --- the ASGI messages ------------------------------------------------------------------------------


async def test_unary_sends_trailing_metadata_as_trailers_after_the_body(gateway: Gateway) -> None:
    sent = await call(gateway.http_door, PLAYER, [TE])
    assert kinds(sent) == ["start", "body", "trailers"]
    start, body, trailers = sent
    assert start["status"] == 200
    assert start["trailers"] is True
    headers = dict(start["headers"])
    assert headers[b"grpc-metadata-x-up-initial"] == b"hello"
    assert headers[b"trailer"] == b"grpc-trailer-x-up-trailer"  # announced (RFC 9110 6.6.2)
    assert b"grpc-trailer-x-up-trailer" not in headers
    assert b"content-length" not in headers
    assert body["more_body"] is False
    assert json.loads(body["body"]) == {"player": {}}
    assert trailers == {
        "type": "http.response.trailers",
        "headers": [(b"grpc-trailer-x-up-trailer", b"bye")],  # no grpc-status: that is the HTTP status
        "more_trailers": False,
    }


@pytest.mark.parametrize(
    ("headers", "extensions"),
    [([], OFFERED), ([TE], {}), ([TE], None), ([(b"te", b"gzip")], OFFERED)],
    ids=["no-TE", "not-offered", "no-extensions", "TE-without-trailers"],
)
async def test_without_negotiation_trailing_metadata_stays_in_headers(
    gateway: Gateway, headers: list[tuple[bytes, bytes]], extensions: dict[str, Any] | None
) -> None:
    sent = await call(gateway.http_door, PLAYER, headers, extensions)
    assert kinds(sent) == ["start", "body"]
    start, body = sent
    assert not start.get("trailers")
    assert dict(start["headers"])[b"grpc-trailer-x-up-trailer"] == b"bye"
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()
    assert b"trailer" not in header_names(start)


async def test_an_upstream_error_sends_its_trailing_metadata_as_trailers(gateway: Gateway) -> None:
    sent = await call(gateway.http_door, PLAYER, [TE], behaviour="error")
    assert kinds(sent) == ["start", "body", "trailers"]
    start, body, trailers = sent
    assert (start["status"], start["trailers"]) == (400, True)
    assert b"grpc-trailer-x-up-trailer" not in header_names(start)
    assert dict(start["headers"])[b"grpc-metadata-x-up-initial"] == b"before-error"
    assert json.loads(body["body"])["code"] == 3
    assert trailers["headers"] == [(b"grpc-trailer-x-up-trailer", b"error-trailer")]


async def test_a_refusal_before_the_call_has_no_trailers(gateway: Gateway) -> None:
    sent = await call(gateway.http_door, "/api/v1/nowhere", [TE])
    assert kinds(sent) == ["start", "body"]
    assert sent[0]["status"] == 404
    assert not sent[0].get("trailers")


async def test_a_server_stream_sends_trailing_metadata_after_its_last_item(gateway: Gateway) -> None:
    sent = await call(gateway.http_door, NARRATIVE, [TE])
    assert kinds(sent) == ["start", "body", "body", "body", "body", "trailers"]
    start, *bodies, trailers = sent
    assert start["trailers"] is True
    assert dict(start["headers"])[b"cache-control"] == b"no-store"
    assert b"trailer" not in header_names(start)  # not known when the stream starts
    assert [b["more_body"] for b in bodies] == [True, True, True, False]
    lines = b"".join(b["body"] for b in bodies).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"turnId": "se_1"}] * 3
    assert trailers["headers"] == [(b"grpc-trailer-x-up-trailer", b"bye")]


async def test_a_server_stream_without_negotiation_sends_no_trailers(gateway: Gateway) -> None:
    sent = await call(gateway.http_door, NARRATIVE, [], OFFERED)
    assert kinds(sent) == ["start", "body", "body", "body", "body"]
    assert not sent[0]["trailers"]
    assert b"grpc-trailer-x-up-trailer" not in header_names(sent[0])  # unknown when headers went out
    assert sent[-1]["more_body"] is False


async def test_an_upstream_error_mid_stream_is_in_band_then_trailers(gateway: Gateway) -> None:
    sent = await call(gateway.http_door, NARRATIVE, [TE], behaviour="stream-error")
    assert kinds(sent) == ["start", "body", "body", "trailers"]
    assert sent[0]["status"] == 200
    last = sent[2]
    assert last["more_body"] is False
    assert json.loads(last["body"])["error"]["code"] == 3
    assert sent[3]["headers"] == [(b"grpc-trailer-x-up-trailer", b"error-trailer")]


@pytest.mark.parametrize("te", [True, False])
async def test_a_message_the_door_cannot_render_mid_stream_is_in_band(gateway: Gateway, te: bool) -> None:
    # The status line is out: the failure is reported as an in-band error item and the body ends
    # properly (with the trailers message the start promised, when negotiated).
    sent = await call(gateway.http_door, NARRATIVE, [TE] if te else [], behaviour="stream-garbage")
    assert kinds(sent) == ["start", "body", "body", *(["trailers"] if te else [])]
    assert json.loads(sent[1]["body"]) == {"turnId": "se_1"}
    assert sent[2]["more_body"] is False
    error = json.loads(sent[2]["body"])["error"]
    assert error["code"] == 13
    assert "tta.v1.StreamNarrativeResponse" in error["message"]
    if te:
        assert sent[3]["headers"] == []


async def test_a_first_message_the_door_cannot_render_is_an_in_band_error(gateway: Gateway) -> None:
    # The echoed WatchRoomRequest is no WatchRoomResponse. The status line went out with the upstream's
    # headers, before any message (so an EventSource opens at once): the failure is an in-band item.
    assert gateway.metrics is not None
    sample = (
        "tta_gateway_requests_total",
        {"door": "http", "method": "GET /api/v1/sessions/{session_id}/messages:watch", "code": "INTERNAL"},
    )
    before = gateway.metrics.registry.get_sample_value(*sample) or 0.0
    sent = await call(
        gateway.http_door, "/api/v1/sessions/se_1/messages:watch", [TE, (b"x-request-id", b"rq-render")]
    )
    assert kinds(sent) == ["start", "body", "trailers"]  # negotiated: the trailers message follows
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["error"]["code"] == 13
    # Answered within the call: its own id, and the call is counted as the INTERNAL failure it is.
    assert (b"x-request-id", b"rq-render") in sent[0]["headers"]
    assert gateway.metrics.registry.get_sample_value(*sample) == before + 1


# --- a real HTTP/2 client ---------------------------------------------------------------------------


async def curl(port: int, path: str, tmp_path: Path, *args: str) -> tuple[str, list[str], list[str]]:
    """curl over prior-knowledge HTTP/2: the body, the header lines and the trailer lines. ``-D`` dumps
    the header block, a blank line, then the trailer fields (curl 7.88 with nghttp2)."""
    dump = tmp_path / "dump.txt"
    proc = await asyncio.create_subprocess_exec(
        require_tool("curl"),
        "-sS",
        "--http2-prior-knowledge",
        "--max-time",
        "10",
        "-D",
        str(dump),
        *args,
        f"http://127.0.0.1:{port}{path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    head, _, tail = dump.read_bytes().decode().partition("\r\n\r\n")
    return out.decode(), head.splitlines(), [line for line in tail.splitlines() if line]


async def test_curl_over_http2_gets_real_trailers_for_a_unary_call(gateway: Gateway, tmp_path: Path) -> None:
    body, headers, trailers = await curl(gateway.http_port, PLAYER, tmp_path, "-H", "TE: trailers")
    assert headers[0].startswith("HTTP/2 200")
    assert "grpc-metadata-x-up-initial: hello" in headers
    assert "trailer: grpc-trailer-x-up-trailer" in headers
    assert not any(h.startswith("grpc-trailer-") for h in headers)
    assert trailers == ["grpc-trailer-x-up-trailer: bye"]
    assert json.loads(body) == {"player": {}}


async def test_curl_over_http2_gets_real_trailers_at_the_end_of_a_stream(
    gateway: Gateway, tmp_path: Path
) -> None:
    body, headers, trailers = await curl(gateway.http_port, NARRATIVE, tmp_path, "-H", "TE: trailers")
    assert headers[0].startswith("HTTP/2 200")
    assert not any(h.startswith("grpc-trailer-") for h in headers)
    assert trailers == ["grpc-trailer-x-up-trailer: bye"]
    assert [json.loads(line) for line in body.splitlines()] == [{"turnId": "se_1"}] * 3


async def test_curl_over_http2_gets_trailers_after_an_in_band_error(gateway: Gateway, tmp_path: Path) -> None:
    body, _, trailers = await curl(
        gateway.http_port,
        NARRATIVE,
        tmp_path,
        "-H",
        "TE: trailers",
        "-H",
        "Grpc-Metadata-X-Behaviour: stream-error",
    )
    assert json.loads(body.splitlines()[-1])["error"]["code"] == 3
    assert trailers == ["grpc-trailer-x-up-trailer: error-trailer"]


@pytest.mark.parametrize("path", [PLAYER, NARRATIVE])
async def test_curl_over_http2_without_te_gets_trailer_headers_for_unary_only(
    gateway: Gateway, tmp_path: Path, path: str
) -> None:
    _, headers, trailers = await curl(gateway.http_port, path, tmp_path)
    assert headers[0].startswith("HTTP/2 200")
    assert trailers == []
    # A stream's trailing metadata is known only after its headers went out: not sent without TE.
    assert ("grpc-trailer-x-up-trailer: bye" in headers) is (path == PLAYER)


@pytest.mark.parametrize(("grace", "status"), [(5.0, 504), (0.0, 503)])
async def test_stop_lets_an_http2_call_in_flight_answer(grace: float, status: int) -> None:
    # uvicorn's graceful shutdown with the zttp protocol: an idle HTTP/2 connection is closed, a stream
    # in flight still gets its answer within the grace period (here the 504 of its 1 s deadline), or
    # when the grace period ends first a 503 google.rpc.Status (never a truncated body or a plain
    # 500), then the port is closed.
    server, double, port = await _start_double()
    gw = await Gateway.build(_http2_settings(port))
    await gw.start()
    base = f"http://127.0.0.1:{gw.http_port}"
    stopped = False
    try:
        async with (
            httpx.AsyncClient(base_url=base, http1=False, http2=True, timeout=10) as idle,
            httpx.AsyncClient(base_url=base, http1=False, http2=True, timeout=10) as busy,
        ):
            assert (await idle.get(PLAYER)).http_version == "HTTP/2"
            slow = asyncio.create_task(
                busy.get(PLAYER, headers={"Grpc-Metadata-X-Behaviour": "hang", "Grpc-Timeout": "1S"})
            )
            await asyncio.wait_for(double.hanging.get(), timeout=10)  # the call is in flight upstream
            await asyncio.wait_for(gw.stop(grace), timeout=grace + 5)
            stopped = True
            answer = await slow
            assert answer.status_code == status
            assert answer.json()["code"] == (4 if status == 504 else 14)
            with pytest.raises(httpx.ConnectError):
                await idle.get(PLAYER)
    finally:
        if not stopped:
            await gw.stop(0)
        await server.stop(0)


async def test_resetting_an_http2_stream_cancels_the_upstream_call() -> None:
    """RST_STREAM from the client (what a browser's AbortController sends over HTTP/2) on a watch that
    has sent its first message: the upstream call is cancelled, and the connection goes on serving.
    Driven with the ``h2`` library (httpx never resets a stream it stops reading)."""
    server, double, port = await _start_double()
    gw = await Gateway.build(_http2_settings(port))
    await gw.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.http_port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))

    async def exchange() -> list[h2.events.Event]:
        writer.write(conn.data_to_send())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), timeout=10)
        assert data, "the gateway closed the connection"
        return list(conn.receive_data(data))

    def get(path: str, behaviour: str) -> int:
        stream = conn.get_next_available_stream_id()
        headers = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", path)]
        conn.send_headers(stream, [*headers, ("grpc-metadata-x-behaviour", behaviour)], end_stream=True)
        return stream

    try:
        conn.initiate_connection()
        watch = get("/api/v1/sessions/se_1/messages:watch", "stream-hang")
        first: bytes = b""
        while not first:
            for event in await exchange():
                if isinstance(event, h2.events.DataReceived) and event.stream_id == watch:
                    first = event.data
        assert json.loads(first) == {}  # the first message arrived; then the client resets the stream
        conn.reset_stream(watch)
        writer.write(conn.data_to_send())
        await writer.drain()
        assert await asyncio.wait_for(double.cancelled.get(), timeout=5) == "/tta.v1.ChatService/WatchRoom"

        again = get(PLAYER, "echo")  # the same connection still serves
        ended = False
        while not ended:
            for event in await exchange():
                if isinstance(event, h2.events.StreamEnded) and event.stream_id == again:
                    ended = True
    finally:
        writer.close()
        await gw.stop(0)
        await server.stop(0)


async def test_http_1_1_on_the_same_port_gets_trailer_headers(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=10) as client:
        # TE: trailers over HTTP/1.1: uvicorn's HTTP/1.1 protocols send no trailers, so headers.
        resp = await client.get(PLAYER, headers={"TE": "trailers"})
        stream = await client.get(NARRATIVE)
    assert resp.http_version == "HTTP/1.1"
    assert resp.status_code == 200
    assert resp.headers["grpc-trailer-x-up-trailer"] == "bye"
    assert resp.json() == {"player": {}}
    assert [json.loads(line) for line in stream.text.splitlines()] == [{"turnId": "se_1"}] * 3
