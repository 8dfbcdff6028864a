"""Typed stub of the Rust extension module `sim._core` (checked against the module by a test)."""

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__version__: str
KIND_PRIORITY: dict[str, int]
BAD_ROW_KINDS: list[str]

class SimCoreError(Exception): ...
class BadRowError(SimCoreError): ...
class DataInputError(SimCoreError): ...
class EngineError(SimCoreError): ...

# (kind, ts_ns, source, seq, payload); payloads as `sim.core.events.from_engine` reads them, e.g.
# fill: (order_id, side, price, qty, fee, maker, mid); funding: (rate, mark).
Event = tuple[str, int, int, int, tuple[Any, ...]]

def fill_draw(seed: int, order_id: int, ts_ns: int) -> float: ...
def csv_rows(columns: list[Sequence[Any]], is_float: list[bool]) -> str: ...

class MarketEngine:
    def __init__(
        self,
        *,
        tick_size: float,
        taker_fee_bps: float,
        maker_fee_bps: float,
        start_ns: int | None = None,
        on_bad_rows: Literal["fail", "drop"] = "fail",
        features: dict[str, Any] | None = None,
    ) -> None: ...
    def add_source(self, kind: Literal["trades", "quotes", "klines"], instrument: int = 0) -> int: ...
    def set_instrument(
        self,
        index: int,
        *,
        tick_size: float,
        taker_fee_bps: float,
        maker_fee_bps: float,
        contract_value: float = 0.0,
        bar_spread_bps: float = 0.0,
        fill_model: Literal["touch", "probabilistic"] = "touch",
        fill_prob: float = 1.0,
        fill_seed: int = 0,
    ) -> int: ...
    def push_trades(
        self,
        source: int,
        row0: int,
        ts_ns: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        size: npt.NDArray[np.float64],
        side: npt.NDArray[np.int8],
        trade_id: npt.NDArray[np.int64],
    ) -> None: ...
    def push_quotes(
        self,
        source: int,
        row0: int,
        ts_ns: npt.NDArray[np.int64],
        bid_px: npt.NDArray[np.float64],
        bid_sz: npt.NDArray[np.float64],
        ask_px: npt.NDArray[np.float64],
        ask_sz: npt.NDArray[np.float64],
    ) -> None: ...
    def push_klines(
        self,
        source: int,
        row0: int,
        open_ts_ns: npt.NDArray[np.int64],
        interval_ns: int,
        open: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        low: npt.NDArray[np.float64],
        close: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> None: ...
    def set_funding(self, ts_ns: npt.NDArray[np.int64], rate: npt.NDArray[np.float64]) -> None: ...
    def finish_source(self, source: int) -> None: ...
    def mark_source_until(self, source: int, ts_ns: int) -> None: ...
    def advance_to(
        self, t_ns: int
    ) -> tuple[Literal["events"], list[Event]] | tuple[Literal["reached"], None] | tuple[Literal["starved"], int]: ...
    def submit_order(
        self,
        order_id: int,
        side: int,
        order_type: Literal["market", "limit"],
        qty: float,
        ts_ns: int,
        limit_px: float = ...,
        slippage_ticks: int = 0,
        instrument: int = 0,
        time_in_force: Literal["GTC", "IOC", "FOK", "PostOnly"] = "GTC",
        reduce_only: bool = False,
    ) -> None: ...
    def cancel_order(self, order_id: int, ts_ns: int) -> None: ...
    def position(self, instrument: int = 0) -> float: ...
    def record_raw(self) -> None: ...
    def take_raw(self) -> tuple[dict[str, tuple[str, bytes]], dict[str, tuple[str, bytes]]]: ...
    def side_agreement(self) -> tuple[int, int, int, int]: ...
    def enable_trace(self) -> None: ...
    def take_trace(self) -> list[tuple[int, int, int, int]]: ...
    @property
    def now_ns(self) -> int: ...
    @property
    def events_processed(self) -> int: ...
    def last_quote(self) -> tuple[int, float, float, float, float] | None: ...
    def bad_rows(self) -> list[tuple[int, str, int, int, str]]: ...
    def source_stats(self) -> list[tuple[int, str, int, int, int]]: ...
