"""transcoder.openapi: the OpenAPI 3.1 document of the TTA contracts, validated with openapi-spec-validator,
and of a small hand-built contract with what TTA lacks (a map of int64, a oneof, recursion, bytes, a
``**`` template, field_behavior, well-known types, a custom HTTP method and an unnamed wildcard)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from google.api import annotations_pb2, field_behavior_pb2, http_pb2
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from openapi_spec_validator import validate

from gateway.descriptors import embedded_descriptor_set
from transcoder.openapi import OpenApiError, compile_openapi_path, openapi_document, openapi_path
from transcoder.router import RouteConflict, RouterBuilder
from transcoder.rules import HttpBinding, http_bindings
from transcoder.template import decode_bindings, parse_template

Json = dict[str, Any]
_F = descriptor_pb2.FieldDescriptorProto
PUBLIC = {"/tta.v1.AuthService/Login", "/tta.v1.DiagnosticsService/Echo"}


def _pool(fds: descriptor_pb2.FileDescriptorSet) -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return pool


@functools.cache
def _tta() -> tuple[descriptor_pb2.FileDescriptorSet, list[HttpBinding], descriptor_pool.DescriptorPool]:
    fds = embedded_descriptor_set()
    return fds, http_bindings(fds), _pool(fds)


def tta_doc(**kwargs: Any) -> Json:
    fds, bindings, pool = _tta()
    return openapi_document(bindings, pool, fds=fds, public_operations=PUBLIC, **kwargs)


@pytest.fixture(scope="module")
def doc() -> Json:
    return tta_doc()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolves(document: Json) -> None:
    for ref in _refs(document):
        assert ref.startswith("#/components/"), ref
        _, _, kind, name = ref.split("/", 3)
        assert name in document["components"][kind], ref


def _operations(document: Json) -> Iterator[Json]:
    for item in document["paths"].values():
        yield from item.values()


def _param(operation: Json, name: str) -> Json:
    return next(p for p in operation["parameters"] if p.get("name") == name)


# -- the TTA contracts ---------------------------------------------------------------------------


def test_tta_document_is_valid_openapi_31(doc: Json) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    _resolves(doc)


def test_get_player_has_a_required_path_parameter_and_comments(doc: Json) -> None:
    op = doc["paths"]["/api/v1/players/{player_id}"]["get"]
    assert _param(op, "player_id") == {
        "name": "player_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The player to return. A player may only ask for themselves.",
        "x-tta-binds": "player_id",
    }
    assert op["summary"] == "Returns one player's account."
    assert op["tags"] == ["tta.v1.PlayerService"]
    assert op["x-grpc-method"] == "/tta.v1.PlayerService/GetPlayer"
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/tta.v1.GetPlayerResponse"
    }


def test_update_player_binds_a_dotted_path_and_takes_the_player_as_body(doc: Json) -> None:
    # One path item with GET's name for the segment (OpenAPI: paths differing only in parameter
    # names are the same path); the PATCH parameter says it binds player.player_id.
    assert "/api/v1/players/{player.player_id}" not in doc["paths"]
    item = doc["paths"]["/api/v1/players/{player_id}"]
    patch, put = item["patch"], item["put"]
    assert "get" in item
    assert _param(patch, "player_id")["required"] is True
    assert "`player.player_id`" in _param(patch, "player_id")["description"]
    assert _param(patch, "player_id")["x-tta-binds"] == "player.player_id"
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/tta.v1.Player"
    # The body is `player` and the path binds `player.player_id`: only update_mask is left for the query.
    query = [p["name"] for p in patch["parameters"] if p.get("in") == "query"]
    assert query == ["updateMask"]
    assert _param(patch, "updateMask")["schema"] == {"type": "string"}
    assert put["operationId"] == patch["operationId"] + "_1"


def test_custom_verb_stays_literal_and_body_star_omits_path_fields(doc: Json) -> None:
    op = doc["paths"]["/api/v1/sessions/{session_id}:start"]["post"]
    assert _param(op, "session_id")["in"] == "path"
    assert not [p for p in op["parameters"] if p.get("in") == "query"]  # body "*": no query parameters
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert list(schema["properties"]) == ["moodBefore"]
    assert "session_id" in schema["description"]


def test_create_player_takes_the_whole_request_as_body_so_the_password_never_is_in_the_url(doc: Json) -> None:
    op = doc["paths"]["/api/v1/players"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/tta.v1.CreatePlayerRequest")
    assert not [p for p in op["parameters"] if p.get("in") == "query"]


def test_list_players_query_parameters(doc: Json) -> None:
    op = doc["paths"]["/api/v1/players"]["get"]
    query = {p["name"]: p for p in op["parameters"] if p.get("in") == "query"}
    assert sorted(query) == ["pageSize", "pageToken", "state", "therapistId"]
    assert query["pageSize"]["schema"] == {"type": "integer", "format": "int32"}
    assert query["state"]["schema"] == {"$ref": "#/components/schemas/tta.v1.PlayerState"}
    refs = [p["$ref"] for p in op["parameters"] if "$ref" in p]
    assert refs == [f"#/components/parameters/{n}" for n in ("RequestId", "Traceparent")]


def test_enum_schema_lists_value_names(doc: Json) -> None:
    state = doc["components"]["schemas"]["tta.v1.PlayerState"]
    assert state["type"] == "string"
    assert state["enum"] == [
        "PLAYER_STATE_UNSPECIFIED",
        "PLAYER_STATE_ACTIVE",
        "PLAYER_STATE_SUSPENDED",
        "PLAYER_STATE_DELETED",
    ]
    assert "- `PLAYER_STATE_ACTIVE`: The player can sign in and play." in state["description"]


def test_proto3_json_types(doc: Json) -> None:
    schemas = doc["components"]["schemas"]
    sequence = schemas["tta.v1.StreamAgentReplyResponse"]["properties"]["sequence"]
    assert (sequence["type"], sequence["format"]) == ("string", "int64")
    player = schemas["tta.v1.Player"]["properties"]
    assert (player["createTime"]["type"], player["createTime"]["format"]) == ("string", "date-time")
    assert player["preferences"]["additionalProperties"] == {"type": "string"}
    assert player["state"]["$ref"] == "#/components/schemas/tta.v1.PlayerState"
    assert "displayName" in player
    echo = schemas["tta.v1.EchoResponse"]["properties"]["payload"]
    assert echo["contentEncoding"] == "base64"


def test_server_streaming_offers_three_formats(doc: Json) -> None:
    op = doc["paths"]["/api/v1/agents/{agent_id}:stream"]["post"]
    content = op["responses"]["200"]["content"]
    assert set(content) == {"application/x-ndjson", "text/event-stream", "application/json"}
    assert content["application/json"]["schema"]["type"] == "array"
    assert "406" in op["responses"]
    assert "406" not in doc["paths"]["/api/v1/players"]["get"]["responses"]


def test_client_streaming_takes_ndjson_or_an_array(doc: Json) -> None:
    op = doc["paths"]["/api/v1/sessions/{session_id}/messages:import"]["post"]
    content = op["requestBody"]["content"]
    assert set(content) == {"application/x-ndjson", "application/json"}
    assert content["application/json"]["schema"]["type"] == "array"


def test_errors_are_google_rpc_status(doc: Json) -> None:
    op = doc["paths"]["/api/v1/players/{player_id}"]["get"]
    expected = {"400", "401", "403", "404", "405", "409", "413", "429", "500", "503", "504", "default"}
    assert expected <= set(op["responses"])
    assert op["responses"]["404"] == {"$ref": "#/components/responses/NotFound"}
    status = doc["components"]["schemas"]["google.rpc.Status"]
    assert list(status["properties"]) == ["code", "message", "details"]
    assert status["properties"]["details"]["items"]["required"] == ["@type"]
    for response in doc["components"]["responses"].values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/google.rpc.Status"
        }


def test_operation_ids_are_unique(doc: Json) -> None:
    ids = [op["operationId"] for op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert "WorldService_ListWorlds" in ids
    # tta.v1 and tta.v2 both have a PlayerService: the package qualifies the name.
    assert {"tta_v1_PlayerService_GetPlayer", "tta_v2_PlayerService_GetPlayer"} <= set(ids)


def test_security_global_bearer_and_public_operations(doc: Json) -> None:
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    login = doc["paths"]["/api/v1/auth:login"]["post"]
    assert login["security"] == []
    assert "401" not in login["responses"]
    assert doc["paths"]["/api/v1/diagnostics:echo"]["get"]["security"] == []
    assert "security" not in doc["paths"]["/api/v1/players"]["get"]


def test_optional_auth_operations() -> None:
    document = tta_doc(optional_auth_operations={"/tta.v1.PlayerService/CreatePlayer"})
    op = document["paths"]["/api/v1/players"]["post"]
    assert op["security"] == [{}, {"bearerAuth": []}]


def test_tags_and_info(doc: Json) -> None:
    tags = [t["name"] for t in doc["tags"]]
    assert tags == sorted(tags)
    assert "tta.v1.WorldService" in tags
    assert doc["info"]["title"] == "TTA API"
    assert "servers" not in doc
    with_servers = tta_doc(servers=["https://api.example.org"], title="T", version="2")
    assert with_servers["servers"] == [{"url": "https://api.example.org"}]
    assert with_servers["info"]["version"] == "2"


def test_use_proto_names() -> None:
    document = tta_doc(use_proto_names=True)
    validate(document)
    assert "display_name" in document["components"]["schemas"]["tta.v1.Player"]["properties"]
    op = document["paths"]["/api/v1/players"]["get"]
    assert "page_size" in [p.get("name") for p in op["parameters"]]


def test_without_comments_the_method_name_is_the_summary() -> None:
    _, bindings, pool = _tta()
    document = openapi_document(bindings, pool)
    op = document["paths"]["/api/v1/players/{player_id}"]["get"]
    assert op["summary"] == "GetPlayer"
    assert "description" not in op


def test_deterministic(doc: Json) -> None:
    assert orjson.dumps(tta_doc()) == orjson.dumps(doc)
    assert list(doc["paths"]) == sorted(doc["paths"])
    assert list(doc["components"]["schemas"]) == sorted(doc["components"]["schemas"])


# -- a hand-built contract -----------------------------------------------------------------------


def _file(module: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return proto


def _field(
    message: descriptor_pb2.DescriptorProto, name: str, kind: int | str, label: str = "", **extra: Any
) -> descriptor_pb2.FieldDescriptorProto:
    field = message.field.add(name=name, number=len(message.field) + 1, json_name=_camel(name))
    if isinstance(kind, str):
        field.type = _F.TYPE_ENUM if kind.endswith("Color") else _F.TYPE_MESSAGE
        field.type_name = kind
    else:
        field.type = kind  # type: ignore[assignment]
    field.label = _F.LABEL_REPEATED if label == "repeated" else _F.LABEL_OPTIONAL
    for key, value in extra.items():
        setattr(field, key, value)
    return field


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _rule(method: descriptor_pb2.MethodDescriptorProto, **rule: Any) -> None:
    custom = rule.pop("custom", None)
    http = method.options.Extensions[annotations_pb2.http]
    http.CopyFrom(http_pb2.HttpRule(**rule))
    if custom:
        http.custom.CopyFrom(http_pb2.CustomHttpPattern(kind=custom[0], path=custom[1]))


def _node(node: descriptor_pb2.DescriptorProto) -> None:
    """Node: every field type, a map, a oneof, proto3 optional, recursion, field_behavior."""
    name = _field(node, "name", _F.TYPE_STRING)
    name.options.Extensions[field_behavior_pb2.field_behavior].append(field_behavior_pb2.REQUIRED)
    _field(node, "children", ".test.oa.Node", "repeated")
    _field(node, "parent", ".test.oa.Node")
    entry = node.nested_type.add(name="LabelsEntry")
    entry.options.map_entry = True
    _field(entry, "key", _F.TYPE_STRING)
    _field(entry, "value", _F.TYPE_INT64)
    _field(node, "labels", ".test.oa.Node.LabelsEntry", "repeated")
    _field(node, "blob", _F.TYPE_BYTES)
    node.oneof_decl.add(name="kind")
    _field(node, "text", _F.TYPE_STRING, oneof_index=0)
    _field(node, "number", _F.TYPE_INT32, oneof_index=0)
    node.oneof_decl.add(name="_nickname")
    _field(node, "nickname", _F.TYPE_STRING, oneof_index=1, proto3_optional=True)
    _field(node, "count", _F.TYPE_UINT32)
    _field(node, "color", ".test.oa.Color")
    _field(node, "when", ".google.protobuf.Timestamp")
    _field(node, "took", ".google.protobuf.Duration")
    _field(node, "mask", ".google.protobuf.FieldMask")
    _field(node, "extra", ".google.protobuf.Struct")
    _field(node, "anything", ".google.protobuf.Value")
    _field(node, "items", ".google.protobuf.ListValue")
    _field(node, "maybe", ".google.protobuf.Int64Value")
    _field(node, "detail", ".google.protobuf.Any")
    _field(node, "nothing", ".google.protobuf.Empty")
    _field(node, "ratio", _F.TYPE_DOUBLE, "repeated")
    created = _field(node, "node_id", _F.TYPE_STRING)
    created.options.Extensions[field_behavior_pb2.field_behavior].append(field_behavior_pb2.OUTPUT_ONLY)


@functools.cache
def _handmade() -> descriptor_pb2.FileDescriptorSet:
    f = descriptor_pb2.FileDescriptorProto(name="test/oa.proto", package="test.oa", syntax="proto3")
    f.dependency.extend(
        [
            "google/api/annotations.proto",
            "google/api/field_behavior.proto",
            *(m.DESCRIPTOR.name for m in (timestamp_pb2, duration_pb2, field_mask_pb2, struct_pb2)),
            *(m.DESCRIPTOR.name for m in (wrappers_pb2, any_pb2, empty_pb2)),
        ]
    )
    color = f.enum_type.add(name="Color")
    color.value.add(name="COLOR_UNSPECIFIED", number=0)
    color.value.add(name="COLOR_RED", number=1)
    _node(f.message_type.add(name="Node"))

    get = f.message_type.add(name="GetNodeRequest")
    _field(get, "name", _F.TYPE_STRING)
    _field(get, "filter", ".test.oa.Node")
    _field(get, "tags", _F.TYPE_STRING, "repeated")
    create = f.message_type.add(name="CreateNodeRequest")
    _field(create, "parent", _F.TYPE_STRING)
    _field(create, "node", ".test.oa.Node")
    _field(create, "validate_only", _F.TYPE_BOOL)

    service = f.service.add(name="NodeService")
    m = service.method.add(name="GetNode", input_type=".test.oa.GetNodeRequest", output_type=".test.oa.Node")
    _rule(m, get="/v1/{name=nodes/**}")
    m = service.method.add(
        name="CreateNode", input_type=".test.oa.CreateNodeRequest", output_type=".test.oa.Node"
    )
    _rule(m, post="/v1/{parent=nodes/*}/children", body="node", response_body="children")
    m = service.method.add(
        name="WatchNodes", input_type=".test.oa.Node", output_type=".test.oa.Node", server_streaming=True
    )
    _rule(m, get="/v1/nodes:watch")
    m = service.method.add(
        name="UploadNodes", input_type=".test.oa.Node", output_type=".test.oa.Node", client_streaming=True
    )
    _rule(m, post="/v1/nodes:upload", body="*")
    m = service.method.add(name="SearchNodes", input_type=".test.oa.Node", output_type=".test.oa.Node")
    _rule(m, custom=("SEARCH", "/v1/nodes/*/{name}"))

    # Comments: the method GetNode (service 0, method 0) and the message Node (message 1).
    f.source_code_info.location.add(path=[6, 0, 2, 0], leading_comments=" Returns one node.\n Or fails.\n")
    f.source_code_info.location.add(path=[4, 0], leading_comments=" A node of a tree.\n")
    f.source_code_info.location.add(path=[4, 0, 2, 0], leading_comments=" The node's name.\n")

    fds = descriptor_pb2.FileDescriptorSet()
    fds.file.extend(
        [
            _file(descriptor_pb2),
            _file(http_pb2),
            _file(annotations_pb2),
            _file(field_behavior_pb2),
            *(_file(m) for m in (timestamp_pb2, duration_pb2, field_mask_pb2, struct_pb2)),
            *(_file(m) for m in (wrappers_pb2, any_pb2, empty_pb2)),
            f,
        ]
    )
    return fds


@pytest.fixture(scope="module")
def hand() -> Json:
    fds = _handmade()
    document = openapi_document(http_bindings(fds), _pool(fds), fds=fds)
    validate(document)
    _resolves(document)
    return document


def test_handmade_schema_types(hand: Json) -> None:
    node = hand["components"]["schemas"]["test.oa.Node"]
    props = node["properties"]
    assert node["description"].startswith("A node of a tree.")
    assert node["required"] == ["name"]
    assert props["name"]["description"] == "The node's name."
    assert props["children"] == {"type": "array", "items": {"$ref": "#/components/schemas/test.oa.Node"}}
    assert props["parent"] == {"$ref": "#/components/schemas/test.oa.Node"}
    assert props["labels"] == {
        "type": "object",
        "additionalProperties": {"type": "string", "format": "int64"},
    }
    assert props["blob"] == {"type": "string", "contentEncoding": "base64"}
    assert props["count"] == {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
    assert props["color"] == {"$ref": "#/components/schemas/test.oa.Color"}
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["took"]["type"] == "string"
    assert re.fullmatch(props["took"]["pattern"], "-1.5s")
    assert props["mask"] == {"type": "string"}
    assert props["extra"] == {"type": "object"}
    assert props["anything"] == {}
    assert props["items"] == {"type": "array", "items": {}}
    assert props["maybe"] == {"type": ["string", "null"], "format": "int64"}
    assert props["detail"]["required"] == ["@type"]
    assert props["nothing"] == {"type": "object"}
    assert props["ratio"] == {"type": "array", "items": {"type": "number", "format": "double"}}
    assert props["nodeId"]["readOnly"] is True
    assert hand["components"]["schemas"]["test.oa.Color"]["enum"] == ["COLOR_UNSPECIFIED", "COLOR_RED"]
    assert "test.oa.Node.LabelsEntry" not in hand["components"]["schemas"]


def test_handmade_oneof_is_documented_and_exclusive(hand: Json) -> None:
    node = hand["components"]["schemas"]["test.oa.Node"]
    assert "At most one of `text`, `number` (oneof `kind`)." in node["description"]
    assert "Member of oneof `kind`." in node["properties"]["text"]["description"]
    assert node["not"] == {"anyOf": [{"required": ["text", "number"]}]}
    # proto3 `optional` is a synthetic oneof: presence only, nothing to document.
    assert "nickname" not in node["description"]
    assert "description" not in node["properties"]["nickname"]


def test_handmade_multi_segment_variable(hand: Json) -> None:
    # {name=nodes/**}: the literal goes into the path, the ** is the rest of it.
    assert "/v1/{name}" not in hand["paths"]
    op = hand["paths"]["/v1/nodes/{node}"]["get"]
    assert op["summary"] == "Returns one node."
    assert op["description"] == "Returns one node.\nOr fails."
    assert op["x-tta-path-fields"] == {"name": "nodes/{node}"}
    node = _param(op, "node")
    assert (node["required"], node["x-tta-binds"]) == (True, "name")
    assert node["description"].startswith("Fills `name` as `nodes/{node}`: the rest of the path")
    assert "with none, the path ends before `/{node}` and `name` is `nodes`" in node["description"]
    pattern = node["schema"]["pattern"]
    assert all(re.fullmatch(pattern, v) for v in ("a", "a/b/c", "a:b"))
    assert not any(re.fullmatch(pattern, v) for v in ("", "a/", "/a", "a//b"))


def test_handmade_query_parameters(hand: Json) -> None:
    op = hand["paths"]["/v1/nodes/{node}"]["get"]
    query = {p["name"]: p for p in op["parameters"] if p.get("in") == "query"}
    assert query["tags"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert (query["tags"]["style"], query["tags"]["explode"]) == ("form", True)
    # Nested fields by dotted lowerCamel path; `name` is bound by the path, `filter.name` is not.
    assert "name" not in query
    assert query["filter.name"]["schema"] == {"type": "string"}
    assert query["filter.nodeId"]["schema"] == {"type": "string"}
    assert query["filter.labels"]["style"] == "deepObject"
    assert query["filter.labels"]["schema"]["additionalProperties"] == {"type": "string", "format": "int64"}
    assert "%2B" in query["filter.blob"]["description"]
    assert query["filter.when"]["schema"]["format"] == "date-time"
    assert query["filter.maybe"]["schema"] == {"type": "string", "format": "int64"}
    assert query["filter.extra"]["schema"]["contentMediaType"] == "application/json"
    assert query["filter.ratio"]["schema"]["type"] == "array"
    # A query cannot set a message (Any, Empty), go into a repeated message, or recurse forever.
    for absent in (
        "filter.detail",
        "filter.nothing",
        "filter.children",
        "filter.parent",
        "filter.parent.name",
    ):
        assert absent not in query
    assert list(query) == sorted(query)


def test_handmade_body_field_and_response_body(hand: Json) -> None:
    op = hand["paths"]["/v1/nodes/{node}/children"]["post"]
    assert _param(op, "node")["schema"]["pattern"] == "^[^/]+$"
    assert _param(op, "node")["x-tta-binds"] == "parent"
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/test.oa.Node"
    }
    assert [p["name"] for p in op["parameters"] if p.get("in") == "query"] == ["validateOnly"]
    response = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert response == {"type": "array", "items": {"$ref": "#/components/schemas/test.oa.Node"}}


def test_handmade_streams(hand: Json) -> None:
    watch = hand["paths"]["/v1/nodes:watch"]["get"]["responses"]["200"]["content"]
    assert list(watch) == ["application/x-ndjson", "text/event-stream", "application/json"]
    upload = hand["paths"]["/v1/nodes:upload"]["post"]["requestBody"]["content"]
    assert upload["application/x-ndjson"]["schema"] == {"$ref": "#/components/schemas/test.oa.Node"}
    assert upload["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/test.oa.Node"}


def test_handmade_custom_method_and_unnamed_wildcard(hand: Json) -> None:
    item = hand["paths"]["/v1/nodes/{wildcard-1}/{name}"]
    op = item["x-search"]
    assert op["operationId"] == "NodeService_SearchNodes"
    assert [p["name"] for p in op["parameters"] if p.get("in") == "path"] == ["name", "wildcard-1"]


def test_handmade_proto_names() -> None:
    fds = _handmade()
    document = openapi_document(http_bindings(fds), _pool(fds), fds=fds, use_proto_names=True)
    validate(document)
    node = document["components"]["schemas"]["test.oa.Node"]
    assert "node_id" in node["properties"]
    op = document["paths"]["/v1/nodes/{node}/children"]["post"]
    assert [p["name"] for p in op["parameters"] if p.get("in") == "query"] == ["validate_only"]


# -- paths: variables with literals are spelled out ----------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "parameters", "fills"),
    [
        ("/", "/", [], {}),
        ("/v1/messages/{message_id}/{sub.subfield}", "/v1/messages/{message_id}/{sub.subfield}",
         [("message_id", "message_id", False), ("sub.subfield", "sub.subfield", False)], {}),
        ("/v1/files/{path=**}", "/v1/files/{path}", [("path", "path", True)], {}),
        ("/v1/*/x/**:get", "/v1/{wildcard-1}/x/{wildcard-2}:get",
         [("wildcard-1", None, False), ("wildcard-2", None, True)], {}),
        # the resource names of Google's API design guide
        ("/v1/{name=messages/*}", "/v1/messages/{message}", [("message", "name", False)],
         {"name": "messages/{message}"}),
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/{shelf}/books/{book}",
         [("shelf", "name", False), ("book", "name", False)], {"name": "shelves/{shelf}/books/{book}"}),
        ("/v1/{name=projects/*/locations/*}:cancel", "/v1/projects/{project}/locations/{location}:cancel",
         [("project", "name", False), ("location", "name", False)],
         {"name": "projects/{project}/locations/{location}"}),
        ("/v1/{parent=shelves/*}/books", "/v1/shelves/{shelf}/books", [("shelf", "parent", False)],
         {"parent": "shelves/{shelf}"}),
        ("/v1/{name=files/**}:get", "/v1/files/{file}:get", [("file", "name", True)], {"name": "files/{file}"}),
        # names: singular the simple way, unique, the field path when no literal comes before
        ("/v1/{name=addresses/*}", "/v1/addresses/{address}", [("address", "name", False)],
         {"name": "addresses/{address}"}),
        ("/v1/{name=policies/*}", "/v1/policies/{policy}", [("policy", "name", False)], {"name": "policies/{policy}"}),
        ("/v1/{name=people/*}", "/v1/people/{people}", [("people", "name", False)], {"name": "people/{people}"}),
        ("/v1/{name=access/*}", "/v1/access/{access}", [("access", "name", False)], {"name": "access/{access}"}),
        ("/v1/{name=user-profiles/*}", "/v1/user-profiles/{user-profile}", [("user-profile", "name", False)],
         {"name": "user-profiles/{user-profile}"}),
        ("/v1/{name=books/*}/chapters/{book}", "/v1/books/{book_2}/chapters/{book}",
         [("book_2", "name", False), ("book", "book", False)], {"name": "books/{book_2}"}),
        ("/v1/{parent=shelves/*}/x/{name=shelves/*}", "/v1/shelves/{shelf}/x/shelves/{shelf_2}",
         [("shelf", "parent", False), ("shelf_2", "name", False)],
         {"parent": "shelves/{shelf}", "name": "shelves/{shelf_2}"}),
        ("/v1/{name=*/books/*}", "/v1/{name}/books/{book}", [("name", "name", False), ("book", "name", False)],
         {"name": "{name}/books/{book}"}),
        ("/v1/{name=shelves/*/*}", "/v1/shelves/{shelf}/{name}", [("shelf", "name", False), ("name", "name", False)],
         {"name": "shelves/{shelf}/{name}"}),
        ("/v1/{kind=books}/{id}", "/v1/books/{id}", [("id", "id", False)], {"kind": "books"}),  # a constant
        # literals and verbs normalised as the router compares them
        ("/v1/%7Eme/{name=a%7eb/*}:%67et", "/v1/~me/a~b/{a_b}:get", [("a_b", "name", False)], {"name": "a~b/{a_b}"}),
    ],
)  # fmt: skip
def test_compile_openapi_path(
    template: str, path: str, parameters: list[tuple[str, str | None, bool]], fills: dict[str, str]
) -> None:
    compiled = compile_openapi_path(parse_template(template))
    assert compiled.path == path
    assert [(p.name, p.field_path, p.many) for p in compiled.parameters] == parameters
    assert dict(compiled.fills) == fills
    assert openapi_path(parse_template(template)) == path


# A library in the style of Google's API design guide: resource names bound whole to `name`/`parent`.
_LIBRARY = [  # method, rule
    ("GetShelf", {"get": "/v1/{name=shelves/*}"}),
    ("GetAuthor", {"get": "/v1/{name=authors/*}"}),
    ("GetBook", {"get": "/v1/{name=shelves/*/books/*}"}),
    ("ListBooks", {"get": "/v1/{parent=shelves/*}/books"}),
    ("DeleteBook", {"delete": "/v1/shelves/{parent}/books/{id}"}),  # the same path as GetBook's
    ("PublishBook", {"post": "/v1/{name=shelves/*/books/*}:publish", "body": "*"}),
    ("GetFile", {"get": "/v1/{name=files/**}"}),
    ("GetChapter", {"get": "/v1/{name=books/*}/chapters/{book}"}),
    ("GetBlob", {"get": "/v1/blobs/{name=**}"}),  # nothing to spell out: one parameter, slashes and all
]


@functools.cache
def _library() -> descriptor_pb2.FileDescriptorSet:
    f = descriptor_pb2.FileDescriptorProto(name="test/lib.proto", package="test.lib", syntax="proto3")
    f.dependency.append("google/api/annotations.proto")
    request = f.message_type.add(name="Request")
    for name in ("name", "parent", "id", "book", "title"):
        _field(request, name, _F.TYPE_STRING)
    f.source_code_info.location.add(path=[4, 0, 2, 0], leading_comments=" The resource name.\n")
    service = f.service.add(name="Library")
    for method, rule in _LIBRARY:
        _rule(
            service.method.add(name=method, input_type=".test.lib.Request", output_type=".test.lib.Request"),
            **rule,
        )
    fds = descriptor_pb2.FileDescriptorSet()
    fds.file.extend([_file(descriptor_pb2), _file(http_pb2), _file(annotations_pb2), f])
    return fds


@pytest.fixture(scope="module")
def library() -> Json:
    fds = _library()
    document = openapi_document(http_bindings(fds), _pool(fds), fds=fds)
    validate(document)
    _resolves(document)
    return document


def _path_params(operation: Json) -> list[tuple[str, str, str | None]]:
    return [
        (p["name"], p["x-tta-binds"], p["schema"].get("pattern"))
        for p in operation["parameters"]
        if p.get("in") == "path"
    ]


_ONE, _SOME, _ANY = "^[^/]+$", "^[^/]+(?:/[^/]+)*$", "^(?:[^/]+(?:/[^/]+)*)?$"


@pytest.mark.parametrize(
    ("path", "method", "operation_id", "parameters", "fields"),
    [
        ("/v1/shelves/{shelf}", "get", "Library_GetShelf", [("shelf", "name", _ONE)], {"name": "shelves/{shelf}"}),
        ("/v1/authors/{author}", "get", "Library_GetAuthor", [("author", "name", _ONE)], {"name": "authors/{author}"}),
        ("/v1/shelves/{shelf}/books/{book}", "get", "Library_GetBook",
         [("shelf", "name", _ONE), ("book", "name", _ONE)], {"name": "shelves/{shelf}/books/{book}"}),
        # plain variables under the names of the path item's first operation, binding their own fields
        ("/v1/shelves/{shelf}/books/{book}", "delete", "Library_DeleteBook",
         [("shelf", "parent", None), ("book", "id", None)], None),
        ("/v1/shelves/{shelf}/books", "get", "Library_ListBooks", [("shelf", "parent", _ONE)],
         {"parent": "shelves/{shelf}"}),
        ("/v1/shelves/{shelf}/books/{book}:publish", "post", "Library_PublishBook",
         [("shelf", "name", _ONE), ("book", "name", _ONE)], {"name": "shelves/{shelf}/books/{book}"}),
        ("/v1/files/{file}", "get", "Library_GetFile", [("file", "name", _SOME)], {"name": "files/{file}"}),
        ("/v1/books/{book_2}/chapters/{book}", "get", "Library_GetChapter",
         [("book_2", "name", _ONE), ("book", "book", None)], {"name": "books/{book_2}"}),
        ("/v1/blobs/{name}", "get", "Library_GetBlob", [("name", "name", _ANY)], None),
    ],
)  # fmt: skip
def test_resource_names_are_paths_of_their_own(
    library: Json,
    path: str,
    method: str,
    operation_id: str,
    parameters: list[tuple[str, str, str | None]],
    fields: dict[str, str] | None,
) -> None:
    operation = library["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert _path_params(operation) == parameters
    assert operation.get("x-tta-path-fields") == fields


def test_resource_name_parameters_say_what_they_fill(library: Json) -> None:
    get_book = library["paths"]["/v1/shelves/{shelf}/books/{book}"]["get"]
    assert _param(get_book, "shelf")["description"] == (
        "The resource name.\n\nFills `name` as `shelves/{shelf}/books/{book}`: one path segment."
    )
    delete = library["paths"]["/v1/shelves/{shelf}/books/{book}"]["delete"]
    assert _param(delete, "book")["description"] == "Binds the request field `id`."
    get_file = library["paths"]["/v1/files/{file}"]["get"]
    assert "the rest of the path, one or more segments" in _param(get_file, "file")["description"]
    assert "`name` is `files`" in _param(get_file, "file")["description"]  # /v1/files matches too
    get_blob = library["paths"]["/v1/blobs/{name}"]["get"]
    assert _param(get_blob, "name")["description"] == (
        "The resource name.\n\nAny number of path segments: send the `/` between them unescaped."
    )
    # body "*": what the path binds is not in the body
    publish = library["paths"]["/v1/shelves/{shelf}/books/{book}:publish"]["post"]
    body = publish["requestBody"]["content"]["application/json"]["schema"]
    assert "name" not in body["properties"]
    assert "x-tta-unlisted-operations" not in library


@pytest.mark.parametrize("method", [m for m, _ in _LIBRARY])
def test_documented_paths_route_to_their_method_binding_what_they_say(library: Json, method: str) -> None:
    """Fill each documented path's parameters, send it through the router the door builds from the same
    bindings: it reaches this method and binds each field as the document says."""
    fds = _library()
    builder = RouterBuilder[str]()
    for b in http_bindings(fds):
        builder.add(b.http_method, b.template, b.grpc_path)
    routes = builder.build()
    (path, key, operation), *_ = [
        (path, key, op)
        for path, item in library["paths"].items()
        for key, op in item.items()
        if op["x-grpc-method"] == f"/test.lib.Library/{method}"
    ]
    values = {
        p["name"]: f"v{i}/w{i}" if p["schema"].get("pattern") in (_SOME, _ANY) else f"v{i}"
        for i, p in enumerate(operation["parameters"])
        if p.get("in") == "path"
    }
    found = routes.match(key.upper(), re.sub(r"\{([^{}]+)\}", lambda m: values[m.group(1)], path))
    assert found.target == operation["x-grpc-method"]
    assert found.template is not None
    spelled = operation.get("x-tta-path-fields", {})
    expected = {
        field: re.sub(r"\{([^{}]+)\}", lambda m: values[m.group(1)], form) for field, form in spelled.items()
    }
    for p in operation["parameters"]:
        if p.get("in") == "path" and p["x-tta-binds"] not in spelled:
            expected[p["x-tta-binds"]] = values[p["name"]]
    assert dict(decode_bindings(found.template, found.bindings)) == expected


def _binding(http_method: str, template: str, method: str = "GetShelf") -> HttpBinding:
    return HttpBinding(
        f"/test.lib.Library/{method}", "test.lib.Library", method, http_method, parse_template(template),
        None, None, "test.lib.Request", "test.lib.Request", False, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "rules",
    [
        [("GET", "/v1/{name=shelves/*}"), ("GET", "/v1/{name=authors/*}")],
        [("GET", "/v1/{name=shelves/*}"), ("GET", "/v1/{name=shelves/*/books/*}"), ("GET", "/v1/{name=shelves/*}/books")],
        [("GET", "/v1/{name=shelves/*}"), ("DELETE", "/v1/{parent=shelves/*}")],  # one path item, two methods
        [("GET", "/v1/shelves/{name}"), ("GET", "/v1/{name=shelves/*}/{id}")],
        [("GET", "/v1/{name=books}"), ("GET", "/v1/{id}")],  # a constant beside a variable
        [("GET", "/v1/{name=shelves/*}:get"), ("GET", "/v1/{name=shelves/*}")],
    ],
)  # fmt: skip
def test_bindings_the_router_tells_apart_make_one_valid_document(rules: list[tuple[str, str]]) -> None:
    fds = _library()
    document = openapi_document([_binding(m, t, f"M{i}") for i, (m, t) in enumerate(rules)], _pool(fds))
    validate(document)
    assert sum(len(item) for item in document["paths"].values()) == len(rules)
    assert "x-tta-unlisted-operations" not in document


@pytest.mark.parametrize("order", [1, -1])
def test_a_path_only_star_and_double_star_tell_apart_lists_one_and_keeps_the_other_beside(order: int) -> None:
    fds = _library()
    one, rest = (
        _binding("GET", "/v1/{name=shelves/*}", "GetShelf"),
        _binding("GET", "/v1/{name=shelves/**}", "Walk"),
    )
    document = openapi_document([one, rest][::order], _pool(fds))
    validate(document)
    _resolves(document)
    # The router tries `*` first, so GetShelf is listed; Walk is served all the same, and said so.
    assert document["paths"]["/v1/shelves/{shelf}"]["get"]["operationId"] == "Library_GetShelf"
    unlisted = document["x-tta-unlisted-operations"]
    assert list(unlisted) == ["Library_Walk"]
    entry = unlisted["Library_Walk"]
    assert {k: entry[k] for k in ("method", "path", "template", "x-grpc-method", "listedAs")} == {
        "method": "GET",
        "path": "/v1/shelves/{shelf}",
        "template": "/v1/{name=shelves/**}",
        "x-grpc-method": "/test.lib.Library/Walk",
        "listedAs": "Library_GetShelf",
    }
    assert "cannot say how many segments" in entry["reason"]
    assert _path_params(entry["operation"]) == [("shelf", "name", _SOME)]


@pytest.mark.parametrize(
    ("first", "second", "path"),
    [
        ("/v1/{name=shelves/*}", "/v1/{parent=shelves/*}", "/v1/shelves/{shelf}"),
        ("/v1/{id}", "/v1/*", "/v1/{id}"),
        ("/v1/~x/{id}", "/v1/%7Ex/{book}", "/v1/~x/{id}"),
        ("/v1/{id}/{book}", "/v1/{name=*/*}", "/v1/{id}/{book}"),
    ],
)
def test_bindings_the_router_cannot_tell_apart_are_an_error(first: str, second: str, path: str) -> None:
    fds = _library()
    bindings = [_binding("GET", first, "First"), _binding("GET", second, "Second")]
    builder = RouterBuilder[str]()  # the router refuses the same two
    builder.add("GET", first, "first")
    with pytest.raises(RouteConflict):
        builder.add("GET", second, "second")
    with pytest.raises(OpenApiError) as caught:
        openapi_document(bindings, _pool(fds))
    assert caught.value.problems == [
        f"GET {second} -> /test.lib.Library/Second: same OpenAPI operation get {path} as "
        f"GET {first} -> /test.lib.Library/First"
    ]
