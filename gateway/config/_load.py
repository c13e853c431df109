"""Reading the sources: the YAML file (strict: duplicate keys are errors; a TTA-wide file contributes
only its ``gateway:`` section), the ``TTA_GATEWAY__SECTION__KEY`` environment overrides merged over it,
and :func:`load_settings`, which validates the result, recording which source set which key so that
errors can name it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.config._errors import ENV_PREFIX, Sources, dotted, kind_of
from gateway.config.settings import Settings, validate
from gateway.config.upstreams import descriptor_kind
from gateway.errors import ConfigError

__all__ = ["ENV_PREFIX", "load_settings"]

_SECTION = "gateway"  # the gateway's section of a TTA-wide config file


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (YAML, optional), apply ``TTA_GATEWAY__*`` overrides from ``environ``
    (default ``os.environ``), validate, and return frozen :class:`Settings`.

    Raises :class:`ConfigError` listing every problem, one line each.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    sources = Sources(default="settings")
    if path is not None:
        path = Path(path)
        data, in_section = _read_file(path)
        sources = Sources(default=str(path), prefix=(_SECTION,) if in_section else ())
        _resolve_descriptor_paths(data, path.absolute().parent)
    problems = _apply_environment(data, environ, sources)
    try:
        settings = validate(data, sources)
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
        raise ConfigError(f"{path}: the top level must be a mapping of settings (got {kind_of(loaded)})")
    if _SECTION not in loaded:
        return loaded, False
    section = loaded[_SECTION]
    if section is None:
        return {}, True
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {_SECTION}: must be a mapping of settings (got {kind_of(section)})")
    return section, True


def _resolve_descriptor_paths(data: dict[str, Any], base: Path) -> None:
    # A relative path means "next to the config file that names it", not "wherever we were started".
    items = data.get("descriptors")
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if descriptor_kind(item) == "file" and isinstance(item["file"], str):
            file = Path(item["file"])
            if not file.is_absolute():
                items[i] = {"file": str(base / file)}


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str], sources: Sources) -> list[str]:
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
            problems.append(f"environment {name}: sets {dotted(keys)} again, as {overrides[keys][0]} does")
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
                where = dotted(keys[: depth + 1])
                problems.append(
                    f"environment {name}: cannot set {dotted(keys)}: "
                    f"{where} is {kind_of(child)}, not a mapping"
                )
                break
            target = child
        else:
            target[keys[-1]] = value
            sources.env[keys] = name
    return problems
