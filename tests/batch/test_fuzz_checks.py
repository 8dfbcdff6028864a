"""Each invariant checker of `sim fuzz` fires on a hand-made sequence of events that breaks it, and
stays quiet on the same sequence kept legal: the generic ones (order transitions, fill times,
accounting, rerun) and the amt and basis strategies' own."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from sim.batch.fuzz_checks import RunObserver, accounting, rerun_identical
from sim.core.config import load_config
from sim.core.events import NS_PER_MIN, Fill, OrderUpdate, make_key
from sim.execution.ledger import TradeLedger
from sim.execution.orders import Order, OrderEvent, OrderState
from sim.execution.portfolio import Position
from sim.strategies.amt.exits import Plan
from sim.strategies.amt.invariants import AmtInvariants
from sim.strategies.basis.invariants import BasisInvariants
from sim.strategies.basis.rollover import RollProgram
from tests.strategies.amt.amt_builders import T0, bar, features, minute_close


class FakeCtx:
    """What the checkers read of a run's strategy context: the clock, config, orders, position, ledger."""

    def __init__(self, **config: Any) -> None:
        self.now = T0
        self.config = load_config(overrides=config)
        self.orders: dict[str, Order] = {}
        self.position = Position()
        # The ledger refuses a plan-less opening itself; the checkers are tested on their own, as the
        # second line of defence, so this fake ledger books whatever it is given.
        self.ledger = TradeLedger(require_plan=False)

    def now_ns(self) -> int:
        return self.now

    def equity(self, mark: float) -> float:
        return self.position.equity(self.config.initial_equity, mark)

    def order(self, cid: str, side: int, intent: str, qty: float, *, price: float | None = None, reason: str = "",
              meta: dict[str, Any] | None = None, symbol: str | None = None) -> Order:
        o = Order(cid, side, "limit" if price else "market", qty, price, intent, reason, self.now, meta=meta or {},
                  symbol=symbol)
        o.apply(OrderEvent.SUBMIT, self.now)
        self.orders[cid] = o
        return o

    def fill(self, cid: str, price: float, fee: float = 0.0) -> Fill:
        o = self.orders[cid]
        o.filled_qty = o.qty
        o.apply(OrderEvent.FILL, self.now)
        self.position.apply_fill(o.side, price, o.qty, fee)
        self.ledger.on_fill(self.now, o.side, price, o.qty, fee, o.meta, o.reason)
        return Fill("fill", self.now, make_key("fill", self.now), self.now, cid, o.side, price, o.qty, fee)


def update(ctx: FakeCtx, cid: str, status: str = "accepted") -> OrderUpdate:
    return OrderUpdate("order_update", ctx.now, make_key("order_update", ctx.now), ctx.now, cid, status)  # type: ignore[arg-type]


def names(obs: RunObserver) -> list[str]:
    return obs.result.invariants


# -- generic ----------------------------------------------------------------------------------------

def test_order_transitions_fire_on_a_step_outside_the_table() -> None:
    ctx = FakeCtx()
    o = ctx.order("x-1", 1, "entry", 1.0)
    o.apply(OrderEvent.ACCEPT, ctx.now)
    obs = RunObserver(None)
    obs(update(ctx, "x-1"), ctx, None)
    assert names(obs) == []
    o.history.append((ctx.now, OrderState.SUBMITTED))  # accepted -> submitted: no event does that
    obs(update(ctx, "x-1"), ctx, None)
    assert names(obs) == ["order_transitions"]
    assert "from accepted to submitted" in obs.result.violations[0].message


def test_order_transitions_are_checked_on_every_order_at_the_end() -> None:
    ctx = FakeCtx()
    o = ctx.order("x-1", 1, "entry", 1.0)
    o.history.append((ctx.now, OrderState.FILLED))  # submitted -> filled without being accepted
    obs = RunObserver(None)
    obs(None, ctx, None)
    assert names(obs) == ["order_transitions"]


def test_a_fill_at_its_decision_time_fires() -> None:
    ctx = FakeCtx()
    ctx.order("x-1", 1, "entry", 1.0).apply(OrderEvent.ACCEPT, ctx.now)
    obs = RunObserver(None)
    obs(ctx.fill("x-1", 100.0), ctx, None)  # same nanosecond as the decision
    assert names(obs) == ["fill_after_decision"]
    ctx.now += 1
    ctx.order("x-2", -1, "exit", 1.0).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    obs2 = RunObserver(None)
    obs2(ctx.fill("x-2", 100.0), ctx, None)
    assert names(obs2) == []


def _exports(final: float, realized: float, fees: float, funding: float, rows: list[tuple[float, float, float]]) -> dict[str, str]:
    metrics = {"final_equity": final, "realized_pnl": realized, "fees": fees, "funding": funding,
               "unrealized_pnl": 0.0}
    lines = ["realized_pnl,fees_paid,funding_paid"] + [",".join(map(str, r)) for r in rows]
    return {"metrics.json": json.dumps(metrics), "positions.csv": "\n".join(lines) + "\n"}


def test_accounting_fires_on_an_open_book_and_on_a_ledger_that_disagrees() -> None:
    pos = Position(realized_pnl=50.0, fees=5.0, funding=1.0)
    good = _exports(10_044.0, 50.0, 5.0, 1.0, [(30.0, 3.0, 1.0), (20.0, 2.0, 0.0)])
    assert accounting(good, 10_000.0, pos, T0) == []
    unrealized = _exports(10_047.0, 50.0, 5.0, 1.0, [(30.0, 3.0, 1.0), (20.0, 2.0, 0.0)])
    assert [v.invariant for v in accounting(unrealized, 10_000.0, pos, T0)] == ["accounting_identity"]
    ledger_off = _exports(10_044.0, 50.0, 5.0, 1.0, [(30.0, 3.0, 1.0), (21.0, 2.0, 0.0)])
    found = accounting(ledger_off, 10_000.0, pos, T0)
    assert len(found) == 1 and "realized_pnl sums to 51" in found[0].message


def test_rerun_fires_when_an_output_hash_differs() -> None:
    a = {"seed": 1, "outputs": {"fills.csv": "aa", "orders.csv": "bb"}, "wall_s": 0.1}
    assert rerun_identical(a, {**a, "wall_s": 9.9}, T0) == []
    b = {**a, "outputs": {"fills.csv": "aa", "orders.csv": "cc"}}
    found = rerun_identical(a, b, T0)
    assert len(found) == 1 and found[0].message == "a rerun differs in orders.csv"


# -- amt -------------------------------------------------------------------------------------------

@dataclass
class AmtStub:
    plan: Plan | None = None


def _plan(direction: int = 1, stop: float = 99.0) -> Plan:
    return Plan(direction, "breakin", stop, 101.0, 102.0, math.nan, 0.3)


META = {"strategy_tag": "breakin", "stop_price": 99.0, "tp1_price": 101.0, "tp2_price": 102.0,
        "leverage_used": 1.0, "risk_pct_used": 0.02}


def _amt_run(ctx: FakeCtx, strategy: AmtStub, events: list[Any], checker: AmtInvariants | None = None) -> list[str]:
    checker = checker or AmtInvariants()
    obs = RunObserver(checker)
    for ev in events:
        obs(ev, ctx, strategy)
    return names(obs)


def test_stop_plan_fires_on_a_position_opened_without_a_plan() -> None:
    ctx, strategy = FakeCtx(), AmtStub()
    ctx.order("amt-1", 1, "entry", 1.0, price=100.0, meta=META).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    fill = ctx.fill("amt-1", 100.0)
    strategy.plan = _plan()
    assert _amt_run(ctx, strategy, [fill]) == []
    # an exit's fill that opens a position of the other side: no tag, no stop, no plan
    ctx.order("amt-2", -1, "exit", 2.0).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    fill2 = ctx.fill("amt-2", 100.0)
    strategy.plan = None
    assert "stop_plan" in _amt_run(ctx, strategy, [fill2])


def test_stop_plan_fires_when_the_ledger_and_the_strategy_disagree() -> None:
    ctx, strategy = FakeCtx(), AmtStub(plan=_plan(stop=98.0))
    ctx.order("amt-1", 1, "entry", 1.0, price=100.0, meta=META).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    assert _amt_run(ctx, strategy, [ctx.fill("amt-1", 100.0)]) == ["stop_plan"]


def test_one_exit_fires_on_a_second_working_exit() -> None:
    ctx, strategy = FakeCtx(), AmtStub(plan=_plan())
    ctx.order("amt-1", 1, "entry", 1.0, price=100.0, meta=META).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    checker = AmtInvariants()
    fill = ctx.fill("amt-1", 100.0)
    ctx.order("amt-2", -1, "exit", 1.0, reason="stop")
    assert _amt_run(ctx, strategy, [fill], checker) == []
    ctx.order("amt-3", -1, "exit", 1.0, reason="flip")
    assert _amt_run(ctx, strategy, [update(ctx, "amt-2")], checker) == ["one_exit"]


def test_leverage_cap_fires_on_a_plan_over_the_cap_and_a_position_over_the_entry_cap() -> None:
    ctx, strategy = FakeCtx(max_leverage=2), AmtStub(plan=_plan())
    mc = minute_close(bar(100.0, 100.0, 100.0, 100.0), features())
    ctx.now = mc.ts_ns
    checker = AmtInvariants()
    ctx.order("amt-1", 1, "entry", 150.0, price=100.0, meta={**META, "leverage_used": 1.5})
    assert _amt_run(ctx, strategy, [mc], checker) == []  # 150 BTC at 100 on 10000: within 2x
    ctx.orders["amt-1"].apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    assert _amt_run(ctx, strategy, [ctx.fill("amt-1", 100.0)], checker) == []
    ctx.order("amt-2", 1, "entry", 60.0, price=100.0, meta=META).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    ctx.orders["amt-2"].reason = "limit_timeout"  # the same decision: its cap stays
    assert _amt_run(ctx, strategy, [ctx.fill("amt-2", 100.0)], checker) == ["leverage_cap"]  # 210 > 200
    ctx2 = FakeCtx(max_leverage=2)
    ctx2.now = mc.ts_ns
    ctx2.order("amt-1", 1, "entry", 1.0, price=100.0, meta={**META, "leverage_used": 2.5})
    assert _amt_run(ctx2, AmtStub(), [mc]) == ["leverage_cap"]


def test_kill_switch_fires_on_an_entry_after_the_days_loss_and_not_the_next_day() -> None:
    ctx, strategy = FakeCtx(max_daily_loss=100), AmtStub(plan=_plan())
    checker = AmtInvariants()
    first = minute_close(bar(100.0, 100.0, 100.0, 100.0, minute=0), features(minute=0))
    ctx.now = first.ts_ns
    ctx.order("amt-1", 1, "entry", 10.0, price=100.0, meta=META).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    fill = ctx.fill("amt-1", 100.0)
    assert _amt_run(ctx, strategy, [first, fill], checker) == []
    drop = minute_close(bar(100.0, 100.0, 89.0, 89.0, minute=1), features(minute=1))  # -110 on 10 BTC
    ctx.now = drop.ts_ns
    ctx.order("amt-2", -1, "exit", 10.0, reason="kill_switch").apply(OrderEvent.ACCEPT, ctx.now)
    assert _amt_run(ctx, strategy, [drop], checker) == []
    ctx.now += 1
    out = ctx.fill("amt-2", 89.0)
    strategy.plan = None
    later = minute_close(bar(89.0, 95.0, 89.0, 95.0, minute=5), features(minute=5))
    ctx.now = later.ts_ns
    ctx.order("amt-3", 1, "entry", 1.0, price=95.0, meta=META)
    assert _amt_run(ctx, strategy, [out, later], checker) == ["kill_switch"]
    next_day = minute_close(bar(95.0, 95.0, 95.0, 95.0, minute=24 * 60), features(minute=24 * 60))
    ctx.now = next_day.ts_ns
    ctx.order("amt-4", 1, "entry", 1.0, price=95.0, meta=META)
    checker_names = _amt_run(ctx, strategy, [next_day], checker)
    assert "kill_switch" not in checker_names


# -- basis -----------------------------------------------------------------------------------------

@dataclass
class Pos:
    contracts: int


@dataclass
class SpotStub:
    qty: float = 0.0


@dataclass
class BookStub:
    spot: SpotStub = field(default_factory=SpotStub)
    futures: dict[str, Pos] = field(default_factory=dict)

    def open_futures(self) -> dict[str, Pos]:
        return {s: p for s, p in self.futures.items() if p.contracts}


@dataclass
class ViewStub:
    def mid(self, symbol: str) -> float:
        return 40_000.0


@dataclass
class Params:
    capital_usd: float = 1_000_000.0
    spot_symbol: str = "BTCUSDT"


@dataclass
class BasisStub:
    book: BookStub = field(default_factory=BookStub)
    p: Params = field(default_factory=Params)
    view: ViewStub = field(default_factory=ViewStub)
    programs: list[Any] = field(default_factory=list)
    pnl_rows: list[tuple[Any, ...]] = field(default_factory=list)
    daily_rows: list[tuple[Any, ...]] = field(default_factory=list)


def _basis(ctx: FakeCtx, s: BasisStub, events: list[Any], checker: BasisInvariants) -> list[str]:
    obs = RunObserver(checker)
    for ev in events:
        obs(ev, ctx, s)
    return names(obs)


def _fill_on(ctx: FakeCtx, cid: str, side: int, qty: float, symbol: str, price: float = 40_000.0) -> Fill:
    ctx.order(cid, side, "other", qty, symbol=symbol).apply(OrderEvent.ACCEPT, ctx.now)
    ctx.now += 1
    o = ctx.orders[cid]
    o.filled_qty = qty
    o.apply(OrderEvent.FILL, ctx.now)
    return Fill("fill", ctx.now, make_key("fill", ctx.now), ctx.now, cid, side, price, qty, 0.0)


def test_book_matches_fills_fires_when_the_book_forgets_a_fill() -> None:
    ctx, s, checker = FakeCtx(), BasisStub(), BasisInvariants()
    s.book.spot.qty = 1.0
    assert _basis(ctx, s, [_fill_on(ctx, "b-1", 1, 1.0, "BTCUSDT")], checker) == []
    s.book.futures["BTCUSD_210625"] = Pos(-400)
    assert _basis(ctx, s, [_fill_on(ctx, "b-2", -1, 400.0, "BTCUSD_210625")], checker) == []
    ev = _fill_on(ctx, "b-3", -1, 10.0, "BTCUSD_210625")  # the book still says -400
    assert _basis(ctx, s, [ev], checker) == ["book_matches_fills"]


def _roll(to_total: int) -> RollProgram:
    prog = RollProgram.__new__(RollProgram)
    prog.from_symbol, prog.to_symbol, prog.to_total = "BTCUSD_210625", "BTCUSD_210924", to_total
    prog.sizing = "old_leg_delta"  # the new short's size fixed at the start
    prog.driver, prog.done = object(), False  # type: ignore[assignment]
    return prog


def test_roll_conserves_contracts_fires_on_an_oversold_or_unfinished_roll() -> None:
    ctx, s = FakeCtx(), BasisStub()
    s.book.futures = {"BTCUSD_210625": Pos(-400), "BTCUSD_210924": Pos(0)}
    prog = _roll(398)
    s.programs = [prog]
    checker = BasisInvariants()
    obs = RunObserver(checker)
    obs(_tick(ctx), ctx, s)  # the roll begins: -400 to buy back, 398 to sell
    s.book.futures = {"BTCUSD_210625": Pos(-100), "BTCUSD_210924": Pos(-300)}
    obs(_tick(ctx), ctx, s)
    prog.done = True
    s.book.futures = {"BTCUSD_210625": Pos(0), "BTCUSD_210924": Pos(-398)}
    obs(_tick(ctx), ctx, s)
    assert names(obs) == []
    for end, expect in (((0, -399), "399 contracts sold"), ((-1, -398), "done: -1 contracts left")):
        prog2, s2, obs2 = _roll(398), BasisStub(), RunObserver(BasisInvariants())
        s2.book.futures = {"BTCUSD_210625": Pos(-400), "BTCUSD_210924": Pos(0)}
        s2.programs = [prog2]
        obs2(_tick(ctx), ctx, s2)
        prog2.done = True
        s2.book.futures = {"BTCUSD_210625": Pos(end[0]), "BTCUSD_210924": Pos(end[1])}
        obs2(_tick(ctx), ctx, s2)
        assert names(obs2) == ["roll_conserves_contracts"]
        assert expect in obs2.result.violations[0].message


def _tick(ctx: FakeCtx) -> Any:
    ctx.now += NS_PER_MIN
    return minute_close(bar(1.0, 1.0, 1.0, 1.0), features())


def test_daily_reconcile_fires_when_value_and_cash_part_ways() -> None:
    ctx, s, checker = FakeCtx(), BasisStub(), BasisInvariants()
    s.book.spot.qty = 1.0
    buy = _fill_on(ctx, "b-1", 1, 1.0, "BTCUSDT", price=40_000.0)
    assert _basis(ctx, s, [buy], checker) == []
    # cash 960000 + 1 BTC at 41000 = 1001000; spot PnL 1000
    # ... then cash, financing (cumulative), gross leverage, net delta (BTC and % of the spot)
    s.daily_rows.append(("2021-06-21", 41_000.0, 1_001_000.0, 1_000.0, 1_000.0, 1_000.0, 0.0, 0.0, 0.0,
                         960_000.0, 0.0, 0.04, 1.0, 100.0))
    assert _basis(ctx, s, [_tick(ctx)], checker) == []
    s.daily_rows.append(("2021-06-22", 41_000.0, 1_001_500.0, 500.0, 1_500.0, 1_500.0, 0.0, 0.0, 0.0,
                         960_000.0, 0.0, 0.04, 1.0, 100.0))
    assert _basis(ctx, s, [_tick(ctx)], checker) == ["daily_reconcile"]


def test_ends_flat_fires_on_a_book_left_open() -> None:
    ctx, s = FakeCtx(), BasisStub()
    assert _basis(ctx, s, [None], BasisInvariants()) == []
    s.book.futures["BTCUSD_210924"] = Pos(-5)
    assert _basis(ctx, s, [None], BasisInvariants()) == ["ends_flat"]


def test_daily_reconcile_fires_when_the_cash_column_misses_a_movement() -> None:
    ctx, s, checker = FakeCtx(), BasisStub(), BasisInvariants()
    s.book.spot.qty = 1.0
    buy = _fill_on(ctx, "b-1", 1, 1.0, "BTCUSDT", price=40_000.0)
    assert _basis(ctx, s, [buy], checker) == []
    # value and parts agree, but the cash column says 1 000 more than the fills and financing left
    s.daily_rows.append(("2021-06-21", 41_000.0, 1_001_000.0, 1_000.0, 1_000.0, 1_000.0, 0.0, 0.0, 0.0,
                         961_000.0, 0.0, 0.04, 1.0, 100.0))
    assert _basis(ctx, s, [_tick(ctx)], checker) == ["daily_reconcile"]
