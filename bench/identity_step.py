"""The identity steps' own CPU per call, in-process: ``python -m bench.identity_step``.

The end-to-end pair (bench/cost.py, ``gateway-noauth`` beside ``gateway-auth``) resolves about 100 µs
per call on a shared machine; the steps cost far less. This times them alone, on a prepared call of
``/tta.v1.PlayerService/GetPlayer`` in a gateway built (not served) from the same config as the
``gateway-auth`` phase, with the same token (a jti, so the in-memory denylist is asked too):

- the Identity step's ``before`` with the token cached (the common case: a token seen before): the
  header found, the digest looked up, the denylist asked, the principal made, the roles checked, the
  verified subject and roles added upstream;
- the Ownership step's ``on_request``: the request decoded (what the pass-through never does) and its
  owner field compared with the subject;
- ``before`` with the cache emptied first (a token's first call: the signature verified).

Each is the median of ``--repeats`` loops of ``--calls`` calls, less the same loop without the step
(resetting the call), so a figure is the step's own time including its coroutine. This imports gateway
internals (``Gateway.build``, the steps, ``Call``): when they move, update it; bench/cost.py runs it
after its rounds and carries on without it if it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tta.v1 import player_pb2

from bench._tokens import SUBJECT, dev_auth
from gateway.app import Gateway
from gateway.chain.call import Call, Door, MessageView
from gateway.chain.chain import Step
from gateway.config import Settings

METHOD = "/tta.v1.PlayerService/GetPlayer"


def _settings(auth: dict[str, object]) -> Settings:
    return Settings.model_validate(
        {
            "grpc": {"host": "127.0.0.1", "port": 0},
            "http": {"host": "127.0.0.1", "port": 0},
            "admin": {"host": "127.0.0.1", "port": 0},
            "upstreams": [{"services": ["tta.v1.*", "tta.v2.*"], "targets": ["127.0.0.1:9"]}],
            "log": {"level": "warning", "access": False},
            "metrics": {"enabled": False},
            "auth": auth,
        }
    )


async def _loop_us(
    calls: int, reset: Callable[[], None], step: Callable[[], Awaitable[object]] | None
) -> float:
    """Seconds per call of ``calls`` iterations of reset (and the step, when given), in µs."""
    clock = time.perf_counter
    if step is None:
        t0 = clock()
        for _ in range(calls):
            reset()
        return (clock() - t0) / calls * 1e6
    t0 = clock()
    for _ in range(calls):
        reset()
        await step()
    return (clock() - t0) / calls * 1e6


async def _timed(
    calls: int, repeats: int, reset: Callable[[], None], step: Callable[[], Awaitable[object]]
) -> list[float]:
    """The step's µs per call in each repeat, the bare loop's time taken off."""
    out = []
    for _ in range(repeats):
        with_step = await _loop_us(calls, reset, step)
        bare = await _loop_us(calls, reset, None)
        out.append(with_step - bare)
    return out


def _named(steps: tuple[Step, ...], name: str) -> Step:
    return next(s for s in steps if s.name == name)


async def measure(calls: int, repeats: int, uncached_calls: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="tta-bench-identity-") as tmp:
        auth = dev_auth(Path(tmp))
        gateway = await Gateway.build(_settings(auth.settings()))
    plan = gateway.snapshot.plans.get(METHOD)
    assert plan is not None
    identity, ownership = _named(plan.steps, "identity"), _named(plan.steps, "ownership")
    call: Call = plan.open(Door.GRPC, [("authorization", auth.header)], caller_timeout=None)
    raw = player_pb2.GetPlayerRequest(player_id=SUBJECT).SerializeToString()
    call.request = raw

    def reset() -> None:
        call.upstream_metadata.clear()
        call.principal = None

    async def before() -> None:
        await identity.before(call)

    async def on_request() -> None:
        await ownership.on_request(call, MessageView(raw, plan.request_cls))

    def reset_uncached() -> None:
        reset()
        identity.cache.clear()  # type: ignore[attr-defined]

    await before()  # the first call verifies the signature; from here on the token is cached
    assert call.principal is not None
    assert call.principal.subject == SUBJECT
    principal = call.principal
    results = {"before": await _timed(calls, repeats, reset, before)}
    call.principal = principal
    results["on_request"] = await _timed(calls, repeats, lambda: None, on_request)
    results["before_uncached"] = await _timed(uncached_calls, repeats, reset_uncached, before)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=50_000, help="calls per loop (50,000)")
    p.add_argument("--repeats", type=int, default=5, help="loops per figure; the median is shown (5)")
    p.add_argument(
        "--uncached-calls", type=int, default=2_000, help="calls per loop, token not cached (2,000)"
    )
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    a = p.parse_args()
    results = asyncio.run(measure(a.calls, a.repeats, a.uncached_calls))
    med = {k: statistics.median(v) for k, v in results.items()}
    if a.json:
        print(json.dumps({"calls": a.calls, "repeats": a.repeats, "us_per_call": results}))
        return
    print(
        f"identity steps in-process, µs per call, median [min–max] of {a.repeats} loops of {a.calls} calls"
        f" ({a.uncached_calls} uncached):"
    )
    for key, text in (
        ("before", "Identity.before, cached token"),
        ("on_request", "Ownership.on_request (decodes the request)"),
        ("before_uncached", "Identity.before, token not cached (signature)"),
    ):
        v = results[key]
        print(f"  {text:50s} {med[key]:6.1f} [{min(v):.1f}–{max(v):.1f}]")
    print(f"  {'both steps, cached token':50s} {med['before'] + med['on_request']:6.1f}")


if __name__ == "__main__":
    main()
