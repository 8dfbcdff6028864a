"""The basis (cash-and-carry) strategy end to end (seed 001, DESIGN §9): the entry day, a daily
loop of roll checks, end-of-day re-hedges and marks, and the final-day unwind.

Everything happens at minute closes (every instrument's bar of the minute is in by then):
* the entry program runs on the entry day;
* at each day's start (the minute close at 00:00): every short with `window_days` or fewer days
  to its expiry (calendar days, as the seed counts them) starts a roll into the quarterly after
  it; on the end date the unwind starts instead;
* at each day's end (the same instant, before the next day starts): on a loop day, a re-hedge when
  |net delta| > `threshold_pct` of the spot position — a market order on the held quarterly that
  expires last — then the day's mark: a day of interest on negative cash (`financing_rate_annual`,
  act/365) and the mark-to-market row, with the cash, the gross leverage and the hedge error
  (the USD-neutral net delta, in BTC and as a percentage of the spot position).
The lowest cash balance of the run (after any fill or financing charge) and the day it happened
are kept for the summary.
Programs begin at their first minute close with prices and no re-hedge order working, so they
see the book the re-hedge left.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from sim.core.expiry import NS_PER_DAY, current_and_next
from sim.core.instruments import Instrument
from sim.core.events import Event, Fill, KlineClose, MinuteClose, OrderUpdate
from sim.strategies.basis.book import BasisBook
from sim.strategies.basis.entry import EntryProgram
from sim.strategies.basis.market_view import MarketView
from sim.strategies.basis.params import BasisParams
from sim.strategies.basis.program import Program
from sim.strategies.basis.rollover import RollProgram
from sim.strategies.basis.unwind import UnwindProgram


def day_of(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1_000_000_000 // NS_PER_DAY


def iso_day(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def iso_ts(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class BasisStrategy:
    name = "basis"

    def __init__(self, params: BasisParams, instruments: dict[str, Instrument], entry_day: int, end_day: int) -> None:
        self.p = params
        self.instruments = instruments
        self.quarterlies = [s for s, i in instruments.items() if i.kind == "inverse_future"]
        self.by_expiry = {i.expiry_ns: s for s, i in instruments.items() if i.expiry_ns is not None}
        self.deliveries = {(e.year, e.month): ns for ns in self.by_expiry
                           for e in [datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)]}
        self.entry_day, self.end_day = entry_day, end_day
        ex = params.exchange
        self.spreads = {s: ex.spot_spread_bps if i.kind == "spot" else ex.futures_spread_bps
                        for s, i in instruments.items()}
        self.view = MarketView(params.spot_symbol, params.entry.slot_minutes, params.entry.slots)
        self.book = BasisBook(params.capital_usd, instruments)
        self.programs: list[Program] = []
        self.rehedge_order: str | None = None
        self._rehedge_delta = 0.0
        self.last_value = params.capital_usd
        # the seeds' logs
        self.daily_rows: list[tuple[Any, ...]] = []
        self.pnl_rows: list[tuple[Any, ...]] = []
        self.rehedge_rows: list[tuple[Any, ...]] = []
        self.rolls: list[dict[str, Any]] = []
        self.marked_days: set[int] = set()
        self.min_cash = (params.capital_usd, entry_day)  # (USD, day)

    # -- lifecycle ---------------------------------------------------------------------------

    def on_start(self, ctx: Any) -> None:
        self.programs.append(EntryProgram(self.entry_day * NS_PER_DAY, self.p, self.spreads, self.by_expiry,
                                          self.deliveries))

    def on_event(self, ev: Event, ctx: Any) -> None:
        if isinstance(ev, KlineClose):
            self.view.on_kline(ev.symbol, ev.ts_ns, ev.close, ev.volume)
        elif isinstance(ev, MinuteClose):
            self._on_minute(ev.ts_ns, ctx)
        elif isinstance(ev, OrderUpdate):
            self._on_update(ev, ctx)
        elif isinstance(ev, Fill):
            self._on_fill(ev, ctx)

    def _on_minute(self, t: int, ctx: Any) -> None:
        self.view.on_minute(t, self.quarterlies)
        if t % NS_PER_DAY == 0:
            day = t // NS_PER_DAY
            if self.entry_day < day <= self.end_day + 1:
                self._day_end(day - 1, t, ctx)
            if self.entry_day < day <= self.end_day:
                self._day_start(day, t, ctx)
        if self.rehedge_order is None:
            for prog in self.programs:
                prog.on_minute(t, self.view, ctx)

    def _active(self) -> list[Program]:
        return [p for p in self.programs if not p.done]

    # -- the daily loop ----------------------------------------------------------------------

    def _day_start(self, day: int, t: int, ctx: Any) -> None:
        if day == self.end_day:
            self.programs.append(UnwindProgram(t, self.p, self.spreads, lambda: (self.book.spot.qty, self.book.futures)))
            return
        rolling = {p.from_symbol for p in self._active() if isinstance(p, RollProgram)}
        for sym, pos in self.book.open_futures().items():
            expiry = pos.instrument.expiry_ns
            if expiry is None or sym in rolling:
                continue
            if expiry // NS_PER_DAY - day > self.p.roll.window_days:
                continue
            nxt = current_and_next(expiry, self.deliveries)[0]
            to = self.by_expiry.get(nxt)
            if to is None:
                ctx.alert("roll_impossible", f"{iso_day(day)}: {sym} is due to roll but the market has no contract "
                                             f"expiring {iso_ts(nxt)}")
                continue
            prog = RollProgram(t, self.p, self.spreads, lambda s=sym: self.book.futures[s], to,
                               lambda s=sym: self.book.unhedged_btc(excluding=s))
            self.programs.append(prog)
            self.rolls.append({"day": iso_day(day), "ts_ns": t, "from": sym, "to": to, "program": prog})

    def _day_end(self, day: int, t: int, ctx: Any) -> None:
        busy = [p.kind for p in self._active() if p.start_ns < t]
        if busy:
            ctx.alert("program_incomplete", f"{iso_day(day)}: {', '.join(busy)} still working at the day's end")
        if self.entry_day < day < self.end_day and not busy:
            self._rehedge(t, ctx)
        self._mark(day, ctx)

    def _rehedge(self, t: int, ctx: Any) -> None:
        spot_px = self.view.mid(self.p.spot_symbol)
        open_futs = self.book.open_futures()
        if not open_futs or self.book.spot.qty <= 0:
            return
        net = self.book.net_delta(spot_px, self.p.rehedge.delta_model)
        if abs(net) <= self.p.rehedge.threshold_pct * self.book.spot.qty:
            return
        sym = list(open_futs)[-1]
        mark = self.view.mid(sym)
        qty = math.floor(abs(net) * mark / self.p.exchange.contract_value_usd + 0.5)
        if qty <= 0:
            return
        side = -1 if net > 0 else 1  # too long: sell more futures
        self._rehedge_delta = net
        self.rehedge_order = ctx.submit(side, "market", float(qty), reason="delta hedge", symbol=sym,
                                        meta={"program": "rehedge"})

    def _mark(self, day: int, ctx: Any) -> None:
        if day in self.marked_days or day < self.entry_day:
            return
        self.marked_days.add(day)
        spot_px = self.view.mid(self.p.spot_symbol)
        marks = {s: self.view.mid(s) for s in self.book.open_futures()}
        if not all(math.isfinite(m) for m in marks.values()):
            ctx.alert("no_mark", f"{iso_day(day)}: no price to mark {sorted(s for s, m in marks.items() if not math.isfinite(m))}")
        self.book.charge_financing(self.p.financing_rate_annual)
        self._note_cash(day)
        value = self.book.value(marks, spot_px)
        leverage = self.book.gross_notional(spot_px) / value if value > 0 else math.nan
        if not value > 0:
            ctx.alert("equity_not_positive", f"{iso_day(day)}: portfolio value {value:.2f} USD; no gross leverage")
        net = self.book.net_delta(spot_px, "usd_neutral")
        spot_qty = self.book.spot.qty
        self.daily_rows.append((
            iso_day(day), spot_px, value, value - self.last_value, value - self.p.capital_usd,
            self.book.spot.pnl(spot_px), self.book.futures_unrealized(marks, spot_px), self.book.futures_realized(),
            self.book.fees_usd(), self.book.cash, self.book.financing, leverage, net,
            100.0 * net / spot_qty if spot_qty > 1e-9 else math.nan,
        ))
        self.last_value = value

    def _note_cash(self, day: int) -> None:
        if self.book.cash < self.min_cash[0]:
            self.min_cash = (self.book.cash, day)

    # -- orders ------------------------------------------------------------------------------

    def _owner(self, order_id: str) -> Program | None:
        for prog in self.programs:
            if prog.owns(order_id):
                return prog
        return None

    def _on_update(self, ev: OrderUpdate, ctx: Any) -> None:
        if ev.order_id == self.rehedge_order and ev.status == "rejected":
            ctx.alert("order_rejected", f"re-hedge order {ev.order_id} was rejected")
            self.rehedge_order = None
            return
        prog = self._owner(ev.order_id)
        if prog is not None:
            prog.on_update(ev.order_id, ev.status, ev.ts_ns, self.view, ctx)

    def _on_fill(self, ev: Fill, ctx: Any) -> None:
        order = ctx.orders[ev.order_id]
        sym = order.symbol
        spot_px = self.view.mid(self.p.spot_symbol)
        if sym == self.p.spot_symbol:
            self.book.spot_fill(ev.side, ev.qty, ev.price, ev.fee)
        else:
            contracts = int(round(ev.qty))
            realized = self.book.future_fill(sym, ev.side, contracts, ev.price, ev.fee, spot_px)
            source = order.meta.get("program", "")
            if realized is not None:
                self.pnl_rows.append((iso_ts(ev.ts_ns), sym, realized.usd, source, realized.contracts, ev.price,
                                      spot_px, realized.btc))
        self._note_cash(ev.ts_ns // NS_PER_DAY)
        if ev.order_id == self.rehedge_order:
            self.rehedge_rows.append((iso_ts(order.decision_ts_ns), sym, "BUY" if ev.side > 0 else "SELL",
                                      int(round(ev.qty)), ev.price, self._rehedge_delta,
                                      f"delta hedge ({self.p.rehedge.delta_model})"))
            self.rehedge_order = None
            return
        prog = self._owner(ev.order_id)
        if prog is not None:
            prog.on_fill(ev.order_id, ev.qty, ev.price, ev.ts_ns, self.view, ctx)

    def on_end(self, ctx: Any) -> None:
        """After the last event: the end date's mark if the last minute close did not make it."""
        self._mark(self.end_day, ctx)
        left = [p.kind for p in self._active()]
        if left:
            ctx.alert("program_incomplete", f"run ended with {', '.join(left)} not complete")
        if self.book.spot.qty > 1e-9 or self.book.open_futures():
            ctx.alert("not_flat", f"run ended holding {self.book.spot.qty} BTC spot and "
                                  f"{ {s: p.contracts for s, p in self.book.open_futures().items()} }")
