"""A source far larger than what the engine holds replays in bounded memory: the merge pulls
one more batch of exactly the starved source, and consumed rows are dropped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim.core.clock import SimClock
from sim.data.schema import QUOTES, TRADES
from sim.core.events import NS_PER_MIN, MinuteClose
from sim.core.loop import EventLoop
from sim.market.feed import MarketFeed
from sim.core.timers import TimerQueue

BATCH = 5_000
MINUTES = 120
PER_MIN = 10_000  # rows per minute per source: 1.2 M rows each over the run


@dataclass
class LazySource:
    kind: str
    name: str
    interval_ns: int | None = None
    pulled: int = 0

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        total = MINUTES * PER_MIN
        step = NS_PER_MIN // PER_MIN
        for start in range(0, total, BATCH):
            self.pulled += 1
            idx = np.arange(start, min(start + BATCH, total))
            ts = idx.astype(np.int64) * step
            if self.kind == "trades":
                yield start + 1, pa.record_batch(
                    [ts, np.full(len(idx), 100.0), np.full(len(idx), 0.01), np.ones(len(idx), np.int8), idx.astype(np.int64)],
                    schema=TRADES,
                )
            else:
                yield start + 1, pa.record_batch(
                    [ts, np.full(len(idx), 99.9), np.ones(len(idx)), np.full(len(idx), 100.1), np.ones(len(idx))],
                    schema=QUOTES,
                )


def test_replay_holds_a_bounded_number_of_rows() -> None:
    t, q = LazySource("trades", "t"), LazySource("quotes", "q")
    market = MarketFeed([t, q], start_ns=0, end_ns=MINUTES * NS_PER_MIN, tick_size=0.1, taker_fee_bps=0, maker_fee_bps=0)
    peak = 0
    closes = 0

    def handle(ev):  # noqa: ANN001
        nonlocal peak, closes
        if isinstance(ev, MinuteClose):
            closes += 1
            peak = max(peak, sum(s[4] for s in market.engine.source_stats()))

    EventLoop(SimClock(0), market, TimerQueue(), MINUTES * NS_PER_MIN).run(handle, lambda: False)
    assert closes == MINUTES
    assert market.engine.events_processed >= 2 * MINUTES * PER_MIN
    # Never more than about two batches per source buffered, against 2.4 M rows in all.
    assert peak <= 4 * BATCH
    assert t.pulled == q.pulled == MINUTES * PER_MIN // BATCH
