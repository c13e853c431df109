"""Shared state behind small protocols, each with an in-memory implementation (one process, nothing to
install) and a Redis one (many processes and hosts), held to one contract test suite
(tests/integration/state/), Redis being a real server: the token denylist (``denylist.py``, decisions
0009 and 0013) and the room log of the WebSocket door (``rooms.py``, decision 0014)."""
