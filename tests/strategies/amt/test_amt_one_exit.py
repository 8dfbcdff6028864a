"""A position has at most one working exit, and no fill opens a position without its plan.

The first test is the month's case (golden/amt/binance_spot_month_bars, 2024-08-04 09:45 UTC): a
stop exit was decided, and at the next minute close — in bars mode the stop's fill is stamped at
the kline close, so it is still working then — an opposite signal came. The flip used to send a
second full-size exit, whose fill opened a position with no tag and no stop. The others walk
every other path that sends exits: the kill switch's flatten over a working TP1 partial, the end
of run's flatten, and a marketable limit exit turned into a market order."""

from __future__ import annotations

from typing import Any

import pytest

from sim.core.events import NS_PER_MIN
from sim.execution.ledger import ReduceOnlyViolation
from tests.strategies.amt.amt_builders import T0
from tests.strategies.amt.test_amt_state_machine import BUYERS, INSIDE, SELLERS, Driver, at, break_in_long


def exits(d: Driver) -> list[Any]:
    return [r for r in d.adapter.sent if r.intent == "exit"]


def test_a_flip_decided_while_the_stop_exit_works_sends_no_second_exit() -> None:
    d = Driver()
    entry = break_in_long(d, fill=True)  # long 49 950, stop below the excursion low (49 818)
    row = d.minute(2, 49_900, 49_905, 49_800, 49_850)  # the low takes out the stop
    assert row[7:9] == ("EXIT", "stop")
    (stop,) = exits(d)
    assert (stop.side, stop.qty, stop.reduce_only) == (-1, entry.qty, True)
    d.ack(stop.client_order_id, at(2, 0))
    # Minute 3 closes before the stop's fill arrives (bars mode stamps it at the kline close):
    # a break-in short, the opposite signal.
    row = d.minute(3, 50_050, 50_130, 50_040, 50_060, **SELLERS)
    assert row[2] == 1, "the break-in short signal is there"
    assert row[7:9] == ("HOLD", "exit_working")
    assert exits(d) == [stop] and len(d.adapter.sent) == 2, "one exit only, and no entry"
    d.fill(stop, T0 + 4 * NS_PER_MIN, 49_818)  # stamped at minute 3's close
    assert d.ctx.position.qty == 0.0 and d.strategy.state == "FLAT"
    trades = d.ctx.ledger.rows()
    assert [(t[3], t[11], t[12]) for t in trades] == [("LONG", "breakin", "STOPPED")]
    assert len(d.adapter.sent) == 2, "the fill sends nothing more"


def test_the_flip_entry_waits_for_the_flip_exit_and_a_rejected_exit_drops_it() -> None:
    d = Driver()
    break_in_long(d, fill=True)
    row = d.minute(2, 50_050, 50_130, 50_040, 50_060, **SELLERS)
    assert row[7:9] == ("ENTER_SHORT", "flip:breakin_short")
    (flip,) = exits(d)
    assert len(d.adapter.sent) == 2, "the entry is held until the book is flat"
    d.ack(flip.client_order_id, at(2, 0), "rejected")
    d.minute(3, **INSIDE)  # reaches TP1 (the POC)
    assert d.strategy.flip_entry is None and not [r for r in d.adapter.sent if r.intent == "entry"][1:]
    assert d.ctx.position.qty > 0 and d.strategy.plan is not None, "still long, under its own plan"
    assert [x.reason for x in exits(d)] == ["flip", "tp1"], "whose exits apply again"


def test_the_kill_switch_waits_for_a_working_partial_then_closes_the_rest() -> None:
    d = Driver(max_daily_loss=50.0)
    entry = break_in_long(d, fill=True)
    row = d.minute(2, 49_960, 50_010, 49_955, 50_005)  # TP1 = POC 50 000: a partial
    assert row[7:9] == ("EXIT", "tp1")
    (tp1,) = exits(d)
    d.ack(tp1.client_order_id, at(2, 0))
    # The price falls far enough for the day's loss to trip the kill switch while TP1 works.
    row = d.minute(3, 50_000, 50_000, 49_830, 49_830)
    assert row[7:9] == ("HOLD", "kill_switch") and exits(d) == [tp1], "no second exit beside the partial"
    d.fill(tp1, at(3, 1), 49_830)
    rest = d.ctx.position.qty
    assert 0 < rest < entry.qty
    row = d.minute(4, 49_830, 49_840, 49_825, 49_835)
    assert row[7:9] == ("EXIT", "kill_switch")
    assert [(x.reason, x.qty) for x in exits(d)] == [("tp1", tp1.qty), ("kill_switch", pytest.approx(rest))]


def test_the_end_of_run_flatten_sends_one_exit() -> None:
    d = Driver(flatten_at_end_minutes=3)
    d.ctx.end_ns = T0 + 8 * NS_PER_MIN
    break_in_long(d, fill=True)
    for m in range(2, 7):
        d.minute(m, 49_960, 49_980, 49_955, 49_970)
    assert [x.reason for x in exits(d)] == ["end_of_run"]


def test_a_marketable_limit_exit_turns_into_one_market_exit() -> None:
    d = Driver(use_market_for_exit=False)
    entry = break_in_long(d, fill=True)
    d.minute(2, 49_900, 49_905, 49_800, 49_850)  # stop
    (lim,) = exits(d)
    assert (lim.order_type, lim.price, lim.reduce_only, lim.reason) == ("limit", 49_849.0, True, "stop")
    d.ack(lim.client_order_id, at(2, 0))
    d.minute(3, 49_850, 49_860, 49_700, 49_720, **BUYERS)  # not filled; times out
    assert d.adapter.cancels == [lim.client_order_id] and len(exits(d)) == 1, "cancel first"
    d.minute(4, 49_720, 49_730, 49_700, 49_710)  # the cancel still travels: nothing more
    assert len(exits(d)) == 1
    d.ack(lim.client_order_id, at(4, 0), "cancelled")
    market = exits(d)[-1]
    assert (market.order_type, market.qty, market.reason, market.reduce_only) == \
        ("market", entry.qty, "stop:limit_timeout", True)
    d.ack(market.client_order_id, at(4, 1))
    d.fill(market, at(4, 2), 49_700)
    assert d.ctx.ledger.rows()[0][12] == "STOPPED"


def test_the_engine_refuses_a_second_working_exit_and_the_ledger_a_crossing_exit() -> None:
    d = Driver()
    entry = break_in_long(d, fill=True)
    d.strategy.exec.exit(-1, entry.qty, "manual")
    with pytest.raises(RuntimeError, match="still working"):
        d.strategy.exec.exit(-1, entry.qty, "again")
    # A reduce-only fill larger than the position would cross zero: refused.
    d.ctx.drain()
    (x,) = exits(d)
    with pytest.raises(ReduceOnlyViolation, match="reduce-only"):
        d.recorder.ledger.on_fill(at(2, 0), -1, 49_900, entry.qty * 2, 0.0, {}, "manual",
                                  order_id=x.client_order_id, reduce_only=True)
