"""Shared state behind small protocols, each with an in-memory implementation (one process, nothing to
install) and a Redis one (many processes and hosts), held to one contract test suite
(tests/integration/state/), Redis being a real server. Today: the token denylist."""
