"""Structured log lines and access lines: shapes, redaction, levels. In-memory streams only."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tta.v1 import chat_pb2

from gateway.config import LogSettings
from gateway.descriptors import embedded_descriptor_set
from gateway.telemetry import logs
from gateway.telemetry.context import CallInfo, current
from gateway.telemetry.logs import AccessLog, JsonFormatter, access_log, configure_logging
from gateway.telemetry.redact import Redactor

RAW = "I feel hopeless tonight"
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CALL = CallInfo(
    request_id="req-1",
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    span_id="00f067aa0ba902b7",
    door="grpc",
    method="/tta.v1.ChatService/SendMessage",
)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(embedded_descriptor_set(), salt=b"test-salt")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put everything back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in ("grpc", "asyncio", "uvicorn")}
    logs._handler = None
    access_log()._reconfigure(sys.stderr, False, False, threading.Lock())
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)
    logs._handler = None
    access_log()._reconfigure(sys.stderr, False, False, threading.Lock())


def configure(redactor: Redactor, **settings: Any) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(LogSettings(**settings), redactor, stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


log = logging.getLogger("tests.telemetry")


# --- event lines -------------------------------------------------------------------------------------


def test_json_line_shape(redactor: Redactor) -> None:
    stream = configure(redactor)
    log.info("upstream %s is %s", "tta.v1.*", "healthy", extra={"target": "10.0.0.7:50061", "attempt": 2})
    (line,) = lines(stream)
    assert list(line)[:4] == ["ts", "level", "logger", "msg"]
    assert TS.fullmatch(line["ts"])
    assert line["level"] == "info"
    assert line["logger"] == "tests.telemetry"
    assert line["msg"] == "upstream tta.v1.* is healthy"
    assert line["target"] == "10.0.0.7:50061"
    assert line["attempt"] == 2
    assert "request_id" not in line  # no call in progress


def test_context_ids_of_the_current_call(redactor: Redactor) -> None:
    stream = configure(redactor)
    token = current.set(CALL)
    try:
        log.warning("denied")
        log.warning("overridden", extra={"request_id": "mine"})
    finally:
        current.reset(token)
    log.warning("after")
    first, second, after = lines(stream)
    assert {k: first[k] for k in ("request_id", "trace_id", "span_id", "door", "method")} == {
        "request_id": "req-1",
        "trace_id": CALL.trace_id,
        "span_id": CALL.span_id,
        "door": "grpc",
        "method": "/tta.v1.ChatService/SendMessage",
    }
    assert "principal" not in first  # None: identity not established
    assert second["request_id"] == "mine"
    assert "request_id" not in after


def test_principal_appears_once_known(redactor: Redactor) -> None:
    stream = configure(redactor)
    token = current.set(CallInfo("r", "t" * 32, "s" * 16, "http", "/api/v1/players/{player_id}", "pl_1"))
    try:
        log.info("x")
    finally:
        current.reset(token)
    assert lines(stream)[0]["principal"] == "pl_1"


@pytest.mark.parametrize(
    ("call", "sensitive_key"),
    [
        (lambda: log.info("call", extra={"authorization": f"Bearer {RAW}"}), "authorization"),
        (lambda: log.info("call", extra={"ctx": {"refresh_token": RAW}}), "ctx"),
        (lambda: log.info("call", extra={"req": chat_pb2.SendMessageRequest(text=RAW)}), "req"),
        (lambda: log.info("args %s", {"password": RAW}), None),
        (lambda: log.info("args %(password)s", {"password": RAW}), None),
        (lambda: log.info("args %s", chat_pb2.ChatRequest(session_id="s", text=RAW)), None),
        (lambda: log.info("header was Bearer %s", RAW.replace(" ", "_")), None),
        (lambda: log.info("failed: %s", ValueError(RAW)), None),
    ],
)
def test_sensitive_values_never_reach_the_line(
    redactor: Redactor, call: Any, sensitive_key: str | None
) -> None:
    stream = configure(redactor)
    call()
    text = stream.getvalue()
    assert RAW not in text
    assert RAW.replace(" ", "_") not in text
    assert "<redacted:" in text
    if sensitive_key:
        assert sensitive_key in lines(stream)[0]


def test_authorization_extra_is_the_salted_hash(redactor: Redactor) -> None:
    stream = configure(redactor)
    log.info("call", extra={"authorization": "Bearer abc"})
    assert lines(stream)[0]["authorization"] == redactor.hash("Bearer abc")


def test_extras_do_not_overwrite_the_line_keys(redactor: Redactor) -> None:
    stream = configure(redactor)
    log.info("x", extra={"level": "forged", "ts": 0})
    (line,) = lines(stream)
    assert line["level"] == "info"
    assert line["extra_level"] == "forged"
    assert line["extra_ts"] == 0


def _fail(text: str) -> None:
    try:
        int(text)
    except ValueError as exc:
        raise RuntimeError(f"could not parse {text!r}") from exc


def test_exception_lines_carry_the_stack_not_the_message(redactor: Redactor) -> None:
    stream = configure(redactor)
    try:
        _fail(RAW)
    except RuntimeError:
        log.exception("bug while handling a call")
    (line,) = lines(stream)
    assert line["level"] == "error"
    assert line["exc_type"] == "RuntimeError"
    exc = line["exc"]
    assert exc.startswith("Traceback (most recent call last):")
    assert "in _fail" in exc  # the frames
    assert "The above exception was the direct cause" in exc  # the chain
    assert "ValueError: <redacted:" in exc
    assert f"RuntimeError: {redactor.hash(f'could not parse {RAW!r}')}" in exc  # equal messages group
    assert RAW not in stream.getvalue()


def test_exception_groups_and_notes(redactor: Redactor) -> None:
    stream = configure(redactor)
    err = KeyError(RAW)
    err.add_note(RAW)
    try:
        raise ExceptionGroup("several", [err, OSError("disk")])
    except ExceptionGroup:
        log.exception("group")
    exc = lines(stream)[0]["exc"]
    assert "KeyError: <redacted:" in exc
    assert "OSError: <redacted:" in exc
    assert "note: <redacted:" in exc
    assert RAW not in stream.getvalue()


def test_stack_info(redactor: Redactor) -> None:
    stream = configure(redactor)
    log.info("where", stack_info=True)
    assert "test_stack_info" in lines(stream)[0]["stack"]


def test_unrenderable_record_yields_a_line_without_its_content(redactor: Redactor) -> None:
    class Opaque:
        def __str__(self) -> str:
            raise RuntimeError(RAW)

    stream = configure(redactor)
    log.info("x", extra={"thing": Opaque()})
    (line,) = lines(stream)
    assert line["msg"].startswith("<log record could not be rendered")
    assert RAW not in stream.getvalue()


def test_mismatched_arguments_are_reported_not_raised(redactor: Redactor) -> None:
    stream = configure(redactor)
    log.info("%s and %s", "one")  # noqa: PLE1206 - the mistake under test
    assert lines(stream)[0]["msg"] == "%s and %s <arguments did not match the format>"


def test_a_failing_stream_does_not_print_the_record(
    redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError("disk full")

    configure_logging(LogSettings(), redactor, Broken())
    log.info("secret is %s", RAW)
    err = capsys.readouterr().err
    assert "could not be written" in err
    assert RAW not in err


def test_formatter_alone(redactor: Redactor) -> None:
    record = logging.makeLogRecord(
        {"name": "n", "levelno": 30, "levelname": "WARNING", "msg": "m", "token": RAW}
    )
    line = json.loads(JsonFormatter(redactor).format(record))
    assert line["token"] == redactor.hash(RAW)


# --- text format ---------------------------------------------------------------------------------------


def test_text_format_is_readable_and_redacted(redactor: Redactor) -> None:
    stream = configure(redactor, format="text")
    log.warning(
        "endpoint down", extra={"target": "10.0.0.7:50061", "reason": "connect refused", "token": RAW}
    )
    try:
        _fail(RAW)
    except RuntimeError:
        log.exception("bug")
    text = stream.getvalue()
    first, second, *trace = text.splitlines()
    assert re.fullmatch(
        TS.pattern
        + r' WARNING tests\.telemetry: endpoint down target=10\.0\.0\.7:50061 reason="connect refused" '
        r"token=<redacted:[0-9a-f]{12}>",
        first,
    )
    assert re.fullmatch(TS.pattern + r" ERROR   tests\.telemetry: bug", second)
    assert trace[0] == "Traceback (most recent call last):"
    assert RAW not in text


# --- levels and configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "written"),
    [
        ("debug", ["debug", "info", "warning", "error"]),
        ("info", ["info", "warning", "error"]),
        ("warning", ["warning", "error"]),
        ("error", ["error"]),
    ],
)
def test_level_filtering(redactor: Redactor, level: str, written: list[str]) -> None:
    stream = configure(redactor, level=level)
    for name in ("debug", "info", "warning", "error"):
        getattr(log, name)(name)
    assert [line["level"] for line in lines(stream)] == written


@pytest.mark.parametrize(("level", "noisy_level"), [("debug", logging.NOTSET), ("info", logging.WARNING)])
def test_noisy_libraries_stay_at_warning_unless_debug(
    redactor: Redactor, level: str, noisy_level: int
) -> None:
    configure(redactor, level=level)
    for name in ("grpc", "asyncio", "uvicorn"):
        assert logging.getLogger(name).level == noisy_level


def test_configure_is_idempotent(redactor: Redactor) -> None:
    configure(redactor)
    stream = configure(redactor)
    assert len(logging.getLogger().handlers) == 1
    log.info("once")
    assert len(lines(stream)) == 1


# --- access lines -------------------------------------------------------------------------------------


def test_access_line_shape() -> None:
    stream = io.StringIO()
    access = AccessLog(stream=stream)
    logging.getLogger().setLevel(logging.INFO)
    access.write(
        door="grpc",
        method="/tta.v1.PlayerService/GetPlayer",
        status="OK",
        duration_s=0.0123456,
        request_id="req-1",
        trace_id=CALL.trace_id,
    )
    access.write(
        door="http",
        method="/api/v1/players/{player_id}",
        status="NOT_FOUND",
        duration_s=0.5,
        request_id="req-2",
        trace_id=CALL.trace_id,
        upstream="tta.v1.*",
        principal="pl_1",
        peer="10.1.2.3:40000",
    )
    first, second = lines(stream)
    assert TS.fullmatch(first.pop("ts"))
    assert first == {
        "level": "info",
        "logger": "tta_gateway.access",
        "msg": "access",
        "door": "grpc",
        "method": "/tta.v1.PlayerService/GetPlayer",
        "status": "OK",
        "duration_ms": 12.346,
        "request_id": "req-1",
        "trace_id": CALL.trace_id,
    }
    assert {k: second[k] for k in ("upstream", "principal", "peer", "duration_ms")} == {
        "upstream": "tta.v1.*",
        "principal": "pl_1",
        "peer": "10.1.2.3:40000",
        "duration_ms": 500.0,
    }


WRITE: dict[str, Any] = {
    "door": "grpc",
    "method": "/m",
    "status": "OK",
    "duration_s": 0.001,
    "request_id": "r",
    "trace_id": "t",
}


def test_access_disabled_writes_nothing() -> None:
    stream = io.StringIO()
    logging.getLogger().setLevel(logging.INFO)
    AccessLog(stream=stream, enabled=False).write(**WRITE)
    assert stream.getvalue() == ""


def test_access_skipped_when_root_level_is_above_info(redactor: Redactor) -> None:
    stream = configure(redactor, level="warning")
    access_log().write(**WRITE)
    assert stream.getvalue() == ""
    assert not access_log().enabled


def test_access_log_before_configuration_is_disabled() -> None:
    assert not access_log().enabled


def test_access_log_follows_configuration(redactor: Redactor) -> None:
    before = access_log()
    stream = configure(redactor)
    assert access_log() is before  # reconfigured in place: a kept reference stays valid
    access_log().write(**WRITE)
    log.info("event")
    assert [line["logger"] for line in lines(stream)] == ["tta_gateway.access", "tests.telemetry"]
    AccessLog().write(**WRITE)  # the default stream is the configured one
    assert len(lines(stream)) == 3


def test_access_off_in_settings(redactor: Redactor) -> None:
    stream = configure(redactor, access=False)
    access_log().write(**WRITE)
    assert stream.getvalue() == ""


def test_access_text_format(redactor: Redactor) -> None:
    stream = configure(redactor, format="text")
    access_log().write(**WRITE, principal="pl_1")
    assert re.fullmatch(
        TS.pattern + r" INFO    tta_gateway\.access: access door=grpc method=/m status=OK duration_ms=1\.0 "
        r"request_id=r trace_id=t principal=pl_1\n",
        stream.getvalue(),
    )


def test_access_failing_stream_counts_drops() -> None:
    stream = io.StringIO()
    stream.close()
    logging.getLogger().setLevel(logging.INFO)
    access = AccessLog(stream=stream)
    access.write(**WRITE)
    assert access.dropped == 1


def test_lines_never_interleave(redactor: Redactor) -> None:
    class Slow(io.StringIO):
        """Yields to other threads in the middle of every write, to provoke interleaving."""

        def write(self, s: str) -> int:
            half = len(s) // 2
            super().write(s[:half])
            time.sleep(0)
            return half + super().write(s[half:])

    stream = Slow()
    configure_logging(LogSettings(), redactor, stream)

    def work(i: int) -> None:
        for j in range(50):
            access_log().write(**WRITE)
            log.info("event %d %d", i, j, extra={"k": "v" * 50})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parsed = lines(stream)
    assert len(parsed) == 400
    assert sum(line["logger"] == "tta_gateway.access" for line in parsed) == 200
