"""Credentials never reach a log through a library's own logger: grpc's, hpack's, asyncio's.

A real grpc.aio server on loopback answers every method; a grpc.aio client and a raw HTTP/2 client
(h2, which can send header values grpc's own client refuses: control characters, NUL, CR/LF, 0xFF)
send credential-shaped metadata. The test then reads everything that was written: the log stream
:func:`configure_logging` writes to, and the process's own stdout/stderr file descriptors (where
grpc's C core writes, outside Python logging). Each secret carries a distinctive marker; no marker
may appear anywhere, and the lines grpc is known to write must be there, so the test can fail.

What grpc 1.85 does with such metadata, as measured here:

- its client refuses a value with a control character before sending; the C core writes
  ``Metadata value for key authorization is invalid`` to stderr (the key, not the value);
- its server accepts control characters, NUL and CR/LF in values, and hands them to the handler;
- its server logs a value that is not UTF-8 through ``grpc._cython.cygrpc`` at error:
  ``Invalid encoding on b'...'`` with the value and a UnicodeDecodeError (whose ``object`` is the value);
- a handler's exception is logged by ``grpc._cython.cygrpc`` at error with its traceback
  (``Unexpected [ValueError] raised by servicer method [...]``): whatever the message quotes;
- the C core writes header values to stderr only with a tracer on and verbosity below ERROR
  (see ``test_grpc_core_writes_header_values_only_when_tracing``).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator

import grpc
import grpc.aio
import h2.config
import h2.connection
import h2.events
import pytest
from grpc._cython import cygrpc  # ExecuteBatchError: how grpc's client refuses a value

from gateway.config import LogSettings
from gateway.telemetry import logs
from gateway.telemetry.logs import configure_logging
from gateway.telemetry.redact import Redactor

# Every secret holds one marker; a marker anywhere in the output is a leak.
MARKERS = ("AUTHZ7f3a", "APIKEY9c1e", "COOKIE4d2b", "CLIENTSEC8e5f", "PROXYAUTH2a9c", "SESSTOK6b7d")
VALID = [
    ("authorization", "Basic AUTHZ7f3adXNlcjpwYXNz"),
    ("x-api-key", "APIKEY9c1e-k"),
    ("cookie", "sid=COOKIE4d2b; theme=dark"),
    ("client-secret", "CLIENTSEC8e5f"),
    ("proxy-authorization", "Negotiate PROXYAUTH2a9c"),
    ("x-session-token", "SESSTOK6b7d"),
]
# Values grpc's client refuses (and grpc's server takes, or logs): sent raw over HTTP/2.
INVALID = [
    ("authorization", b"Basic AUTHZ7f3adXNlcjpwYXNz\x01"),
    ("authorization", b"AUTHZ7f3a-not-bearer\x7f"),
    ("x-api-key", b"APIKEY9c1e\x00tail"),
    ("cookie", b"sid=COOKIE4d2b\r\nx-injected: 1"),
    ("client-secret", b"CLIENTSEC8e5f\xff"),
    ("proxy-authorization", b"\xffPROXYAUTH2a9c"),
    ("x-session-token", b"SESSTOK6b7d\xfe\x01"),
]
RAISE = "/t.v1.Probe/Raise"  # the handler fails with an exception quoting the metadata
ECHO = "/t.v1.Probe/Echo"


class _Probe(grpc.GenericRpcHandler):
    """Answers every method; Raise fails with the call's metadata in the message, as careless code
    does, and logs it through an application logger on the way."""

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method

        async def unary(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            metadata = context.invocation_metadata() or ()
            if method == RAISE:
                logging.getLogger("tests.app").warning("call with metadata %s", metadata)
                raise ValueError(f"rejected metadata {dict(metadata)!r}")
            return b"ok"

        return grpc.unary_unary_rpc_method_handler(unary)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state (root handler, library loggers, the redactor)."""
    root = logging.getLogger()
    saved = {
        name: (list(lg.handlers), lg.propagate, lg.level)
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    root_state = (list(root.handlers), root.level)
    redactor, handler = logs.current_redactor(), logs._handler
    yield
    for name, (handlers, propagate, level) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.setLevel(level)  # not `lg.level =`: setLevel clears the isEnabledFor caches
    root.handlers[:] = root_state[0]
    root.setLevel(root_state[1])
    logs.set_redactor(redactor)
    logs._handler = handler
    logs.access_log()._reconfigure(sys.stderr, False, False, threading.Lock())


@pytest.fixture
async def server() -> AsyncIterator[int]:
    srv = grpc.aio.server()
    srv.add_generic_rpc_handlers([_Probe()])
    port = srv.add_insecure_port("127.0.0.1:0")
    await srv.start()
    yield port
    await srv.stop(None)


def _raw_call(port: int, method: str, key: str, value: bytes) -> list[str]:
    """One gRPC call over a raw HTTP/2 connection, with ``key: value`` sent as is (h2 told not to
    validate); returns the names of the events received, to show the server answered."""
    config = h2.config.H2Configuration(
        client_side=True,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        split_outbound_cookies=False,
    )
    conn = h2.connection.H2Connection(config)
    conn.initiate_connection()
    headers = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", method.encode()),
        (b":authority", b"localhost"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        (key.encode(), value),
    ]
    conn.send_headers(1, headers)
    conn.send_data(1, b"\x00\x00\x00\x00\x02hi", end_stream=True)
    events: list[str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(conn.data_to_send())
        while not any(e in events for e in ("StreamEnded", "StreamReset", "ConnectionTerminated")):
            data = sock.recv(65535)
            if not data:
                break
            events += [type(e).__name__ for e in conn.receive_data(data)]
            sock.sendall(conn.data_to_send())
    return events


def _leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("level", ["info", "debug"])
async def test_no_secret_reaches_any_output(
    server: int, level: str, capfd: pytest.CaptureFixture[str]
) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level=level), Redactor(salt=b"t"), stream)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server}") as channel:
        raise_ = channel.unary_unary(RAISE)
        echo = channel.unary_unary(ECHO)
        for key, value in VALID:
            with pytest.raises(grpc.aio.AioRpcError):
                await raise_(b"hi", metadata=((key, value),), timeout=5)
        # grpc's own client refuses these before sending (its C core names the key on stderr).
        for key, raw in INVALID:
            with pytest.raises(cygrpc.ExecuteBatchError):
                await echo(b"hi", metadata=((key, raw.decode("latin-1")),), timeout=5)
    for key, raw in INVALID:
        for method in (ECHO, RAISE):
            events = await asyncio.to_thread(_raw_call, server, method, key, raw)
            assert "ResponseReceived" in events or "StreamReset" in events, (key, raw, events)

    written = stream.getvalue()
    out, err = capfd.readouterr()
    assert _leaks(written) == []
    assert _leaks(out + err) == []
    lines = [json.loads(line) for line in written.splitlines()]
    grpc_errors = [line for line in lines if line["logger"] == "grpc._cython.cygrpc"]
    # So the test can fail: grpc wrote about the undecodable values and the handler's failures.
    invalid = [line for line in grpc_errors if line["msg"].startswith("Invalid encoding on <redacted:")]
    assert invalid
    # the caller's fault, not the gateway's: written as a warning, so ERROR stays for real failures
    assert {line["level"] for line in invalid} == {"warning"}
    assert any(line["msg"].startswith("Unexpected [ValueError] raised by servicer") for line in grpc_errors)
    assert all("<redacted:" in line["exc"] for line in grpc_errors if "exc" in line)
    app = [line["msg"] for line in lines if line["logger"] == "tests.app"]
    assert len(app) == len(VALID) + len(INVALID)  # every call to Raise reached its handler
    assert all("<redacted:" in msg for msg in app)
    if level == "debug":  # hpack (under h2, the raw client) logs every header it encodes
        assert any(line["logger"] == "hpack.hpack" and "header table" in line["msg"] for line in lines)


# --- grpc's C core: stderr, outside Python logging -------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import asyncio, socket, sys
    import grpc, grpc.aio
    sys.path.insert(0, {root!r})
    from tests.integration.telemetry.test_library_logs import INVALID, ECHO, _raw_call

    class Answer(grpc.GenericRpcHandler):
        def service(self, details):
            async def unary(request, context):
                return b"ok"
            return grpc.unary_unary_rpc_method_handler(unary)

    async def main():
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([Answer()])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        for key, raw in INVALID:
            await asyncio.to_thread(_raw_call, port, ECHO, key, raw)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{{port}}") as channel:
            try:
                await channel.unary_unary(ECHO)(b"", metadata=(("x-api-key", "APIKEY9c1e\\x01"),))
            except Exception:
                pass
        await server.stop(None)

    asyncio.run(main())
    """
)


def _run_child(env_overrides: dict[str, str]) -> str:
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    env.update(env_overrides)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(root=root)],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
        cwd=root,
    )
    return done.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("env", "values_written"),
    [
        ({}, False),  # the defaults: errors naming keys, never values
        ({"GRPC_TRACE": "chttp2_hpack_parser"}, True),  # a tracer on: every header, in clear
        ({"GRPC_TRACE": "all"}, True),
        ({"GRPC_TRACE": "all", "GRPC_VERBOSITY": "ERROR"}, False),  # the proposed default holds
        ({"GRPC_TRACE": "all", "GRPC_VERBOSITY": "NONE"}, False),
    ],
)
def test_grpc_core_writes_header_values_only_when_tracing(env: dict[str, str], values_written: bool) -> None:
    """Evidence for keeping grpc's C core at GRPC_VERBOSITY=ERROR in the gateway's environment: its
    tracers write header values to stderr, past Python logging and so past the redactor."""
    err = _run_child(env)
    assert bool(_leaks(err)) is values_written, err[-2000:]
    if not env:
        assert "Metadata value for key x-api-key is invalid" in err  # the C core does write here
