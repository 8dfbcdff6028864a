"""The run's DuckDB stores: schemas in spec order, value and NULL mapping, batching, fresh files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from sim.outputs import stores
from sim.outputs.stores import FEATURES_DB, RAW_DB, RunStores

NAN = float("nan")
MIN_NS = 60_000_000_000
T0_NS = 1_700_000_040_000_000_000  # a minute boundary


def _read(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _columns(path: Path, table: str) -> list[tuple[str, str]]:
    rows = _read(path, f"DESCRIBE {table}")
    return [(r[0], r[1]) for r in rows]


def _bar(ts_ns: int, close: float = 100.5) -> tuple:
    return (ts_ns, 100.0, 101.0, 99.5, close, 2.5, 100.25, 7, 100.4, 100.6, 1.5, 2.5, 0.2, NAN)


def _feat(ts_ns: int) -> tuple:
    return (
        ts_ns, 100.5, NAN, 0.5, 100.0, 101.0, 99.0, 0.7, 5, 1.25, 0.5, 0.1, None, 0.0, 600.0,
        True, False, None, True, 0.25,
    )  # fmt: skip


def _trades(n: int = 3) -> dict[str, np.ndarray]:
    return {
        "ts_ns": np.array([T0_NS + 1_999_999, T0_NS + 2_000_000, T0_NS + 5_000_000_000][:n], dtype=np.int64),
        "price": np.array([100.0, 100.5, 99.5][:n]),
        "size": np.array([0.1, 0.2, 0.3][:n]),
        "exchange_side": np.array([1, 0, -1][:n], dtype=np.int8),
        "trade_id": np.array([11, -1, 13][:n], dtype=np.int64),
        "inferred_side": np.array([1, 0, -1][:n], dtype=np.int8),
        "quote_bid_px": np.array([99.9, NAN, 99.4][:n]),
        "quote_ask_px": np.array([100.1, NAN, 99.6][:n]),
        "quote_staleness_ms": np.array([5, -1, 0][:n], dtype=np.int32),
    }


def test_schemas_in_spec_order(tmp_path: Path) -> None:
    with RunStores(tmp_path):
        pass
    assert _columns(tmp_path / RAW_DB, "raw_trades") == [
        ("ts_ms", "BIGINT"), ("price", "DOUBLE"), ("size", "DOUBLE"), ("inferred_side", "TINYINT"),
        ("quote_bid_px", "DOUBLE"), ("quote_ask_px", "DOUBLE"), ("quote_staleness_ms", "INTEGER"),
        ("exchange_side", "TINYINT"), ("trade_id", "BIGINT"),
    ]  # fmt: skip
    assert _columns(tmp_path / RAW_DB, "raw_quotes") == [
        ("ts_ms", "BIGINT"), ("bid_px", "DOUBLE"), ("bid_sz", "DOUBLE"), ("ask_px", "DOUBLE"), ("ask_sz", "DOUBLE"),
    ]  # fmt: skip
    bars = _columns(tmp_path / FEATURES_DB, "bars_1m")
    assert [c for c, _ in bars] == [
        "ts_min", "open", "high", "low", "close", "volume", "vwap", "trade_count", "bid_px_close", "ask_px_close",
        "bid_sz_close", "ask_sz_close", "spread_close", "spread_avg_60m",
    ]  # fmt: skip
    assert dict(bars)["ts_min"] == "BIGINT" and dict(bars)["trade_count"] == "INTEGER"
    feats = _columns(tmp_path / FEATURES_DB, "features_1m")
    assert [c for c, _ in feats] == [
        "ts_min", "mid_close", "sigma_240", "bin_width", "poc", "vah", "val", "va_coverage", "va_bin_count", "of_1m",
        "of_norm_1m", "qimb_close", "qimb_ema_60s", "ambiguous_trade_frac_1m", "total_volume_4h",
        "va_valid", "rebucketed", "near_vah", "near_val", "stale_trade_frac_1m",
    ]  # fmt: skip
    types = dict(feats)
    assert types["va_bin_count"] == "INTEGER"
    assert all(types[c] == "BOOLEAN" for c in ("va_valid", "rebucketed", "near_vah", "near_val"))
    assert types["stale_trade_frac_1m"] == "DOUBLE"
    # Primary keys and NOT NULL as in the spec.
    pk = _read(
        tmp_path / FEATURES_DB,
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
        "ORDER BY table_name",
    )
    assert pk == [("bars_1m", ["ts_min"]), ("features_1m", ["ts_min"])]
    not_null = _read(
        tmp_path / RAW_DB,
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT is_nullable ORDER BY table_name, column_index",
    )
    assert not_null == [
        ("raw_quotes", "ts_ms"), ("raw_quotes", "bid_px"), ("raw_quotes", "bid_sz"), ("raw_quotes", "ask_px"),
        ("raw_quotes", "ask_sz"), ("raw_trades", "ts_ms"), ("raw_trades", "price"), ("raw_trades", "size"),
    ]  # fmt: skip


def test_raw_trades_round_trip_and_null_mapping(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:
        st.append_raw_trades(**_trades())
    rows = _read(tmp_path / RAW_DB, "SELECT * FROM raw_trades ORDER BY rowid")
    assert rows == [
        (T0_NS // 1_000_000 + 1, 100.0, 0.1, 1, 99.9, 100.1, 5, 1, 11),
        (T0_NS // 1_000_000 + 2, 100.5, 0.2, 0, None, None, None, None, None),
        (T0_NS // 1_000_000 + 5000, 99.5, 0.3, -1, 99.4, 99.6, 0, -1, 13),
    ]


def test_raw_quotes_round_trip_and_batches_append(tmp_path: Path) -> None:
    ts = np.array([T0_NS, T0_NS + 999_999, T0_NS + 1_000_000], dtype=np.int64)
    with RunStores(tmp_path) as st:
        st.append_raw_quotes(ts, np.array([99.9, 99.8, 99.7]), np.array([1.0, 2.0, 3.0]),
                             np.array([100.1, 100.2, 100.3]), np.array([0.5, 0.0, 4.0]))  # fmt: skip
        st.append_raw_quotes(ts[:1] + MIN_NS, np.array([98.0]), np.array([1.0]), np.array([98.5]), np.array([2.0]))
    rows = _read(tmp_path / RAW_DB, "SELECT * FROM raw_quotes ORDER BY rowid")
    t0 = T0_NS // 1_000_000
    assert rows == [
        (t0, 99.9, 1.0, 100.1, 0.5),
        (t0, 99.8, 2.0, 100.2, 0.0),
        (t0 + 1, 99.7, 3.0, 100.3, 4.0),
        (t0 + 60_000, 98.0, 1.0, 98.5, 2.0),
    ]


def test_nan_in_not_null_column_is_rejected(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:
        one = np.array([1.0])
        st.append_raw_quotes(np.array([T0_NS], dtype=np.int64), np.array([NAN]), one, one, one)
        with pytest.raises(duckdb.ConstraintException):  # raw rows are buffered: it shows when written
            st.flush_raw()
    assert _read(tmp_path / RAW_DB, "SELECT count(*) FROM raw_quotes") == [(0,)]


def test_empty_and_unequal_arrays(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:
        empty = {k: v[:0] for k, v in _trades().items()}
        st.append_raw_trades(**empty)
        e = np.array([], dtype=np.float64)
        st.append_raw_quotes(np.array([], dtype=np.int64), e, e, e, e)
        st.append_minutes([], [])
        bad = _trades()
        bad["price"] = bad["price"][:2]
        with pytest.raises(ValueError, match="length"):
            st.append_raw_trades(**bad)
    assert _read(tmp_path / RAW_DB, "SELECT (SELECT count(*) FROM raw_trades), (SELECT count(*) FROM raw_quotes)") == [
        (0, 0)
    ]


def test_minutes_round_trip_buffered_until_flush(tmp_path: Path) -> None:
    st = RunStores(tmp_path)
    st.append_minutes([_bar(T0_NS), _bar(T0_NS + MIN_NS, close=101.0)], [_feat(T0_NS)])
    assert st._feat.execute("SELECT count(*) FROM bars_1m").fetchall() == [(0,)]  # buffered
    st.flush()
    assert st._feat.execute("SELECT count(*) FROM bars_1m").fetchall() == [(2,)]
    st.close()
    t0 = T0_NS // 1_000_000
    assert t0 % 60_000 == 0
    bars = _read(tmp_path / FEATURES_DB, "SELECT * FROM bars_1m ORDER BY ts_min")
    assert bars == [
        (t0, 100.0, 101.0, 99.5, 100.5, 2.5, 100.25, 7, 100.4, 100.6, 1.5, 2.5, 0.2, None),
        (t0 + 60_000, 100.0, 101.0, 99.5, 101.0, 2.5, 100.25, 7, 100.4, 100.6, 1.5, 2.5, 0.2, None),
    ]
    feats = _read(tmp_path / FEATURES_DB, "SELECT * FROM features_1m")
    assert feats == [
        (t0, 100.5, None, 0.5, 100.0, 101.0, 99.0, 0.7, 5, 1.25, 0.5, 0.1, None, 0.0, 600.0,
         True, False, None, True, 0.25),
    ]  # fmt: skip


def test_minutes_flush_by_day_in_few_inserts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inserts: list[tuple[str, int]] = []
    real = RunStores._insert

    def counting(con, table, batch, **kw):  # noqa: ANN001, ANN003
        inserts.append((table, batch.num_rows))
        real(con, table, batch, **kw)

    monkeypatch.setattr(RunStores, "_insert", staticmethod(counting))
    n = stores.MINUTE_FLUSH_ROWS + 10
    with RunStores(tmp_path) as st:
        for i in range(n):
            st.append_minutes([_bar(T0_NS + i * MIN_NS)], [_feat(T0_NS + i * MIN_NS)])
        assert inserts == [("bars_1m", 1440), ("features_1m", 1440)]
    assert inserts[2:] == [("bars_1m", 10), ("features_1m", 10)]
    assert _read(tmp_path / FEATURES_DB, "SELECT count(*), count(DISTINCT ts_min) FROM bars_1m") == [(n, n)]
    assert _read(tmp_path / FEATURES_DB, "SELECT count(*) FROM features_1m") == [(n,)]


def test_duplicate_minute_violates_primary_key(tmp_path: Path) -> None:
    st = RunStores(tmp_path)
    st.append_minutes([_bar(T0_NS)], [_feat(T0_NS)])
    st.flush()
    st.append_minutes([_bar(T0_NS + MIN_NS), _bar(T0_NS)], [_feat(T0_NS + MIN_NS)])
    with pytest.raises(duckdb.ConstraintException):
        st.flush()
    st.close()  # the failed batch was dropped and rolled back as a whole: close does not re-raise
    assert st.closed
    t0 = T0_NS // 1_000_000
    assert _read(tmp_path / FEATURES_DB, "SELECT ts_min FROM bars_1m") == [(t0,)]
    assert _read(tmp_path / FEATURES_DB, "SELECT ts_min FROM features_1m") == [(t0,)]


def test_failed_flush_rolls_back_both_tables(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:
        st.append_minutes([_bar(T0_NS)], [_feat(T0_NS)])
        st.flush()
        st.append_minutes([_bar(T0_NS + MIN_NS)], [_feat(T0_NS)])  # the bar is fine, the feature row clashes
        with pytest.raises(duckdb.ConstraintException):
            st.flush()
        st.append_minutes([_bar(T0_NS + 2 * MIN_NS)], [_feat(T0_NS + 2 * MIN_NS)])  # usable afterwards
    t0 = T0_NS // 1_000_000
    assert _read(tmp_path / FEATURES_DB, "SELECT ts_min FROM bars_1m ORDER BY 1") == [(t0,), (t0 + 120_000,)]
    assert _read(tmp_path / FEATURES_DB, "SELECT ts_min FROM features_1m ORDER BY 1") == [(t0,), (t0 + 120_000,)]


def test_reopen_same_dir_starts_fresh(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"  # created on demand
    with RunStores(run_dir) as st:
        st.append_raw_trades(**_trades())
        st.append_minutes([_bar(T0_NS)], [_feat(T0_NS)])
    assert (run_dir / RAW_DB).is_file() and (run_dir / FEATURES_DB).is_file()
    with RunStores(run_dir) as st:
        st.append_raw_trades(**_trades(1))
        st.append_minutes([_bar(T0_NS)], [_feat(T0_NS)])  # same minute again: no PK clash with the old run
    assert _read(run_dir / RAW_DB, "SELECT count(*) FROM raw_trades") == [(1,)]
    assert _read(run_dir / FEATURES_DB, "SELECT count(*) FROM bars_1m") == [(1,)]


def test_context_manager_closes_and_close_is_idempotent(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:
        st.append_minutes([_bar(T0_NS)], [])
    assert st.closed
    st.close()
    with pytest.raises(RuntimeError, match="closed"):
        st.append_minutes([_bar(T0_NS)], [])
    with pytest.raises(duckdb.ConnectionException):
        st._raw.execute("SELECT 1")
    # Closed means the files are released: another writer can open them.
    con = duckdb.connect(str(tmp_path / FEATURES_DB))
    try:
        assert con.execute("SELECT count(*) FROM bars_1m").fetchall() == [(1,)]
    finally:
        con.close()


def test_context_manager_closes_on_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        with RunStores(tmp_path) as st:
            st.append_minutes([_bar(T0_NS)], [_feat(T0_NS)])
            raise KeyError("boom")
    assert st.closed
    assert _read(tmp_path / FEATURES_DB, "SELECT count(*) FROM features_1m") == [(1,)]


def test_minute_row_width_checked(tmp_path: Path) -> None:
    with RunStores(tmp_path) as st:
        with pytest.raises(ValueError, match="bars_1m row has 3 fields"):
            st.append_minutes([(T0_NS, 1.0, 2.0)], [])
        with pytest.raises(ValueError, match="features_1m row has 14 fields"):
            st.append_minutes([], [_bar(T0_NS)])
