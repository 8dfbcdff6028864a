"""The event loop on hand-made streams: total order, minute closes, timers, commands queued
and drained after the handler, fills strictly after the decision."""

from __future__ import annotations

from sim.core.clock import SimClock
from sim.core.events import NS_PER_MIN, Fill, MinuteClose, OrderUpdate, Timer
from sim.core.loop import EventLoop
from sim.market.feed import MarketFeed
from sim.core.timers import TimerQueue, slot_timer
from tests.market.memory_sources import quotes, trades

S = 1_000_000_000


def _feed(trade_rows, quote_rows, minutes=5, batch_rows=2):
    return MarketFeed(
        [trades(trade_rows, batch_rows=batch_rows), quotes(quote_rows, batch_rows=batch_rows)],
        start_ns=0, end_ns=minutes * NS_PER_MIN, tick_size=0.1, taker_fee_bps=5, maker_fee_bps=-1,
    )


def test_events_come_in_total_order_with_timers_after_minute_closes_and_fills_after_decisions():
    q = [(i * 10 * S, 100.0 + i * 0.1, 1.0, 100.1 + i * 0.1, 2.0) for i in range(30)]
    t = [(i * 10 * S + 1, 100.1 + i * 0.1, 0.5, 1, i) for i in range(30)]
    market = _feed(t, q)
    clock = SimClock(0)
    timers = TimerQueue()
    timers.add(slot_timer(2), 0)
    loop = EventLoop(clock, market, timers, 5 * NS_PER_MIN)
    seen = []
    queued = []

    def handle(ev):
        seen.append(ev)
        if isinstance(ev, MinuteClose) and ev.ts_ns == 2 * NS_PER_MIN:
            queued.append(ev.ts_ns)

    def drain():
        sent = False
        while queued:
            ts = queued.pop()
            oid = market.register_order_id("o-1")
            market.engine.submit_order(oid, 1, "market", 0.01, ts, slippage_ticks=1)
            sent = True
        return sent

    loop.run(handle, drain)
    keys = [e.key for e in seen]
    assert keys == sorted(keys)
    closes = [e.ts_ns for e in seen if isinstance(e, MinuteClose)]
    assert closes == [m * NS_PER_MIN for m in range(1, 6)]
    timers_fired = [e.ts_ns for e in seen if isinstance(e, Timer)]
    assert timers_fired == [2 * NS_PER_MIN, 4 * NS_PER_MIN]
    # At 2 minutes: the close, then the timer, then the acknowledgement of the order the close raised.
    at_two = [type(e).__name__ for e in seen if e.ts_ns == 2 * NS_PER_MIN]
    assert at_two == ["MinuteClose", "Timer", "OrderUpdate"]
    fills = [e for e in seen if isinstance(e, Fill)]
    assert len(fills) == 1
    # The quote at exactly 120 s was consumed before the decision; the fill is at the next one.
    assert fills[0].ts_ns == 130 * S
    assert fills[0].price == round(q[13][3] + 0.1, 1)
    assert [e.status for e in seen if isinstance(e, OrderUpdate)] == ["accepted"]


def test_bad_row_under_fail_policy_names_source_and_row():
    import pytest

    from sim.core.errors import DataFileError

    q = [(0, 100.0, 1.0, 100.1, 1.0), (S, 100.2, 1.0, 100.1, 1.0)]
    market = _feed([], q)
    loop = EventLoop(SimClock(0), market, TimerQueue(), 5 * NS_PER_MIN)
    with pytest.raises(DataFileError, match=r"memory, row 2: crossed quote"):
        loop.run(lambda ev: None, lambda: False)
