"""Settings of what the gateway fronts: the upstreams (groups of backend instances serving some
services) and the descriptor sources the contracts are read from (``{file: PATH}`` or
``{reflection: true}``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Discriminator, Field, Tag, model_validator

from gateway.config._errors import Invalid
from gateway.config._types import (
    SERVICE_PATTERN,
    Seconds,
    Section,
    ServicePattern,
    Target,
    check_non_empty,
)

__all__ = [
    "DescriptorSource",
    "FileDescriptorSource",
    "ReflectionDescriptorSource",
    "UpstreamSettings",
]


class FileDescriptorSource(Section):
    """A serialized ``FileDescriptorSet`` on disk (``buf build -o x.binpb``)."""

    file: Path


class ReflectionDescriptorSource(Section):
    """Fetch descriptors from the upstreams' gRPC server reflection."""

    reflection: Literal[True]


def descriptor_kind(item: Any) -> str | None:
    """``"file"`` or ``"reflection"``: which form a descriptor source takes; None when it is neither."""
    # Exactly one key, so that `{file: x, reflection: true}` is an error rather than a guess.
    if isinstance(item, FileDescriptorSource):
        return "file"
    if isinstance(item, ReflectionDescriptorSource):
        return "reflection"
    if isinstance(item, Mapping) and len(item) == 1:
        (key,) = item
        if key in ("file", "reflection"):
            return str(key)
    return None


DescriptorSource = Annotated[
    Annotated[FileDescriptorSource, Tag("file")] | Annotated[ReflectionDescriptorSource, Tag("reflection")],
    Discriminator(descriptor_kind),
]
# The union's tags, which pydantic puts in error locations (descriptors.0.file.file).
DESCRIPTOR_TAGS: dict[str, type[BaseModel]] = {
    "file": FileDescriptorSource,
    "reflection": ReflectionDescriptorSource,
}


class UpstreamSettings(Section):
    """A group of backend instances serving some services; ``name`` defaults to ``services[0]``."""

    name: Annotated[str, Field(min_length=1)] | None = None
    services: Annotated[tuple[ServicePattern, ...], AfterValidator(check_non_empty)]
    targets: Annotated[tuple[Target, ...], AfterValidator(check_non_empty)]
    health_check_interval_seconds: Seconds = 5.0
    connect_timeout_seconds: Seconds = 2.0

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("name") is None:
            services = data.get("services")
            first = services[0] if isinstance(services, (list, tuple)) and services else None
            if isinstance(first, str) and SERVICE_PATTERN.fullmatch(first):
                return {**data, "name": first}
        return data


def check_unambiguous(upstreams: tuple[UpstreamSettings, ...]) -> tuple[UpstreamSettings, ...]:
    """Distinct names, and no service pattern claimed by two upstreams: routing picks one upstream per
    service, and two claims on the same pattern cannot be resolved."""
    names: dict[str | None, int] = {}
    claims: dict[str, int] = {}
    for i, upstream in enumerate(upstreams):
        if upstream.name in names:
            raise Invalid(
                f'upstreams[{names[upstream.name]}] and upstreams[{i}] are both named "{upstream.name}"',
                show="none",
            )
        names[upstream.name] = i
        for pattern in upstream.services:
            if pattern in claims and claims[pattern] != i:
                raise Invalid(
                    f'service "{pattern}" is claimed by both upstreams[{claims[pattern]}] and upstreams[{i}]',
                    show="none",
                )
            claims[pattern] = i
    return upstreams
