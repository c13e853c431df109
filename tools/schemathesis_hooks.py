"""schemathesis hooks for `make schemathesis`: NDJSON stream bodies checked against the schema too.

The HTTP door's OpenAPI document gives an ``application/x-ndjson`` response the schema of *one line*: a
stream message, or the in-band ``{"error": Status}`` item (OpenAPI 3.1 has no way to say "each line").
schemathesis knows no NDJSON, so out of the box it skips those bodies. Here:

- a deserializer hands its built-in ``response_schema_conformance`` check the first line (an empty
  stream, which has no item to be wrong, as an empty message);
- the check ``ndjson_lines_conform`` validates every other line the same way, one at a time.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.core.transport import Response

NDJSON = "application/x-ndjson"


def _lines(content: bytes) -> list[bytes]:
    return [line for line in content.split(b"\n") if line.strip()]


@schemathesis.deserializer(NDJSON)
def first_ndjson_item(ctx: Any, response: Response) -> Any:
    lines = _lines(response.content)
    return json.loads(lines[0]) if lines else {}


@schemathesis.check
def ndjson_lines_conform(ctx: Any, response: Response, case: Any) -> bool | None:
    """Every line of an NDJSON body is valid under the response's schema (the first is the built-in
    check's, through the deserializer above)."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith(NDJSON):
        return None
    for line in _lines(response.content)[1:]:
        one = Response(
            status_code=response.status_code,
            headers=response.headers,
            content=line,
            request=response.request,
            elapsed=response.elapsed,
            verify=response.verify,
            http_version=response.http_version,
        )
        case.operation.validate_response(one, case=case)
    return True
