"""Field types shared by the sections, each with its domain check: ports, host names, ``host:port``
targets, proto service names and package wildcards, seconds; and :class:`Section`, the base of every
settings model (unknown keys are errors, values are frozen)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.config._errors import Invalid


class Section(BaseModel):
    """A mapping of settings: an unknown key is an error, and the result is immutable.

    ``moved_keys`` names keys that existed once, where they live now and what changed on the way
    (``{"old": ("section.new", "hint")}``), so that a config written for an older gateway gets
    "moved to ..." rather than "unknown key".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    moved_keys: ClassVar[dict[str, tuple[str, str]]] = {}


def _check_port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise Invalid("must be between 0 and 65535 (0 picks a free port)")
    return port


# A port to listen on; 0 asks the OS for a free one (tests, several gateways on one host).
Port = Annotated[int, AfterValidator(_check_port)]
Host = Annotated[str, Field(min_length=1)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

# A fully-qualified proto service name (package optional, as in descriptor.proto). Proto identifiers:
# letters, digits, underscores, not starting with a digit.
SERVICE_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
# ... or a package wildcard, as upstreams may claim whole packages.
SERVICE_PATTERN = re.compile(SERVICE_NAME + r"(?:\.\*)?", re.ASCII)
# RFC 1123 host names (plus "_", common in container and service-discovery names) and IPv4.
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?", re.ASCII)


def _check_service(pattern: str) -> str:
    if not SERVICE_PATTERN.fullmatch(pattern):
        raise Invalid(
            "is not a service name or package wildcard (like tta.v1.PlayerService or tta.v1.*)",
            show="before",
        )
    return pattern


def _check_target(target: str) -> str:
    """Accept ``host:port``, ``10.0.0.7:50061`` and ``[::1]:50061``; the port is 1..65535."""
    if target.startswith("["):
        host, sep, port = target[1:].partition("]:")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise Invalid("is not host:port (IPv6 as [::1]:50061)", show="before") from None
    else:
        host, sep, port = target.rpartition(":")
        if ":" in host:
            raise Invalid("is not host:port (write IPv6 in brackets, as [::1]:50061)", show="before")
        if sep and host and not _HOSTNAME.fullmatch(host):
            raise Invalid("is not host:port (the host is not a valid host name)", show="before")
    if not sep or not host or not port:
        raise Invalid("is not host:port", show="before")
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise Invalid("is not host:port (the port must be between 1 and 65535)", show="before")
    return target


def check_non_empty(items: tuple[str, ...]) -> tuple[str, ...]:
    """A list that must have an item; for ``Annotated[tuple[...], AfterValidator(check_non_empty)]``."""
    # Not Field(min_length=1): pydantic counts only the valid items, so one bad item would also
    # report "must not be empty".
    if not items:
        raise Invalid("must not be empty", show="none")
    return items


ServicePattern = Annotated[str, AfterValidator(_check_service)]
Target = Annotated[str, AfterValidator(_check_target)]
