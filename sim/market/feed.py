"""The Python side of the market engine: feeds each source's batches into `sim._core` when the
merge asks for them, keeps the run to its time window, and turns engine output into events.

Sources are pulled lazily — only a source the merge is starved on is read — so memory holds a
batch or so per source, whatever the size of the files. With `record_raw`, the engine also keeps
the raw tape (trades with their inferred side, quotes) for the run's stores, taken in batches.
With `funding` (times and rates, see `sim.data.funding`), the engine emits a `Funding` event at each
time, in the total order and with the mark price of that instant.

A run trading several instruments (the basis trade) names them (`instruments`, the first is the
main one whose ticks make the minute bars) and says which one each source quotes
(`source_instruments`); klines then come back as events carrying their instrument's symbol, and
orders name the instrument they are for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from sim import _core
from sim.data.source import BatchSource
from sim.core.errors import DataFileError
from sim.core.events import Event, from_engine
from sim.core.instruments import EngineInstrument


def _col(batch: pa.RecordBatch, name: str, dtype: type) -> np.ndarray:
    arr = batch.column(name)
    if arr.null_count:
        # An empty numeric field is a value that is not there: NaN, which the engine rejects
        # as a bad row (`not_finite`) rather than inventing a number.
        arr = arr.fill_null(np.nan) if pa.types.is_floating(arr.type) else arr
    return np.ascontiguousarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _arrays(columns: dict[str, tuple[str, bytes]]) -> dict[str, np.ndarray]:
    return {name: np.frombuffer(data, dtype=dtype) for name, (dtype, data) in columns.items()}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where mask is True."""
    if not mask.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


class MarketFeed:
    def __init__(
        self,
        sources: Sequence[BatchSource],
        *,
        start_ns: int,
        end_ns: int,
        tick_size: float,
        taker_fee_bps: float,
        maker_fee_bps: float,
        on_bad_rows: str = "fail",
        features: dict[str, Any] | None = None,
        record_raw: bool = False,
        funding: tuple[np.ndarray, np.ndarray] | None = None,
        instruments: Sequence[EngineInstrument] = (),
        source_instruments: Sequence[int] | None = None,
    ) -> None:
        self.engine = _core.MarketEngine(
            tick_size=tick_size,
            taker_fee_bps=taker_fee_bps,
            maker_fee_bps=maker_fee_bps,
            start_ns=start_ns,
            on_bad_rows=on_bad_rows,
            features=features,
        )
        if record_raw:
            self.engine.record_raw()
        if funding is not None:
            ts, rate = funding
            self.engine.set_funding(np.ascontiguousarray(ts, dtype=np.int64), np.ascontiguousarray(rate, dtype=np.float64))
        self.instruments = list(instruments)
        for i, ins in enumerate(self.instruments):
            self.engine.set_instrument(
                i, tick_size=ins.tick_size, taker_fee_bps=ins.taker_fee_bps, maker_fee_bps=ins.maker_fee_bps,
                contract_value=ins.contract_value, bar_spread_bps=ins.bar_spread_bps, fill_model=ins.fill_model,
                fill_prob=ins.fill_prob, fill_seed=ins.fill_seed,
            )
        self._instrument_index = {ins.symbol: i for i, ins in enumerate(self.instruments)}
        self.start_ns, self.end_ns = start_ns, end_ns
        self.sources = list(sources)
        owners = list(source_instruments) if source_instruments is not None else [0] * len(self.sources)
        if len(owners) != len(self.sources):
            raise ValueError(f"{len(self.sources)} sources but {len(owners)} source instruments")
        self.source_symbols = [self.instruments[o].symbol if self.instruments else "" for o in owners]
        self._iters: list[Iterator[tuple[int, pa.RecordBatch]] | None] = []
        for s, owner in zip(self.sources, owners):
            idx = self.engine.add_source(s.kind, owner)
            assert idx == len(self._iters)
            self._iters.append(iter(s.batches()))
        self._order_ids: dict[int, str] = {}
        self.rows_outside_window = [0] * len(self.sources)

    def instrument_index(self, symbol: str | None) -> int:
        """The engine's index of an instrument by symbol; None is the main instrument."""
        if symbol is None:
            return 0
        try:
            return self._instrument_index[symbol]
        except KeyError:
            raise ValueError(f"unknown instrument {symbol!r}") from None

    def register_order_id(self, client_order_id: str) -> int:
        n = len(self._order_ids) + 1
        self._order_ids[n] = client_order_id
        return n

    def _feed(self, i: int) -> None:
        it = self._iters[i]
        src = self.sources[i]
        try:
            nxt = next(it) if it is not None else None
        except StopIteration:
            nxt = None
        if nxt is None:
            self._iters[i] = None
            self.engine.finish_source(i)
            return
        row0, batch = nxt
        ts_col = "open_ts_ns" if src.kind == "klines" else "ts_ns"
        ts = _col(batch, ts_col, np.int64)
        if src.kind == "klines":
            assert src.interval_ns is not None
            event_ts = ts + src.interval_ns
            inside = (ts >= self.start_ns) & (event_ts <= self.end_ns)
        else:
            inside = (ts >= self.start_ns) & (ts < self.end_ns)
        self.rows_outside_window[i] += int(len(ts) - inside.sum())
        try:
            for a, b in _runs(inside):
                self._push(i, src, row0 + a, batch.slice(a, b - a))
        except _core.BadRowError as e:
            _source, row, kind, detail = e.args
            raise DataFileError(src.name, f"{kind.replace('_', ' ')} ({detail})", row=row) from None
        if len(ts) and ts.min() >= self.end_ns:
            # Past the window: nothing further in this (time-ordered) source can be inside it.
            self._iters[i] = None
            self.engine.finish_source(i)

    def _push(self, i: int, src: BatchSource, row0: int, b: pa.RecordBatch) -> None:
        e = self.engine
        if src.kind == "trades":
            e.push_trades(i, row0, _col(b, "ts_ns", np.int64), _col(b, "price", np.float64),
                          _col(b, "size", np.float64), _col(b, "side", np.int8), _col(b, "trade_id", np.int64))
        elif src.kind == "quotes":
            e.push_quotes(i, row0, _col(b, "ts_ns", np.int64), _col(b, "bid_px", np.float64),
                          _col(b, "bid_sz", np.float64), _col(b, "ask_px", np.float64), _col(b, "ask_sz", np.float64))
        else:
            e.push_klines(i, row0, _col(b, "open_ts_ns", np.int64), int(src.interval_ns or 0),
                          _col(b, "open", np.float64), _col(b, "high", np.float64), _col(b, "low", np.float64),
                          _col(b, "close", np.float64), _col(b, "volume", np.float64))

    def advance_to(self, t_ns: int) -> list[Event]:
        """Events up to `t_ns` in the total order; [] once the engine has reached `t_ns`."""
        while True:
            try:
                status, value = self.engine.advance_to(t_ns)
            except _core.BadRowError as e:
                source, row, kind, detail = e.args
                raise DataFileError(self.sources[source].name, f"{kind.replace('_', ' ')} ({detail})", row=row) from None
            if status == "starved":
                self._feed(value)
                continue
            if status == "reached":
                return []
            return [from_engine(raw, self._order_ids, self.source_symbols) for raw in value]

    def take_raw(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(trades, quotes) columns recorded since the last call (see `record_raw`)."""
        trades, quotes = self.engine.take_raw()
        return _arrays(trades), _arrays(quotes)

    def side_agreement(self) -> dict[str, Any]:
        """Inferred vs exchange-reported trade sides, over trades that carry a reported side."""
        compared, agreed, compared_units, agreed_units = self.engine.side_agreement()
        return {
            "trades_compared": compared,
            "trades_agreed": agreed,
            "rate": agreed / compared if compared else None,
            "volume_rate": agreed_units / compared_units if compared_units else None,
        }

    def bad_rows(self) -> dict[str, dict[str, int]]:
        """Dropped rows by source name and kind (under `on_bad_rows: drop`)."""
        out: dict[str, dict[str, int]] = {}
        for source, kind, count, _row, _detail in self.engine.bad_rows():
            out.setdefault(self.sources[source].name, {})[kind] = count
        return out
