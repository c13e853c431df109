"""REST/JSON against the running demo with a real HTTP client: the same calls as gRPC, transcoded."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Demo


@pytest.fixture
def rest(demo: Demo) -> httpx.Client:
    headers = {"Authorization": f"Bearer {demo.staff_token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{demo.http_port}", timeout=20, headers=headers) as client:
        yield client  # type: ignore[misc]


def test_get_a_collection_and_a_resource(rest: httpx.Client) -> None:
    worlds = rest.get("/api/v1/worlds")
    assert worlds.status_code == 200
    ids = [w["worldId"] for w in worlds.json()["worlds"]]
    assert "wd_quiet_harbour" in ids
    one = rest.get("/api/v1/worlds/wd_quiet_harbour")
    assert one.status_code == 200
    assert one.json()["world"]["title"] == "The Quiet Harbour"
    assert one.headers["x-request-id"]


def test_create_then_update_with_a_field_mask_then_read(rest: httpx.Client) -> None:
    email = f"rest-{uuid.uuid4().hex[:8]}@example.org"
    created = rest.post(
        "/api/v1/players", json={"player": {"displayName": "Kim", "email": email}, "password": "pw"}
    )
    assert created.status_code == 200, created.text
    player_id = created.json()["player"]["playerId"]
    patched = rest.patch(
        f"/api/v1/players/{player_id}", params={"updateMask": "displayName"}, json={"displayName": "Kim R."}
    )
    assert patched.status_code == 200, patched.text
    got = rest.get(f"/api/v1/players/{player_id}").json()["player"]
    assert got["displayName"] == "Kim R."
    assert got["email"] == email


def test_versioning_by_path(rest: httpx.Client) -> None:
    v1 = rest.get("/api/v1/players/pl_demo")
    v2 = rest.get("/api/v2/players/pl_demo")
    assert v1.status_code == 200
    assert v2.status_code == 200
    assert "displayName" in v1.json()["player"]
    assert "displayName" not in v2.json()["player"]  # v2 splits the name into a profile


def test_errors_are_google_rpc_status_with_the_right_http_status(rest: httpx.Client) -> None:
    missing = rest.get("/api/v1/players/pl_nobody")
    assert missing.status_code == 404
    assert missing.json()["code"] == 5
    assert "pl_nobody" in missing.json()["message"]
    no_route = rest.get("/api/v1/nothing-here")
    assert no_route.status_code == 404
    wrong_method = rest.delete("/api/v1/worlds")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, HEAD"
    bad = rest.get("/api/v1/players", params={"pageSize": "lots"})
    assert bad.status_code == 400
    violation = bad.json()["details"][0]["fieldViolations"][0]
    assert violation["field"] == "page_size"
    unknown = rest.get("/api/v1/worlds", params={"colour": "blue"})
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["message"]
    malformed = rest.post("/api/v1/diagnostics:echo", content=b'{"payload": ')
    assert malformed.status_code == 400


@pytest.mark.parametrize("accept", ["application/x-ndjson", "text/event-stream", "application/json", None])
def test_server_stream_in_every_format(rest: httpx.Client, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    resp = rest.post("/api/v1/agents/ag_guide:stream", json={"input": "hello"}, headers=headers)
    assert resp.status_code == 200
    if accept == "text/event-stream":
        events = [block for block in resp.text.split("\n\n") if block]
        chunks = [json.loads(e.split("data: ", 1)[1]) for e in events]
        assert all(e.startswith("event: message") for e in events)
    elif accept == "application/json":
        chunks = resp.json()
    else:  # NDJSON is the default
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        chunks = [json.loads(line) for line in resp.text.splitlines()]
    assert len(chunks) > 1
    assert [c["sequence"] for c in chunks if "sequence" in c][:3] == ["1", "2", "3"]


STREAM_ECHO = "/api/v1/diagnostics:streamEcho"
ECHOED = base64.b64encode(b"\x00mid-stream\xff").decode()  # standard base64, as the door renders bytes


def sse_events(text: str) -> list[tuple[str, str]]:
    """(event type, data) of each event of a ``text/event-stream`` body, per the HTML spec's parsing:
    fields are ``name: value`` lines, an event ends at a blank line, several ``data`` lines join with LF."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
        if data:
            events.append((kind, "\n".join(data)))
    return events


def stream_items(resp: httpx.Response, accept: str) -> list[tuple[str, Any]]:
    """Each item of a streamed body, in order, as ("message", message) or ("error", google.rpc.Status)."""
    assert resp.headers["content-type"].startswith(accept)
    if accept == "text/event-stream":
        return [(kind, json.loads(data)) for kind, data in sse_events(resp.text)]
    if accept == "application/json":
        elements = json.loads(resp.text)  # the whole body is one valid JSON array, error or not
        assert isinstance(elements, list)
    else:
        assert resp.text.endswith("\n")
        elements = [json.loads(line) for line in resp.text.splitlines()]
    return [("error", e["error"]) if set(e) == {"error"} else ("message", e) for e in elements]


STREAM_FORMATS = ["application/x-ndjson", "text/event-stream", "application/json"]


@pytest.mark.parametrize("accept", STREAM_FORMATS)
def test_an_error_mid_stream_arrives_in_band_and_last(rest: httpx.Client, accept: str) -> None:
    resp = rest.get(
        STREAM_ECHO,
        params={"payload": ECHOED, "count": "5", "failAfter": "2"},
        headers={"Accept": accept},
    )
    assert resp.status_code == 200  # sent with the first message, before the error was known
    assert resp.headers["cache-control"] == "no-store"
    items = stream_items(resp, accept)
    assert items[:2] == [
        ("message", {"payload": ECHOED}),  # index 0 is a default value, so it is left out
        ("message", {"index": 1, "payload": ECHOED}),
    ]
    assert len(items) == 3, f"nothing may follow the error: {items[3:]}"
    kind, status = items[2]
    assert kind == "error"
    assert status["code"] == 10  # ABORTED
    assert status["message"] == "stream failed after 2 of 5 messages, as requested by fail_after"
    assert status["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "REQUESTED_FAILURE",
            "domain": "diagnostics.tta",
            "metadata": {"failAfter": "2", "sent": "2"},
        }
    ]


@pytest.mark.parametrize("accept", STREAM_FORMATS)
def test_an_error_before_the_first_message_is_a_plain_409(rest: httpx.Client, accept: str) -> None:
    resp = rest.get(
        STREAM_ECHO, params={"payload": ECHOED, "count": "5", "failAfter": "0"}, headers={"Accept": accept}
    )
    assert resp.status_code == 409
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == 10
    assert body["message"] == "stream failed after 0 of 5 messages, as requested by fail_after"
    assert [(d["@type"], d["reason"]) for d in body["details"]] == [
        ("type.googleapis.com/google.rpc.ErrorInfo", "REQUESTED_FAILURE")
    ]


@pytest.mark.parametrize("accept", STREAM_FORMATS)
def test_a_stream_that_ends_well_has_no_error_item(rest: httpx.Client, accept: str) -> None:
    resp = rest.get(STREAM_ECHO, params={"payload": ECHOED, "count": "3"}, headers={"Accept": accept})
    assert resp.status_code == 200
    items = stream_items(resp, accept)
    assert [kind for kind, _ in items] == ["message"] * 3
    assert [m.get("index", 0) for _, m in items] == [0, 1, 2]
    assert all(m["payload"] == ECHOED for _, m in items)


def test_stream_echo_count_is_bounded(rest: httpx.Client) -> None:
    resp = rest.get(STREAM_ECHO, params={"count": "101"})
    assert resp.status_code == 400
    assert resp.json()["details"][0]["fieldViolations"][0]["field"] == "count"


def test_unacceptable_stream_format_is_406(rest: httpx.Client) -> None:
    resp = rest.post("/api/v1/agents/ag_guide:stream", json={"input": "hi"}, headers={"Accept": "text/html"})
    assert resp.status_code == 406


def test_openapi_document_is_valid_and_describes_what_is_served(rest: httpx.Client) -> None:
    from openapi_spec_validator import validate

    resp = rest.get("/openapi.json")
    assert resp.status_code == 200
    document = resp.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert "get" in document["paths"]["/api/v1/players/{player_id}"]
    assert "/api/v2/players/{player_id}" in document["paths"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_works_offline(rest: httpx.Client) -> None:
    page = rest.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/v1/worlds" in page.text
    assert "<script" not in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text


def test_early_refusals_carry_a_request_id(rest: httpx.Client) -> None:
    assert rest.get("/api/v1/nope").headers["x-request-id"]
    assert rest.get("/api/v1/nope", headers={"X-Request-Id": "mine-1"}).headers["x-request-id"] == "mine-1"


def test_a_room_watch_delivers_a_message_posted_over_rest(rest: httpx.Client, demo: Demo) -> None:
    """The open-ended watch (left out of `make schemathesis`, which can only time out on it): a message
    posted over REST reaches an NDJSON watcher of the room, then the watcher leaves."""
    email = f"watch-{uuid.uuid4().hex[:8]}@example.org"
    player = rest.post(
        "/api/v1/players", json={"player": {"displayName": "W", "email": email}, "password": "pw"}
    )
    assert player.status_code == 200, player.text
    session = rest.post(
        "/api/v1/sessions",
        json={"playerId": player.json()["player"]["playerId"], "worldId": "wd_quiet_harbour"},
    )
    assert session.status_code == 200, session.text
    session_id = session.json()["session"]["sessionId"]
    text = f"a calm morning at the harbour {uuid.uuid4().hex[:6]}"
    demo.secrets.add(text)  # player text: it must never reach the demo's log
    received = threading.Event()

    def post_until_seen() -> None:
        # The watch subscribes when the gateway has made its upstream call, which the client cannot
        # see (the status line comes with the first message), so post until the watcher has one.
        with httpx.Client(base_url=rest.base_url, timeout=10, headers=rest.headers) as poster:
            for attempt in range(50):
                if received.is_set():
                    return
                sent = poster.post(
                    f"/api/v1/sessions/{session_id}/messages",
                    json={"clientMessageId": f"m{attempt}", "text": text},
                )
                assert sent.status_code == 200, sent.text
                received.wait(0.2)

    poster = threading.Thread(target=post_until_seen, daemon=True)
    poster.start()
    try:
        with rest.stream("GET", f"/api/v1/sessions/{session_id}/messages:watch") as watch:
            assert watch.status_code == 200
            assert watch.headers["content-type"].startswith("application/x-ndjson")
            first = json.loads(next(watch.iter_lines()))
            received.set()
    finally:
        received.set()
        poster.join(timeout=15)
    assert first["message"]["text"] == text
    assert first["message"]["sessionId"] == session_id


def test_the_banners_curl_examples_work_as_printed(demo: Demo) -> None:
    """What `make demo` tells a newcomer to type works: the banner's `export` lines (its ready-made
    tokens), then every `curl` line, run as printed in one shell (a line ending in a backslash
    continues on the next), each answering 2xx with a body."""
    import subprocess

    from tests.conftest import require_tool

    require_tool("curl")
    bash = require_tool("bash")
    demo.banner_token("player")  # waits for the banner
    lines = demo.log_lines()
    exports = [line.strip() for line in lines if line.strip().startswith("export TTA_")]
    assert len(exports) == 2, lines[:60]
    commands: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("curl "):
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            commands.append(line)
        i += 1
    assert len(commands) >= 4, lines[:60]
    assert any("$TTA_PLAYER_TOKEN" in c for c in commands)
    assert any("$TTA_THERAPIST_TOKEN" in c for c in commands)
    for command in commands:
        curl = command.replace("curl ", "curl -sS --fail-with-body --max-time 20 ", 1)
        result = subprocess.run(
            [bash, "-c", "\n".join([*exports, curl])],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (command, result.stdout[:300], result.stderr[:300])
        assert result.stdout.strip(), command
