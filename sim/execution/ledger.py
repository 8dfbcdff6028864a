"""The trade ledger: one record per position, from the fill that opens it to the fill that
closes it (spec §3.3 `positions`).

A position opens when the net quantity leaves zero and closes when it returns to zero; a fill
that crosses zero closes one position and opens the next (a flip is two trades). Realized PnL is
price PnL against the position's volume-weighted entry; fees are attributed to the position a
fill belongs to (pro rata when one fill both closes and opens); funding to the position open
when it is charged. The strategy's plan for a position (setup tag, stop, targets, leverage,
risk) travels on the order that opens it, as `Order.meta`, and later changes (stop to
breakeven, the TP1 quantity) through `annotate`.

The ledger refuses two fills outright, with a `LedgerError`, because each would leave a position
nobody planned: a fill that opens a position (from flat, or the rest of one that crosses zero)
from an order carrying no plan — no `strategy_tag` or no finite `stop_price` (targets may be NaN:
a setup drops targets behind its signal) — and a fill of a reduce-only order (every exit) that
would open, grow or cross a position. A strategy whose positions carry no plan by design (a
plumbing probe) says so with `require_plan = False`; the reduce-only check holds for everyone.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from typing import Any

from sim.core.events import NS_PER_MS

POSITION_COLUMNS = ("id", "ts_ms_open", "ts_ms_close", "side", "entry_price", "exit_price", "qty_contracts",
                    "qty_at_tp1", "stop_price", "tp1_price", "tp2_price", "strategy_tag", "status", "realized_pnl",
                    "fees_paid", "funding_paid", "leverage_used", "risk_pct_used")

#: Plan fields an opening order's meta may carry.
PLAN_FIELDS = ("stop_price", "tp1_price", "tp2_price", "strategy_tag", "leverage_used", "risk_pct_used")

#: Plan fields an opening order's meta must carry (the targets may be NaN, not absent).
REQUIRED_PLAN_FIELDS = ("strategy_tag", "stop_price", "tp1_price", "tp2_price")

_EPS = 1e-12
NAN = float("nan")


class LedgerError(RuntimeError):
    """A fill the ledger refuses: it would leave an unplanned position."""


class PlanMissing(LedgerError):
    """A fill would open a position whose order carries no plan."""


class ReduceOnlyViolation(LedgerError):
    """A reduce-only fill would open, grow or cross a position."""


@dataclass
class TradeRecord:
    id: int
    ts_ms_open: int
    ts_ms_close: int | None
    side: str  # LONG | SHORT
    entry_price: float
    exit_price: float
    qty_contracts: float  # the largest size the position reached, in base units (BTC)
    qty_at_tp1: float
    stop_price: float
    tp1_price: float
    tp2_price: float
    strategy_tag: str
    status: str  # OPEN | CLOSED | STOPPED
    realized_pnl: float
    fees_paid: float
    funding_paid: float
    leverage_used: float
    risk_pct_used: float
    # Working state, not exported.
    open_qty: float = 0.0
    closed_qty: float = 0.0
    exit_notional: float = 0.0

    @property
    def direction(self) -> int:
        return 1 if self.side == "LONG" else -1

    def row(self) -> tuple[Any, ...]:
        return astuple(self)[: len(POSITION_COLUMNS)]


class TradeLedger:
    def __init__(self, require_plan: bool = True) -> None:
        self.trades: list[TradeRecord] = []
        #: False only for a strategy whose positions carry no plan by design (a plumbing probe)
        self.require_plan = require_plan

    @property
    def open_trade(self) -> TradeRecord | None:
        t = self.trades[-1] if self.trades else None
        return t if t is not None and t.status == "OPEN" else None

    def annotate(self, **fields: Any) -> None:
        """Updates the open position's plan (e.g. the stop after TP1)."""
        t = self.open_trade
        if t is None:
            raise RuntimeError("no open position to annotate")
        for k, v in fields.items():
            if k not in PLAN_FIELDS and k != "qty_at_tp1":
                raise KeyError(k)
            setattr(t, k, v)

    def on_fill(self, ts_ns: int, side: int, price: float, qty: float, fee: float, meta: dict[str, Any],
                reason: str, *, order_id: str = "", reduce_only: bool = False) -> None:
        """Books one fill. Raises `ReduceOnlyViolation` or `PlanMissing` (before changing
        anything) when the fill would leave an unplanned position."""
        t = self.open_trade
        opens = t is None or side == t.direction or qty - t.open_qty > _EPS  # the rest crosses zero
        if opens:
            self._check_opening(ts_ns, side, qty, t, meta, reason, order_id, reduce_only)
        if t is None:
            self._open(ts_ns, side, price, qty, fee, meta)
            return
        if side == t.direction:
            t.entry_price = (t.entry_price * t.open_qty + price * qty) / (t.open_qty + qty)
            t.open_qty += qty
            t.qty_contracts = max(t.qty_contracts, t.open_qty)
            t.fees_paid += fee
            return
        closing = min(qty, t.open_qty)
        rest = qty - closing
        t.realized_pnl += closing * (price - t.entry_price) * t.direction
        t.fees_paid += fee * closing / qty
        t.open_qty -= closing
        t.closed_qty += closing
        t.exit_notional += closing * price
        t.exit_price = t.exit_notional / t.closed_qty
        if t.open_qty <= _EPS * max(1.0, t.qty_contracts):
            t.open_qty = 0.0
            t.ts_ms_close = ts_ns // NS_PER_MS
            t.status = "STOPPED" if reason.startswith("stop") else "CLOSED"
        if rest > _EPS:
            self._open(ts_ns, side, price, rest, fee * rest / qty, meta)

    def _check_opening(self, ts_ns: int, side: int, qty: float, t: TradeRecord | None, meta: dict[str, Any],
                       reason: str, order_id: str, reduce_only: bool) -> None:
        what = (f"fill of order {order_id or '?'} ({reason or 'no reason'}, {'buy' if side > 0 else 'sell'} {qty:g}) "
                f"at {ts_ns // NS_PER_MS} ms")
        held = "flat" if t is None else f"{t.side} {t.open_qty:g}"
        if reduce_only:
            raise ReduceOnlyViolation(f"{what}: reduce-only, but the position is {held}; "
                                      "it would open, grow or cross it")
        if not self.require_plan or (t is not None and side == t.direction):
            return  # adding to a planned position keeps its plan
        stop = meta.get("stop_price")
        bad = [k for k in REQUIRED_PLAN_FIELDS if k not in meta]
        if not meta.get("strategy_tag"):
            bad.append("strategy_tag")
        if not isinstance(stop, (int, float)) or not math.isfinite(stop):
            bad.append("stop_price")
        if bad:
            raise PlanMissing(f"{what}: would open a position from {held} with no plan "
                              f"(missing or empty: {', '.join(sorted(set(bad)))})")

    def on_funding(self, paid: float) -> None:
        t = self.open_trade
        if t is not None:
            t.funding_paid += paid

    def _open(self, ts_ns: int, side: int, price: float, qty: float, fee: float, meta: dict[str, Any]) -> None:
        plan = {k: meta.get(k, NAN) for k in PLAN_FIELDS}
        plan["strategy_tag"] = meta.get("strategy_tag", "")
        self.trades.append(TradeRecord(
            id=len(self.trades) + 1, ts_ms_open=ts_ns // NS_PER_MS, ts_ms_close=None,
            side="LONG" if side > 0 else "SHORT", entry_price=price, exit_price=NAN, qty_contracts=qty,
            qty_at_tp1=NAN, status="OPEN", realized_pnl=0.0, fees_paid=fee, funding_paid=0.0,
            open_qty=qty, **plan,
        ))

    def rows(self) -> list[tuple[Any, ...]]:
        return [t.row() for t in self.trades]
