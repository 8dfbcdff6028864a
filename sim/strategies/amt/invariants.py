"""The amt strategy's invariants, checked by `sim fuzz` after every event of a run (through the
plugin's `invariants()`); each names what it saw when it fails.

* `stop_plan`: an open position always has its plan — the trade in the ledger carries a setup tag
  and a finite stop, the strategy holds a plan in the position's direction, and the ledger's tag,
  stop and targets are the plan's (targets may be absent: a breakout has none, a target behind the
  entry is dropped, but ledger and plan agree).
* `one_exit`: at most one exit order is working (not filled, cancelled or rejected) at a time.
* `leverage_cap`: no entry plans more than `max_leverage`, and a position is never larger than the
  leverage cap allowed when its entry was decided: `max_leverage` × the equity then / the price the
  entry was sized at (the minute's close, which is also a limit entry's price).
* `kill_switch`: no entry order is decided while the day's loss (from the day's first minute close,
  fees and funding included) has reached `max_daily_loss`, until the next UTC day — tracked here
  from the account, independently of the strategy's own flag.
"""

from __future__ import annotations

import math
from typing import Any

from sim.core.events import NS_PER_MIN, MinuteClose
from sim.strategies.plugin import Violation

NS_PER_DAY = 24 * 60 * NS_PER_MIN
_REL = 1e-9  # float slack of a comparison of quantities and prices


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


class AmtInvariants:
    names = ("stop_plan", "one_exit", "leverage_cap", "kill_switch")

    def __init__(self) -> None:
        self._orders_seen = 0
        self._exits: list[str] = []  # exit orders that may still be working
        self._cap: float | None = None  # the quantity the latest entry decision allowed
        self._caps: dict[int, float] = {}  # trade id -> the cap its position is held to
        self._over_cap: set[int] = set()
        self._mark = math.nan
        self._close = math.nan  # the last minute's close: the price an entry is sized at
        self._day = -1
        self._day_start = math.nan
        self._tripped = False

    def check(self, ev: Any, ctx: Any, strategy: Any) -> list[Violation]:
        out: list[Violation] = []
        now = ctx.now_ns()
        cfg = ctx.config
        if isinstance(ev, MinuteClose):
            self._minute(ev, ctx)
        orders = list(ctx.orders.values())
        for order in orders[self._orders_seen:]:
            if order.intent == "exit":
                self._exits.append(order.client_order_id)
            elif order.intent == "entry":
                out += self._entry(order, ctx, now)
        self._orders_seen = len(orders)

        self._exits = [cid for cid in self._exits if ctx.orders[cid].is_open]
        if len(self._exits) > 1:
            out.append(Violation("one_exit", now, f"{len(self._exits)} exit orders working at once: "
                                 + ", ".join(f"{c} ({ctx.orders[c].reason}, qty {ctx.orders[c].qty})" for c in self._exits)))

        qty = ctx.position.qty
        if qty != 0.0:
            out += self._plan(ctx, strategy, qty, now)
            trade = ctx.ledger.open_trade
            if trade is not None and self._cap is not None:
                cap = self._caps.setdefault(trade.id, self._cap)
                if abs(qty) > cap * (1 + _REL) + 1e-12 and trade.id not in self._over_cap:
                    self._over_cap.add(trade.id)  # once per trade: its size moves fill by fill
                    out.append(Violation("leverage_cap", now, f"trade {trade.id}: position {qty} is larger than the "
                                         f"{cap:.6f} the leverage cap (max_leverage {cfg.max_leverage}) allowed at entry"))
        return out

    def _minute(self, ev: MinuteClose, ctx: Any) -> None:
        self._close = ev.bar.close
        for m in (ev.features.mid_close, ev.bar.close):
            if not math.isnan(m):
                self._mark = m
                break
        equity = ctx.equity(self._mark) if not math.isnan(self._mark) else ctx.config.initial_equity
        day = ev.ts_ns // NS_PER_DAY
        if day != self._day:
            self._day, self._day_start, self._tripped = day, equity, False
        if self._day_start - equity >= ctx.config.max_daily_loss:
            self._tripped = True

    def _entry(self, order: Any, ctx: Any, now: int) -> list[Violation]:
        out = []
        cfg = ctx.config
        if self._tripped:
            out.append(Violation("kill_switch", now, f"entry {order.client_order_id} ({order.reason}) decided while the "
                                 f"day's loss is past max_daily_loss {cfg.max_daily_loss}"))
        lev = order.meta.get("leverage_used", math.nan)
        if lev > cfg.max_leverage * (1 + _REL):
            out.append(Violation("leverage_cap", now, f"entry {order.client_order_id} plans leverage {lev} > "
                                 f"max_leverage {cfg.max_leverage}"))
        if order.reason != "limit_timeout":  # the rest of a timed-out limit keeps its decision's cap
            price = order.price if order.price is not None else self._close
            equity = ctx.equity(self._mark) if not math.isnan(self._mark) else cfg.initial_equity
            self._cap = cfg.max_leverage * equity / price if price and price > 0 else math.inf
        return out

    def _plan(self, ctx: Any, strategy: Any, qty: float, now: int) -> list[Violation]:
        trade = ctx.ledger.open_trade
        side = "LONG" if qty > 0 else "SHORT"
        if trade is None:
            return [Violation("stop_plan", now, f"a {side} position of {qty} has no open trade in the ledger")]
        out = []
        if not trade.strategy_tag or not math.isfinite(trade.stop_price):
            out.append(Violation("stop_plan", now, f"trade {trade.id} ({trade.side} {qty} opened at "
                                 f"{trade.ts_ms_open} ms) has no stop plan: tag {trade.strategy_tag!r}, "
                                 f"stop {trade.stop_price}"))
        plan = getattr(strategy, "plan", None)
        direction = 1 if qty > 0 else -1
        if plan is None or plan.direction != direction:
            out.append(Violation("stop_plan", now, f"trade {trade.id} ({trade.side} {qty}): the strategy holds "
                                 f"{'no plan' if plan is None else 'the plan of the other side'}"))
        elif trade.strategy_tag and not (plan.tag == trade.strategy_tag and _same(plan.stop, trade.stop_price)
                                         and _same(plan.tp1, trade.tp1_price) and _same(plan.tp2, trade.tp2_price)):
            out.append(Violation("stop_plan", now, f"trade {trade.id}: the ledger's plan ({trade.strategy_tag}, stop "
                                 f"{trade.stop_price}, targets {trade.tp1_price}/{trade.tp2_price}) is not the "
                                 f"strategy's ({plan.tag}, stop {plan.stop}, targets {plan.tp1}/{plan.tp2})"))
        return out
