"""Run reference TTA services from the command line until SIGTERM or Ctrl-C.

python -m services player session --port 50061
python -m services all --port 50060
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from services.catalog import REFERENCE_SERVICES
from services.server import resolve_names, start_service

_GRACE_SECONDS = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services",
        description="Serve in-memory reference implementations of the TTA services over gRPC, with "
        "health checking and server reflection. The named services share one server, one port and one "
        "in-memory world.",
        epilog=f"services: all, {', '.join(REFERENCE_SERVICES)}",
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help='services to serve, or "all"')
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    return parser


async def _serve(names: Sequence[str], host: str, port: int) -> None:
    running = await start_service(names, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"serving {' '.join(running.names)} on {running.target}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await running.stop(grace=_GRACE_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve until stopped; exit status 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        names = resolve_names(args.names)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_serve(names, args.host, args.port))
    except OSError as exc:
        print(f"python -m services: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
