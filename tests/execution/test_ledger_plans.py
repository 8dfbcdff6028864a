"""The trade ledger refuses a fill that would leave a position nobody planned: an opening (from
flat, or the rest of a fill that crosses zero) whose order carries no plan, and a reduce-only
fill (every exit) that would open, grow or cross a position. It refuses before booking anything."""

from __future__ import annotations

import math

import pytest

from sim.execution.ledger import LedgerError, PlanMissing, ReduceOnlyViolation, TradeLedger

PLAN = {"strategy_tag": "breakin", "stop_price": 49_800.0, "tp1_price": 50_000.0, "tp2_price": math.nan,
        "leverage_used": 2.0, "risk_pct_used": 0.02}
MS = 1_000_000


def long_one() -> TradeLedger:
    led = TradeLedger()
    led.on_fill(1 * MS, +1, 50_000.0, 1.0, 0.5, PLAN, "breakin_long", order_id="e1")
    return led


@pytest.mark.parametrize("meta, missing", [
    ({}, "stop_price, strategy_tag, tp1_price, tp2_price"),
    ({**PLAN, "strategy_tag": ""}, "strategy_tag"),
    ({**PLAN, "stop_price": math.nan}, "stop_price"),
    ({k: v for k, v in PLAN.items() if k != "tp1_price"}, "tp1_price"),
])
def test_an_opening_without_its_plan_is_refused(meta: dict, missing: str) -> None:
    led = TradeLedger()
    with pytest.raises(PlanMissing, match=rf"order x1 .*from flat with no plan \(missing or empty: {missing}\)"):
        led.on_fill(1 * MS, +1, 50_000.0, 1.0, 0.5, meta, "flip", order_id="x1")
    assert led.trades == []


def test_a_plan_less_fill_that_crosses_zero_is_refused_and_one_with_its_plan_opens() -> None:
    led = long_one()
    with pytest.raises(PlanMissing, match="from LONG 1 with no plan"):
        led.on_fill(2 * MS, -1, 50_100.0, 1.5, 0.5, {}, "flip", order_id="x2")
    assert len(led.trades) == 1 and led.trades[0].open_qty == 1.0, "nothing booked"
    led.on_fill(2 * MS, -1, 50_100.0, 1.5, 0.5, {**PLAN, "stop_price": 50_300.0}, "breakin_short", order_id="e2")
    assert [(t.side, t.status, t.strategy_tag, t.stop_price) for t in led.trades] == \
        [("LONG", "CLOSED", "breakin", 49_800.0), ("SHORT", "OPEN", "breakin", 50_300.0)]


def test_adding_to_a_planned_position_and_closing_it_need_no_plan() -> None:
    led = long_one()
    led.on_fill(2 * MS, +1, 50_010.0, 0.5, 0.1, {}, "limit_timeout", order_id="e1b")
    led.on_fill(3 * MS, -1, 50_050.0, 1.5, 0.1, {}, "tp2", order_id="x3", reduce_only=True)
    assert [(t.status, t.open_qty) for t in led.trades] == [("CLOSED", 0.0)]


@pytest.mark.parametrize("side, qty, why", [(-1, 1.2, "cross"), (+1, 0.3, "grow")])
def test_a_reduce_only_fill_that_would_cross_or_grow_is_refused(side: int, qty: float, why: str) -> None:
    led = long_one()
    with pytest.raises(ReduceOnlyViolation, match="reduce-only, but the position is LONG 1"):
        led.on_fill(2 * MS, side, 50_000.0, qty, 0.1, PLAN, "stop", order_id="x4", reduce_only=True)
    assert led.trades[0].open_qty == 1.0 and led.trades[0].status == "OPEN"


def test_a_reduce_only_fill_on_a_flat_book_is_refused_even_with_a_plan() -> None:
    with pytest.raises(ReduceOnlyViolation, match="position is flat"):
        TradeLedger().on_fill(1 * MS, -1, 50_000.0, 1.0, 0.1, PLAN, "stop", order_id="x5", reduce_only=True)


def test_a_strategy_without_plans_by_design_opts_out_of_the_plan_check_only() -> None:
    led = TradeLedger(require_plan=False)
    led.on_fill(1 * MS, +1, 50_000.0, 1.0, 0.0, {}, "hourly_probe", order_id="p1")
    assert led.trades[0].strategy_tag == ""
    with pytest.raises(LedgerError):
        led.on_fill(2 * MS, -1, 50_000.0, 2.0, 0.0, {}, "end_of_run", order_id="p2", reduce_only=True)
