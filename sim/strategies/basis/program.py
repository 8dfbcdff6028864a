"""The one paced 24-hour scheduler (DESIGN §9): entry, roll and unwind are this program with a
different driver leg, followers and slot weights.

The day is `slots` × `slot_minutes` from the program's start. At the first minute close of each
slot the program sizes the slot — the driver's child from the weights, the participation cap and
the schedule deviation, the followers' cumulative targets from the driver's — and prices it,
passive or, when behind, aggressive. Inside the slot a leg's limit that has rested
`retry_after_minutes` is cancelled and re-placed a step more aggressive; after `max_attempts` the
leg rests until the next slot, which carries what the slice did not fill.
Two bars before the day ends the final sweep cancels what works and sends market orders for whatever
is left, so the program always completes inside its day.

A program reads the book only when it begins (its first minute close with prices), so an end-of-day
re-hedge that fills at the next day's first bar is in the positions it rolls or unwinds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.strategies.basis.legs import Leg
from sim.strategies.basis.market_view import NS_PER_MIN, MarketView
from sim.strategies.basis.pacing import pov as pov_rate
from sim.strategies.basis.pacing import slot_share
from sim.strategies.basis.params import Execution, Pacing


#: The sweep goes out two bars before the day ends: its market orders fill on the next bar, stamped
#: at that bar's close, so the whole program is done before the day's last minute closes and the
#: end-of-day mark sees it complete.
SWEEP_LEAD_MINUTES = 2


class Program:
    kind = "program"

    def __init__(self, start_ns: int, pacing: Pacing, execution: Execution, spreads_bps: dict[str, float]) -> None:
        self.start_ns = start_ns
        self.p = pacing
        self.ex = execution
        self.slot_ns = pacing.slot_minutes * NS_PER_MIN
        self.sweep_ns = start_ns + pacing.slots * self.slot_ns - SWEEP_LEAD_MINUTES * NS_PER_MIN
        self.spreads_bps = spreads_bps
        self.weights = np.full(pacing.slots, 1.0 / pacing.slots)
        self.weights_from_history = False
        self.driver: Leg | None = None
        self.followers: dict[str, Leg] = {}
        self.total = 0.0
        self.slot = -1
        self.sweeping = False
        self.done = False
        self.slot_rows: list[dict[str, Any]] = []
        self._orders: dict[str, tuple[Leg, int]] = {}

    # -- what each kind decides ------------------------------------------------------------

    def begin(self, now_ns: int, view: MarketView, ctx: Any) -> bool:
        """Sets the driver, its total and the weights at the first slot; False to wait a minute."""
        raise NotImplementedError

    def size_slot(self, k: int, now_ns: int, view: MarketView) -> dict[str, Any]:
        """Raises the legs' targets for slot `k`; returns what the slot's log row says."""
        raise NotImplementedError

    def final_targets(self, view: MarketView) -> None:
        """Sets every leg's target to its total for the final sweep."""
        raise NotImplementedError

    def aggressive(self, k: int, view: MarketView) -> bool:
        return self.progress() < (k + 1) / self.p.slots - self.p.behind_threshold

    # -- shared machinery ------------------------------------------------------------------

    def legs(self) -> list[Leg]:
        return ([self.driver] if self.driver else []) + list(self.followers.values())

    def progress(self) -> float:
        return self.driver.filled / self.total if self.driver and self.total > 0 else 1.0

    def deviation(self, k: int) -> float:
        return self.progress() - k / self.p.slots

    def pov(self, k: int) -> float:
        p = self.p
        return pov_rate(p.pov_base, p.pov_min, p.pov_max, p.pov_deviation_gain, self.deviation(k))

    def share(self, k: int) -> float:
        return slot_share(self.weights, k)

    def on_minute(self, now_ns: int, view: MarketView, ctx: Any) -> None:
        if self.done or now_ns < self.start_ns:
            return
        if self.driver is None and not self.begin(now_ns, view, ctx):
            return
        if not self.sweeping and now_ns >= self.sweep_ns:
            self.sweeping = True
            self.final_targets(view)
            for leg in self.legs():
                leg.market = True
                self._cancel(leg, ctx)
            self.slot = self.p.slots
        elif not self.sweeping:
            k = min((now_ns - self.start_ns) // self.slot_ns, self.p.slots - 1)
            if k > self.slot:
                self.slot = int(k)
                for leg in self.legs():
                    self._cancel(leg, ctx)
                    leg.new_slot()
                row = self.size_slot(self.slot, now_ns, view)
                self._aggressive = self.aggressive(self.slot, view)
                self.slot_rows.append({"ts_ns": now_ns, "slot": self.slot, "aggressive": self._aggressive, **row})
            else:
                after = self.ex.retry_after_minutes * NS_PER_MIN
                for leg in self.legs():
                    # the last attempt is cancelled too: the slice's rest waits for the next slot
                    if leg.due_for_retry(now_ns, after):
                        self._cancel(leg, ctx)
        self.pump(now_ns, view, ctx)

    def _cancel(self, leg: Leg, ctx: Any) -> None:
        if leg.working is not None and not leg.cancelling:
            leg.cancelling = True
            ctx.cancel(leg.working)

    def pump(self, now_ns: int, view: MarketView, ctx: Any) -> None:
        """Places an order on every leg that has none working and something to do."""
        if self.done or self.driver is None:
            return
        behind = getattr(self, "_aggressive", False)
        for leg in self.legs():
            mid = view.mid(leg.symbol)
            if not math.isfinite(mid):
                continue
            spread = mid * self.spreads_bps[leg.symbol] / 1e4
            o = leg.order(mid, spread, behind, self.ex)
            if o is None:
                continue
            reason = f"{self.kind} {'sweep' if leg.market else f'slot {self.slot}'}"
            oid = ctx.submit(o["side"], o["order_type"], o["qty"], price=o["price"], reason=reason, symbol=leg.symbol,
                             meta={"program": self.kind})
            leg.placed(oid, o["qty"], now_ns, self.slot)
            self._orders[oid] = (leg, self.slot)
        self._check_done()

    def owns(self, order_id: str) -> bool:
        return order_id in self._orders

    def on_update(self, order_id: str, status: str, now_ns: int, view: MarketView, ctx: Any) -> None:
        leg, _ = self._orders[order_id]
        if status in ("cancelled", "rejected"):
            if leg.working == order_id:
                leg.on_cancelled()
            if status == "rejected":
                ctx.alert("order_rejected", f"{self.kind}: order {order_id} on {leg.symbol} was rejected")
            self.pump(now_ns, view, ctx)
        elif status == "cancel_rejected":
            leg.on_cancel_rejected()

    def on_fill(self, order_id: str, qty: float, price: float, now_ns: int, view: MarketView, ctx: Any) -> None:
        leg, slot = self._orders[order_id]
        leg.on_fill(qty, price, slot)
        self.pump(now_ns, view, ctx)

    def _check_done(self) -> None:
        if self.sweeping and all(leg.outstanding <= 0 and leg.working is None for leg in self.legs()):
            self.done = True

    def leg_rows(self) -> list[dict[str, Any]]:
        """One row per slot and leg that traded or tried to: fills' VWAP, quantity, attempts."""
        ts_of = {r["slot"]: r["ts_ns"] for r in self.slot_rows}
        rows = []
        for slot in sorted({s for leg in self.legs() for s in leg.slot_fills}):
            for leg in self.legs():
                f = leg.slot_fills.get(slot)
                if f is None:
                    continue
                rows.append({
                    "ts_ns": ts_of.get(slot, self.sweep_ns), "slot": slot, "symbol": leg.symbol,
                    "side": "BUY" if leg.side > 0 else "SELL", "price": f[1] / f[0] if f[0] else math.nan,
                    "filled_qty": f[0], "attempts": int(f[2]),
                })
        return rows
