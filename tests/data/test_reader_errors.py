"""Bad input: every case is a DataFileError naming the file and, where it can be located, the row.

Values the engine judges (NaN, empty, zero or negative numbers, crossed quotes, time going
backwards) are not errors of the reader: they pass through unchanged.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.data.readers import open_source
from sim.data.schema import META_KIND, TRADES
from sim.core.errors import DataFileError, UserInputError

HEADER = "ts_ms,price,size,side,trade_id\n"
T0 = 1_680_652_700_000


def trade_rows(n: int) -> list[str]:
    return [f"{T0 + i},{28000 + i % 1000:05d}.5,0.125,{'buy' if i % 2 else 'sell'},{10**9 + i}\n" for i in range(n)]


def read(path: Path, fmt: str = "trades_csv", kind: str | None = None, **options: Any) -> int:
    return sum(b.num_rows for _, b in open_source(path, fmt, kind, **options).batches())


def error_of(path: Path, fmt: str = "trades_csv", kind: str | None = None, **options: Any) -> DataFileError:
    with pytest.raises(DataFileError) as e:
        read(path, fmt, kind, **options)
    assert str(path) in str(e.value)
    return e.value


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("row", [1, 7, 2_500, 9_999])
def test_non_numeric_value(write: Any, gz: bool, row: int) -> None:
    rows = trade_rows(10_000)
    rows[row - 1] = rows[row - 1].replace("0.125", "abc")
    err = error_of(write("t.csv", HEADER + "".join(rows), gz=gz), block_size=4096)
    assert err.row == row
    assert f"row {row}:" in str(err) and "'abc'" in str(err) and "size" in str(err)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("row", "line"), [(3, "1680652700000,1.5,2\n"), (4_321, "1680652700000,1.5,2,buy,7,extra\n")])
def test_wrong_field_count(write: Any, gz: bool, row: int, line: str) -> None:
    rows = trade_rows(6_000)
    rows[row - 1] = line
    err = error_of(write("t.csv", HEADER + "".join(rows), gz=gz), block_size=8192)
    assert err.row == row
    assert "expected 5 fields" in str(err)


def test_wrong_field_count_headerless(write: Any) -> None:
    rows = trade_rows(3_000)
    rows[2_000] = "1680652700000,1.5\n"
    err = error_of(write("t.csv", "".join(rows)), block_size=4096)
    assert err.row == 2_001


def complete_rows_in(prefix: bytes) -> int:
    """Data rows fully present (newline included) in what the stdlib decompresses of a cut gzip file."""
    text = zlib.decompressobj(wbits=31).decompress(prefix)
    return text.count(b"\n") - 1


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.97])
def test_truncated_gzip(tmp_path: Path, cut: float) -> None:
    rows = trade_rows(50_000)
    raw = gzip.compress((HEADER + "".join(rows)).encode(), mtime=0)
    prefix = raw[: int(len(raw) * cut)]
    path = tmp_path / "t.csv.gz"
    path.write_bytes(prefix)
    expected = complete_rows_in(prefix)
    assert 0 < expected < len(rows)
    err = error_of(path, block_size=1 << 16)
    assert f"truncated gzip stream after row {expected}" in str(err)


def test_truncated_gzip_inside_the_first_block(tmp_path: Path) -> None:
    rows = trade_rows(2_000)
    raw = gzip.compress((HEADER + "".join(rows)).encode(), mtime=0)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(raw[: len(raw) // 2])
    expected = complete_rows_in(raw[: len(raw) // 2])
    err = error_of(path)  # the whole file is one block: the error comes while opening
    assert f"truncated gzip stream after row {expected}" in str(err)


def test_corrupt_gzip(tmp_path: Path) -> None:
    raw = bytearray(gzip.compress((HEADER + "".join(trade_rows(50_000))).encode(), mtime=0))
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(bytes(raw))
    err = error_of(path, block_size=1 << 16)
    assert "gzip stream after row" in str(err)


@pytest.mark.parametrize("row", [1, 5, 3_000])
def test_null_timestamp(write: Any, row: int) -> None:
    rows = trade_rows(4_000)
    rows[row - 1] = "," + rows[row - 1].split(",", 1)[1]
    err = error_of(write("t.csv", HEADER + "".join(rows)), block_size=4096)
    assert err.row == row
    assert "missing timestamp" in str(err)


def test_unparseable_timestamp_later_in_the_file(write: Any) -> None:
    rows = trade_rows(4_000)
    rows[3_500] = "2023-04-05T00:00:00Z" + rows[3_500][13:]
    err = error_of(write("t.csv", HEADER + "".join(rows)), block_size=4096)
    assert err.row == 3_501


@pytest.mark.parametrize(
    ("name", "text", "gz", "message"),
    [
        ("empty.csv", "", False, "empty file"),
        ("empty.csv", "", True, "empty file"),
        ("blank.csv", "\n\n", False, "empty file"),
        ("header.csv", HEADER, False, "no data rows"),
        ("header.csv", HEADER, True, "no data rows"),
    ],
)
def test_empty_files(write: Any, name: str, text: str, gz: bool, message: str) -> None:
    err = error_of(write(name, text, gz=gz))
    assert message in str(err)


def test_gz_name_without_gzip_content(write: Any) -> None:
    err = error_of(write("t.csv.gz", HEADER + "".join(trade_rows(10))))
    assert "gzip" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    for fmt, kind in [("trades_csv", None), ("parquet", "trades"), ("feather", "klines")]:
        with pytest.raises(DataFileError, match="no such file"):
            open_source(tmp_path / "nope", fmt, kind)


def test_bad_side_and_trade_id(write: Any) -> None:
    rows = trade_rows(100)
    rows[41] = rows[41].replace(",buy,", ",hold,")
    assert error_of(write("s.csv", HEADER + "".join(rows))).row == 42
    rows = trade_rows(100)
    rows[62] = rows[62].replace(f",{10**9 + 62}", ",x62")
    assert error_of(write("i.csv", HEADER + "".join(rows))).row == 63


def test_bybit_non_uuid_trade_id(write: Any) -> None:
    head = "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional\n"
    good = "1670889600.1234,BTCUSDT,Buy,0.001,17104.5,PlusTick,8a5c1a8f-3b2e-4d6c-9f01-23456789abcd,1,0.001,17.1\n"
    bad = good.replace("8a5c1a8f-3b2e-4d6c-9f01-23456789abcd", "12345")
    err = error_of(write("b.csv", head + good * 3 + bad + good), "bybit_trades_csv")
    assert err.row == 4 and "not a UUID" in str(err)


def test_values_for_the_engine_pass_through(write: Any) -> None:
    text = "ts_ms,bid_px,bid_sz,ask_px,ask_sz\n"
    text += "1680652700000,100.5,1,100.4,2\n"  # crossed
    text += "1680652699000,,1,NaN,-2\n"  # empty, NaN, negative, and earlier than the row before
    text += "1680652701000,0,0,100.6,1\n"  # zeros
    table = pa.Table.from_batches([b for _, b in open_source(write("q.csv", text), "quotes_csv").batches()])
    assert table.column("ts_ns").to_pylist() == [1680652700000000000, 1680652699000000000, 1680652701000000000]
    np.testing.assert_array_equal(table.column("bid_px").to_numpy(), [100.5, np.nan, 0.0])
    np.testing.assert_array_equal(table.column("ask_px").to_numpy(), [100.4, np.nan, 100.6])
    np.testing.assert_array_equal(table.column("ask_sz").to_numpy(), [2.0, -2.0, 1.0])


def test_parquet_null_timestamp_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    ts = pa.array([T0, T0 + 1, None, T0 + 3], pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table({"timestamp": ts, "price": [1.0] * 4, "qty": [1.0] * 4}), path, row_group_size=2)
    with pytest.raises(DataFileError, match="needs its kind"):
        open_source(path, "parquet")
    err = error_of(path, "parquet", "trades", batch_size=2)
    assert err.row == 3
    with pytest.raises(DataFileError, match="no quotes columns"):
        open_source(path, "parquet", "quotes")


def test_own_parquet_kind_must_match(tmp_path: Path) -> None:
    path = tmp_path / "own.parquet"
    empty = pa.Table.from_batches([], schema=TRADES.with_metadata({META_KIND: b"trades"}))
    pq.write_table(empty, path)
    assert read(path, "parquet") == 0  # an imported file with no rows is a valid, empty source
    with pytest.raises(DataFileError, match="holds trades, not quotes"):
        open_source(path, "parquet", "quotes")


def test_open_source_checks_format_kind_and_options(write: Any) -> None:
    path = write("t.csv", HEADER + "".join(trade_rows(3)))
    with pytest.raises(UserInputError, match="unknown format"):
        open_source(path, "excel")
    with pytest.raises(UserInputError, match="holds trades, not quotes"):
        open_source(path, "trades_csv", "quotes")
    with pytest.raises(UserInputError, match="no option interval"):
        open_source(path, "trades_csv", interval="1m")


def test_klines_need_an_interval(write: Any) -> None:
    path = write("k.csv", "open_time,open,high,low,close\n1609459200000,1,2,0.5,1.5\n")
    with pytest.raises(DataFileError, match="interval"):
        open_source(path, "klines_csv")
    assert open_source(path, "klines_csv", interval="1d").interval_ns == 86_400 * 10**9
