"""Records what a run did — bars, orders, fills, positions — as rows for the exports, and
keeps the order lifecycle and the position up to date from adapter events."""

from __future__ import annotations

from typing import Any

from sim.events import NS_PER_MS, Event, Fill, Funding, MinuteClose, OrderUpdate
from sim.orders import Order, OrderEvent
from sim.portfolio import Position

BAR_COLUMNS = ("ts_min_ms", "open", "high", "low", "close", "volume", "vwap", "trade_count",
               "bid_px_close", "ask_px_close", "bid_sz_close", "ask_sz_close", "spread_close")
ORDER_COLUMNS = ("order_id", "decision_ts_ms", "side", "type", "price", "qty", "intent", "reason", "state")
FILL_COLUMNS = ("order_id", "ts_ms", "side", "price", "qty", "fee", "liquidity")
POSITION_COLUMNS = ("ts_ms", "event", "qty", "avg_entry", "realized_pnl", "fees", "funding")

_UPDATE_EVENTS = {
    "accepted": OrderEvent.ACCEPT,
    "rejected": OrderEvent.REJECT,
    "cancelled": OrderEvent.CANCEL,
    "cancel_rejected": OrderEvent.CANCEL_REJECT,
}


def _side(s: int) -> str:
    return "buy" if s > 0 else "sell"


class Recorder:
    def __init__(self, orders: dict[str, Order], position: Position) -> None:
        self.orders = orders
        self.position = position
        self.bars: list[tuple[Any, ...]] = []
        self.fills: list[tuple[Any, ...]] = []
        self.positions: list[tuple[Any, ...]] = []
        self.order_sequence: list[str] = []
        self.last_mid: float = float("nan")

    def on_order(self, order: Order) -> None:
        self.order_sequence.append(order.client_order_id)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, MinuteClose):
            b = ev.bar
            self.bars.append((b.ts_min_ns // NS_PER_MS, b.open, b.high, b.low, b.close, b.volume, b.vwap,
                              b.trade_count, b.bid_px_close, b.ask_px_close, b.bid_sz_close, b.ask_sz_close,
                              round(b.spread_close, 9)))  # a difference of two prices: strip float noise
            self.last_mid = b.mid_close
        elif isinstance(ev, OrderUpdate):
            self.orders[ev.order_id].apply(_UPDATE_EVENTS[ev.status], ev.ts_ns)
        elif isinstance(ev, Fill):
            order = self.orders[ev.order_id]
            order.filled_qty += ev.qty
            done = order.filled_qty >= order.qty - 1e-12
            order.apply(OrderEvent.FILL if done else OrderEvent.PARTIAL_FILL, ev.ts_ns)
            self.position.apply_fill(ev.side, ev.price, ev.qty, ev.fee)
            self.fills.append((ev.order_id, ev.ts_ns // NS_PER_MS, _side(ev.side), ev.price, ev.qty, ev.fee, ev.liquidity))
            self._snapshot(ev.ts_ns, "fill")
        elif isinstance(ev, Funding) and self.position.qty != 0.0:
            self.position.apply_funding(ev.rate, self.last_mid)
            self._snapshot(ev.ts_ns, "funding")

    def _snapshot(self, ts_ns: int, what: str) -> None:
        p = self.position
        self.positions.append((ts_ns // NS_PER_MS, what, p.qty, p.avg_entry, p.realized_pnl, p.fees, p.funding))

    def order_rows(self) -> list[tuple[Any, ...]]:
        rows = []
        for cid in self.order_sequence:
            o = self.orders[cid]
            rows.append((cid, o.decision_ts_ns // NS_PER_MS, _side(o.side), o.order_type, o.price, o.qty,
                         o.intent, o.reason, o.state.value))
        return rows
