"""Records what a run did — bars, features, orders, fills, positions, equity, signals, alerts,
state snapshots — as rows for the exports, and keeps the order lifecycle, the position and the
trade ledger up to date from adapter events. It is also the strategy's journal."""

from __future__ import annotations

import math
from typing import Any

from sim.core.events import NS_PER_MS, Bar, Event, Features, Fill, Funding, MinuteClose, OrderUpdate
from sim.execution.ledger import POSITION_COLUMNS, TradeLedger
from sim.execution.orders import Order, OrderEvent
from sim.execution.portfolio import Position

__all__ = ["BAR_COLUMNS", "FEATURE_COLUMNS", "ORDER_COLUMNS", "FILL_COLUMNS", "POSITION_COLUMNS", "EQUITY_COLUMNS",
           "SIGNAL_COLUMNS", "ALERT_COLUMNS", "Recorder", "LateJournal", "bar_row", "feature_row"]

BAR_COLUMNS = ("ts_min_ms", "open", "high", "low", "close", "volume", "vwap", "trade_count",
               "bid_px_close", "ask_px_close", "bid_sz_close", "ask_sz_close", "spread_close", "spread_avg_60m")
FEATURE_COLUMNS = ("ts_min_ms", "mid_close", "sigma_240", "bin_width", "poc", "vah", "val", "va_coverage",
                   "va_bin_count", "of_1m", "of_norm_1m", "qimb_close", "qimb_ema_60s", "ambiguous_trade_frac_1m",
                   "total_volume_4h", "va_valid", "rebucketed", "near_vah", "near_val", "stale_trade_frac_1m")
ORDER_COLUMNS = ("order_id", "decision_ts_ms", "side", "type", "price", "qty", "intent", "reason", "state")
FILL_COLUMNS = ("order_id", "ts_ms", "side", "price", "qty", "fee", "liquidity", "mid_px")
EQUITY_COLUMNS = ("ts_ms", "mark", "position_qty", "realized_pnl", "unrealized_pnl", "fees", "funding", "equity")
SIGNAL_COLUMNS = ("ts_min_ms", "signal_breakin_long", "signal_breakin_short", "signal_breakout_long",
                  "signal_breakout_short", "signal_failbreak_long", "signal_failbreak_short", "chosen_action",
                  "reason_code", "acceptance_state")
ALERT_COLUMNS = ("ts_ms", "kind", "message")

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


def _cents(x: float) -> float:
    # Money columns of the equity curve: sums of many float terms; a rounding to 1e-9 keeps
    # them byte-stable across summation order without hiding anything a cent could show.
    return round(x, 9) + 0.0


class Recorder:
    def __init__(self, orders: dict[str, Order], position: Position, ledger: TradeLedger,
                 initial_equity: float, single_instrument: bool = True) -> None:
        #: with False (a strategy of several instruments that keeps its own books), the recorder keeps
        #: the order lifecycle and the fills only: no minute rows, position or trade ledger
        self.single_instrument = single_instrument
        self.orders = orders
        self.position = position
        self.ledger = ledger
        self.initial_equity = initial_equity
        self.bars: list[tuple[Any, ...]] = []
        self.features: list[tuple[Any, ...]] = []
        self.fills: list[tuple[Any, ...]] = []
        self.equity: list[tuple[Any, ...]] = []
        self.signals: list[tuple[Any, ...]] = []
        self.feature_snapshots: list[tuple[float, ...]] = []
        self.alerts: list[tuple[Any, ...]] = []
        self.snapshots: list[tuple[int, str, dict[str, Any]]] = []
        self.order_sequence: list[str] = []
        self.fill_events: list[tuple[Fill, str | None]] = []  # every fill with its order's instrument
        self.alert_events: list[tuple[int, str, str]] = []  # (ts_ns, kind, message)
        self.mark: float = math.nan

    # -- journal (what the strategy reports) ------------------------------------------------
    def signal(self, row: tuple[Any, ...], feature_snapshot: tuple[float, ...]) -> None:
        self.signals.append(row)
        self.feature_snapshots.append(feature_snapshot)

    def alert(self, ts_ns: int, kind: str, message: str) -> None:
        self.alerts.append((ts_ns // NS_PER_MS, kind, message))
        self.alert_events.append((ts_ns, kind, message))

    def snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None:
        self.snapshots.append((ts_ns // NS_PER_MS, kind, state))

    # -- events -----------------------------------------------------------------------------
    def on_order(self, order: Order) -> None:
        self.order_sequence.append(order.client_order_id)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, MinuteClose):
            if not self.single_instrument:
                return
            self.bars.append(_in_ms(bar_row(ev.bar)))
            self.features.append(_in_ms(feature_row(ev.features)))
            for m in (ev.features.mid_close, ev.bar.close):
                if not math.isnan(m):
                    self.mark = m
                    break
            self._equity_row(ev.ts_ns)
        elif isinstance(ev, OrderUpdate):
            self.orders[ev.order_id].apply(_UPDATE_EVENTS[ev.status], ev.ts_ns)
        elif isinstance(ev, Fill):
            order = self.orders[ev.order_id]
            order.filled_qty += ev.qty
            done = order.filled_qty >= order.qty - 1e-12
            order.apply(OrderEvent.FILL if done else OrderEvent.PARTIAL_FILL, ev.ts_ns)
            self.fill_events.append((ev, order.symbol))
            if not self.single_instrument:
                return
            self.position.apply_fill(ev.side, ev.price, ev.qty, ev.fee)
            self.ledger.on_fill(ev.ts_ns, ev.side, ev.price, ev.qty, ev.fee, order.meta, order.reason,
                                order_id=ev.order_id, reduce_only=order.reduce_only)
            self.fills.append((ev.order_id, ev.ts_ns // NS_PER_MS, _side(ev.side), ev.price, ev.qty, ev.fee,
                               ev.liquidity, ev.mid))
        elif isinstance(ev, Funding) and self.position.qty != 0.0:
            paid = self.position.apply_funding(ev.rate, self.mark if math.isnan(ev.mark) else ev.mark)
            self.ledger.on_funding(paid)

    def close(self, end_ns: int) -> None:
        """At the end of a backtest: the last equity row holds every event up to the window's end. A
        fill stamped at the end instant itself (bars mode stamps fills at the kline's close) comes
        after that minute's close; without this the curve would end before it."""
        if not self.single_instrument or not self.equity:
            return
        last = self.equity[-1]
        if last[0] == end_ns // NS_PER_MS:
            self.equity.pop()
            self._equity_row(end_ns)
        elif last[2:] != self._state_row(end_ns)[2:]:
            self._equity_row(end_ns)

    def _state_row(self, ts_ns: int) -> tuple[Any, ...]:
        p = self.position
        return (ts_ns // NS_PER_MS, self.mark, p.qty, _cents(p.realized_pnl), _cents(p.unrealized(self.mark)),
                _cents(p.fees), _cents(p.funding), _cents(p.equity(self.initial_equity, self.mark)))

    def _equity_row(self, ts_ns: int) -> None:
        self.equity.append(self._state_row(ts_ns))

    def order_rows(self) -> list[tuple[Any, ...]]:
        rows = []
        for cid in self.order_sequence:
            o = self.orders[cid]
            rows.append((cid, o.decision_ts_ns // NS_PER_MS, _side(o.side), o.order_type, o.price, o.qty,
                         o.intent, o.reason, o.state.value))
        return rows


class LateJournal:
    """The journal a strategy context is built with before its recorder exists (the recorder
    needs the context's orders and position); `recorder` is set right after."""

    recorder: Recorder

    def signal(self, row: tuple[Any, ...], feature_snapshot: tuple[float, ...]) -> None:
        self.recorder.signal(row, feature_snapshot)

    def alert(self, ts_ns: int, kind: str, message: str) -> None:
        self.recorder.alert(ts_ns, kind, message)

    def snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None:
        self.recorder.snapshot(ts_ns, kind, state)
