"""The basis strategy's invariants, checked by `sim fuzz` after every event of a run (through the
plugin's `invariants()`). The checker keeps its own books from the fill events and holds the
strategy's against them.

* `book_matches_fills`: after every fill, the book's spot BTC and each quarterly's contracts are
  the signed sums of the fills on that instrument.
* `roll_conserves_contracts`: while a roll works, the old short only shrinks (never past zero)
  and the new one only grows up to the roll's target; when the roll is done every contract of the
  old short was bought back and exactly the target was sold on the new quarterly.
* `daily_reconcile`: every day's mark row reconciles — its value is cash (as the checker counts it
  from the fills and the realized PnL rows) + spot BTC × spot + the futures' unrealized PnL, it is
  capital + spot PnL + futures realized + unrealized − fees, and its daily and cumulative PnL follow
  from the values.
* `ends_flat`: the book ends with no spot and no contracts.
"""

from __future__ import annotations

import math
from typing import Any

from sim.core.events import Fill
from sim.strategies.basis.rollover import RollProgram
from sim.strategies.plugin import Violation

_QTY = 1e-9  # BTC
_USD_REL = 1e-9  # of the capital: float rounding of sums of many terms, far below a cent on any book


class BasisInvariants:
    names = ("book_matches_fills", "roll_conserves_contracts", "daily_reconcile", "ends_flat")

    def __init__(self) -> None:
        self._spot = 0.0
        self._contracts: dict[str, int] = {}
        self._cash: float | None = None
        self._pnl_rows = 0
        self._days = 0
        self._prev_value: float | None = None
        self._rolls: dict[int, tuple[RollProgram, int, int]] = {}  # id -> (roll, old short, new at begin)
        self._rolls_over: set[int] = set()  # rolls done (or failed): no longer watched

    def check(self, ev: Any, ctx: Any, strategy: Any) -> list[Violation]:
        now = ctx.now_ns()
        book, p = strategy.book, strategy.p
        if self._cash is None:
            self._cash = p.capital_usd
        out: list[Violation] = []
        self._take_pnl_rows(strategy)
        if isinstance(ev, Fill):
            out += self._fill(ev, ctx, strategy, now)
        out += self._roll_checks(strategy, now)
        if len(strategy.daily_rows) > self._days:
            for row in strategy.daily_rows[self._days:]:
                out += self._day(row, strategy, now)
            self._days = len(strategy.daily_rows)
        if ev is None:
            open_ = {s: n for s, n in sorted(self._contracts.items()) if n}
            if self._spot > _QTY or open_ or book.spot.qty > _QTY or book.open_futures():
                out.append(Violation("ends_flat", now, f"the book ends holding {book.spot.qty} BTC spot and "
                                     f"{ {s: q.contracts for s, q in book.open_futures().items()} } "
                                     f"(by the fills: {self._spot} BTC, {open_})"))
        return out

    def _take_pnl_rows(self, strategy: Any) -> None:
        assert self._cash is not None
        for row in strategy.pnl_rows[self._pnl_rows:]:
            self._cash += row[2]  # pnl_usd: a futures fill's realized PnL, settled into cash
        self._pnl_rows = len(strategy.pnl_rows)

    def _fill(self, ev: Fill, ctx: Any, strategy: Any, now: int) -> list[Violation]:
        assert self._cash is not None
        sym = ctx.orders[ev.order_id].symbol
        book = strategy.book
        if sym == strategy.p.spot_symbol:
            self._spot += ev.side * ev.qty
            self._cash -= ev.side * ev.qty * ev.price + ev.fee
            if abs(self._spot - book.spot.qty) > _QTY:
                return [Violation("book_matches_fills", now, f"spot: the book holds {book.spot.qty} BTC, the fills "
                                  f"sum to {self._spot}")]
            return []
        self._contracts[sym] = self._contracts.get(sym, 0) + ev.side * int(round(ev.qty))
        self._cash -= ev.fee * strategy.view.mid(strategy.p.spot_symbol)  # a BTC fee at the spot of the fill
        pos = book.futures.get(sym)
        held = pos.contracts if pos is not None else 0
        if held != self._contracts[sym]:
            return [Violation("book_matches_fills", now, f"{sym}: the book holds {held} contracts, the fills sum "
                              f"to {self._contracts[sym]}")]
        return []

    def _roll_checks(self, strategy: Any, now: int) -> list[Violation]:
        """Each roll from its begin to its end (later programs trade the same quarterlies)."""
        out = []
        for prog in strategy.programs:
            if not isinstance(prog, RollProgram) or prog.driver is None or id(prog) in self._rolls_over:
                continue
            old = self._held(strategy, prog.from_symbol)
            new = self._held(strategy, prog.to_symbol)
            if id(prog) not in self._rolls:
                self._rolls[id(prog)] = (prog, old, new)
            _, old0, new0 = self._rolls[id(prog)]
            sold = new0 - new  # contracts sold on the new quarterly since the roll began
            where = f"roll {prog.from_symbol} -> {prog.to_symbol}"
            found = []
            if not old0 <= old <= 0:
                found.append(f"{where}: the old short went from {old0} to {old} contracts")
            # old_leg_delta fixes the new short at the start; spot_hedge re-sizes it slot by slot (its leg's target)
            target = prog.to_total if prog.sizing == "old_leg_delta" else prog.followers[prog.to_symbol].target
            if not 0 <= sold <= target:
                found.append(f"{where}: {sold} contracts sold on the new quarterly, the roll's target is {target}")
            if prog.done and not found and (old != 0 or sold != target):
                found.append(f"{where} done: {old} contracts left on the old short (of {old0}), {sold} sold on the "
                             f"new one (target {target})")
            if prog.done and not found and prog.sizing == "spot_hedge":
                one = strategy.p.exchange.contract_value_usd / strategy.view.mid(prog.to_symbol)
                if abs(prog.sold_btc - prog.hedge_btc) > one:
                    found.append(f"{where} done: the new short hedges {prog.sold_btc:.6f} BTC, the roll was to hedge "
                                 f"{prog.hedge_btc:.6f} BTC (more than one contract apart)")
            out += [Violation("roll_conserves_contracts", now, m) for m in found]
            if prog.done or found:
                self._rolls_over.add(id(prog))
        return out

    @staticmethod
    def _held(strategy: Any, symbol: str) -> int:
        pos = strategy.book.futures.get(symbol)
        return pos.contracts if pos is not None else 0

    def _day(self, row: tuple[Any, ...], strategy: Any, now: int) -> list[Violation]:
        assert self._cash is not None
        date, spot_px, value, daily, cum, spot_pnl, fut_unreal, fut_real, fees, cash, financing = row[:11]
        cap = strategy.p.capital_usd
        tol = _USD_REL * cap
        out = []
        # financing (cumulative) is charged on negative cash at the marks: the only cash movement that is
        # neither a fill nor a realized futures PnL
        if abs((self._cash - financing) - cash) > tol:
            out.append(Violation("daily_reconcile", now, f"{date}: cash {cash:.6f} but fills and realized PnL give "
                                 f"{self._cash:.6f} less financing {financing:.6f}"))
        mine = self._cash - financing + self._spot * spot_px + fut_unreal
        if abs(mine - value) > tol:
            out.append(Violation("daily_reconcile", now, f"{date}: value {value:.6f} but cash {self._cash:.6f} + "
                                 f"{self._spot} BTC x {spot_px} + unrealized {fut_unreal:.6f} = {mine:.6f}"))
        parts = cap + spot_pnl + fut_real + fut_unreal - fees - financing
        if abs(parts - value) > tol:
            out.append(Violation("daily_reconcile", now, f"{date}: value {value:.6f} but capital + spot PnL + futures "
                                 f"realized + unrealized - fees - financing = {parts:.6f}"))
        prev = cap if self._prev_value is None else self._prev_value
        if abs(cum - (value - cap)) > tol or abs(daily - (value - prev)) > tol:
            out.append(Violation("daily_reconcile", now, f"{date}: daily {daily:.6f} / cumulative {cum:.6f} do not "
                                 f"follow from the values {prev:.6f} -> {value:.6f}"))
        if not math.isfinite(value):
            out.append(Violation("daily_reconcile", now, f"{date}: value is {value}"))
        self._prev_value = value
        return out
