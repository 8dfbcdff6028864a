"""One leg of a paced program: an instrument, a side, a cumulative target, and at most one
working order at a time.

A leg never has two orders out: a re-placement waits for the cancel to be acknowledged (or for the
fill that beat it), so a late fill can never double the quantity. Quantities are cumulative over
the program (`target` grows slot by slot): what a leg sends is always `target − filled`, so a
slice that filled only partly is carried into the next placement and no contract is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.strategies.basis.pacing import aggression, limit_price


@dataclass
class Leg:
    symbol: str
    side: int  # +1 buy, −1 sell
    contracts: bool  # whole contracts (a quarterly) or BTC (spot)
    tick: float
    qty_step: float
    target: float = 0.0
    filled: float = 0.0
    notional: float = 0.0  # Σ price × qty of the fills, for the VWAP
    working: str | None = None
    working_qty: float = 0.0
    cancelling: bool = False
    placed_ns: int = 0
    attempts: int = 0  # in the current slot
    market: bool = False  # the final sweep: market orders
    slot_fills: dict[int, list[float]] = field(default_factory=dict)  # slot → [qty, notional, attempts]

    def round_qty(self, q: float) -> float:
        if self.contracts:
            return float(math.floor(q + 1e-9))
        return math.floor(q / self.qty_step + 1e-9) * self.qty_step

    @property
    def outstanding(self) -> float:
        """What is left to send, to the nearest step: targets are whole steps, so this only
        absorbs the float error of summing fills (a floor could strand one step forever)."""
        left = self.target - self.filled
        if self.contracts:
            return float(max(round(left), 0))
        return max(round(round(left / self.qty_step) * self.qty_step, 10), 0.0)

    @property
    def vwap(self) -> float:
        return self.notional / self.filled if self.filled else math.nan

    def new_slot(self) -> None:
        self.attempts = 0

    def on_fill(self, qty: float, price: float, slot: int) -> None:
        self.filled += qty
        self.notional += qty * price
        row = self.slot_fills.setdefault(slot, [0.0, 0.0, 0.0])
        row[0] += qty
        row[1] += qty * price
        self.working, self.working_qty, self.cancelling = None, 0.0, False

    def on_cancelled(self) -> None:
        self.working, self.working_qty, self.cancelling = None, 0.0, False

    def on_cancel_rejected(self) -> None:
        # The order filled first; its fill is on its way and clears the leg.
        self.cancelling = False

    def order(self, mid: float, spread: float, behind: bool, ex: Any) -> dict[str, Any] | None:
        """The order to place now (kwargs for the context's submit), or None."""
        if self.working is not None:
            return None
        qty = self.outstanding
        if qty <= 0:
            return None
        if self.market:
            return {"side": self.side, "order_type": "market", "qty": qty, "price": None}
        if self.attempts >= ex.max_attempts:
            return None
        k = aggression(self.attempts, behind, ex.passive_spreads, ex.aggressive_spreads, ex.retry_base_spreads,
                       ex.retry_step_spreads)
        price = limit_price(self.side, mid, spread, k, self.tick)
        return {"side": self.side, "order_type": "limit", "qty": qty, "price": price}

    def placed(self, order_id: str, qty: float, now_ns: int, slot: int) -> None:
        self.working, self.working_qty, self.placed_ns = order_id, qty, now_ns
        self.attempts += 1
        self.slot_fills.setdefault(slot, [0.0, 0.0, 0.0])[2] += 1

    def due_for_retry(self, now_ns: int, after_ns: int) -> bool:
        return self.working is not None and not self.cancelling and not self.market and now_ns >= self.placed_ns + after_ns
