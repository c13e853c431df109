""":class:`Settings`, the root of the configuration: one field per section, and the validation that
turns a merged mapping into frozen settings or one :class:`~gateway.errors.ConfigError` listing every
problem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError, field_validator

from gateway.config._errors import Schema, Sources
from gateway.config._types import Section
from gateway.config.auth import AuthSettings
from gateway.config.deadlines import DeadlineSettings
from gateway.config.doors import AdminSettings, GrpcSettings, HttpSettings
from gateway.config.runtime import RedisSettings, ShutdownSettings
from gateway.config.telemetry import LogSettings, MetricsSettings, TracingSettings
from gateway.config.upstreams import DESCRIPTOR_TAGS, DescriptorSource, UpstreamSettings, check_unambiguous
from gateway.config.websocket import WebSocketSettings
from gateway.errors import ConfigError

__all__ = ["Settings"]


class Settings(Section):
    """Everything the gateway reads at start-up. Build with :func:`~gateway.config.load_settings` or
    :meth:`from_mapping`; never pass the raw mapping around."""

    grpc: GrpcSettings = GrpcSettings()
    http: HttpSettings = HttpSettings()
    admin: AdminSettings = AdminSettings()
    redis: RedisSettings = RedisSettings()
    # Empty: use the TTA contracts embedded in the package.
    descriptors: tuple[DescriptorSource, ...] = ()
    upstreams: tuple[UpstreamSettings, ...] = ()
    deadlines: DeadlineSettings = DeadlineSettings()
    auth: AuthSettings = AuthSettings()
    shutdown: ShutdownSettings = ShutdownSettings()
    log: LogSettings = LogSettings()
    tracing: TracingSettings = TracingSettings()
    metrics: MetricsSettings = MetricsSettings()
    websocket: WebSocketSettings = WebSocketSettings()

    @field_validator("upstreams")
    @classmethod
    def _unambiguous(cls, upstreams: tuple[UpstreamSettings, ...]) -> tuple[UpstreamSettings, ...]:
        return check_unambiguous(upstreams)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "settings") -> Settings:
        """Validate ``data`` (as from code or a test); failures name ``source``.

        >>> Settings.from_mapping({"grpc": {"port": 50052}}).grpc.port
        50052
        """
        return validate(data, Sources(default=source))


_SCHEMA = Schema(Settings, {"descriptors": DESCRIPTOR_TAGS})


def validate(data: Mapping[str, Any], sources: Sources) -> Settings:
    """``data`` as :class:`Settings`, or a :class:`ConfigError` with one line per problem, each naming
    its source as ``sources`` records it."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_SCHEMA.describe(error, sources) for error in exc.errors())) from None
