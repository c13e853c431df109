"""The metadata allowlist, the same for every door: what reaches the upstream, what is refused."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
import pytest

from gateway.errors import Refused
from gateway.policies.metadata import MetadataAllowlist


@dataclass
class _Call:
    """The two fields of a Call the step reads and writes."""

    metadata: tuple[tuple[str, str | bytes], ...]
    upstream_metadata: list[tuple[str, str | bytes]] = field(default_factory=list)


@pytest.mark.parametrize(
    ("metadata", "forwarded"),
    [
        (
            (("x-custom", "v"), ("authorization", "Bearer t")),
            [("x-custom", "v"), ("authorization", "Bearer t")],
        ),
        ((("user-agent", "grpc-python"), ("te", "trailers"), ("content-type", "application/grpc")), []),
        ((("grpc-timeout", "5S"), ("grpc-accept-encoding", "gzip"), ("grpc-trace-bin", b"\x00")), []),
        (((":authority", "h"), ("host", "h"), ("connection", "close")), []),
        ((("x-trace-bin", b"\x00\xff"),), [("x-trace-bin", b"\x00\xff")]),
        (
            (("x-request-id", "r1"), ("traceparent", "00-x")),
            [("x-request-id", "r1"), ("traceparent", "00-x")],
        ),
        ((("x-edge", " spaces and ~ tildes "),), [("x-edge", " spaces and ~ tildes ")]),
        # the identity the gateway vouches for is never taken from a caller
        ((("x-tta-subject", "pl_other"), ("x-tta-roles", "admin"), ("x-tta-anything", "v")), []),
    ],
)
def test_what_reaches_the_upstream(
    metadata: tuple[tuple[str, str | bytes], ...], forwarded: list[tuple[str, str | bytes]]
) -> None:
    call = _Call(metadata)
    assert MetadataAllowlist().decide(call) is None  # type: ignore[arg-type]
    assert call.upstream_metadata == forwarded


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("x-custom", "tab\there"),
        ("x-custom", "nul\x00"),
        ("x-custom", "cr\rlf\n"),
        ("x-custom", "del\x7f"),
        ("x-custom", "obs\xfftext"),
        ("x-custom", "é"),
        ("x-custom", b"bytes on a text key"),
        ("x-blob-bin", "text on a binary key"),
    ],
)
def test_a_value_grpc_forbids_is_refused_naming_the_key(key: str, value: str | bytes) -> None:
    with pytest.raises(Refused) as info:
        MetadataAllowlist().decide(_Call(((key, value),)))  # type: ignore[arg-type]
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.message.startswith(f"metadata {key}: ")
    assert info.value.reason == "INVALID_METADATA"
    assert str(value) not in info.value.message  # the value is never echoed (it may be a credential)
