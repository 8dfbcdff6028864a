"""Fixtures for the synthetic generators: a minute-aligned start, a script that exercises every
segment type, collecting a source into a table, and the tick invariants every stream obeys."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from sim.data.schema import SCHEMAS
from sim.data.source import BatchSource

START_NS = 1_700_000_040 * 1_000_000_000 - (1_700_000_040 * 1_000_000_000) % 60_000_000_000

# every segment type, after a balanced range to poke and break out of
SCRIPT: list[dict] = [
    {"type": "rotate", "minutes": 120, "label": "balance"},
    {"type": "poke", "side": "low", "beyond_ticks": 10},
    {"type": "rotate", "minutes": 20},
    {"type": "poke", "side": "high", "beyond_ticks": 25, "approach_minutes": 2, "after_minutes": 1},
    {"type": "hold_outside", "side": "high", "closes": 3},
    {"type": "walk", "minutes": 5},
    {"type": "hold_outside", "side": "low", "closes": 2, "beyond_ticks": 15, "approach_minutes": 3},
    {"type": "gap", "level": "high", "clear_ticks": 20},
    {"type": "gap", "level": 29000.0, "direction": "down", "clear_ticks": 30, "approach_minutes": 3},
    {"type": "flash_crash", "drop_bps": 150, "offset_seconds": 30},
    {"type": "stale", "seconds": 90, "offset_seconds": 10},
    {"type": "quiet", "minutes": 10},
    {"type": "drift", "minutes": 20, "move_bps": -40},
]


@pytest.fixture(scope="session")
def start_ns() -> int:
    return START_NS


@pytest.fixture(scope="session")
def script() -> list[dict]:
    return [dict(s) for s in SCRIPT]


def _collect(src: BatchSource) -> pa.Table:
    batches = []
    row = 1
    for row0, b in src.batches():
        assert row0 == row, "row0 counts the rows streamed so far"
        assert b.schema.equals(SCHEMAS[src.kind])
        batches.append(b)
        row += b.num_rows
    return pa.Table.from_batches(batches, schema=SCHEMAS[src.kind])


@pytest.fixture(scope="session")
def collect() -> Callable[[BatchSource], pa.Table]:
    return _collect


def on_grid(x: np.ndarray, den: int) -> bool:
    """Every value is exactly k / den for an integer k (the generators' float of an index)."""
    return bool(np.all(np.rint(x * den) / den == x))


def _check_ticks(
    trades: pa.Table, quotes: pa.Table, tick_den: int = 10, size_den: int = 1000, sides_at_touch: bool = True
) -> None:
    tt = trades["ts_ns"].to_numpy()
    tp = trades["price"].to_numpy()
    ts = trades["size"].to_numpy()
    side = trades["side"].to_numpy()
    qt = quotes["ts_ns"].to_numpy()
    bid, ask = quotes["bid_px"].to_numpy(), quotes["ask_px"].to_numpy()
    bsz, asz = quotes["bid_sz"].to_numpy(), quotes["ask_sz"].to_numpy()
    assert np.all(np.diff(tt) >= 0) and np.all(np.diff(qt) >= 0), "timestamps non-decreasing"
    assert np.all(tt % 1_000_000 == 0) and np.all(qt % 1_000_000 == 0), "whole milliseconds"
    assert on_grid(tp, tick_den) and on_grid(bid, tick_den) and on_grid(ask, tick_den), "prices on the tick grid"
    assert on_grid(ts, size_den) and on_grid(bsz, size_den) and on_grid(asz, size_den), "sizes on the step grid"
    assert np.all(ts > 0) and np.all(bsz > 0) and np.all(asz > 0)
    assert np.all(bid < ask), "quotes never crossed"
    assert set(np.unique(side).tolist()) <= {-1, 1}
    assert np.array_equal(trades["trade_id"].to_numpy(), np.arange(1, len(tt) + 1))
    qi = np.searchsorted(qt, tt, side="right") - 1
    assert np.all(qi >= 0), "every print has a quote at or before it"
    assert np.all(tp >= bid[qi]) and np.all(tp <= ask[qi]), "prints at or inside the last quote"
    if sides_at_touch:
        # buys print at the ask and sells at the bid, unless strictly inside (a mid print)
        inside = (tp > bid[qi]) & (tp < ask[qi])
        assert np.all((tp == ask[qi])[(side > 0) & ~inside]) and np.all((tp == bid[qi])[(side < 0) & ~inside])


@pytest.fixture(scope="session")
def script_run() -> Callable[[int], tuple]:
    """seed -> (generator, trades, quotes) of SCRIPT, drawn once per session."""
    from sim.scenario.synthetic import TickGenerator

    cache: dict[int, tuple] = {}

    def run(seed: int) -> tuple:
        if seed not in cache:
            g = TickGenerator(start_ns=START_NS, segments=SCRIPT, seed=seed)
            cache[seed] = (g, _collect(g.trades()), _collect(g.quotes()))
        return cache[seed]

    return run


@pytest.fixture(scope="session")
def check_ticks() -> Callable[..., None]:
    return _check_ticks
