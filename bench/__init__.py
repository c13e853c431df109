"""Benchmarks: the gateway beside its floors and the backend at one fixed offered rate, in one run,
printed as CPU per call and ratios (bench/cost.py; docs/decisions/0007-open-loop-benchmarks.md)."""
