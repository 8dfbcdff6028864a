"""The live raw-tick collector: every trade and L1 quote the live feed receives, appended to
`raw.duckdb` in the data directory (DESIGN §6), with raw ticks older than the retention purged.

Usage (one collector per data directory; DuckDB lets one process write a database file)::

    col = RawCollector(data_dir, clock=session_clock_ns)
    col.trade(ts_ns, price, size, side, trade_id)        # the call shapes of `sim.market.live_feed.LiveFeed`
    col.quote(ts_ns, bid_px, bid_sz, ask_px, ask_sz)
    ...
    col.close()                                          # flushes what is buffered

Schema: the tables and columns of a replay's `raw.duckdb` (`sim.outputs.stores`: raw_trades, raw_quotes,
timestamps in ms, exchange side 0 and trade id −1 stored as NULL), plus one last nullable column
`recv_ts_ms`: the injected clock's time when the tick was handed to the collector. The column
exists only in this live store: a replay's `RunStores` creates its own tables and is unchanged,
and the spec columns keep their order, so a query naming them reads either store. The trade
alignment columns (inferred_side, quote_bid_px, quote_ask_px, quote_staleness_ms) are NULL here:
they are the market engine's work, not the feed's. A file from before the collector (spec columns
only) gets `recv_ts_ms` added, NULL on its old rows; any other column layout is refused.

Bars mode: a session whose market is the exchange's confirmed 1-minute klines journals them in a
table of our own, `raw_klines` (the kline's open time and interval in ms, OHLCV, `recv_ts_ms`),
through `write_klines`, with the same retention; the spec's raw tables stay as they are.

Batching: rows are buffered and written as one Arrow table per table (both in one transaction)
every `batch_rows` buffered rows or on `flush()`. Receipt order is insertion order, which DuckDB
scans return by default.

Retention (spec §2.3: "48h rolling (batched daily purge)"): `purge()` deletes rows whose exchange
time is older than `clock() - retention_ns`; `flush()` calls it at the first flush of each UTC day
of the injected clock (and the first flush after opening), so a day's expired ticks go in one
DELETE rather than a small one every minute, and nothing younger than the retention is ever
lost (a row lives between 48 and 72 hours). Deleted space is reused by DuckDB for later rows;
the file does not shrink.

Crash safety: a flush is one committed transaction (DuckDB's WAL makes it durable), so a process
killed between flushes loses at most the rows still buffered (`pending`, always fewer than
`batch_rows`); re-opening the file after a kill replays the WAL. The live session should call
`flush()` on a timer too, so a quiet market does not hold rows in memory for long. Opening never
truncates or deletes: live sessions append across restarts.

Values: everything the exchange sends is stored as sent, bad prices and crossed quotes included
(the replay's loader judges them); what the schema cannot hold — NaN in a NOT NULL column, a
side other than −1/0/+1, an integer out of range — is refused with ValueError at the `trade` /
`quote` call, so one bad tick never poisons a whole batch. Not thread-safe: call from one thread.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from sim.core.errors import DataFileError
from sim.outputs.stores import RAW_DB, RAW_TABLE_COLUMNS, insert_arrow, raw_create_sql, raw_quotes_arrow, raw_trades_arrow

NS_PER_MS = 1_000_000
NS_PER_MIN = 60_000_000_000
NS_PER_DAY = 24 * 60 * NS_PER_MIN
DEFAULT_RETENTION_NS = 48 * 3600 * 1_000_000_000
DEFAULT_BATCH_ROWS = 5000

#: the receive-time column this live store adds after the spec columns
RECV_COLUMN = ("recv_ts_ms", "BIGINT", "")
#: bars mode's journal: not a spec table, so only in a live store
RAW_KLINES_SQL = """CREATE TABLE IF NOT EXISTS raw_klines (
    ts_ms       BIGINT NOT NULL,  -- the kline's open time
    interval_ms BIGINT NOT NULL,
    open        DOUBLE NOT NULL,
    high        DOUBLE NOT NULL,
    low         DOUBLE NOT NULL,
    close       DOUBLE NOT NULL,
    volume      DOUBLE NOT NULL,
    recv_ts_ms  BIGINT
)"""
_PURGED = (*RAW_TABLE_COLUMNS, "raw_klines")

_INT64 = (-(2**63), 2**63 - 1)


def _int(value: Any, what: str, lo: int = _INT64[0], hi: int = _INT64[1]) -> int:
    try:
        v = operator.index(value)  # ints and numpy integers; a float is refused, not truncated
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} {v} is out of range [{lo}, {hi}]")
    return v


def _required(value: Any, what: str) -> float:
    v = float(value)
    if math.isnan(v):
        # stored as NULL, which the NOT NULL column would reject for the whole batch
        raise ValueError(f"{what} is NaN")
    return v


class RawCollector:
    """Appends live ticks to `data_dir/raw.duckdb`; see the module docstring.

    `clock` returns the current time in Unix ns (the session's injected clock; the collector
    reads no other time). `rows_written` and `rows_purged` count rows over this object's life.
    """

    def __init__(self, data_dir: Path, *, clock: Callable[[], int], retention_ns: int = DEFAULT_RETENTION_NS,
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        if retention_ns <= 0:
            raise ValueError(f"retention_ns must be positive, not {retention_ns}")
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / RAW_DB
        self.retention_ns = int(retention_ns)
        self.batch_rows = int(batch_rows)
        self.rows_written = 0
        self.rows_purged = 0
        self._clock = clock
        self._trades: list[tuple[int, float, float, int, int, int]] = []
        self._quotes: list[tuple[int, float, float, float, float, int]] = []
        self._purge_day: int | None = None
        self._closed = False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(self.path))
        try:
            for table in RAW_TABLE_COLUMNS:
                self._ensure_table(table)
            self._con.execute(RAW_KLINES_SQL)
        except BaseException:
            self._con.close()
            raise

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> RawCollector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written (what a kill now would lose)."""
        return len(self._trades) + len(self._quotes)

    # -- ticks -----------------------------------------------------------------------------------

    def trade(self, ts_ns: int, price: float, size: float, side: int, trade_id: int) -> None:
        """One trade: exchange time (Unix ns), price, size, taker side (+1 buy, −1 sell, 0 unknown),
        trade id (−1 when none). Buffered; a full buffer is flushed."""
        self._check_open()
        row = (_int(ts_ns, "trade ts_ns"), _required(price, "trade price"), _required(size, "trade size"),
               _int(side, "trade side", -1, 1), _int(trade_id, "trade_id"), self._now())
        self._trades.append(row)
        if self.pending >= self.batch_rows:
            self.flush()

    def quote(self, ts_ns: int, bid_px: float, bid_sz: float, ask_px: float, ask_sz: float) -> None:
        """One L1 quote at exchange time `ts_ns` (Unix ns). Buffered; a full buffer is flushed."""
        self._check_open()
        row = (_int(ts_ns, "quote ts_ns"), _required(bid_px, "quote bid_px"), _required(bid_sz, "quote bid_sz"),
               _required(ask_px, "quote ask_px"), _required(ask_sz, "quote ask_sz"), self._now())
        self._quotes.append(row)
        if self.pending >= self.batch_rows:
            self.flush()

    def write_batch(self, trades: tuple[np.ndarray, ...] | None, quotes: tuple[np.ndarray, ...] | None) -> int:
        """Writes column arrays now, in one transaction after anything buffered: trades (ts_ns
        int64, price, size, side int8, trade_id int64) and quotes (ts_ns, bid_px, bid_sz, ask_px,
        ask_sz) — the arrays a live feed gives its engine, so a write-ahead log costs no per-tick
        Python. The same values are refused as by `trade`/`quote` (NaN where NOT NULL, a side
        outside −1..1), for the whole batch. Returns the rows written."""
        self._check_open()
        for cols, names in ((trades, ("trade price", "trade size")),
                            (quotes, ("quote bid_px", "quote bid_sz", "quote ask_px", "quote ask_sz"))):
            if cols is None:
                continue
            for arr, what in zip(cols[1:], names):
                if np.isnan(arr).any():
                    raise ValueError(f"{what} is NaN")
        if trades is not None and ((trades[3] < -1) | (trades[3] > 1)).any():
            raise ValueError("trade side is out of range [-1, 1]")
        if self._trades or self._quotes:
            self.flush()
        recv = self._now() // NS_PER_MS
        tables = []
        if trades is not None and len(trades[0]):
            t = raw_trades_arrow(*trades)
            tables.append(("raw_trades", t.append_column(RECV_COLUMN[0], pa.array(np.full(len(t), recv, np.int64)))))
        if quotes is not None and len(quotes[0]):
            q = raw_quotes_arrow(*quotes)
            tables.append(("raw_quotes", q.append_column(RECV_COLUMN[0], pa.array(np.full(len(q), recv, np.int64)))))
        if not tables:
            return 0
        self._con.execute("BEGIN TRANSACTION")
        for name, table in tables:
            insert_arrow(self._con, name, table, in_transaction=True)  # rolls back on failure
        self._commit()
        written = sum(len(t) for _n, t in tables)
        self.rows_written += written
        if self._now() // NS_PER_DAY != self._purge_day:
            self.purge()
        return written

    def write_klines(self, open_ns: np.ndarray, interval_ns: int, o: np.ndarray, h: np.ndarray, low: np.ndarray,
                     c: np.ndarray, v: np.ndarray) -> int:
        """Confirmed klines (the arrays a bars-mode feed gives its engine), written now in one
        transaction, before the engine sees them. Returns the rows written."""
        self._check_open()
        n = len(open_ns)
        if not n:
            return 0
        for arr, what in ((o, "open"), (h, "high"), (low, "low"), (c, "close"), (v, "volume")):
            if np.isnan(np.asarray(arr, dtype=np.float64)).any():
                raise ValueError(f"kline {what} is NaN")
        table = pa.table({
            "ts_ms": pa.array(np.asarray(open_ns, dtype=np.int64) // NS_PER_MS),
            "interval_ms": pa.array(np.full(n, interval_ns // NS_PER_MS, dtype=np.int64)),
            **{name: pa.array(np.asarray(arr, dtype=np.float64))
               for name, arr in (("open", o), ("high", h), ("low", low), ("close", c), ("volume", v))},
            "recv_ts_ms": pa.array(np.full(n, self._now() // NS_PER_MS, dtype=np.int64)),
        })
        self._con.execute("BEGIN TRANSACTION")
        insert_arrow(self._con, "raw_klines", table, in_transaction=True)  # rolls back on failure
        self._commit()
        self.rows_written += n
        if self._now() // NS_PER_DAY != self._purge_day:
            self.purge()
        return n

    # -- writes ----------------------------------------------------------------------------------

    def flush(self) -> int:
        """Writes the buffer (one INSERT per table, one transaction) and purges if this clock
        day has not been purged yet. Returns the rows written.

        If the write fails the transaction is rolled back and the buffer kept, so a later
        `flush` or `close` retries it; the error is raised.
        """
        self._check_open()
        written = 0
        if self._trades or self._quotes:
            tables = []
            if self._trades:
                tables.append(("raw_trades", self._trades_table()))
            if self._quotes:
                tables.append(("raw_quotes", self._quotes_table()))
            self._con.execute("BEGIN TRANSACTION")
            for name, table in tables:
                insert_arrow(self._con, name, table, in_transaction=True)  # rolls back on failure
            self._commit()
            written = self.pending
            self._trades, self._quotes = [], []
            self.rows_written += written
        if self._now() // NS_PER_DAY != self._purge_day:
            self.purge()
        return written

    def purge(self) -> int:
        """Deletes the stored rows whose exchange time is older than `clock() - retention_ns`
        (buffered rows are not touched until flushed). Returns the rows deleted."""
        self._check_open()
        now = self._now()
        self._purge_day = now // NS_PER_DAY
        # Rows hold ms: a row is older than the cutoff when ts_ms * 1e6 < cutoff, i.e.
        # ts_ms < ceil(cutoff / 1e6).
        cutoff_ms = -(-(now - self.retention_ns) // NS_PER_MS)
        deleted = 0
        self._con.execute("BEGIN TRANSACTION")
        try:
            for table in _PURGED:
                result = self._con.execute(f"DELETE FROM {table} WHERE ts_ms < ?", [cutoff_ms]).fetchone()
                deleted += int(result[0]) if result else 0
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._commit()
        self.rows_purged += deleted
        return deleted

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a read-only query over the stored (flushed) rows. While the collector is open it
        holds the file's write lock, so other processes cannot open the file; read through here."""
        self._check_open()
        return self._con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        """Flushes and closes the database; a second call does nothing. If the final flush
        fails, the buffered rows are lost and the error is raised after closing."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._con.close()

    # -- internals -------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"RawCollector for {self.path} is closed")

    def _commit(self) -> None:
        try:
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def _ensure_table(self, table: str) -> None:
        """Creates `table` if absent; adds the receive-time column to a spec-only table; refuses
        any other layout (it is not a raw store this code wrote)."""
        cols = [r[0] for r in self._con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
            "ORDER BY ordinal_position", [table]).fetchall()]
        spec = [c[0] for c in RAW_TABLE_COLUMNS[table]]
        if not cols:
            self._con.execute(raw_create_sql(table, [RECV_COLUMN]))
        elif cols == spec:
            self._con.execute(f"ALTER TABLE {table} ADD COLUMN {RECV_COLUMN[0]} {RECV_COLUMN[1]}")
        elif cols != spec + [RECV_COLUMN[0]]:
            raise DataFileError(self.path, f"table {table} has columns {', '.join(cols)}; expected "
                                           f"{', '.join(spec + [RECV_COLUMN[0]])}")

    def _trades_table(self) -> pa.Table:
        ts, px, sz, side, tid, recv = zip(*self._trades, strict=True)
        table = raw_trades_arrow(np.array(ts, dtype=np.int64), np.array(px, dtype=np.float64),
                                 np.array(sz, dtype=np.float64), np.array(side, dtype=np.int8),
                                 np.array(tid, dtype=np.int64))
        return table.append_column(RECV_COLUMN[0], self._recv_ms(recv))

    def _quotes_table(self) -> pa.Table:
        ts, bp, bs, ap, az, recv = zip(*self._quotes, strict=True)
        floats = (np.array(c, dtype=np.float64) for c in (bp, bs, ap, az))
        table = raw_quotes_arrow(np.array(ts, dtype=np.int64), *floats)
        return table.append_column(RECV_COLUMN[0], self._recv_ms(recv))

    @staticmethod
    def _recv_ms(recv_ns: tuple[int, ...]) -> pa.Array:
        return pa.array(np.array(recv_ns, dtype=np.int64) // NS_PER_MS, type=pa.int64())
