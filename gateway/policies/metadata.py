"""The metadata allowlist: which of the caller's metadata reach the upstream, the same on every door.

Doors map their transport to gRPC metadata first (the HTTP door: ``Authorization``, ``X-Request-Id``,
``traceparent``, ``tracestate``, ``Idempotency-Key`` and any ``Grpc-Metadata-<key>``); this step then
applies one rule to what arrived by any door:

- dropped: pseudo-headers, hop-by-hop and transport-owned headers (RFC 9113 §8.2.2; ``grpc-timeout`` is
  re-derived from the remaining deadline, encodings are per hop), every ``grpc-`` key (reserved to
  the gRPC protocol, "Header-Name" in PROTOCOL-HTTP2.md), and every ``x-tta-`` key: those carry the
  identity the gateway vouches for (``x-tta-subject``, ``x-tta-roles``), which only the gateway's own
  identity step may set, never a caller;
- refused (INVALID_ARGUMENT, naming the key): a text value that is not printable ASCII (gRPC
  "ASCII-Value" is %x20-7E), or a ``-bin`` key whose value is not binary.

The correlation ids (``x-request-id``, ``traceparent``) are replaced by the call's own afterwards.
"""

from __future__ import annotations

import grpc

from gateway.chain.call import Call, Reply
from gateway.chain.chain import Step
from gateway.errors import Refused

_DROPPED = frozenset({"user-agent", "te", "content-type", "host", "connection", "keep-alive", "upgrade"})


def _refuse(key: str, why: str) -> Refused:
    return Refused(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"metadata {key}: {why}",
        reason="INVALID_METADATA",
        info={"key": key},
    )


class MetadataAllowlist(Step):
    name = "metadata"

    def decide(self, call: Call) -> Reply | None:
        out = call.upstream_metadata
        for key, value in call.metadata:
            if key in _DROPPED or key.startswith((":", "grpc-", "x-tta-")):
                continue
            if key.endswith("-bin"):
                if not isinstance(value, bytes):
                    raise _refuse(key, "a -bin key carries binary values")
            # printable ASCII, %x20-7E (str.isprintable alone would admit non-ASCII letters)
            elif not isinstance(value, str) or not (value.isascii() and value.isprintable()):
                raise _refuse(key, "the value must be printable ASCII")
            out.append((key, value))
        return None
