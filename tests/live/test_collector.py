"""The live raw-tick collector: batched Arrow writes that read back exactly, 48 h retention by the
injected clock, appends across re-opens, and durability of flushed rows through a SIGKILL."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

from sim.live.collector import DEFAULT_RETENTION_NS, RawCollector
from sim.core.errors import DataFileError
from sim.outputs.stores import RAW_DB, RunStores

REPO = Path(__file__).resolve().parents[2]
MS = 1_000_000
MIN_NS = 60_000_000_000
DAY_NS = 24 * 60 * MIN_NS
T0 = 1_709_251_200_000_000_000  # 2024-03-01T00:00:00Z


class Clock:
    """A settable clock, the collector's only source of time."""

    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def _rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _trade(i: int) -> tuple[int, float, float, int, int]:
    # exchange times not in receipt order, sides including 0 (stored NULL), ids including -1 (NULL)
    return (T0 + (i * 7919 % 101) * MS, 62000.0 + i / 10, 0.001 * (i + 1), (-1, 0, 1)[i % 3], -1 if i % 5 == 0 else i)


def _quote(i: int) -> tuple[int, float, float, float, float]:
    return (T0 + i * 250 * MS, 61999.9 + i / 10, 1.5 + i, 62000.0 + i / 10, 0.25 * i)


def test_rows_written_in_batches_read_back_identical_in_order(tmp_path: Path) -> None:
    clock = Clock(T0 + 5 * MIN_NS)
    col = RawCollector(tmp_path, clock=clock, batch_rows=7)
    trades, quotes = [_trade(i) for i in range(40)], [_quote(i) for i in range(26)]
    recv: list[int] = []
    for i in range(40):
        clock.t += 3 * MS + 1  # receive times from the injected clock only
        col.trade(*trades[i])
        recv.append(clock.t)
        if i < 26:
            col.quote(*quotes[i])
        # a batch is written only when the buffer holds batch_rows rows
        assert col.rows_written % 7 == 0 and col.pending < 7
    assert col.rows_written == 63 and col.pending == 3
    col.close()
    assert col.rows_written == 66 and col.rows_purged == 0

    got_trades = _rows(tmp_path / RAW_DB, "SELECT * FROM raw_trades")
    assert got_trades == [
        (ts // MS, px, sz, None, None, None, None, side or None, None if tid == -1 else tid, r // MS)
        for (ts, px, sz, side, tid), r in zip(trades, recv, strict=True)
    ]
    got_quotes = _rows(tmp_path / RAW_DB, "SELECT * FROM raw_quotes")
    expected = [(ts // MS, bp, bs, ap, az, r // MS) for (ts, bp, bs, ap, az), r in zip(quotes, recv[:26], strict=True)]
    assert got_quotes == expected


def test_schema_is_the_replay_store_schema_plus_a_receive_time_column(tmp_path: Path) -> None:
    with RawCollector(tmp_path / "live", clock=Clock(T0)):
        pass
    with RunStores(tmp_path / "replay"):
        pass
    for table in ("raw_trades", "raw_quotes"):
        live = _rows(tmp_path / "live" / RAW_DB, f"DESCRIBE {table}")
        replay = _rows(tmp_path / "replay" / RAW_DB, f"DESCRIBE {table}")
        assert live[:-1] == replay
        assert live[-1][:3] == ("recv_ts_ms", "BIGINT", "YES")
        assert "recv_ts_ms" not in [r[0] for r in replay]  # what replays write is unchanged


def test_purge_removes_exactly_the_rows_older_than_48h_of_the_clock_once_a_day(tmp_path: Path) -> None:
    now = T0 + 3 * 86_400_000_000_000
    cutoff = now - DEFAULT_RETENTION_NS
    clock = Clock(now)
    ages = [cutoff - 3_600_000 * MS, cutoff - 2 * MS, cutoff - MS, cutoff, cutoff + MS, now - MIN_NS, now]
    col = RawCollector(tmp_path, clock=clock, batch_rows=1000)
    for i, ts in enumerate(ages):
        col.trade(ts, 100.0, 1.0, 1, i)
        col.quote(ts, 99.0, 1.0, 101.0, 1.0)
    col.flush()  # the first flush purges: both tables lose the three rows before the cutoff
    assert col.rows_written == 14 and col.rows_purged == 6
    kept = [ts // MS for ts in ages if ts >= cutoff]
    assert [r[0] for r in col.query("SELECT ts_ms FROM raw_trades")] == kept
    assert [r[0] for r in col.query("SELECT ts_ms FROM raw_quotes")] == kept

    # Within the same clock day (now is a day boundary), flush does not purge again ...
    col.trade(cutoff - MS, 100.0, 1.0, 1, 99)
    col.flush()
    assert col.rows_purged == 6 and col.query("SELECT count(*) FROM raw_trades") == [(5,)]
    # ... an explicit purge always runs ...
    assert col.purge() == 1 and col.rows_purged == 7
    # ... nor a minute later, nor at the day's last minute: the purge is batched daily ...
    for t in (now + MIN_NS, now + DAY_NS - MIN_NS):
        clock.t = t
        col.flush()
        assert col.rows_purged == 7
    # ... and the first flush of the next day purges by the clock's new time (cutoff now - 24 h).
    clock.t = now + DAY_NS
    col.flush()
    assert col.rows_purged == 7 + 2 * 2  # cutoff and cutoff + 1 ms (a day older than the new cutoff), both tables
    col.close()
    kept = [(now - MIN_NS) // MS, now // MS]
    assert [r[0] for r in _rows(tmp_path / RAW_DB, "SELECT ts_ms FROM raw_trades")] == kept
    assert [r[0] for r in _rows(tmp_path / RAW_DB, "SELECT ts_ms FROM raw_quotes")] == kept


def test_reopen_appends_and_never_truncates(tmp_path: Path) -> None:
    clock = Clock(T0)
    for run in range(3):
        with RawCollector(tmp_path, clock=clock, batch_rows=4) as col:
            for i in range(5):
                col.trade(T0 + (run * 5 + i) * MS, 100.0, 1.0, 1, run * 5 + i)
            col.quote(T0 + run * MS, 99.0, 1.0, 101.0, 1.0)
        assert col.rows_written == 6
    assert [r[0] for r in _rows(tmp_path / RAW_DB, "SELECT trade_id FROM raw_trades")] == list(range(15))
    assert _rows(tmp_path / RAW_DB, "SELECT count(*) FROM raw_quotes") == [(3,)]


def test_a_spec_only_store_gains_the_receive_column_and_keeps_its_rows(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:  # a raw.duckdb of the spec's columns only
        st.append_raw_quotes([T0], [99.0], [1.0], [101.0], [1.0])
    with RawCollector(tmp_path, clock=Clock(T0 + MS)) as col:
        col.quote(T0 + 2 * MS, 99.5, 1.0, 100.5, 1.0)
    assert _rows(tmp_path / RAW_DB, "SELECT * FROM raw_quotes") == [
        (T0 // MS, 99.0, 1.0, 101.0, 1.0, None),
        (T0 // MS + 2, 99.5, 1.0, 100.5, 1.0, T0 // MS + 1),
    ]


def test_a_foreign_table_layout_is_refused(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / RAW_DB))
    con.execute("CREATE TABLE raw_trades (ts BIGINT, px DOUBLE)")
    con.close()
    with pytest.raises(DataFileError, match="table raw_trades has columns ts, px"):
        RawCollector(tmp_path, clock=Clock(T0))


def test_values_the_schema_cannot_hold_are_refused_at_the_call(tmp_path: Path) -> None:
    with RawCollector(tmp_path, clock=Clock(T0)) as col:
        with pytest.raises(ValueError, match="trade price is NaN"):
            col.trade(T0, math.nan, 1.0, 1, 1)
        with pytest.raises(ValueError, match="trade side 2"):
            col.trade(T0, 100.0, 1.0, 2, 1)
        with pytest.raises(ValueError, match="must be an integer"):
            col.trade(float(T0), 100.0, 1.0, 1, 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="quote ask_sz is NaN"):
            col.quote(T0, 99.0, 1.0, 101.0, math.nan)
        assert col.pending == 0
        col.quote(T0, 101.0, -1.0, 99.0, 0.0)  # crossed and negative: stored as sent
    stored = _rows(tmp_path / RAW_DB, "SELECT bid_px, bid_sz, ask_px, ask_sz FROM raw_quotes")
    assert stored == [(101.0, -1.0, 99.0, 0.0)]


_CHILD = """
import sys
from pathlib import Path
from sim.live.collector import RawCollector
t0, n, extra = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
col = RawCollector(Path(sys.argv[1]), clock=lambda: t0, batch_rows=1_000_000)
for i in range(n):
    col.trade(t0 + i * 1_000_000, 100.0 + i, 1.0, 1, i)
    col.quote(t0 + i * 1_000_000, 99.0, 1.0, 101.0, 1.0)
col.flush()
for i in range(n, n + extra):  # buffered, never flushed: what a kill loses
    col.trade(t0 + i * 1_000_000, 100.0 + i, 1.0, 1, i)
print("flushed", col.rows_written, flush=True)
sys.stdin.read()  # block until killed
"""


def test_sigkill_between_flushes_loses_only_the_buffer_and_reopen_works(tmp_path: Path) -> None:
    n, extra = 2500, 300
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), str(T0), str(n), str(extra)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == f"flushed {2 * n}\n", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    with RawCollector(tmp_path, clock=Clock(T0)) as col:  # re-open after the kill (WAL replay)
        assert col.query("SELECT count(*), min(trade_id), max(trade_id) FROM raw_trades") == [(n, 0, n - 1)]
        assert col.query("SELECT count(*) FROM raw_quotes") == [(n,)]
        col.trade(T0 + n * MS, 1.0, 1.0, 1, n)
    assert _rows(tmp_path / RAW_DB, "SELECT count(*) FROM raw_trades") == [(n + 1,)]


def test_a_batch_of_column_arrays_reads_back_like_ticks_given_one_by_one(tmp_path: Path) -> None:
    import numpy as np

    rows_t = [(1_700_000_000_000_000_000 + i * 1_000_000, 100.0 + i, 0.5, (-1, 0, 1)[i % 3], i if i % 4 else -1)
              for i in range(50)]
    rows_q = [(1_700_000_000_000_000_000 + i * 1_000_000, 99.5, 1.0, 100.5 + i, 2.0) for i in range(30)]
    one, bulk = tmp_path / "one", tmp_path / "bulk"
    with RawCollector(one, clock=lambda: 1_700_000_000_000_000_000) as c:
        for r in rows_t:
            c.trade(*r)
        for q in rows_q:
            c.quote(*q)
    with RawCollector(bulk, clock=lambda: 1_700_000_000_000_000_000) as c:
        trades = tuple(np.array(col, dtype=dt) for col, dt in zip(zip(*rows_t), (np.int64, float, float, np.int8, np.int64)))
        quotes = tuple(np.array(col, dtype=dt) for col, dt in zip(zip(*rows_q), (np.int64, float, float, float, float)))
        assert c.write_batch(trades, quotes) == 80
        with pytest.raises(ValueError, match="quote ask_px is NaN"):
            c.write_batch(None, tuple(np.array([v]) for v in (1, 1.0, 1.0, float("nan"), 1.0)))
    for table in ("raw_trades", "raw_quotes"):
        a = duckdb.connect(str(one / "raw.duckdb"), read_only=True).execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        b = duckdb.connect(str(bulk / "raw.duckdb"), read_only=True).execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        assert a == b and len(a) in (50, 30)


def test_bars_mode_klines_are_journaled_and_purged_with_the_ticks(tmp_path: Path) -> None:
    now = T0 + 3 * 86_400_000_000_000
    clock = Clock(now)
    col = RawCollector(tmp_path, clock=clock)
    opens = np.array([now - DEFAULT_RETENTION_NS - MIN_NS, now - 2 * MIN_NS, now - MIN_NS], dtype=np.int64)
    px = np.array([100.0, 101.0, 102.0])
    # Written at once (a write-ahead log), and the first write of the day purges the expired one.
    assert col.write_klines(opens, MIN_NS, px, px + 1, px - 1, px, np.array([5.0, 6.0, 7.0])) == 3
    assert col.pending == 0 and col.rows_purged == 1
    assert col.query("SELECT ts_ms, interval_ms, open, high, low, close, volume, recv_ts_ms FROM raw_klines "
                     "ORDER BY rowid") == [(int(t) // MS, 60_000, p, p + 1, p - 1, p, v, now // MS)
                                           for t, p, v in zip(opens[1:], px[1:], (6.0, 7.0))]
    with pytest.raises(ValueError, match="kline close is NaN"):
        col.write_klines(opens[:1], MIN_NS, px[:1], px[:1], px[:1], np.array([math.nan]), px[:1])
    col.close()
