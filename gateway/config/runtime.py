"""Settings of the gateway process itself: where shared state lives (Redis, or memory) and how it
shuts down (drain window, grace period)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from gateway.config._errors import Invalid
from gateway.config._types import Section

__all__ = ["RedisSettings", "ShutdownSettings"]


class RedisSettings(Section):
    """Shared state. ``url`` unset means the in-memory implementations (one process)."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise Invalid("must start with redis://, rediss:// or unix://")
        return url


class ShutdownSettings(Section):
    """On SIGTERM: first ``drain_seconds`` of serving while reporting not ready (health NOT_SERVING,
    /readyz 503), so load balancers and Kubernetes endpoints stop sending new calls; then no new calls,
    and ``grace_period_seconds`` for the calls in flight. SIGINT (Ctrl-C) skips the drain window."""

    drain_seconds: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] = 0.0
    grace_period_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 10.0
