"""The one gRPC status → HTTP table, and the google.rpc.Status JSON body."""

from __future__ import annotations

import orjson
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from transcoder.status import HTTP_STATUS, Code, http_status, parse_details, status_body


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (Code.CANCELLED, 499),
        (Code.INVALID_ARGUMENT, 400),
        (Code.DEADLINE_EXCEEDED, 504),
        (Code.NOT_FOUND, 404),
        (Code.ALREADY_EXISTS, 409),
        (Code.PERMISSION_DENIED, 403),
        (Code.RESOURCE_EXHAUSTED, 429),
        (Code.FAILED_PRECONDITION, 400),
        (Code.ABORTED, 409),
        (Code.OUT_OF_RANGE, 400),
        (Code.UNIMPLEMENTED, 501),
        (Code.UNKNOWN, 500),
        (Code.INTERNAL, 500),
        (Code.DATA_LOSS, 500),
        (Code.UNAVAILABLE, 503),
        (Code.UNAUTHENTICATED, 401),
        (99, 500),
    ],
)
def test_code_to_http_status(code: int, status: int) -> None:
    assert http_status(code, ()) == status


def test_every_code_is_mapped() -> None:
    assert set(HTTP_STATUS) == set(Code)


def _info(reason: str) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="tta"))
    return detail


@pytest.mark.parametrize(
    ("code", "reason", "status"),
    [
        (Code.INVALID_ARGUMENT, "CONTENT_SAFETY_VIOLATION", 422),
        (Code.FAILED_PRECONDITION, "CONSENT_REQUIRED", 451),
        (Code.PERMISSION_DENIED, "PRIVACY_RESTRICTED", 451),
        (Code.PERMISSION_DENIED, "SOMETHING_ELSE", 403),
    ],
)
def test_error_info_reasons_refine_the_status(code: Code, reason: str, status: int) -> None:
    assert http_status(code, [_info(reason)]) == status


def test_status_body_carries_details_as_typed_json() -> None:
    bad = any_pb2.Any()
    bad.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="player_id", description="required")
            ]
        )
    )
    body = orjson.loads(status_body(Code.INVALID_ARGUMENT, "player_id: required", [bad]))
    assert body["code"] == 3
    assert body["message"] == "player_id: required"
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "player_id", "description": "required"}],
        }
    ]


def test_unknown_detail_types_are_kept_not_dropped() -> None:
    odd = any_pb2.Any(type_url="type.googleapis.com/acme.Unknown", value=b"\x08\x01")
    body = orjson.loads(status_body(Code.INTERNAL, "x", [odd]))
    assert body["details"] == [{"@type": "type.googleapis.com/acme.Unknown", "value": "CAE="}]


def test_parse_details_from_the_trailer() -> None:
    detail = _info("CONSENT_REQUIRED")
    raw = status_pb2.Status(code=9, message="m", details=[detail]).SerializeToString()
    assert list(parse_details(raw)) == [detail]
    assert parse_details(b"\xff\xff") == ()
    assert parse_details(None) == ()
