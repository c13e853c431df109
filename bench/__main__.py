"""``python -m bench`` (``make bench``): the open-loop CPU-per-call bench of both doors (bench/cost.py),
then the WebSocket door's (bench/ws.py: idle connections' memory, room fan-out latency, chat message
CPU beside gRPC).

Flags of this entry point, taken out before the rest go to bench/cost.py:

  --no-ws     only bench/cost.py (its options as before: ``python -m bench --help``)
  --ws-only   only bench/ws.py, with its defaults (its own options: ``python -m bench.ws --help``)

The exit status is 1 when either part could not do what it measures (a phase short of its offered
calls, a connection that did not open, a call not answered); a target not met is printed, not an
error.
"""

import sys

from bench import cost, ws

_OWN = ("--no-ws", "--ws-only")


def _main(argv: list[str]) -> int:
    if {"-h", "--help"} & set(argv):
        print(__doc__)
    run_cost, run_ws = "--ws-only" not in argv, "--no-ws" not in argv
    rest = [arg for arg in argv if arg not in _OWN]
    status = cost.main(rest) if run_cost else 0
    if run_ws:
        print(flush=True)
        status = max(status, ws.main([]))
    return status


raise SystemExit(_main(sys.argv[1:]))
