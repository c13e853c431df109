"""Benchmarks: the gateway beside direct calls, measured in the same run and printed as ratios."""
