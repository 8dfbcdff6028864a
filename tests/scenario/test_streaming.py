"""A 30-day scenario streams: building it draws only the 1-second path, the sources draw a chunk
only when pulled, and memory stays at a few chunks however far the stream has gone."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np

from sim.scenario.bridge import BridgeGenerator
from sim.scenario.synthetic import TickGenerator

DAY_S = 86_400


def test_a_30_day_generator_is_lazy_and_bounded(start_ns) -> None:  # noqa: ANN001
    segments = [
        {"type": "rotate", "minutes": 240},
        {"type": "poke", "side": "low"},
        {"type": "rotate", "minutes": 30 * 1440 - 245, "half_width_bps": 300},
        {"type": "flash_crash", "drop_bps": 300},
    ]
    g = TickGenerator(start_ns=start_ns, segments=segments, seed=30)
    assert g.end_ns - g.start_ns >= 30 * DAY_S * 10**9
    assert g.n_chunks == 30 * 24 + 1 and g.mid_path.nbytes <= 30 * DAY_S * 8 + 10_000
    trades, quotes = g.trades(), g.quotes()
    assert g.drawn_chunks == [], "making the sources draws nothing"

    tracemalloc.start()
    try:
        it, iq = trades.batches(), quotes.batches()
        rows = 0
        for _ in range(3):
            (_, t), (_, q) = next(it), next(iq)
            rows += t.num_rows + q.num_rows
        after3, _ = tracemalloc.get_traced_memory()
        for _ in range(3):
            (_, t), (_, q) = next(it), next(iq)
        after6, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # an hour at calibrated rates is ~85 k prints and ~350 k quotes (~17 MB of Arrow columns):
    # all 30 days would be ~12 GB, the stream holds a few hours at most
    assert rows > 3 * 300_000
    assert g.drawn_chunks == [0, 1, 2, 3, 4, 5], "each chunk drawn once (the trades reuse the quotes)"
    assert peak < 200 * 2**20
    assert after6 < after3 + 20 * 2**20, "memory does not grow with the stream's length"


def test_a_chunk_far_into_the_scenario_is_drawn_without_the_ones_before(start_ns) -> None:  # noqa: ANN001
    g = TickGenerator(start_ns=start_ns, segments=[{"type": "walk", "minutes": 30 * 1440}], seed=1)
    q = g.chunk_quotes(700)
    assert g.drawn_chunks == [700]
    ts = q["ts_ns"].to_numpy()
    assert ts[0] == start_ns + 700 * 3600 * 10**9 and np.all(np.diff(ts) >= 0)


def test_bridge_sources_are_lazy() -> None:
    t0 = 1_609_459_200_000_000_000
    bars = [(t0 + i * DAY_S * 10**9, 30000.0, 31000.0, 29000.0, 30500.0, 1000.0) for i in range(30)]
    g = BridgeGenerator(bars, DAY_S * 10**9, 1)
    (_, k), = itertools.islice(g.minute_klines().batches(), 1)
    (_, t), = itertools.islice(g.trades().batches(), 1)
    assert k.num_rows == 1440 and t["ts_ns"].to_numpy().max() < t0 + 3600 * 10**9
    assert len(g._chunks) == 30 * 24
