"""The execution engine (spec §10): entries as limit orders at the signal price (time in force
`entry_time_in_force`) that turn into market orders after `limit_order_timeout_minutes`, exits
as reduce-only market orders, over the adapter protocol only (everything goes through
`StrategyContext`, outcomes come back as events).

At most one exit works at a time: `exit` refuses to send a second one (a caller must look with
`has("exit")` first), so a position can never be closed twice and the second close open a
position nobody planned. With `use_market_for_exit: false` an exit is a marketable limit —
priced `slippage_ticks_exit` ticks beyond the minute close's mid on the tick grid, so it crosses
the book on arrival — whose unfilled rest becomes a reduce-only market order after
`limit_order_timeout_minutes` (at least one minute), through the same cancel-first conversion as
an entry's; the exit stays the one working exit throughout.

A timed-out limit is first cancelled; only when the cancel is confirmed is the remainder sent
as a market order — if the limit filled meanwhile the cancel is rejected and nothing more is
sent, so an entry can never be doubled. A partly filled limit is still working: it times out
(and is withdrawn by a flatten) like an untouched one, and only its unfilled rest goes to
market. Client order ids are the context's deterministic ids.

`reconcile` is the hook live mode calls with the exchange's position: any mismatch with the
position built from our own fills halts trading and alerts (§10.4) — it never adjusts.
"""

from __future__ import annotations

import math
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
    def enter(self, side: int, qty: float, price: float, meta: dict[str, Any], reason: str,
              decided_ns: int | None = None) -> str:
        cfg = self.ctx.config
        if cfg.use_limit_for_entry and cfg.limit_order_timeout_minutes > 0:
            cid = self.ctx.submit(side, "limit", qty, price=price, intent="entry", reason=reason, meta=meta,
                                  time_in_force=cfg.entry_time_in_force, decided_ns=decided_ns)
        else:
            cid = self.ctx.submit(side, "market", qty, intent="entry", reason=reason, meta=meta,
                                  decided_ns=decided_ns)
        self.working[cid] = Working("entry", side, qty, self.ctx.now_ns(), meta, reason)
        return cid

    def exit(self, side: int, qty: float, reason: str, mark: float = math.nan) -> str:
        """Sends the position's one exit (reduce-only); `mark` prices a marketable limit exit."""
        working = [cid for cid, w in self.working.items() if w.role == "exit"]
        if working:
            raise RuntimeError(f"exit {reason!r} refused: exit {working[0]} is still working")
        cfg = self.ctx.config
        if cfg.use_market_for_exit or math.isnan(mark):
            cid = self.ctx.submit(side, "market", qty, intent="exit", reason=reason, reduce_only=True)
        else:
            price = marketable_price(side, mark, self.ctx.instrument.tick_size, cfg.slippage_ticks_exit)
            cid = self.ctx.submit(side, "limit", qty, price=price, intent="exit", reason=reason, reduce_only=True)
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
        """Turns limit orders older than the timeout into market orders (cancel first)."""
        minutes = self.ctx.config.limit_order_timeout_minutes
        for cid, w in self.working.items():
            order = self.ctx.orders[cid]
            timeout = (minutes if w.role == "entry" else max(minutes, 1)) * NS_PER_MIN
            if (order.order_type == "limit" and not w.converting
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
            if w.converting and rest > 0 and w.role == "entry":
                cid = self.ctx.submit(w.side, "market", rest, intent="entry", reason="limit_timeout", meta=w.meta)
                self.working[cid] = Working("entry", w.side, rest, self.ctx.now_ns(), w.meta, "limit_timeout")
            elif w.converting and rest > 0:
                # The exit's reason stays first: a stop's rest is still a stop (the ledger's STOPPED).
                why = f"{w.reason}:limit_timeout"
                cid = self.ctx.submit(w.side, "market", rest, intent="exit", reason=why, reduce_only=True)
                self.working[cid] = Working("exit", w.side, rest, self.ctx.now_ns(), {}, w.reason)

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


def marketable_price(side: int, mark: float, tick: float, ticks: int) -> float:
    """A limit price on the tick grid `ticks` ticks beyond `mark` against the side (a sell below,
    a buy above), so the order crosses a book around `mark` when it arrives."""
    n = math.floor(mark / tick + 1e-9) - ticks if side < 0 else math.ceil(mark / tick - 1e-9) + ticks
    decimals = max(0, -math.floor(math.log10(tick) + 1e-12)) + 2
    return round(n * tick, decimals)
