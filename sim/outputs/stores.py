"""The run's DuckDB stores: `raw.duckdb` (raw_trades, raw_quotes) and `features.duckdb` (bars_1m,
features_1m), with the spec §3.3 schemas.

A replay writes its own set into its run directory; opening `RunStores` on a directory deletes any
previous files of those names first, so a re-run never appends to an old run. Rows go in through
Arrow, one INSERT per batch, never row by row: trade and quote arrays are buffered and written every
`RAW_FLUSH_ROWS` rows or on `flush_raw`/`close`, minute rows every `MINUTE_FLUSH_ROWS` rows (a day) or on
`flush`/`close`.

Mapping to stored values: timestamps arrive in nanoseconds and are stored in milliseconds
(`ts_ms = ts_ns // 1_000_000`; `ts_min` is the minute boundary in ms); a float NaN is stored as
NULL (so a NaN in a NOT NULL column is rejected, not stored); in raw_trades `exchange_side == 0`,
`trade_id == -1` and `quote_staleness_ms == -1` are NULL. These stores are not golden files: golden
comparison works on the text exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

RAW_DB = "raw.duckdb"
FEATURES_DB = "features.duckdb"

MINUTE_FLUSH_ROWS = 1440
RAW_FLUSH_ROWS = 1_000_000

_NS_PER_MS = 1_000_000

# (name, SQL type, constraint) in spec column order; the extra columns come last.
_RAW_TRADES: tuple[tuple[str, str, str], ...] = (
    ("ts_ms", "BIGINT", "NOT NULL"),
    ("price", "DOUBLE", "NOT NULL"),
    ("size", "DOUBLE", "NOT NULL"),
    ("inferred_side", "TINYINT", ""),
    ("quote_bid_px", "DOUBLE", ""),
    ("quote_ask_px", "DOUBLE", ""),
    ("quote_staleness_ms", "INTEGER", ""),
    ("exchange_side", "TINYINT", ""),
    ("trade_id", "BIGINT", ""),
)
_RAW_QUOTES: tuple[tuple[str, str, str], ...] = (
    ("ts_ms", "BIGINT", "NOT NULL"),
    ("bid_px", "DOUBLE", "NOT NULL"),
    ("bid_sz", "DOUBLE", "NOT NULL"),
    ("ask_px", "DOUBLE", "NOT NULL"),
    ("ask_sz", "DOUBLE", "NOT NULL"),
)
_BARS_1M: tuple[tuple[str, str, str], ...] = (
    ("ts_min", "BIGINT", "PRIMARY KEY"),
    ("open", "DOUBLE", ""),
    ("high", "DOUBLE", ""),
    ("low", "DOUBLE", ""),
    ("close", "DOUBLE", ""),
    ("volume", "DOUBLE", ""),
    ("vwap", "DOUBLE", ""),
    ("trade_count", "INTEGER", ""),
    ("bid_px_close", "DOUBLE", ""),
    ("ask_px_close", "DOUBLE", ""),
    ("bid_sz_close", "DOUBLE", ""),
    ("ask_sz_close", "DOUBLE", ""),
    ("spread_close", "DOUBLE", ""),
    ("spread_avg_60m", "DOUBLE", ""),
)
_FEATURES_1M: tuple[tuple[str, str, str], ...] = (
    ("ts_min", "BIGINT", "PRIMARY KEY"),
    ("mid_close", "DOUBLE", ""),
    ("sigma_240", "DOUBLE", ""),
    ("bin_width", "DOUBLE", ""),
    ("poc", "DOUBLE", ""),
    ("vah", "DOUBLE", ""),
    ("val", "DOUBLE", ""),
    ("va_coverage", "DOUBLE", ""),
    ("va_bin_count", "INTEGER", ""),
    ("of_1m", "DOUBLE", ""),
    ("of_norm_1m", "DOUBLE", ""),
    ("qimb_close", "DOUBLE", ""),
    ("qimb_ema_60s", "DOUBLE", ""),
    ("ambiguous_trade_frac_1m", "DOUBLE", ""),
    ("total_volume_4h", "DOUBLE", ""),
    ("va_valid", "BOOLEAN", ""),
    ("rebucketed", "BOOLEAN", ""),
    ("near_vah", "BOOLEAN", ""),
    ("near_val", "BOOLEAN", ""),
    ("stale_trade_frac_1m", "DOUBLE", ""),
)

_ARROW_TYPE: dict[str, pa.DataType] = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "TINYINT": pa.int8(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
}
_NUMPY_TYPE: dict[str, type[np.generic]] = {
    "BIGINT": np.int64,
    "INTEGER": np.int32,
    "TINYINT": np.int8,
    "DOUBLE": np.float64,
}

# Column names, in table order, that hold a nanosecond timestamp on the way in.
_TS_COLUMNS = frozenset({"ts_ms", "ts_min"})


def _create_sql(table: str, cols: Sequence[tuple[str, str, str]], *, if_not_exists: bool = False) -> str:
    body = ", ".join(" ".join(p for p in c if p) for c in cols)
    return f"CREATE TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{table} ({body})"


def _schema(cols: Sequence[tuple[str, str, str]]) -> pa.Schema:
    return pa.schema([pa.field(n, _ARROW_TYPE[t], nullable=(k != "NOT NULL")) for n, t, k in cols])


def _column(values: Any, sql_type: str, n: int, null_value: int | None = None) -> pa.Array:
    """One Arrow column of the target type; NaN (floats) and `null_value` (ints) become NULL."""
    if sql_type == "BOOLEAN":
        return pa.array([None if v is None else bool(v) for v in values], type=pa.bool_())
    arr = np.asarray(values, dtype=_NUMPY_TYPE[sql_type])
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"expected a 1-D array of length {n}, got shape {arr.shape}")
    if sql_type == "DOUBLE":
        mask = np.isnan(arr)
    elif null_value is not None:
        mask = arr == null_value
    else:
        mask = None
    if mask is not None and not mask.any():
        mask = None
    return pa.array(arr, type=_ARROW_TYPE[sql_type], mask=mask)


def _int_column_with_none(values: Sequence[Any], sql_type: str) -> pa.Array:
    """An integer column from Python values where None is NULL (minute rows)."""
    return pa.array([None if v is None else int(v) for v in values], type=_ARROW_TYPE[sql_type])


def _minute_table(rows: Sequence[tuple[Any, ...]], cols: Sequence[tuple[str, str, str]]) -> pa.Table:
    width = len(cols)
    for r in rows:
        if len(r) != width:
            raise ValueError(f"minute row has {len(r)} fields, expected {width}")
    columns = list(zip(*rows, strict=True))
    n = len(rows)
    arrays: list[pa.Array] = []
    for (name, sql_type, _), values in zip(cols, columns, strict=True):
        if name in _TS_COLUMNS:
            ts_ns = np.asarray(values, dtype=np.int64)
            arrays.append(pa.array(ts_ns // _NS_PER_MS, type=pa.int64()))
        elif sql_type == "DOUBLE":
            # None and NaN both end up NULL: np.asarray turns None into NaN for a float dtype.
            arrays.append(_column(np.asarray(values, dtype=np.float64), sql_type, n))
        elif sql_type == "BOOLEAN":
            arrays.append(_column(values, sql_type, n))
        else:
            arrays.append(_int_column_with_none(values, sql_type))
    return pa.Table.from_arrays(arrays, schema=_schema(cols))


# Where each table column sits in an append call's arguments, and the integer that means NULL.
_TRADE_ORDER = (0, 1, 2, 5, 6, 7, 8, 3, 4)  # ts, price, size, inferred, bid, ask, staleness, side, id
_TRADE_NULLS = {"quote_staleness_ms": -1, "exchange_side": 0, "trade_id": -1}
_QUOTE_ORDER = (0, 1, 2, 3, 4)


def _raw_table(cols: Sequence[tuple[str, str, str]], chunks: list[list[Any]], order: Sequence[int],
               nulls: dict[str, int]) -> pa.Table:
    """The buffered append calls of one raw table as one Arrow table (timestamps ns → ms)."""
    merged = [np.concatenate(c) for c in zip(*chunks, strict=True)]
    n = len(merged[0])
    arrays = []
    for (name, sql_type, _), i in zip(cols, order, strict=True):
        values = merged[i] // _NS_PER_MS if name in _TS_COLUMNS else merged[i]
        arrays.append(_column(values, sql_type, n, null_value=nulls.get(name)))
    return pa.Table.from_arrays(arrays, schema=_schema(cols))


class RunStores:
    """The DuckDB stores of one run directory; see the module docstring."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.raw_path = self.run_dir / RAW_DB
        self.features_path = self.run_dir / FEATURES_DB
        for p in (self.raw_path, self.features_path):
            for stale in (p, p.with_name(p.name + ".wal")):
                stale.unlink(missing_ok=True)
        self._bars: list[tuple[Any, ...]] = []
        self._features: list[tuple[Any, ...]] = []
        self._trades: list[list[Any]] = []
        self._quotes: list[list[Any]] = []
        self._raw_rows = 0
        self._closed = False
        self._raw = duckdb.connect(str(self.raw_path))
        try:
            self._feat = duckdb.connect(str(self.features_path))
        except BaseException:
            self._raw.close()
            raise
        try:
            self._raw.execute(_create_sql("raw_trades", _RAW_TRADES))
            self._raw.execute(_create_sql("raw_quotes", _RAW_QUOTES))
            self._feat.execute(_create_sql("bars_1m", _BARS_1M))
            self._feat.execute(_create_sql("features_1m", _FEATURES_1M))
        except BaseException:
            self._raw.close()
            self._feat.close()
            raise

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> RunStores:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writes ----------------------------------------------------------------------------------

    def append_raw_trades(
        self,
        ts_ns: Any,
        price: Any,
        size: Any,
        exchange_side: Any,
        trade_id: Any,
        inferred_side: Any,
        quote_bid_px: Any,
        quote_ask_px: Any,
        quote_staleness_ms: Any,
    ) -> None:
        """Equal-length arrays (int64, f64, f64, int8, int64, int8, f64, f64, int32), buffered."""
        self._check_open()
        n = len(ts_ns)
        self._check_lengths(n, price, size, exchange_side, trade_id, inferred_side, quote_bid_px, quote_ask_px,
                            quote_staleness_ms)
        if n:
            self._trades.append([np.asarray(ts_ns, dtype=np.int64), price, size, exchange_side, trade_id,
                                 inferred_side, quote_bid_px, quote_ask_px, quote_staleness_ms])
            self._raw_rows += n
            if self._raw_rows >= RAW_FLUSH_ROWS:
                self.flush_raw()

    def append_raw_quotes(self, ts_ns: Any, bid_px: Any, bid_sz: Any, ask_px: Any, ask_sz: Any) -> None:
        """Equal-length arrays (int64 ns, then four f64), buffered."""
        self._check_open()
        n = len(ts_ns)
        self._check_lengths(n, bid_px, bid_sz, ask_px, ask_sz)
        if n:
            self._quotes.append([np.asarray(ts_ns, dtype=np.int64), bid_px, bid_sz, ask_px, ask_sz])
            self._raw_rows += n
            if self._raw_rows >= RAW_FLUSH_ROWS:
                self.flush_raw()

    def flush_raw(self) -> None:
        """Write the buffered raw tape: one INSERT per table (an INSERT has a fixed cost of a few
        milliseconds, so many small ones would dominate a long run)."""
        self._check_open()
        trades, self._trades = self._trades, []
        quotes, self._quotes = self._quotes, []
        self._raw_rows = 0
        if trades:
            self._insert(self._raw, "raw_trades", _raw_table(_RAW_TRADES, trades, _TRADE_ORDER, _TRADE_NULLS))
        if quotes:
            self._insert(self._raw, "raw_quotes", _raw_table(_RAW_QUOTES, quotes, _QUOTE_ORDER, {}))

    def append_minutes(self, bars: list[tuple[Any, ...]], features: list[tuple[Any, ...]]) -> None:
        """Buffer closed-minute rows (first field: minute start in ns); written every day or on flush."""
        self._check_open()
        for r in bars:
            if len(r) != len(_BARS_1M):
                raise ValueError(f"bars_1m row has {len(r)} fields, expected {len(_BARS_1M)}")
        for r in features:
            if len(r) != len(_FEATURES_1M):
                raise ValueError(f"features_1m row has {len(r)} fields, expected {len(_FEATURES_1M)}")
        self._bars.extend(bars)
        self._features.extend(features)
        if len(self._bars) >= MINUTE_FLUSH_ROWS or len(self._features) >= MINUTE_FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered minute rows: one INSERT per table, both in one transaction."""
        self._check_open()
        if not self._bars and not self._features:
            return
        bars, self._bars = self._bars, []
        features, self._features = self._features, []
        # Build both tables before touching the database so a malformed row writes nothing.
        bars_t = _minute_table(bars, _BARS_1M) if bars else None
        feats_t = _minute_table(features, _FEATURES_1M) if features else None
        con = self._feat
        con.execute("BEGIN TRANSACTION")
        # On a failed insert `_insert` rolls the whole transaction back (bars and features) and
        # re-raises; the dropped rows are not retried by a later flush or close.
        if bars_t is not None:
            self._insert(con, "bars_1m", bars_t, in_transaction=True)
        if feats_t is not None:
            self._insert(con, "features_1m", feats_t, in_transaction=True)
        con.execute("COMMIT")

    def close(self) -> None:
        """Flush and close both databases; a second call does nothing."""
        if self._closed:
            return
        try:
            self.flush_raw()
            self.flush()
        finally:
            self._closed = True
            try:
                self._raw.close()
            finally:
                self._feat.close()

    # -- internals -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"RunStores for {self.run_dir} is closed")

    @staticmethod
    def _check_lengths(n: int, *arrays: Any) -> None:
        for a in arrays:
            if len(a) != n:
                raise ValueError(f"arrays of unequal length: {len(a)} != {n}")

    @staticmethod
    def _insert(
        con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table, *, in_transaction: bool = False
    ) -> None:
        """One INSERT of a whole Arrow table. Inside an explicit transaction a failure rolls it back
        first (an aborted transaction accepts nothing else, not even the unregister)."""
        cols = ", ".join(batch.column_names)
        con.register("_stores_batch", batch)
        try:
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _stores_batch")
        except BaseException:
            if in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_stores_batch")


# -- for other writers of a raw store (the live collector, `sim.live.collector`) ------------------------

#: (name, SQL type, constraint) of each raw table, in table order.
RAW_TABLE_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {"raw_trades": _RAW_TRADES, "raw_quotes": _RAW_QUOTES}

#: One INSERT of a whole Arrow table into an open connection (`RunStores._insert`).
insert_arrow = RunStores._insert


def raw_create_sql(table: str, extra: Sequence[tuple[str, str, str]] = ()) -> str:
    """`CREATE TABLE IF NOT EXISTS` of `raw_trades` or `raw_quotes`: its columns, then `extra`."""
    return _create_sql(table, RAW_TABLE_COLUMNS[table] + tuple(extra), if_not_exists=True)


def raw_trades_arrow(ts_ns: Any, price: Any, size: Any, exchange_side: Any, trade_id: Any) -> pa.Table:
    """Exchange trades (equal-length arrays: int64 ns, f64, f64, int8, int64) as a `raw_trades`
    Arrow table, mapped as a replay maps them (ns → ms, side 0 and id −1 → NULL).

    The alignment columns (inferred side, quote at the trade, its staleness) are NULL: they are
    the market engine's work, which a writer of the raw feed has not done.
    """
    n = len(ts_ns)
    nan = np.full(n, np.nan)
    chunk = [np.asarray(ts_ns, dtype=np.int64), price, size, exchange_side, trade_id,
             np.zeros(n, dtype=np.int8), nan, nan, np.full(n, -1, dtype=np.int32)]
    table = _raw_table(_RAW_TRADES, [chunk], _TRADE_ORDER, _TRADE_NULLS)
    # `_raw_table` has no NULL marker for inferred_side (0 is a real value there: ambiguous).
    i = table.schema.get_field_index("inferred_side")
    return table.set_column(i, table.schema.field(i), pa.nulls(n, pa.int8()))


def raw_quotes_arrow(ts_ns: Any, bid_px: Any, bid_sz: Any, ask_px: Any, ask_sz: Any) -> pa.Table:
    """L1 quotes (equal-length arrays: int64 ns, then four f64) as a `raw_quotes` Arrow table."""
    chunk = [np.asarray(ts_ns, dtype=np.int64), bid_px, bid_sz, ask_px, ask_sz]
    return _raw_table(_RAW_QUOTES, [chunk], _QUOTE_ORDER, {})


# -- for other writers of a features store (a live session's data directory, `sim.live.minute_stores`) --

#: (name, SQL type, constraint) of each minute table, in table order.
MINUTE_TABLE_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {"bars_1m": _BARS_1M, "features_1m": _FEATURES_1M}


def minute_create_sql(table: str) -> str:
    """`CREATE TABLE IF NOT EXISTS` of `bars_1m` or `features_1m`."""
    return _create_sql(table, MINUTE_TABLE_COLUMNS[table], if_not_exists=True)


def minute_arrow(table: str, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Minute rows (first field: the minute's start in ns) as an Arrow table of `table`, mapped as
    a replay maps them."""
    return _minute_table(rows, MINUTE_TABLE_COLUMNS[table])
