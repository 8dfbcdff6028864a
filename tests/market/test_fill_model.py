"""The probabilistic fill model's seeded draw (Rust) against a Python reference, and its rate."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import _core

MASK = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fill_draw_reference(seed: int, order_id: int, ts_ns: int) -> float:
    x = _splitmix64(_splitmix64(_splitmix64(seed) ^ order_id) ^ (ts_ns & MASK))
    return (x >> 11) / float(1 << 53)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, MASK), st.integers(0, MASK), st.integers(-(1 << 63), (1 << 63) - 1))
def test_the_draw_matches_the_python_reference(seed: int, order_id: int, ts_ns: int) -> None:
    assert _core.fill_draw(seed, order_id, ts_ns) == fill_draw_reference(seed, order_id, ts_ns)


def test_the_draw_fills_about_p_of_the_orders() -> None:
    draws = [_core.fill_draw(2021, i, 1_609_459_200_000_000_000) for i in range(10_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    rate = sum(d < 0.9 for d in draws) / len(draws)
    assert abs(rate - 0.9) < 0.01
