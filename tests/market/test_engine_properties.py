"""Property tests of the Rust market engine against plain-Python references: the merged
stream is the total order for any interleaving of sources and batch sizes, and batching changes
nothing. (Bars and features against their reference: test_features_vs_reference.py.)"""

from __future__ import annotations

import math

import hypothesis.strategies as st
from hypothesis import given

from sim import _core
from sim.core.clock import SimClock
from sim.core.events import NS_PER_MIN, MinuteClose
from sim.core.loop import EventLoop
from sim.market.feed import MarketFeed
from sim.core.timers import TimerQueue
from tests.market.memory_sources import quotes, trades

S = 1_000_000_000
END = 4 * NS_PER_MIN


@st.composite
def streams(draw):
    n_sources = draw(st.integers(1, 4))
    srcs = []
    for i in range(n_sources):
        kind = draw(st.sampled_from(["trades", "quotes"]))
        # Coarse timestamps so that ties within and across sources are common.
        ts = sorted(draw(st.lists(st.integers(0, 4 * 60 * 4 - 1), max_size=60)))
        ts = [t * S // 4 for t in ts]
        batch = draw(st.integers(1, 8))
        if kind == "trades":
            prices = draw(st.lists(st.integers(9000, 11000), min_size=len(ts), max_size=len(ts)))
            sizes = draw(st.lists(st.integers(1, 500), min_size=len(ts), max_size=len(ts)))
            rows = [(t, p / 10, s / 1000, 1, -1) for t, p, s in zip(ts, prices, sizes)]
            srcs.append(trades(rows, batch_rows=batch, name=f"t{i}"))
        else:
            bids = draw(st.lists(st.integers(9000, 11000), min_size=len(ts), max_size=len(ts)))
            rows = [(t, b / 10, 1.0 + i, (b + 1) / 10, 2.0) for t, b in zip(ts, bids)]
            srcs.append(quotes(rows, batch_rows=batch, name=f"q{i}"))
    return srcs


def _replay(srcs, trace=False):
    market = MarketFeed(srcs, start_ns=0, end_ns=END, tick_size=0.1, taker_fee_bps=0, maker_fee_bps=0)
    if trace:
        market.engine.enable_trace()
    seen = []
    EventLoop(SimClock(0), market, TimerQueue(), END).run(seen.append, lambda: False)
    return market, seen


@given(streams())
def test_merged_stream_is_the_total_order_for_any_interleaving(srcs):
    market, _ = _replay(srcs, trace=True)
    got = market.engine.take_trace()
    prio = _core.KIND_PRIORITY
    expected = sorted(
        (row[0], prio["trade" if s.kind == "trades" else "quote"], i, r + 1)
        for i, s in enumerate(srcs)
        for r, row in enumerate(s.table.to_pylist())
        for row in [tuple(row.values())]
    )
    assert got == expected


@given(streams(), st.integers(1, 50))
def test_batch_size_does_not_change_anything(srcs, other_batch):
    _, a = _replay(srcs)
    for s in srcs:
        s.batch_rows = other_batch
    _, b = _replay(srcs)
    assert [repr(e) for e in a] == [repr(e) for e in b]  # repr: NaN fields compare equal
