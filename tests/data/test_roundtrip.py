"""Property: every reader gives back exactly what a generated file holds, in every timestamp unit.

Files are generated with timestamps written as seconds with a fraction, ms, µs, ns, or ISO 8601
(with Z, with an offset, naive), plain or gzip, with or without a header where the format
allows one, and read in small blocks as well as large ones; prices and sizes are decimal
strings, so "exactly" means the nearest double of that decimal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.data.readers import open_source
from sim.data.schema import SCHEMAS
from sim.core.errors import DataFileError

UNITS = ("s", "ms", "us", "ns", "iso_z", "iso_offset", "iso_naive")
RESOLUTION = {"s": 1, "ms": 1_000_000, "us": 1_000, "ns": 1, "iso_z": 1, "iso_offset": 1, "iso_naive": 1}
NS = 1_000_000_000
BYBIT_HEADER = "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional\n"
T_MIN, T_MAX = 1_230_940_800 * NS, 4_102_444_800 * NS - 1  # the plausible range: 2009-01-03 … 2100

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def render_ts(ns: int, unit: str, offset_min: int = 0, sep: str = "T") -> str:
    sec, frac = divmod(ns, NS)
    if unit == "s":
        return f"{sec}.{frac:09d}".rstrip("0").rstrip(".")
    if unit in ("ms", "us", "ns"):
        return str(ns // RESOLUTION[unit])
    shift = offset_min if unit == "iso_offset" else 0
    text = (datetime.fromtimestamp(sec, UTC) + timedelta(minutes=shift)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    if unit == "iso_z":
        return text + "Z"
    if unit == "iso_offset":
        sign = "+" if shift >= 0 else "-"
        return text + f"{sign}{abs(shift) // 60:02d}:{abs(shift) % 60:02d}"
    return text


@st.composite
def decimals(draw: st.DrawFn, empty: bool = False) -> str:
    """A positive decimal string such as "28145.1" (or "" for a missing value)."""
    if empty and draw(st.integers(0, 9)) == 0:
        return ""
    digits = draw(st.integers(1, 10**9))
    places = draw(st.integers(0, 6))
    text = str(digits).rjust(places + 1, "0")
    return f"{text[:-places]}.{text[-places:]}" if places else text


def value(text: str) -> float:
    return float(text) if text else float("nan")


@st.composite
def timestamps(draw: st.DrawFn, n: int, unit: str) -> list[int]:
    res = RESOLUTION[unit]
    values = draw(st.lists(st.integers(T_MIN, T_MAX), min_size=n, max_size=n))
    return [v - v % res for v in values]


@st.composite
def layout(draw: st.DrawFn) -> dict[str, object]:
    return {
        "unit": draw(st.sampled_from(UNITS)),
        "offset": draw(st.integers(-14 * 60, 14 * 60)),
        "sep": draw(st.sampled_from(["T", " "])),
        "gz": draw(st.booleans()),
        "block_size": draw(st.sampled_from([512, 1 << 20])),
        "n": draw(st.integers(1, 40)),
    }


def read_all(path: Path, fmt: str, kind: str | None = None, **options: object) -> tuple[pa.Table, object]:
    source = open_source(path, fmt, kind, **options)
    batches = []
    expected_row0 = 1
    for row0, batch in source.batches():
        assert row0 == expected_row0
        assert batch.schema == SCHEMAS[source.kind]
        expected_row0 += batch.num_rows
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=SCHEMAS[source.kind]), source


def check_column(table: pa.Table, name: str, expected: list[object]) -> None:
    got = table.column(name).to_numpy()
    np.testing.assert_array_equal(got, np.array(expected, dtype=got.dtype), err_msg=name)


@SETTINGS
@given(
    data=st.data(),
    lay=layout(),
    header=st.booleans(),
    wide=st.booleans(),
    ts_name=st.sampled_from(["ts_ms", "ts", "timestamp", "time"]),
)
def test_trades_csv(
    tmp_path_factory: pytest.TempPathFactory,
    write_to: Any,
    data: st.DataObject,
    lay: dict,
    header: bool,
    wide: bool,
    ts_name: str,
) -> None:
    n, unit = lay["n"], lay["unit"]
    ts = data.draw(timestamps(n, unit))
    prices = data.draw(st.lists(decimals(empty=True), min_size=n, max_size=n))
    sizes = data.draw(st.lists(decimals(empty=True), min_size=n, max_size=n))
    sides = data.draw(st.lists(st.sampled_from(["buy", "sell", "Buy", "SELL", ""]), min_size=n, max_size=n))
    ids = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 2**62)), min_size=n, max_size=n))
    wide = wide or not header  # a headerless file of 3 fields is covered by the header case
    lines = [f"{ts_name},price,size" + (",side,trade_id" if wide else "")] if header else []
    for i in range(n):
        row = f"{render_ts(ts[i], unit, lay['offset'], lay['sep'])},{prices[i]},{sizes[i]}"
        lines.append(row + (f",{sides[i]},{'' if ids[i] is None else ids[i]}" if wide else ""))
    path = write_to(tmp_path_factory.mktemp("t") / "trades.csv", "\n".join(lines) + "\n", gz=lay["gz"])
    table, _ = read_all(path, "trades_csv", block_size=lay["block_size"])
    check_column(table, "ts_ns", ts)
    check_column(table, "price", [value(p) for p in prices])
    check_column(table, "size", [value(s) for s in sizes])
    side_of = {"buy": 1, "sell": -1, "": 0}
    check_column(table, "side", [side_of[s.lower()] if wide else 0 for s in sides])
    check_column(table, "trade_id", [-1 if (i is None or not wide) else i for i in ids])


@SETTINGS
@given(data=st.data(), lay=layout(), header=st.booleans())
def test_quotes_csv(
    tmp_path_factory: pytest.TempPathFactory, write_to: Any, data: st.DataObject, lay: dict, header: bool
) -> None:
    n, unit = lay["n"], lay["unit"]
    ts = data.draw(timestamps(n, unit))
    column = st.lists(decimals(empty=True), min_size=n, max_size=n)
    cols = {c: data.draw(column) for c in ("bid_px", "bid_sz", "ask_px", "ask_sz")}
    lines = ["ts_ms,bid_px,bid_sz,ask_px,ask_sz"] if header else []
    for i in range(n):
        lines.append(",".join([render_ts(ts[i], unit, lay["offset"], lay["sep"])] + [cols[c][i] for c in cols]))
    path = write_to(tmp_path_factory.mktemp("q") / "quotes.csv", "\n".join(lines) + "\n", gz=lay["gz"])
    table, _ = read_all(path, "quotes_csv", block_size=lay["block_size"])
    check_column(table, "ts_ns", ts)
    for c, texts in cols.items():
        check_column(table, c, [value(t) for t in texts])


@SETTINGS
@given(data=st.data(), lay=layout())
def test_bybit_trades_csv(
    tmp_path_factory: pytest.TempPathFactory, write_to: Any, data: st.DataObject, lay: dict
) -> None:
    n, unit = lay["n"], lay["unit"]
    ts = data.draw(timestamps(n, unit))
    prices = data.draw(st.lists(decimals(), min_size=n, max_size=n))
    sizes = data.draw(st.lists(decimals(), min_size=n, max_size=n))
    sides = data.draw(st.lists(st.sampled_from(["Buy", "Sell"]), min_size=n, max_size=n))
    ids = data.draw(st.lists(st.uuids(), min_size=n, max_size=n))
    lines = [BYBIT_HEADER.rstrip()]
    for i in range(n):
        match_id = str(ids[i]).upper() if i % 2 else str(ids[i])
        lines.append(
            f"{render_ts(ts[i], unit, lay['offset'], lay['sep'])},BTCUSDT,{sides[i]},{sizes[i]},{prices[i]},"
            f"ZeroMinusTick,{match_id},1.71045e+09,{sizes[i]},17.1045"
        )
    path = write_to(tmp_path_factory.mktemp("b") / "BTCUSDT2022-12-13.csv", "\n".join(lines) + "\n", gz=lay["gz"])
    table, _ = read_all(path, "bybit_trades_csv", block_size=lay["block_size"])
    check_column(table, "ts_ns", ts)
    check_column(table, "price", [value(p) for p in prices])
    check_column(table, "size", [value(s) for s in sizes])
    check_column(table, "side", [1 if s == "Buy" else -1 for s in sides])
    check_column(table, "trade_id", [int(u.hex[:15], 16) for u in ids])


@st.composite
def bars(draw: st.DrawFn, n: int, unit: str) -> tuple[list[int], int, list[list[str]]]:
    interval = draw(st.sampled_from([60, 300, 3_600, 86_400])) * NS
    start = draw(st.integers(T_MIN, T_MAX - 50 * interval))
    start -= start % RESOLUTION[unit]
    ohlcv = [draw(st.lists(decimals(), min_size=5, max_size=5)) for _ in range(n)]
    return [start + i * interval for i in range(n)], interval, ohlcv


@SETTINGS
@given(data=st.data(), lay=layout(), header=st.booleans())
def test_binance_klines_csv(
    tmp_path_factory: pytest.TempPathFactory, write_to: Any, data: st.DataObject, lay: dict, header: bool
) -> None:
    n, unit = lay["n"], lay["unit"]
    opens, interval, ohlcv = data.draw(bars(n, unit))
    # Binance's close_time is the last instant of the bar in the file's own unit (1 ms, 1 µs);
    # for other units the interval is given as an option.
    last = RESOLUTION[unit] if unit in ("ms", "us") else 1
    names = (
        "open_time,open,high,low,close,volume,close_time,"
        "quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
    )
    lines = [names] if header else []
    for t, (o, h, lo, c, v) in zip(opens, ohlcv, strict=True):
        close = render_ts(t + interval - last, unit, lay["offset"], lay["sep"])
        lines.append(f"{render_ts(t, unit, lay['offset'], lay['sep'])},{o},{h},{lo},{c},{v},{close},1.5,42,0.5,0.75,0")
    path = write_to(tmp_path_factory.mktemp("k") / "BTCUSDT-1m.csv", "\n".join(lines) + "\n", gz=lay["gz"])
    options = {} if unit in ("ms", "us") else {"interval": interval}
    table, source = read_all(path, "binance_klines_csv", block_size=lay["block_size"], **options)
    assert source.interval_ns == interval
    check_column(table, "open_ts_ns", opens)
    for j, name in enumerate(("open", "high", "low", "close", "volume")):
        check_column(table, name, [value(row[j]) for row in ohlcv])


@SETTINGS
@given(
    data=st.data(),
    lay=layout(),
    ts_name=st.sampled_from(["open_time_ms", "open_time", "ts", "timestamp", "date"]),
    mark=st.booleans(),
    volume=st.booleans(),
)
def test_klines_csv(
    tmp_path_factory: pytest.TempPathFactory,
    write_to: Any,
    data: st.DataObject,
    lay: dict,
    ts_name: str,
    mark: bool,
    volume: bool,
) -> None:
    n, unit = lay["n"], lay["unit"]
    opens, interval, ohlcv = data.draw(bars(n, unit))
    prefix = "mark_" if mark else ""
    names = [ts_name, "close_time"] + [prefix + c for c in ("open", "high", "low", "close")]
    names += ["volume"] if volume else []
    lines = [",".join(names)]
    for t, row in zip(opens, ohlcv, strict=True):
        fields = [render_ts(t, unit, lay["offset"], lay["sep"]), "junk"] + row[:4] + (row[4:] if volume else [])
        lines.append(",".join(fields))
    path = write_to(tmp_path_factory.mktemp("k") / "bars.csv", "\n".join(lines) + "\n", gz=lay["gz"])
    options = {"interval": "%ds" % (interval // NS)} if n == 1 else {}
    table, source = read_all(path, "klines_csv", block_size=lay["block_size"], **options)
    assert source.interval_ns == interval
    check_column(table, "open_ts_ns", opens)
    for j, name in enumerate(("open", "high", "low", "close")):
        check_column(table, name, [value(row[j]) for row in ohlcv])
    check_column(table, "volume", [value(row[4]) if volume else 0.0 for row in ohlcv])


def ts_array(ts: list[int], unit: str, offset: int) -> pa.Array:
    """A typed timestamp column as a generic Parquet/Feather file might hold it."""
    if unit == "s":
        return pa.array([t / NS for t in ts], pa.float64())  # floats: exact to the µs (see below)
    if unit in ("ms", "us", "ns"):
        return pa.array([t // RESOLUTION[unit] for t in ts], pa.int64())
    if unit == "iso_z":
        return pa.array(ts, pa.timestamp("ns", tz="UTC"))
    if unit == "iso_naive":
        return pa.array(ts, pa.timestamp("ns"))
    return pa.array([render_ts(t, unit, offset) for t in ts])


@SETTINGS
@given(
    data=st.data(),
    lay=layout(),
    container=st.sampled_from(["parquet", "feather"]),
    kind=st.sampled_from(["trades", "quotes", "klines"]),
)
def test_generic_columnar_files(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, lay: dict, container: str, kind: str
) -> None:
    n, unit = lay["n"], lay["unit"]
    if kind == "klines":
        ts, interval, ohlcv = data.draw(bars(max(n, 2), unit))
        n = len(ts)
        cols = {name: [value(r[j]) for r in ohlcv] for j, name in enumerate(("open", "high", "low", "close", "volume"))}
        ts_name = "date"
    else:
        ts = data.draw(timestamps(n, unit))
        names_of = {"trades": ("price", "quantity"), "quotes": ("bid", "bid_size", "ask", "ask_size")}[kind]
        column = st.lists(decimals(empty=True), min_size=n, max_size=n)
        cols = {c: [value(d) for d in data.draw(column)] for c in names_of}
        ts_name = "timestamp"
    if unit == "s":
        ts = [t - t % 1_000 for t in ts]  # float seconds hold microseconds exactly, not ns
    values = {c: pa.array(v, pa.float64()) for c, v in cols.items()}
    table = pa.table({ts_name: ts_array(ts, unit, lay["offset"]), **values})
    path = tmp_path_factory.mktemp("c") / f"data.{container}"
    if container == "parquet":
        pq.write_table(table, path, row_group_size=7)
    else:
        feather.write_feather(table, path, chunksize=7)
    got, source = read_all(path, container, kind, batch_size=5)
    check_column(got, "open_ts_ns" if kind == "klines" else "ts_ns", ts)
    normalized = {"quantity": "size", "bid": "bid_px", "bid_size": "bid_sz", "ask": "ask_px", "ask_size": "ask_sz"}
    for c, v in cols.items():
        check_column(got, normalized.get(c, c), v)
    if kind == "klines":
        assert source.interval_ns == interval


def test_bybit_uuid_ids_use_the_first_15_hex_digits(write: Any) -> None:
    u = uuid.UUID("8a5c1a8f-3b2e-4d6c-9f01-23456789abcd")
    text = BYBIT_HEADER
    text += f"1670889600.1234,BTCUSDT,Sell,0.001,17104.5,ZeroMinusTick,{u},1.71045e+09,0.001,17.1045\n"
    table, _ = read_all(write("b.csv", text), "bybit_trades_csv")
    assert table.column("trade_id").to_pylist() == [0x8A5C1A8F3B2E4D6]
    assert table.column("ts_ns").to_pylist() == [1670889600123400000]


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("a.csv", "ts_ms,price,size,side,trade_id\n1680652700452,1,1,buy,1\n", "trades_csv"),
        ("a.csv", "1680652700452,1,1,buy,1\n", "trades_csv"),
        ("a.csv", "1680652700452,1,1\n", "trades_csv"),
        ("a.csv", "timestamp,bid,bid_size,ask,ask_size\n1680652700452,1,1,2,1\n", "quotes_csv"),
        ("a.csv", "1680652700452,1,1,2,1\n", "quotes_csv"),
        ("a.csv", "1609459200000,1,2,0.5,1.5,10,1609545599999,15,3,5,7,0\n", "binance_klines_csv"),
        ("a.csv", "open_time_ms,mark_open,mark_high,mark_low,mark_close\n1609459200000,1,2,0.5,1.5\n", "klines_csv"),
        ("a.csv", BYBIT_HEADER, "bybit_trades_csv"),
        ("a.parquet", "", "parquet"),
        ("a.feather", "", "feather"),
    ],
)
def test_guess_format(write: Any, name: str, text: str, fmt: str) -> None:
    from sim.data.readers import guess_format

    for gz in (False, True) if text else (False,):
        assert guess_format(write(name, text, gz=gz)) == fmt


def test_feather_v1_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v1.feather"
    with pytest.warns(DeprecationWarning):
        feather.write_feather(pa.table({"ts_ms": [1_680_652_700_000], "price": [1.5], "size": [2.0]}), path, version=1)
    with pytest.raises(DataFileError, match="Feather v1"):
        open_source(path, "feather", "trades")
