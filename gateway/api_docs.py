"""The REST door's own documents: ``/openapi.json`` and an offline ``/docs`` page.

Both come from the route table the door serves (``transcoder.openapi``), rendered once per table, so
they can never describe a route the door does not serve. The page is plain HTML with no script or
external asset: it works on an air-gapped network and under a strict Content-Security-Policy.

A route OpenAPI cannot list under ``paths`` (its path is another's but for ``*`` against ``**``) is
served all the same: the document keeps it under ``x-tta-unlisted-operations``, the page lists it with
a note, and building the document logs a warning for it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool

from gateway.routes import AuthMode, RouteTable
from transcoder.openapi import openapi_document
from transcoder.rules import HttpBinding

log = logging.getLogger(__name__)

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def build_openapi(
    bindings: Sequence[HttpBinding],
    table: RouteTable,
    pool: descriptor_pool.DescriptorPool,
    fds: descriptor_pb2.FileDescriptorSet,
    use_proto_names: bool,
) -> bytes:
    """``/openapi.json`` for the bindings the door serves, with auth from the route policies."""
    public = [p for p, r in table.routes.items() if r.policy.auth is AuthMode.NONE]
    optional = [p for p, r in table.routes.items() if r.policy.auth is AuthMode.OPTIONAL]
    served = [b for b in bindings if b.grpc_path in table.routes]
    document = openapi_document(
        served,
        pool,
        title="TTA API (through tta-gateway)",
        version="v1",
        use_proto_names=use_proto_names,
        fds=fds,
        public_operations=public,
        optional_auth_operations=optional,
    )
    for operation_id, entry in document.get("x-tta-unlisted-operations", {}).items():
        log.warning(
            "openapi: %s (%s) is served but not under paths: %s",
            operation_id,
            entry["x-grpc-method"],
            entry["reason"],
        )
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def docs_page(openapi_json: bytes) -> bytes:
    """A self-contained HTML index of every operation, linking the OpenAPI document."""
    document: dict[str, Any] = orjson.loads(openapi_json)
    listed = [
        (path, method, op, "")
        for path, item in sorted(document.get("paths", {}).items())
        for method in _METHODS
        if (op := item.get(method)) is not None
    ]
    unlisted = [
        (entry["path"], entry["method"].lower(), entry["operation"], f" ({entry['reason']})")
        for entry in document.get("x-tta-unlisted-operations", {}).values()
    ]
    rows = [
        "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>".format(
            method.upper(),
            html.escape(path),
            html.escape(", ".join(op.get("tags", []))),
            html.escape(op.get("summary", "") + note),
        )
        for path, method, op, note in listed + unlisted
    ]
    title = html.escape(document.get("info", {}).get("title", "API"))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}td{{padding:.2em .8em;border-bottom:1px solid #ddd}}
code{{font-size:13px}}</style></head>
<body><h1>{title}</h1>
<p>{len(rows)} operations. The full contract: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<p>Chat over the WebSocket door from this browser: <a href="/docs/chat">/docs/chat</a> (a small demo client).</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Service</th><th>Summary</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></body></html>
"""
    return page.encode("utf-8")
