"""Event types and their total order.

Every event has a `key` = (ts_ns, kind priority, source, seq) — DESIGN §4. The priorities
are defined once, in the Rust core (`sim._core.KIND_PRIORITY`), and read from there.
Events carry the exchange timestamp (`ts_ns`) and, where there is one, the local receive time
(`recv_ns`; equal to `ts_ns` in replay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from sim import _core

PRIORITY: dict[str, int] = dict(_core.KIND_PRIORITY)

EventKey = tuple[int, int, int, int]

NS_PER_MS = 1_000_000
NS_PER_MIN = 60_000_000_000


def make_key(kind: str, ts_ns: int, source: int = 0, seq: int = 0) -> EventKey:
    return (ts_ns, PRIORITY[kind], source, seq)


@dataclass(frozen=True, slots=True)
class Bar:
    """A finished one-minute bar (spec §3.3 `bars_1m`). No trades → NaN prices, count 0.

    In bars mode the bar is a recorded kline: prices and volume from it, `trade_count` 0 and
    `vwap` NaN (a kline does not say).
    """

    ts_min_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float
    trade_count: int
    bid_px_close: float
    ask_px_close: float
    bid_sz_close: float
    ask_sz_close: float
    spread_avg_60m: float

    @property
    def spread_close(self) -> float:
        return self.ask_px_close - self.bid_px_close

    @property
    def mid_close(self) -> float:
        return (self.bid_px_close + self.ask_px_close) / 2

    @property
    def has_trades(self) -> bool:
        """Whether the minute has a price (from trades, or from its kline in bars mode)."""
        return not math.isnan(self.close)


@dataclass(frozen=True, slots=True)
class Features:
    """One minute's features (spec §3.3 `features_1m`; docs/FEATURES.md defines each).

    Undefined values are NaN: `poc`/`vah`/`val`/`va_coverage` whenever `va_valid` is false.
    `rebucketed` names the trigger that applied a new bin width this minute, or is None.
    `near_vah`/`near_val`: a trade of the minute came within `spread_avg_60m` of the level
    (spec §6.3 boundary-crossing validation).
    """

    ts_min_ns: int
    spread_avg_60m: float
    mid_close: float
    sigma_240: float
    bin_width: float
    poc: float
    vah: float
    val: float
    va_coverage: float
    va_bin_count: int
    of_1m: float
    of_norm_1m: float
    qimb_close: float
    qimb_ema_60s: float
    ambiguous_trade_frac_1m: float
    total_volume_4h: float
    va_valid: bool
    rebucketed: str | None
    near_vah: bool
    near_val: bool
    stale_trade_frac_1m: float


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    ts_ns: int
    key: EventKey
    recv_ns: int


@dataclass(frozen=True, slots=True)
class MinuteClose(Event):
    bar: Bar
    features: Features


@dataclass(frozen=True, slots=True)
class KlineClose(Event):
    """A recorded bar of any interval, delivered at its close; `symbol` names its instrument in
    a run of several ("" in a run of one)."""

    open_ts_ns: int
    interval_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    symbol: str = ""


@dataclass(frozen=True, slots=True)
class Funding(Event):
    """A funding settlement. `mark` is the price the rate applies to: the mid of the latest quote
    at or before `ts_ns` (in bars mode or without quotes, the latest trade or kline close); NaN
    when the market has no price yet."""

    rate: float  # per funding interval, as a fraction (1 bp = 0.0001)
    mark: float = math.nan


@dataclass(frozen=True, slots=True)
class Timer(Event):
    name: str
    payload: Any = None


OrderStatus = Literal["accepted", "rejected", "cancelled", "cancel_rejected"]


@dataclass(frozen=True, slots=True)
class OrderUpdate(Event):
    order_id: str
    status: OrderStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fill(Event):
    order_id: str
    side: int  # +1 buy, -1 sell
    price: float
    qty: float
    fee: float  # paid; negative is a rebate
    liquidity: Literal["maker", "taker"] = field(default="taker")
    # The mid of the market the order filled against, so the spread paid is |price − mid|: the
    # quote it filled on, the latest quote for a limit hit by a print; in bars mode the kline's
    # open (market) or the limit price (limit). NaN when there was no quote.
    mid: float = math.nan


def from_engine(raw: tuple[str, int, int, int, tuple[Any, ...]], order_ids: dict[int, str],
                source_symbols: list[str] | None = None) -> Event:
    """Turns one event tuple from `sim._core.MarketEngine.advance_to` into an event object;
    `source_symbols` names the instrument each source quotes."""
    kind, ts, source, seq, p = raw
    key = (ts, PRIORITY[kind], source, seq)
    if kind == "minute_close":
        bar, features = p
        return MinuteClose(kind, ts, key, ts, Bar(*bar, features[1]), Features(*features))
    if kind == "kline":
        return KlineClose(kind, ts, key, ts, *p, source_symbols[source] if source_symbols else "")
    if kind == "order_update":
        oid, status, reason = p
        return OrderUpdate(kind, ts, key, ts, order_ids[oid], status, reason)
    if kind == "fill":
        oid, side, price, qty, fee, maker, mid = p
        return Fill(kind, ts, key, ts, order_ids[oid], side, price, qty, fee, "maker" if maker else "taker", mid)
    if kind == "funding":
        rate, mark = p
        return Funding(kind, ts, key, ts, rate, mark)
    raise ValueError(f"unknown engine event kind {kind!r}")
