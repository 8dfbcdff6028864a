"""Records what a run did — bars, features, orders, fills, positions — as rows for the exports,
and keeps the order lifecycle and the position up to date from adapter events."""

from __future__ import annotations

from typing import Any

from sim.events import NS_PER_MS, Bar, Event, Features, Fill, Funding, MinuteClose, OrderUpdate
from sim.orders import Order, OrderEvent
from sim.portfolio import Position

BAR_COLUMNS = ("ts_min_ms", "open", "high", "low", "close", "volume", "vwap", "trade_count",
               "bid_px_close", "ask_px_close", "bid_sz_close", "ask_sz_close", "spread_close", "spread_avg_60m")
FEATURE_COLUMNS = ("ts_min_ms", "mid_close", "sigma_240", "bin_width", "poc", "vah", "val", "va_coverage",
                   "va_bin_count", "of_1m", "of_norm_1m", "qimb_close", "qimb_ema_60s", "ambiguous_trade_frac_1m",
                   "total_volume_4h", "va_valid", "rebucketed", "near_vah", "near_val", "stale_trade_frac_1m")
ORDER_COLUMNS = ("order_id", "decision_ts_ms", "side", "type", "price", "qty", "intent", "reason", "state")
FILL_COLUMNS = ("order_id", "ts_ms", "side", "price", "qty", "fee", "liquidity")
POSITION_COLUMNS = ("ts_ms", "event", "qty", "avg_entry", "realized_pnl", "fees", "funding")

_UPDATE_EVENTS = {
    "accepted": OrderEvent.ACCEPT,
    "rejected": OrderEvent.REJECT,
    "cancelled": OrderEvent.CANCEL,
    "cancel_rejected": OrderEvent.CANCEL_REJECT,
}


def bar_row(b: Bar) -> tuple[Any, ...]:
    """A `bars_1m` row, timestamps in ns."""
    return (b.ts_min_ns, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count, b.bid_px_close,
            b.ask_px_close, b.bid_sz_close, b.ask_sz_close,
            round(b.spread_close, 9),  # a difference of two prices: strip float noise
            b.spread_avg_60m)


def feature_row(f: Features) -> tuple[Any, ...]:
    """A `features_1m` row (FEATURE_COLUMNS), timestamps in ns."""
    return (f.ts_min_ns, f.mid_close, f.sigma_240, f.bin_width, f.poc, f.vah, f.val, f.va_coverage, f.va_bin_count,
            f.of_1m, f.of_norm_1m, f.qimb_close, f.qimb_ema_60s, f.ambiguous_trade_frac_1m, f.total_volume_4h,
            f.va_valid, f.rebucketed, f.near_vah, f.near_val, f.stale_trade_frac_1m)


def _in_ms(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (row[0] // NS_PER_MS, *row[1:])


def _side(s: int) -> str:
    return "buy" if s > 0 else "sell"


class Recorder:
    def __init__(self, orders: dict[str, Order], position: Position) -> None:
        self.orders = orders
        self.position = position
        self.bars: list[tuple[Any, ...]] = []
        self.features: list[tuple[Any, ...]] = []
        self.fills: list[tuple[Any, ...]] = []
        self.positions: list[tuple[Any, ...]] = []
        self.order_sequence: list[str] = []
        self.last_mid: float = float("nan")

    def on_order(self, order: Order) -> None:
        self.order_sequence.append(order.client_order_id)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, MinuteClose):
            self.bars.append(_in_ms(bar_row(ev.bar)))
            self.features.append(_in_ms(feature_row(ev.features)))
            self.last_mid = ev.features.mid_close
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
