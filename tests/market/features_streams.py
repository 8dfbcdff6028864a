"""Random tick streams and a runner that replays them through the real market engine, for the
feature-engine property tests.

Streams look like a market at a coarse clock, so the cases that matter are common: quotes and
trades sharing a timestamp, several trades per timestamp (prints), prints at, inside and through
the quote, trades before the first quote, quiet minutes, stale quotes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import hypothesis.strategies as st
import pyarrow as pa

from sim.core.clock import SimClock
from sim.data.schema import SCHEMAS
from sim.core.events import NS_PER_MIN, MinuteClose
from sim.core.loop import EventLoop
from sim.market.feed import MarketFeed
from sim.core.timers import TimerQueue
from tests.market.memory_sources import MemorySource, quotes, trades
from tests.reference.features import FeatureParams

TICK = 0.1
MS = 1_000_000
START = 1_700_000_040 * 1_000_000_000  # a minute boundary


@dataclasses.dataclass
class Stream:
    trades: list[tuple[int, float, float, int, int]]
    quotes: list[tuple[int, float, float, float, float]]
    minutes: int
    params: FeatureParams

    @property
    def end_ns(self) -> int:
        return START + self.minutes * NS_PER_MIN


@st.composite
def feature_params(draw: Any, feature_input: str = "ticks") -> FeatureParams:
    return FeatureParams(
        tick_size=TICK,
        rolling_window_minutes=draw(st.integers(2, 12)),
        va_fraction=draw(st.sampled_from([0.5, 0.7, 0.9, 1.0])),
        base_bin_ticks=draw(st.integers(1, 3)),
        alpha_bin=draw(st.sampled_from([0.25, 1.0, 5.0, 40.0])),
        bin_width_max_ticks=draw(st.integers(1, 30)),
        rebucket_interval_minutes=draw(st.integers(1, 7)),
        rebucket_change_pct=draw(st.sampled_from([0.1, 0.25, 1.0])),
        min_va_bins=draw(st.integers(1, 6)),
        max_quote_staleness_ms=draw(st.sampled_from([0, 250, 5000])),
        use_tick_rule_fallback=draw(st.booleans()),
        qimb_ema_span_seconds=draw(st.sampled_from([1.0, 60.0])),
        spread_lookback_minutes=draw(st.integers(1, 5)),
        side_source=draw(st.sampled_from(["inferred", "exchange"])),
        quote_alignment=draw(st.sampled_from(["at_or_before", "before"])),
        order_flow_source=draw(st.sampled_from(["trades", "bvc"])),
        bvc_lookback_minutes=draw(st.integers(2, 10)),
        feature_input=feature_input,
    )


@st.composite
def tick_streams(draw: Any, max_minutes: int = 14) -> Stream:
    """Quotes on a random walk of the mid (in ticks) and trades around them, at a 250 ms clock."""
    minutes = draw(st.integers(1, max_minutes))
    slots = minutes * 240
    n_quotes = draw(st.integers(0, 120))
    n_trades = draw(st.integers(0, 160))
    q_slots = sorted(draw(st.lists(st.integers(0, slots - 1), min_size=n_quotes, max_size=n_quotes)))
    t_slots = sorted(draw(st.lists(st.integers(0, slots - 1), min_size=n_trades, max_size=n_trades)))
    bid = 300_000 + draw(st.integers(-50, 50))
    qs = []
    for s in q_slots:
        bid += draw(st.integers(-4, 4))
        spread = draw(st.sampled_from([1, 1, 1, 2, 3]))
        bid_sz = draw(st.integers(1, 40)) / 10
        ask_sz = draw(st.integers(1, 40)) / 10
        qs.append((START + s * 250 * MS, bid * TICK, bid_sz, (bid + spread) * TICK, ask_sz))
    ts_rows = []
    mid = 300_000
    for i, s in enumerate(t_slots):
        mid += draw(st.integers(-3, 3))
        price = (mid + draw(st.integers(-3, 3))) * TICK
        size = draw(st.integers(1, 2000)) / 1000
        side = draw(st.sampled_from([1, -1, 0]))
        ts_rows.append((START + s * 250 * MS, price, size, side, 1000 + i))
    return Stream(ts_rows, qs, minutes, draw(feature_params()))


def engine_params(p: FeatureParams) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(p).items() if k != "tick_size"}


def replay(
    stream: Stream,
    *,
    trade_batch: int = 1000,
    quote_batch: int = 1000,
    klines: list[tuple[int, float, float, float, float, float]] | None = None,
    kline_batch: int = 1000,
) -> tuple[list[MinuteClose], MarketFeed, dict[str, list[Any]]]:
    """Runs the stream through MarketFeed + EventLoop; returns the minute closes, the feed and the
    raw trade columns recorded."""
    sources: list[MemorySource] = []
    if stream.trades:
        sources.append(trades(stream.trades, batch_rows=trade_batch, name="trades"))
    if stream.quotes:
        sources.append(quotes(stream.quotes, batch_rows=quote_batch, name="quotes"))
    if klines is not None:
        cols = list(zip(*klines)) if klines else [[]] * 6
        table = pa.table(dict(zip(SCHEMAS["klines"].names, cols)), schema=SCHEMAS["klines"])
        sources.append(MemorySource("klines", table, name="klines", interval_ns=NS_PER_MIN, batch_rows=kline_batch))
    market = MarketFeed(sources, start_ns=START, end_ns=stream.end_ns, tick_size=stream.params.tick_size, taker_fee_bps=0,
                        maker_fee_bps=0, features=engine_params(stream.params), record_raw=True)
    closes: list[MinuteClose] = []
    raw: dict[str, list[Any]] = {}

    def on_event(ev: Any) -> None:
        if isinstance(ev, MinuteClose):
            closes.append(ev)

    EventLoop(SimClock(START), market, TimerQueue(), stream.end_ns).run(on_event, lambda: False)
    tr, _ = market.take_raw()
    for name, col in tr.items():
        raw.setdefault(name, []).extend(col.tolist())
    return closes, market, raw
