"""The gateway's settings: parsed once, at start-up, into frozen typed objects.

Sources, lowest precedence first:

1. defaults (the field defaults below);
2. a YAML file, either a gateway file or a TTA-style ``config/tta_config.yaml``; in the second case
   only its top-level ``gateway:`` section is read;
3. environment variables ``TTA_GATEWAY__SECTION__KEY`` (``__`` separates levels; names are
   case-insensitive). A value starting with ``[`` or ``{`` is parsed as YAML/JSON, anything else is
   handed to pydantic to coerce.

Every problem, from every source, is reported together in one :class:`~gateway.errors.ConfigError`,
one line each, naming where the value came from, the key and the reason::

    gateway.yaml: grpc.port: must be between 1 and 65535 (got 70000)
    environment TTA_GATEWAY__GRPC__PROT: grpc.prot: unknown key (known keys: host, port, ...)

Values of keys that look secret (secret, password, token, key) are never echoed.
See docs/configuration.md for every key and docs/decisions/0002-typed-config-with-pydantic.md for why
this is pydantic v2 without pydantic-settings.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "AdminSettings",
    "DescriptorSource",
    "FileDescriptorSource",
    "GrpcSettings",
    "HttpSettings",
    "LogSettings",
    "RedisSettings",
    "ReflectionDescriptorSource",
    "Settings",
    "ShutdownSettings",
    "UpstreamSettings",
    "load_settings",
]

ENV_PREFIX = "TTA_GATEWAY__"
_SECTION = "gateway"  # the gateway's section of a TTA-wide config file
_SECRET_WORDS = ("secret", "password", "token", "key")
_REDACTED = "<redacted>"


class _Invalid(ValueError):
    """A validator's verdict, worded for people; ``show`` says where the offending value goes.

    ``"after"``: ``must be ... (got 70000)``; ``"before"``: ``"localhost" is not host:port``;
    ``"none"``: the reason alone (it already says what is wrong, or the value is too big to echo).
    """

    def __init__(self, reason: str, *, show: Literal["after", "before", "none"] = "after") -> None:
        super().__init__(reason)
        self.reason = reason
        self.show = show


# --- field types ------------------------------------------------------------------------------------


def _check_port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise _Invalid("must be between 0 and 65535 (0 picks a free port)")
    return port


# A port to listen on; 0 asks the OS for a free one (tests, several gateways on one host).
Port = Annotated[int, AfterValidator(_check_port)]
Host = Annotated[str, Field(min_length=1)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

# A fully-qualified proto service name (package optional, as in descriptor.proto) or a package
# wildcard. Proto identifiers: letters, digits, underscores, not starting with a digit.
_SERVICE_PATTERN = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\.\*)?", re.ASCII)
# RFC 1123 host names (plus "_", common in container and service-discovery names) and IPv4.
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?", re.ASCII)


def _check_service(pattern: str) -> str:
    if not _SERVICE_PATTERN.fullmatch(pattern):
        raise _Invalid(
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
            raise _Invalid("is not host:port (IPv6 as [::1]:50061)", show="before") from None
    else:
        host, sep, port = target.rpartition(":")
        if ":" in host:
            raise _Invalid("is not host:port (write IPv6 in brackets, as [::1]:50061)", show="before")
        if sep and host and not _HOSTNAME.fullmatch(host):
            raise _Invalid("is not host:port (the host is not a valid host name)", show="before")
    if not sep or not host or not port:
        raise _Invalid("is not host:port", show="before")
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise _Invalid("is not host:port (the port must be between 1 and 65535)", show="before")
    return target


def _check_non_empty(items: tuple[str, ...]) -> tuple[str, ...]:
    # Not Field(min_length=1): pydantic counts only the valid items, so one bad item would also
    # report "must not be empty".
    if not items:
        raise _Invalid("must not be empty", show="none")
    return items


ServicePattern = Annotated[str, AfterValidator(_check_service)]
Target = Annotated[str, AfterValidator(_check_target)]


# --- models -----------------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GrpcSettings(_Section):
    """The gRPC front door."""

    host: Host = "0.0.0.0"
    port: Port = 50051
    max_message_bytes: Annotated[int, Field(gt=0)] = 16 * 1024 * 1024
    reflection: bool = True


class CorsSettings(_Section):
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


class HttpSettings(_Section):
    """The HTTP/JSON and WebSocket front door."""

    host: Host = "0.0.0.0"
    port: Port = 8080
    # A request body above this many bytes gets 413 before any of it is parsed.
    max_body_bytes: Annotated[int, Field(gt=0)] = 1024 * 1024
    # The deadline of a REST call that sends no Grpc-Timeout header ...
    default_timeout_seconds: Seconds = 30.0
    # ... unless its method ("/tta.v1.AgentService/InvokeAgent") or service ("tta.v1.AgentService")
    # is listed here; a method's entry beats its service's.
    route_timeouts: dict[str, Seconds] = Field(default_factory=dict)
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


class AdminSettings(_Section):
    """Health, metrics and admin endpoints; loopback by default."""

    host: Host = "127.0.0.1"
    port: Port = 9090


class RedisSettings(_Section):
    """Shared state. ``url`` unset means the in-memory implementations (one process)."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise _Invalid("must start with redis://, rediss:// or unix://")
        return url


class FileDescriptorSource(_Section):
    """A serialized ``FileDescriptorSet`` on disk (``buf build -o x.binpb``)."""

    file: Path


class ReflectionDescriptorSource(_Section):
    """Fetch descriptors from the upstreams' gRPC server reflection."""

    reflection: Literal[True]


def _descriptor_kind(item: Any) -> str | None:
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
    Discriminator(_descriptor_kind),
]
_DESCRIPTOR_TAGS: dict[str, type[BaseModel]] = {
    "file": FileDescriptorSource,
    "reflection": ReflectionDescriptorSource,
}


class UpstreamSettings(_Section):
    """A group of backend instances serving some services; ``name`` defaults to ``services[0]``."""

    name: Annotated[str, Field(min_length=1)] | None = None
    services: Annotated[tuple[ServicePattern, ...], AfterValidator(_check_non_empty)]
    targets: Annotated[tuple[Target, ...], AfterValidator(_check_non_empty)]
    health_check_interval_seconds: Seconds = 5.0
    connect_timeout_seconds: Seconds = 2.0

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("name") is None:
            services = data.get("services")
            first = services[0] if isinstance(services, (list, tuple)) and services else None
            if isinstance(first, str) and _SERVICE_PATTERN.fullmatch(first):
                return {**data, "name": first}
        return data


class ShutdownSettings(_Section):
    """On SIGTERM: first ``drain_seconds`` of serving while reporting not ready (health NOT_SERVING,
    /readyz 503), so load balancers and Kubernetes endpoints stop sending new calls; then no new calls,
    and ``grace_period_seconds`` for the calls in flight. SIGINT (Ctrl-C) skips the drain window."""

    drain_seconds: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] = 0.0
    grace_period_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 10.0


class LogSettings(_Section):
    """Structured logs: one JSON object per line on stderr, every line passing the redaction layer."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    # One access line per call at info; off only for benchmarks that measure logging apart.
    access: bool = True
    # Extra metadata keys / message field names to redact, beyond authorization headers, tokens and
    # the fields the protos mark phi or scan.
    redact_keys: tuple[str, ...] = ()
    # Salt of the hash that replaces redacted values (equal values hash equal within one salt, so a
    # clinician can follow one player across lines without seeing who it is). Empty: a random salt per
    # process. Set it from a secret (TTA_GATEWAY__LOG__HASH_SALT) to correlate across processes.
    hash_salt: str = ""


class TracingSettings(_Section):
    """OpenTelemetry traces. Correlation ids (X-Request-Id, traceparent) flow whatever the exporter."""

    exporter: Literal["none", "console", "otlp"] = "none"
    # Ratio of new traces recorded (parent-based: a caller's sampled flag is honoured).
    sampling_ratio: Annotated[float, Field(ge=0, le=1)] = 1.0
    # OTLP/gRPC collector endpoint, used when exporter is otlp (needs the `otlp` extra installed).
    otlp_endpoint: str = "http://127.0.0.1:4317"
    service_name: str = "tta-gateway"


class MetricsSettings(_Section):
    """Prometheus metrics, served at /metrics on the admin port."""

    enabled: bool = True
    # Upper bounds (seconds) of the call duration histograms.
    duration_buckets: tuple[float, ...] = (
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    )


class Settings(_Section):
    """Everything the gateway reads at start-up. Build with :func:`load_settings` or
    :meth:`from_mapping`; never pass the raw mapping around."""

    grpc: GrpcSettings = GrpcSettings()
    http: HttpSettings = HttpSettings()
    admin: AdminSettings = AdminSettings()
    redis: RedisSettings = RedisSettings()
    # Empty: use the TTA contracts embedded in the package.
    descriptors: tuple[DescriptorSource, ...] = ()
    upstreams: tuple[UpstreamSettings, ...] = ()
    shutdown: ShutdownSettings = ShutdownSettings()
    log: LogSettings = LogSettings()
    tracing: TracingSettings = TracingSettings()
    metrics: MetricsSettings = MetricsSettings()

    @field_validator("upstreams")
    @classmethod
    def _unambiguous(cls, upstreams: tuple[UpstreamSettings, ...]) -> tuple[UpstreamSettings, ...]:
        # Routing picks one upstream per service; two claims on the same pattern cannot be resolved.
        names: dict[str | None, int] = {}
        claims: dict[str, int] = {}
        for i, upstream in enumerate(upstreams):
            if upstream.name in names:
                raise _Invalid(
                    f'upstreams[{names[upstream.name]}] and upstreams[{i}] are both named "{upstream.name}"',
                    show="none",
                )
            names[upstream.name] = i
            for pattern in upstream.services:
                if pattern in claims and claims[pattern] != i:
                    raise _Invalid(
                        f'service "{pattern}" is claimed by both upstreams[{claims[pattern]}] '
                        f"and upstreams[{i}]",
                        show="none",
                    )
                claims[pattern] = i
        return upstreams

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "settings") -> Settings:
        """Validate ``data`` (as from code or a test); failures name ``source``.

        >>> Settings.from_mapping({"grpc": {"port": 50052}}).grpc.port
        50052
        """
        return _validate(data, _Sources(default=source))


# --- loading ----------------------------------------------------------------------------------------


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (YAML, optional), apply ``TTA_GATEWAY__*`` overrides from ``environ``
    (default ``os.environ``), validate, and return frozen :class:`Settings`.

    Raises :class:`ConfigError` listing every problem, one line each.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    sources = _Sources(default="settings")
    if path is not None:
        path = Path(path)
        data, in_section = _read_file(path)
        sources = _Sources(default=str(path), prefix=(_SECTION,) if in_section else ())
        _resolve_descriptor_paths(data, path.absolute().parent)
    problems = _apply_environment(data, environ, sources)
    try:
        settings = _validate(data, sources)
    except ConfigError as exc:  # report the variables' problems and the values' problems together
        raise ConfigError("\n".join([*problems, exc.message])) from None
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            key = loader.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}{context}"
    return f"invalid YAML: {exc}"


def _read_file(path: Path) -> tuple[dict[str, Any], bool]:
    """The file's settings mapping, and whether it was a TTA-wide file's ``gateway:`` section."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read config file (not UTF-8: {exc.reason})") from exc
    try:
        loaded = _parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {_describe_yaml_error(exc)}") from exc
    if loaded is None:
        return {}, False
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings (got {_kind(loaded)})")
    if _SECTION not in loaded:
        return loaded, False
    section = loaded[_SECTION]
    if section is None:
        return {}, True
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {_SECTION}: must be a mapping of settings (got {_kind(section)})")
    return section, True


def _resolve_descriptor_paths(data: dict[str, Any], base: Path) -> None:
    # A relative path means "next to the config file that names it", not "wherever we were started".
    items = data.get("descriptors")
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if _descriptor_kind(item) == "file" and isinstance(item["file"], str):
            file = Path(item["file"])
            if not file.is_absolute():
                items[i] = {"file": str(base / file)}


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str], sources: _Sources) -> list[str]:
    """Merge ``TTA_GATEWAY__*`` variables into ``data`` in place; return the problems found."""
    problems: list[str] = []
    overrides: dict[tuple[str, ...], tuple[str, str]] = {}
    for name, text in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        keys = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        if not all(keys):
            problems.append(
                f"environment {name}: not a setting name (use {ENV_PREFIX}SECTION__KEY, like "
                f"{ENV_PREFIX}GRPC__PORT)"
            )
        elif keys in overrides:
            problems.append(f"environment {name}: sets {_dotted(keys)} again, as {overrides[keys][0]} does")
        else:
            overrides[keys] = (name, text)
    # Whole sections first, so TTA_GATEWAY__GRPC='{...}' can be refined by TTA_GATEWAY__GRPC__PORT.
    for keys in sorted(overrides, key=lambda k: (len(k), k)):
        name, raw = overrides[keys]
        value: Any = raw
        if raw.lstrip().startswith(("[", "{")):
            try:
                value = _parse_yaml(raw)
            except yaml.YAMLError as exc:
                problems.append(f"environment {name}: {_describe_yaml_error(exc)}")
                continue
        target = data
        for depth, key in enumerate(keys[:-1]):
            if key not in target:
                sources.created.setdefault(keys[: depth + 1], name)
            child = target.setdefault(key, {})
            if not isinstance(child, dict):
                where = _dotted(keys[: depth + 1])
                problems.append(
                    f"environment {name}: cannot set {_dotted(keys)}: "
                    f"{where} is {_kind(child)}, not a mapping"
                )
                break
            target = child
        else:
            target[keys[-1]] = value
            sources.env[keys] = name
    return problems


# --- error translation ------------------------------------------------------------------------------


class _Sources:
    """Where each part of the merged mapping came from, to name it in error messages."""

    def __init__(self, default: str, prefix: tuple[str, ...] = ()) -> None:
        self.default = default  # the file, or the caller's label when there is no file
        self.prefix = prefix  # ("gateway",) when the file was a TTA-wide config
        self.env: dict[tuple[str, ...], str] = {}  # key path → the variable that set it
        # Mappings that exist only because a variable reached through them (TTA_GATEWAY__GRCP__PORT
        # creates "grcp"): an error about the mapping itself names that variable.
        self.created: dict[tuple[str, ...], str] = {}

    def locate(self, loc: tuple[str | int, ...]) -> tuple[str, tuple[str | int, ...]]:
        """The source label and the key path as that source spells it."""
        keys = tuple(k for k in loc if isinstance(k, str))
        if len(keys) == len(loc) and keys in self.created:
            return f"environment {self.created[keys]}", loc
        for length in range(len(loc), 0, -1):
            # Variables name mapping keys only; a list index in the path ends the search.
            if len(keys) >= length and keys[:length] == loc[:length] and keys[:length] in self.env:
                return f"environment {self.env[keys[:length]]}", loc
        return self.default, self.prefix + loc


def _validate(data: Mapping[str, Any], sources: _Sources) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(error, sources) for error in exc.errors())) from None


def _describe(error: Any, sources: _Sources) -> str:
    loc = _clean_loc(tuple(error["loc"]))
    label, spelled = sources.locate(loc)
    secret = any(isinstance(k, str) and any(w in k.lower() for w in _SECRET_WORDS) for k in loc)
    shown = _REDACTED if secret else _show(error.get("input"))
    where = f"{_dotted(spelled)}: " if spelled else ""
    return f"{label}: {where}{_reason(error, loc, shown)}"


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # A tagged union puts its tag in the location: descriptors.0.file.file → descriptors[0].file.
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if (
            i >= 2
            and loc[i - 2] == "descriptors"
            and isinstance(loc[i - 1], int)
            and part in _DESCRIPTOR_TAGS
        ):
            continue
        out.append(part)
    return tuple(out)


def _reason(error: Any, loc: tuple[str | int, ...], shown: str) -> str:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), _Invalid):
        invalid: _Invalid = ctx["error"]
        if invalid.show == "before":
            return f"{shown} {invalid.reason}"
        if invalid.show == "none":
            return invalid.reason
        return f"{invalid.reason} (got {shown})"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = ", ".join(model.model_fields) if model is not None else ""
        return f"unknown key (known keys: {known})" if known else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_not_found":
        return f"must be exactly one of {{file: PATH}} or {{reflection: true}} (got {shown})"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        expected = "true" if expected == "True" else f"one of {expected}"
        return f"must be {expected} (got {shown})"
    simple = {
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "string_type": "must be a string",
        "path_type": "must be a path",
        "tuple_type": "must be a list",
        "list_type": "must be a list",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "dict_type": "must be a mapping",
        "string_too_short": "must not be empty",
        "too_short": "must not be empty",
        "greater_than": f"must be greater than {_number(ctx.get('gt'))}",
        "greater_than_equal": f"must be at least {_number(ctx.get('ge'))}",
        "less_than": f"must be less than {_number(ctx.get('lt'))}",
        "less_than_equal": f"must be at most {_number(ctx.get('le'))}",
    }
    reason = simple.get(kind)
    if reason is None:  # a pydantic message we have not reworded: still name the value
        msg = str(error.get("msg", kind))
        reason = msg[:1].lower() + msg[1:]
    return f"{reason} (got {shown})"


def _number(bound: Any) -> str:
    return f"{bound:g}" if isinstance(bound, (int, float)) else str(bound)


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc``, to list its keys."""
    current: Any = Settings
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current) if get_origin(current) is tuple else ()
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        elif part in _DESCRIPTOR_TAGS:
            current = _DESCRIPTOR_TAGS[part]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]+@")


def _show(value: Any, limit: int = 120) -> str:
    """The value as a YAML/JSON reader would write it, secrets masked, long values cut."""
    text = json.dumps(_redact(value), ensure_ascii=False, default=str)
    text = _URL_PASSWORD.sub(rf"\1{_REDACTED}@", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): _REDACTED if any(w in str(k).lower() for w in _SECRET_WORDS) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else type(value).__name__
