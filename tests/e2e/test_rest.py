"""REST/JSON against the running demo with a real HTTP client: the same calls as gRPC, transcoded."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.e2e.conftest import Demo


@pytest.fixture
def rest(demo: Demo) -> httpx.Client:
    with httpx.Client(base_url=f"http://127.0.0.1:{demo.http_port}", timeout=20) as client:
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
