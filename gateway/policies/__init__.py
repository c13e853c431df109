"""The policies: steps of the one chain (gateway/chain), each deciding on a door-neutral ``Call``.

A policy never imports a door. ``builtin_steps`` is the chain every route starts from, in order;
identity, access, limits, safety, cache and audit join it here as they are built.
"""

from __future__ import annotations

from gateway.chain.chain import Step
from gateway.config import DeadlineSettings
from gateway.policies.deadline import Deadline
from gateway.policies.metadata import MetadataAllowlist


def builtin_steps(deadlines: DeadlineSettings) -> list[Step]:
    """The steps every route is compiled with, in chain order (correlation is the chain's opening)."""
    return [MetadataAllowlist(), Deadline(deadlines)]
