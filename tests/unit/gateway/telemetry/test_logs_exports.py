"""``gateway.telemetry.logs`` is split into private modules; every public name is still its to import,
and the state the rest of the gateway (and the tests) reach through it is the state in use."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from gateway.telemetry import _access, _current_redactor, _exceptions, _formatters, logs
from gateway.telemetry.redact import Redactor

PUBLIC = {
    "ACCESS_LOGGER": _access,
    "AccessLog": _access,
    "access_log": _access,
    "current_redactor": _current_redactor,
    "set_redactor": _current_redactor,
    "format_exception": _exceptions,
    "JsonFormatter": _formatters,
    "TextFormatter": _formatters,
}


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    redactor, handler = logs.current_redactor(), logs._handler
    yield
    logs.set_redactor(redactor)
    logs._handler = handler


@pytest.mark.parametrize(("name", "home"), PUBLIC.items())
def test_a_public_name_is_the_one_its_module_defines(name: str, home: object) -> None:
    assert getattr(logs, name) is getattr(home, name)


def test_all_names_every_public_name() -> None:
    assert set(logs.__all__) == {*PUBLIC, "configure_logging"}


def test_set_redactor_through_logs_is_seen_by_the_private_modules() -> None:
    redactor = Redactor()
    logs.set_redactor(redactor)
    assert _current_redactor.current_redactor() is redactor
    assert logs.JsonFormatter().redactor is redactor


def test_the_record_factory_is_installed_by_importing_logs() -> None:
    assert logging.getLogRecordFactory().__dict__.get("redacts") is True


def test_an_access_log_without_a_stream_takes_the_handler_logs_holds() -> None:
    stream = io.StringIO()
    logs._handler = logs._Handler(stream)
    assert logs.AccessLog()._stream is stream
    logs._handler = None
    assert logs.AccessLog()._stream is not stream
