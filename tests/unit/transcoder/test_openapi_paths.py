"""transcoder._openapi_paths: naming, renaming, parameter objects and placing operations that share a
path. The templates themselves are tabled in test_openapi.py (``test_compile_openapi_path``)."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from transcoder._openapi_paths import (
    PathParameter,
    compile_openapi_path,
    path_parameters,
    place_operations,
    singular,
)
from transcoder.rules import HttpBinding
from transcoder.template import parse_template

Json = dict[str, Any]


def test_the_module_docstring_example() -> None:
    layout = compile_openapi_path(parse_template("/v1/{name=shelves/*/books/*}:get"))
    assert layout.path == "/v1/shelves/{shelf}/books/{book}:get"
    assert layout.parameters[0] == PathParameter("shelf", "name", False, "shelves/{shelf}/books/{book}")
    assert layout.fills == (("name", "shelves/{shelf}/books/{book}"),)


@pytest.mark.parametrize(
    ("word", "one"),
    [
        ("books", "book"),
        ("shelves", "shelf"),
        ("policies", "policy"),
        ("addresses", "address"),
        ("access", "access"),
        ("people", "people"),
        ("s", "s"),
        ("user-profiles", "user-profile"),
    ],
)
def test_singular(word: str, one: str) -> None:
    assert singular(word) == one


@pytest.mark.parametrize(
    ("template", "as_template", "path", "fills"),
    [
        ("/players/{player.player_id}", "/players/{player_id}", "/players/{player_id}", {}),
        ("/v1/{parent=shelves/*}/x", "/v1/{name=shelves/*}/x", "/v1/shelves/{shelf}/x", {"parent": "shelves/{shelf}"}),
        ("/v1/{a}/{b}", "/v1/{x}/{y}", "/v1/{x}/{y}", {}),
    ],
)  # fmt: skip
def test_named_as_takes_the_other_paths_names(
    template: str, as_template: str, path: str, fills: dict[str, str]
) -> None:
    layout, other = (compile_openapi_path(parse_template(t)) for t in (template, as_template))
    assert layout.shape() == other.shape()
    renamed = layout.named_as(other)
    assert renamed.path == path == other.path
    assert dict(renamed.fills) == fills
    assert [p.field_path for p in renamed.parameters] == [p.field_path for p in layout.parameters]


def _request() -> Descriptor:
    pool = descriptor_pool.DescriptorPool()
    f = descriptor_pb2.FileDescriptorProto(name="p.proto", package="p", syntax="proto3")
    message = f.message_type.add(name="Req")
    for number, name in enumerate(("name", "id", "rest"), start=1):
        message.field.add(name=name, number=number, type=FieldDescriptor.TYPE_STRING, label=1)
    pool.Add(f)
    return pool.FindMessageTypeByName("p.Req")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("/v1/{id}", [{"name": "id", "schema": {"type": "string"}, "x-tta-binds": "id"}]),
        ("/v1/{rest=**}", [{"name": "rest", "schema": {"type": "string", "pattern": "^(?:[^/]+(?:/[^/]+)*)?$"},
                            "x-tta-binds": "rest"}]),
        ("/v1/{name=shelves/*}", [{"name": "shelf", "schema": {"type": "string", "pattern": "^[^/]+$"},
                                   "x-tta-binds": "name"}]),
        ("/v1/{name=files/**}", [{"name": "file", "schema": {"type": "string", "pattern": "^[^/]+(?:/[^/]+)*$"},
                                  "x-tta-binds": "name"}]),
        ("/v1/*", [{"name": "wildcard-1", "schema": {"type": "string", "pattern": "^[^/]+$"}}]),
        ("/v1/**", [{"name": "wildcard-1", "schema": {"type": "string"}}]),
    ],
)  # fmt: skip
def test_path_parameters(template: str, expected: list[Json]) -> None:
    got = path_parameters(
        compile_openapi_path(parse_template(template)),
        _request(),
        lambda name: None,
        lambda field: {"type": "string"},
    )
    assert [
        {k: v for k, v in p.items() if k not in ("in", "required", "description")} for p in got
    ] == expected
    assert all(p["in"] == "path" and p["required"] is True for p in got)


def test_a_spelled_out_parameter_says_what_it_fills() -> None:
    layout = compile_openapi_path(parse_template("/v1/{name=files/**}"))
    (param,) = path_parameters(layout, _request(), lambda name: "The file.", lambda field: {})
    assert param["description"] == (
        "The file.\n\nFills `name` as `files/{file}`: the rest of the path, one or more segments with the `/` "
        "between them unescaped (with none, the path ends before `/{file}` and `name` is `files`)."
    )


def _binding(template: str, method: str = "M") -> HttpBinding:
    return HttpBinding(
        f"/p.S/{method}",
        "p.S",
        method,
        "GET",
        parse_template(template),
        None,
        None,
        "p.Req",
        "p.Req",
        False,
        False,
    )


@pytest.mark.parametrize("order", [0, 1])
def test_place_operations_lists_the_router_first_and_keeps_the_other_beside(order: int) -> None:
    claimants = [(_binding("/v1/{name=files/*}", "One"), {"operationId": "S_One"}),
                 (_binding("/v1/{name=files/**}", "Many"), {"operationId": "S_Many"})]  # fmt: skip
    if order:
        claimants.reverse()
    placement = place_operations({("/v1/files/{file}", "get"): claimants})
    assert placement.problems == []
    assert placement.paths == {"/v1/files/{file}": {"get": {"operationId": "S_One"}}}
    assert list(placement.unlisted) == ["S_Many"]
    assert placement.unlisted["S_Many"]["listedAs"] == "S_One"
    assert placement.unlisted["S_Many"]["template"] == "/v1/{name=files/**}"


def test_place_operations_reports_bindings_the_router_would_refuse() -> None:
    claimants = [
        (_binding("/v1/{id}", "A"), {"operationId": "S_A"}),
        (_binding("/v1/*", "B"), {"operationId": "S_B"}),
    ]
    placement = place_operations({("/v1/{id}", "get"): claimants})
    assert placement.problems == [
        "GET /v1/* -> /p.S/B: same OpenAPI operation get /v1/{id} as GET /v1/{id} -> /p.S/A"
    ]
