"""Shared fixtures: real servers on loopback ports, cleaned up after each test."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """The path of an external tool; under CI a missing tool fails the run, elsewhere it skips."""
    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but is not on PATH")
        pytest.skip(f"{name} is not installed")
    return found
