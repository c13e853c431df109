"""Settings of the gateway's listeners: the gRPC door, the HTTP door (REST/JSON) with its CORS answer,
and the admin port (health, metrics, reload).

Deadlines are not here: they apply to every door alike (:mod:`gateway.config.deadlines`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from gateway.config._types import Host, Port, Section

__all__ = ["AdminSettings", "CorsSettings", "GrpcSettings", "HttpSettings"]


class GrpcSettings(Section):
    """The gRPC front door."""

    host: Host = "0.0.0.0"
    port: Port = 50051
    max_message_bytes: Annotated[int, Field(gt=0)] = 16 * 1024 * 1024
    reflection: bool = True


class CorsSettings(Section):
    """Cross-origin access for browser clients (the Fetch standard's CORS protocol)."""

    # Exact origins ("https://app.tta.example") or "*"; empty: no cross-origin access at all.
    allowed_origins: tuple[str, ...] = ()
    allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
    allowed_headers: tuple[str, ...] = (
        "authorization",
        "content-type",
        "x-request-id",
        "traceparent",
        "grpc-timeout",
    )
    # Response headers a browser script may read.
    expose_headers: tuple[str, ...] = ("x-request-id", "traceparent")
    allow_credentials: bool = False
    # How long a browser may cache a preflight answer (Access-Control-Max-Age).
    max_age_seconds: Annotated[int, Field(ge=0)] = 600


class HttpSettings(Section):
    """The HTTP/JSON front door."""

    # The REST deadlines became the door-independent `deadlines` section.
    moved_keys: ClassVar[dict[str, tuple[str, str]]] = {
        "default_timeout_seconds": ("deadlines.default_seconds", "it now applies to every door"),
        "route_timeouts": (
            "deadlines.routes",
            'each entry now a mapping, as "tta.v1.PlayerService": {default_seconds: 5}',
        ),
    }

    host: Host = "0.0.0.0"
    port: Port = 8080
    # A request body above this many bytes gets 413 before any of it is parsed.
    max_body_bytes: Annotated[int, Field(gt=0)] = 1024 * 1024
    # A query parameter that names no field: "error" (400, so typos are caught) or "ignore".
    unknown_query_parameters: Literal["error", "ignore"] = "error"
    # proto3 JSON output: field names as lowerCamel (default) or as in the proto; emit default values.
    json_use_proto_names: bool = False
    json_emit_unpopulated: bool = False
    # Serve HTTP/2 beside HTTP/1.1 on the same port (cleartext prior knowledge, h2c): uvicorn's zttp
    # protocol, alpha, hence off by default. Only over HTTP/2 can a client that sends `TE: trailers`
    # get the upstream's trailing metadata as real trailers (docs/decisions/0005-http2-and-trailers.md).
    http2: bool = False
    cors: CorsSettings = CorsSettings()


class AdminSettings(Section):
    """Health, metrics and admin endpoints; loopback by default."""

    host: Host = "127.0.0.1"
    port: Port = 9090
