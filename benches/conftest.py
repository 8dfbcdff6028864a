"""Benchmarks report numbers; they are not tests and do not pass or fail on speed.
Run them with `make bench` (pytest-benchmark, enabled there)."""
