"""The execution engine (spec §10): entries as limit orders at the signal price that turn into
market orders after `limit_order_timeout_minutes`, exits as market orders, over the adapter
protocol only (everything goes through `StrategyContext`, outcomes come back as events).

A timed-out limit is first cancelled; only when the cancel is confirmed is the remainder sent
as a market order — if the limit filled meanwhile the cancel is rejected and nothing more is
sent, so an entry can never be doubled. A partly filled limit is still working: it times out
(and is withdrawn by a flatten) like an untouched one, and only its unfilled rest goes to
market. Client order ids are the context's deterministic ids.

`reconcile` is the hook live mode calls with the exchange's position: any mismatch with the
position built from our own fills halts trading and alerts (§10.4) — it never adjusts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.core.events import NS_PER_MIN, Fill, OrderUpdate
from sim.strategies.amt.sizing import contracts, qty_of
from sim.strategies.api import StrategyContext


#: Order states in which a resting order can be cancelled (a partly filled limit still rests).
_WORKING = ("accepted", "partially_filled")


@dataclass
class Working:
    role: str  # entry | exit
    side: int
    qty: float
    submit_ns: int
    meta: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    converting: bool = False  # a timed-out limit whose cancel is on its way


class ExecutionEngine:
    def __init__(self, ctx: StrategyContext) -> None:
        self.ctx = ctx
        self.working: dict[str, Working] = {}
        self.halted = False

    # -- commands ---------------------------------------------------------------------------
    def enter(self, side: int, qty: float, price: float, meta: dict[str, Any], reason: str) -> str:
        cfg = self.ctx.config
        if cfg.use_limit_for_entry and cfg.limit_order_timeout_minutes > 0:
            cid = self.ctx.submit(side, "limit", qty, price=price, intent="entry", reason=reason, meta=meta)
        else:
            cid = self.ctx.submit(side, "market", qty, intent="entry", reason=reason, meta=meta)
        self.working[cid] = Working("entry", side, qty, self.ctx.now_ns(), meta, reason)
        return cid

    def exit(self, side: int, qty: float, reason: str) -> str:
        cid = self.ctx.submit(side, "market", qty, intent="exit", reason=reason)
        self.working[cid] = Working("exit", side, qty, self.ctx.now_ns(), {}, reason)
        return cid

    def cancel_entries(self) -> None:
        """Withdraws working limit entries without turning them into market orders."""
        for cid, w in self.working.items():
            if w.role != "entry" or self.ctx.orders[cid].order_type != "limit":
                continue
            if w.converting:
                w.converting = False  # its cancel is already on the way
            elif self.ctx.orders[cid].state.value in _WORKING:
                self.ctx.cancel(cid)

    # -- queries ----------------------------------------------------------------------------
    def has(self, role: str) -> bool:
        return any(w.role == role for w in self.working.values())

    def pending(self) -> list[dict[str, Any]]:
        return [{"order_id": cid, "role": w.role, "side": w.side, "qty": w.qty, "reason": w.reason}
                for cid, w in self.working.items()]

    # -- events -----------------------------------------------------------------------------
    def on_minute(self, now_ns: int) -> None:
        """Turns limit entries older than the timeout into market orders (cancel first)."""
        timeout = self.ctx.config.limit_order_timeout_minutes * NS_PER_MIN
        for cid, w in self.working.items():
            order = self.ctx.orders[cid]
            if (w.role == "entry" and order.order_type == "limit" and not w.converting
                    and now_ns - w.submit_ns >= timeout and order.state.value in _WORKING):
                w.converting = True
                self.ctx.cancel(cid)

    def on_update(self, ev: OrderUpdate) -> None:
        w = self.working.get(ev.order_id)
        if w is None:
            return
        if ev.status == "rejected":
            del self.working[ev.order_id]
            self.ctx.alert("order_rejected", f"{ev.order_id} rejected: {ev.reason}")
        elif ev.status == "cancelled":
            del self.working[ev.order_id]
            step = self.ctx.instrument.qty_step
            # Whole quantity steps: a float difference must not send a 1e-17 BTC order.
            rest = qty_of(contracts(w.qty - self.ctx.orders[ev.order_id].filled_qty, step), step)
            if w.converting and rest > 0:
                cid = self.ctx.submit(w.side, "market", rest, intent="entry", reason="limit_timeout", meta=w.meta)
                self.working[cid] = Working("entry", w.side, rest, self.ctx.now_ns(), w.meta, "limit_timeout")

    def on_fill(self, ev: Fill) -> Working | None:
        """The working order a fill belongs to, removed once it is complete."""
        w = self.working.get(ev.order_id)
        if w is not None and not self.ctx.orders[ev.order_id].is_open:
            del self.working[ev.order_id]
        return w

    def reconcile(self, exchange_qty: float, tolerance: float = 1e-9) -> bool:
        """Compares the exchange's position with ours; on a mismatch halts and alerts."""
        ours = self.ctx.position.qty
        if abs(exchange_qty - ours) > tolerance:
            self.halted = True
            self.ctx.alert("reconciliation", f"exchange position {exchange_qty} != ours {ours}; trading halted")
            return False
        return True
