"""The gateway's exceptions: one root, each carrying the gRPC status it maps to.

Expected outcomes of matching and deciding are results, not exceptions (see STYLE.md);
these are for failures. The tree::

    GatewayError                      (INTERNAL)
    ├── ConfigError                   (FAILED_PRECONDITION) bad settings, descriptors or routes at start-up
    └── UpstreamUnavailable           (UNAVAILABLE) no healthy endpoint can take the call

Every error converts to a gRPC status in exactly one place at each door.
"""

from __future__ import annotations

import grpc


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(GatewayError):
    """Start-up cannot continue: names the source (file or variable), the key and the reason."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class UpstreamUnavailable(GatewayError):
    """No endpoint of the service's upstream can take the call right now."""

    code = grpc.StatusCode.UNAVAILABLE
