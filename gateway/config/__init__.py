"""The gateway's settings: parsed once, at start-up, into frozen typed objects.

Sources, lowest precedence first:

1. defaults (the field defaults of the models);
2. a YAML file, either a gateway file or a TTA-style ``config/tta_config.yaml``; in the second case
   only its top-level ``gateway:`` section is read;
3. environment variables ``TTA_GATEWAY__SECTION__KEY`` (``__`` separates levels; names are
   case-insensitive). A value starting with ``[`` or ``{`` is parsed as YAML/JSON, anything else is
   handed to pydantic to coerce.

Every problem, from every source, is reported together in one :class:`~gateway.errors.ConfigError`,
one line each, naming where the value came from, the key and the reason::

    gateway.yaml: grpc.port: must be between 0 and 65535 (0 picks a free port) (got 70000)
    environment TTA_GATEWAY__GRPC__PROT: grpc.prot: unknown key (known keys: host, port, ...)

Values of keys that look secret (secret, password, token, key) are never echoed.

The package, by concern:

- :mod:`.settings`: :class:`Settings`, the root, and validation;
- :mod:`.doors`: the gRPC, HTTP (with CORS) and admin listeners;
- :mod:`.deadlines`: call deadlines, whatever the door;
- :mod:`.auth`: identity from signed tokens;
- :mod:`.upstreams`: upstreams and descriptor sources;
- :mod:`.telemetry`: logs, traces, metrics;
- :mod:`.runtime`: Redis and shutdown;
- ``_load``: the YAML file and the environment; ``_errors``: the wording of every error;
  ``_types``: the field types and their checks.

See docs/configuration.md for every key and docs/decisions/0002-typed-config-with-pydantic.md for why
this is pydantic v2 without pydantic-settings.
"""

from __future__ import annotations

from gateway.config._errors import ENV_PREFIX
from gateway.config._load import load_settings
from gateway.config._types import Host, Port, Seconds, ServicePattern, Target
from gateway.config.auth import AuthSettings, MethodAuth
from gateway.config.deadlines import DeadlineSettings, RouteDeadline
from gateway.config.doors import AdminSettings, CorsSettings, GrpcSettings, HttpSettings
from gateway.config.runtime import RedisSettings, ShutdownSettings
from gateway.config.settings import Settings
from gateway.config.telemetry import LogSettings, MetricsSettings, TracingSettings
from gateway.config.upstreams import (
    DescriptorSource,
    FileDescriptorSource,
    ReflectionDescriptorSource,
    UpstreamSettings,
)

__all__ = [
    "ENV_PREFIX",
    "AdminSettings",
    "AuthSettings",
    "CorsSettings",
    "DeadlineSettings",
    "DescriptorSource",
    "FileDescriptorSource",
    "GrpcSettings",
    "Host",
    "HttpSettings",
    "LogSettings",
    "MethodAuth",
    "MetricsSettings",
    "Port",
    "RedisSettings",
    "ReflectionDescriptorSource",
    "RouteDeadline",
    "Seconds",
    "ServicePattern",
    "Settings",
    "ShutdownSettings",
    "Target",
    "TracingSettings",
    "UpstreamSettings",
    "load_settings",
]
