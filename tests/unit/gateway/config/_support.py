"""What the config tests share: writing a config file, and reading a ConfigError's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError

NO_ENV: dict[str, str] = {}  # tests pass environ= explicitly, never os.environ


def write(directory: Path, text: str, name: str = "gateway.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return str(excinfo.value).splitlines()
