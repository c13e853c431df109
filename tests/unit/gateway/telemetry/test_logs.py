"""Structured log lines and access lines: shapes, redaction, levels. In-memory streams only."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tta.gateway.v1 import options_pb2
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
    """configure_logging changes process-wide state (the root handler, every other logger's handlers
    and propagation, the redactor in use, the record factory): put everything back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    others = {
        name: (list(lg.handlers), lg.propagate, lg.level, lg.disabled)
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    redactor, factory = logs.current_redactor(), logging.getLogRecordFactory()
    logs._handler = None
    access_log()._reconfigure(sys.stderr, False, False, threading.Lock())
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lg in logging.Logger.manager.loggerDict.items():
        if isinstance(lg, logging.Logger):
            lg.handlers[:], lg.propagate, level_of, lg.disabled = others.get(name, ([], True, 0, False))
            lg.setLevel(level_of)  # not `lg.level =`: setLevel clears the isEnabledFor caches
    logging.setLogRecordFactory(factory)
    logs.set_redactor(redactor)
    logs._handler = None
    access_log()._reconfigure(sys.stderr, False, False, threading.Lock())


def configure(redactor: Redactor, **settings: Any) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(LogSettings(**settings), redactor, stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The lines written, but configure_logging's own note on the library handlers it rerouted
    (present or not depending on what earlier tests of the run left attached)."""
    out = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in out if not str(line.get("msg", "")).startswith("these loggers now write")]


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
    assert [line["level"] for line in lines(stream) if line["logger"] == log.name] == written


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


# --- every record, whichever logger and handler ----------------------------------------------------

SECRET = "S3CRET-9f2c"  # stands for a credential: must not appear in any output


@pytest.mark.parametrize(
    ("logger", "msg", "args"),
    [
        # what libraries pass: metadata tuples, dicts, bytes, with invalid characters in the values
        ("grpc._cython.cygrpc", "Invalid encoding on %s", (f"{SECRET}\xff".encode("latin-1"),)),
        ("grpc.aio._server", "metadata %s", ((("x-api-key", f"{SECRET}\x01"), ("x-request-id", "r")),)),
        ("grpc.aio._server", "metadata %r", ([(b"cookie", f"sid={SECRET}\r\n".encode())],)),
        ("grpc", "headers %s", ({"client-secret": SECRET, "user-agent": "ua"},)),
        ("hpack.hpack", "Adding %s to the header table", ((b"authorization", f"Digest {SECRET}".encode()),)),
        ("hpack.hpack", "Encoded header block to %s", (SECRET.encode(),)),
        ("uvicorn.error", "bad header: %s", (f"authorization: Basic {SECRET}\x01",)),
        ("uvicorn.error", "bad header %s", (f"proxy-authorization={SECRET}",)),
        ("asyncio", "%s", (f"{{'x-session-token': '{SECRET}'}}",)),
        ("tests.telemetry", "split across the format: Bearer %s", (SECRET,)),
    ],
)
def test_library_arguments_are_redacted(
    redactor: Redactor, logger: str, msg: str, args: tuple[Any, ...]
) -> None:
    stream = configure(redactor, level="debug")
    logging.getLogger(logger).warning(msg, *args)
    (line,) = lines(stream)
    assert line["logger"] == logger
    assert SECRET not in stream.getvalue()
    assert "<redacted:" in line["msg"]


def test_plain_arguments_are_kept_redacted_for_formatters_that_read_them(redactor: Redactor) -> None:
    """uvicorn's access formatter unpacks record.args: they stay a tuple, each value redacted."""
    configure(redactor, level="debug")
    seen: list[logging.LogRecord] = []
    handler = _Recorder(seen)
    logging.getLogger("uvicorn.access").addHandler(handler)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", f"/x?access_token={SECRET}&a=1", "1.1", 200
    )
    (record,) = seen
    assert isinstance(record.args, tuple)
    client, method, path, version, status = record.args
    assert (client, method, version, status) == ("10.0.0.1:5000", "GET", "1.1", 200)
    assert path.startswith("/x?access_token=<redacted:")
    assert path.endswith("&a=1")
    assert SECRET not in record.getMessage()


class _Recorder(logging.Handler):
    """A handler added by someone else, after configure_logging: keeps what it is given."""

    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def _reject(metadata: tuple[tuple[str, str], ...]) -> None:
    api_key = dict(metadata)["x-api-key"]  # a local: a frame holds it
    raise PermissionError(f"unknown key {api_key!r} in {metadata!r}")


def test_exception_quoting_metadata_and_its_frames(redactor: Redactor) -> None:
    stream = configure(redactor)
    seen: list[logging.LogRecord] = []
    logging.getLogger("grpc._cython.cygrpc").addHandler(_Recorder(seen))
    try:
        _reject((("x-api-key", SECRET), ("cookie", f"sid={SECRET}")))
    except PermissionError:
        logging.getLogger("grpc._cython.cygrpc").exception("Unexpected [%s] raised", "PermissionError")
    (line,) = lines(stream)
    assert line["exc_type"] == "PermissionError"
    assert "in _reject" in line["exc"]
    assert "PermissionError: <redacted:" in line["exc"]
    (record,) = seen
    # The handler added later cannot reach the exception, so neither its frames nor their locals.
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "in _reject" in record.exc_text
    text = logging.Formatter().format(record)  # a stock formatter prints exc_text
    assert "Traceback" in text
    assert SECRET not in text
    assert SECRET not in stream.getvalue()


def test_a_source_line_holding_a_literal_credential(redactor: Redactor) -> None:
    stream = configure(redactor)
    try:
        int("authorization: Basic QWxhZGRpbjpTM0NSRVQtOWYyYw==")
    except ValueError:
        log.exception("literal")
    assert "QWxhZGRpbjpTM0NSRVQtOWYyYw" not in stream.getvalue()


def test_asyncio_quotes_the_exception_in_its_message(redactor: Redactor) -> None:
    """asyncio's "Task exception was never retrieved" quotes the future: ``exception=ValueError('...')``."""
    stream = configure(redactor)
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        error = ValueError(f"player wrote {RAW!r} with x-api-key={SECRET}")
        future.set_exception(error)
        loop.call_exception_handler(
            {"message": "Task exception was never retrieved", "exception": error, "future": future}
        )
        future.exception()  # retrieved after all: no second report when the loop closes
    finally:
        loop.close()
    (line,) = lines(stream)
    assert line["logger"] == "asyncio"
    assert "exception=ValueError(" in line["msg"]
    assert RAW not in stream.getvalue()
    assert SECRET not in stream.getvalue()


def test_records_logged_before_configure_logging(redactor: Redactor) -> None:
    """What the command line logs between its basicConfig and configure_logging is redacted too."""
    early = io.StringIO()
    logging.basicConfig(stream=early, level=logging.INFO, format="%(name)s %(message)s", force=True)
    logging.getLogger("gateway.early").warning("upstream said %s", {"authorization": f"Basic {SECRET}"})
    try:
        _reject((("x-api-key", SECRET),))
    except PermissionError:
        logging.getLogger("gateway.early").exception("rejected")
    assert "gateway.early upstream said {'authorization': '<redacted:" in early.getvalue()
    assert "PermissionError: <redacted:" in early.getvalue()
    assert SECRET not in early.getvalue()
    stream = configure(redactor)
    logging.getLogger("gateway.early").warning("now %s", f"x-api-key={SECRET}")
    assert len(lines(stream)) == 1
    assert SECRET not in stream.getvalue() + early.getvalue()


def test_a_record_made_before_and_written_after(redactor: Redactor) -> None:
    """A record made without the factory (makeLogRecord, another process's) is redacted when written."""
    stream = configure(redactor)
    try:
        _reject((("x-api-key", SECRET),))
    except PermissionError:
        exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {"name": "n", "levelno": 40, "levelname": "ERROR", "msg": "m %s", "args": (f"token={SECRET}",)}
    )
    record.exc_info = exc_info
    logging.getLogger().handle(record)
    (line,) = lines(stream)
    assert line["exc_type"] == "PermissionError"
    assert SECRET not in stream.getvalue()


def test_library_loggers_with_their_own_handlers_write_through_the_root(
    redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn's log_config gives uvicorn and uvicorn.access their own handlers and propagate=False."""
    import uvicorn.config

    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    own = io.StringIO()
    secluded = logging.getLogger("tests.secluded")
    secluded.addHandler(logging.StreamHandler(own))
    secluded.propagate = False
    stream = configure(redactor)
    assert not logging.getLogger("uvicorn").handlers
    assert logging.getLogger("uvicorn.access").propagate
    logging.getLogger("uvicorn.error").error("Invalid HTTP request received: %s", f"cookie: sid={SECRET}")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.1:1", "GET", f"/?api_key={SECRET}", "1.1", 200
    )
    secluded.warning("password=%s", SECRET)
    assert [line["logger"] for line in lines(stream)] == ["uvicorn.error", "uvicorn.access", "tests.secluded"]
    assert own.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.err == captured.out == ""
    assert SECRET not in stream.getvalue()


def test_handlers_a_library_adds_after_configure_logging_see_redacted_records(
    redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn.Config(log_config=...) made after configure_logging: its own formatters, fed only
    redacted records (and its access formatter still works)."""
    import uvicorn.config

    configure(redactor)
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    logging.getLogger("uvicorn.error").error("Invalid HTTP request received: %s", f"cookie: sid={SECRET}")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.1:1", "GET", f"/?api_key={SECRET}", "1.1", 200
    )
    captured = capsys.readouterr()  # uvicorn writes errors to stderr, access lines to stdout
    assert "Invalid HTTP request received: cookie: <redacted:" in captured.err
    assert '10.0.0.1:1 - "GET /?api_key=<redacted:' in captured.out
    assert "Logging error" not in captured.err
    assert SECRET not in captured.err + captured.out


def test_an_argument_that_cannot_be_rendered_does_not_break_the_caller(redactor: Redactor) -> None:
    class Opaque:
        def __str__(self) -> str:
            raise RuntimeError(SECRET)

    stream = configure(redactor)
    log.info("value %s", Opaque())  # must not raise here
    (line,) = lines(stream)
    assert line["msg"] == "<log record could not be rendered: RuntimeError>"
    assert SECRET not in stream.getvalue()


def test_the_record_factory_wraps_the_previous_one_once(redactor: Redactor) -> None:
    made: list[str] = []
    previous = logging.getLogRecordFactory()

    def other(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made.append("other")
        return previous(*args, **kwargs)

    logging.setLogRecordFactory(other)  # OpenTelemetry's logging instrumentation does this
    stream = configure(redactor)
    configure(redactor)
    log.info("x-api-key=%s", SECRET)
    assert made == ["other"]
    assert SECRET not in stream.getvalue()


# --- swapping the redactor (a reload with new contracts) ----------------------------------------------


def _contracts(with_journal: bool) -> descriptor_pb2.FileDescriptorSet:
    """t.v1.Note {string body}; with_journal adds t.v2.Journal {string entry [phi]; string mood}."""
    string = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    v1 = descriptor_pb2.FileDescriptorProto(name="t/v1/note.proto", package="t.v1", syntax="proto3")
    v1.message_type.add(name="Note").field.add(name="body", number=1, type=string, label=optional)
    files = [v1]
    if with_journal:
        v2 = descriptor_pb2.FileDescriptorProto(name="t/v2/journal.proto", package="t.v2", syntax="proto3")
        journal = v2.message_type.add(name="Journal")
        entry = journal.field.add(name="entry", number=1, type=string, label=optional)
        ext: Any = entry.options.Extensions
        ext[options_pb2.field_policy].phi = True
        journal.field.add(name="mood", number=2, type=string, label=optional)
        files.append(v2)
    return descriptor_pb2.FileDescriptorSet.FromString(
        descriptor_pb2.FileDescriptorSet(file=files).SerializeToString()
    )


def _journal(fds: descriptor_pb2.FileDescriptorSet) -> Any:
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.v2.Journal"))
    return cls(entry=RAW, mood="ok")


@pytest.mark.parametrize("form", ["any-json", "message"])
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_set_redactor_applies_to_every_later_record(form: str, fmt: str) -> None:
    before = Redactor(_contracts(with_journal=False), salt=b"s")
    after = before.with_contracts(_contracts(with_journal=True))
    stream = configure(before, format=fmt)
    handler = logging.getLogger().handlers[0]
    request = (
        {"@type": "type.googleapis.com/t.v2.Journal", "entry": RAW, "mood": "ok"}
        if form == "any-json"
        else _journal(_contracts(with_journal=True))
    )
    log.info("call received", extra={"request": request})
    assert RAW in stream.getvalue()  # the old contracts know no Journal: the gap a reload must close
    logs.set_redactor(after)
    stream.truncate(0)
    stream.seek(0)
    log.info("call received", extra={"request": request})
    assert logging.getLogger().handlers == [handler]  # no handler was reconfigured
    assert RAW not in stream.getvalue()
    assert after.hash(RAW) in stream.getvalue()
    assert "ok" in stream.getvalue()  # mood is not phi
    assert logs.current_redactor() is after


def test_with_contracts_keeps_the_salt() -> None:
    before = Redactor(_contracts(with_journal=False), extra_keys=["x-player-email"], salt=b"s")
    after = before.with_contracts(_contracts(with_journal=True))
    assert after.hash(RAW) == before.hash(RAW)
    assert after.is_sensitive_key("X-Player-Email")
    assert after.sensitive_fields("t.v2.Journal") == {"entry"}
    assert before.sensitive_fields("t.v2.Journal") == frozenset()  # the old one is unchanged


def test_a_formatter_given_a_redactor_keeps_it(redactor: Redactor) -> None:
    other = Redactor(salt=b"other")
    logs.set_redactor(other)
    record = logging.makeLogRecord(
        {"name": "n", "levelno": 20, "levelname": "INFO", "msg": "m", "token": RAW}
    )
    assert json.loads(JsonFormatter(redactor).format(record))["token"] == redactor.hash(RAW)
    assert json.loads(JsonFormatter().format(record))["token"] == other.hash(RAW)


@pytest.mark.parametrize(
    ("env", "warned"),
    [
        ({}, False),
        ({"GRPC_TRACE": "chttp2_hpack_parser"}, True),
        ({"GRPC_TRACE": "all", "GRPC_VERBOSITY": "debug"}, True),
        ({"GRPC_TRACE": "all", "GRPC_VERBOSITY": "ERROR"}, False),
        ({"GRPC_TRACE": "all", "GRPC_VERBOSITY": "none"}, False),
        ({"GRPC_VERBOSITY": "DEBUG"}, False),  # no tracer: errors only, which name keys, not values
    ],
)
def test_grpc_core_tracing_is_reported(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], warned: bool
) -> None:
    monkeypatch.delenv("GRPC_TRACE", raising=False)
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stream = configure(redactor)
    warnings = [line for line in lines(stream) if line["logger"] == "gateway.telemetry.logs"]
    assert len(warnings) == warned
    if warned:
        assert warnings[0]["level"] == "warning"
        assert "GRPC_VERBOSITY=ERROR" in warnings[0]["msg"]


def test_the_websocket_engines_frame_dumps_never_reach_the_log() -> None:
    """websockets logs each frame's bytes at debug (a player's text, a reauthenticate token)."""
    import logging
    import os

    from gateway.telemetry.logs import _no_frame_dumps

    engine = os.path.join("site-packages", "websockets", "protocol.py")
    frame = logging.LogRecord("uvicorn.error", logging.DEBUG, engine, 1, "< TEXT %r", ("secret",), None)
    warning = logging.LogRecord("uvicorn.error", logging.WARNING, engine, 1, "closing", (), None)
    ours = logging.LogRecord("gateway", logging.DEBUG, os.path.join("gateway", "x.py"), 1, "x", (), None)
    assert not _no_frame_dumps(frame)
    assert _no_frame_dumps(warning)
    assert _no_frame_dumps(ours)
