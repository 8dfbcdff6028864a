"""The recorded files under the data root read as their SOURCE.md files describe them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sim.data.quality import iso_utc
from sim.data.readers import guess_format, open_source
from sim.data.schema import SCHEMAS

pytestmark = pytest.mark.needs_data

MS = 1_000_000
HOUR = 3_600 * 10**9
DAY = 24 * HOUR


def read(path: Path, fmt: str, kind: str | None = None) -> tuple[pa.Table, object]:
    source = open_source(path, fmt, kind)
    table = pa.Table.from_batches([b for _, b in source.batches()], schema=SCHEMAS[source.kind])
    return table, source


@pytest.mark.parametrize(
    ("rel", "fmt", "kind", "rows", "first", "last"),
    [
        ("binance/l1_trades_csv/usdm_btcusdt_2023-04-04T2358_trades.csv.gz", "trades_csv", None, 12_935,
         "2023-04-04T23:58:20.452Z", "2023-04-05T00:06:54.437Z"),
        ("binance/l1_trades_csv/usdm_btcusdt_2023-04-04T2358_quotes.csv.gz", "quotes_csv", None, 44_205, None, None),
        ("binance/l1_trades_csv/usdm_btcusdt_2024-07-18T2357_trades.csv.gz", "trades_csv", None, 10_701,
         "2024-07-18T23:57:02.956Z", "2024-07-19T00:05:02.282Z"),
        ("binance/l1_trades_csv/usdm_btcusdt_2024-07-18T2357_quotes.csv.gz", "quotes_csv", None, 52_260, None, None),
        ("binance/spot_btcusdt_ticks_2021-01-08/btcusdt-trades.parquet", "parquet", "trades", 2_001,
         "2021-01-08T00:00:00.278Z", "2021-01-08T00:00:46.355Z"),
        ("binance/spot_btcusdt_ticks_2021-01-08/btcusdt-quotes.parquet", "parquet", "quotes", 451,
         "2021-01-08T00:00:01.076Z", "2021-01-08T00:00:46.674Z"),
        ("binance/spot_btcusdt_klines_1m_2024-07-26_to_08-25/BTC_USDT-1m.feather", "feather", "klines", 43_209,
         "2024-07-26T14:15:00Z", "2024-08-25T14:23:00Z"),
        ("binance/spot_btcusdt_klines_1h/binance-BTCUSDT-1h.parquet", "parquet", "klines", 52_106,
         "2017-08-17T04:00:00Z", "2023-08-02T13:00:00Z"),
        ("binance/klines_daily_2021/spot_BTCUSDT_1d_2021Q1Q3.csv", "klines_csv", None, 273,
         "2021-01-01T00:00:00Z", "2021-09-30T00:00:00Z"),
        ("binance/klines_daily_2021/cm_mark_BTCUSD_210924_1d_2021Q1Q3.csv", "klines_csv", None, 189,
         "2021-03-26T00:00:00Z", "2021-09-30T00:00:00Z"),
    ],
)  # fmt: skip
def test_row_counts_and_span(
    data_root: Path, rel: str, fmt: str, kind: str | None, rows: int, first: str | None, last: str | None
) -> None:
    path = data_root / rel
    assert guess_format(path) == fmt
    table, source = read(path, fmt, kind)
    assert table.num_rows == rows
    ts = table.column(0).to_numpy()
    if first is not None:
        assert iso_utc(int(ts[0])) == first
        assert iso_utc(int(ts[-1])) == last
    assert source.kind == (kind or ("klines" if "klines" in fmt else fmt.split("_")[0]))


def test_trades_file_content(data_root: Path) -> None:
    table, _ = read(data_root / "binance/l1_trades_csv/usdm_btcusdt_2023-04-04T2358_trades.csv.gz", "trades_csv")
    head = table.slice(0, 2).to_pylist()
    assert head[0] == {"ts_ns": 1680652700452 * MS, "price": 28145.1, "size": 0.002, "side": -1, "trade_id": 3535186032}
    ids = table.column("trade_id").to_numpy()
    assert (np.diff(ids) == 1).all()  # consecutive, no gaps (SOURCE.md)
    assert set(np.unique(table.column("side").to_numpy())) == {-1, 1}


def test_quotes_file_content(data_root: Path) -> None:
    table, _ = read(data_root / "binance/l1_trades_csv/usdm_btcusdt_2023-04-04T2358_quotes.csv.gz", "quotes_csv")
    assert table.slice(0, 1).to_pylist() == [
        {"ts_ns": 1680652700430 * MS, "bid_px": 28145.1, "bid_sz": 3.868, "ask_px": 28145.2, "ask_sz": 6.887}
    ]
    assert (table.column("bid_px").to_numpy() < table.column("ask_px").to_numpy()).all()


def test_kline_intervals_and_columns(data_root: Path) -> None:
    minutes = data_root / "binance/spot_btcusdt_klines_1m_2024-07-26_to_08-25/BTC_USDT-1m.feather"
    _, source = read(minutes, "feather", "klines")
    assert source.interval_ns == 60 * 10**9
    _, source = read(data_root / "binance/spot_btcusdt_klines_1h/binance-BTCUSDT-1h.parquet", "parquet", "klines")
    assert source.interval_ns == HOUR
    spot, source = read(data_root / "binance/klines_daily_2021/spot_BTCUSDT_1d_2021Q1Q3.csv", "klines_csv")
    assert source.interval_ns == DAY
    assert spot.slice(0, 1).to_pylist() == [
        {
            "open_ts_ns": 1609459200000 * MS,
            "open": 28923.63,
            "high": 29600.0,
            "low": 28624.57,
            "close": 29331.69,
            "volume": 54182.925011,
        }
    ]
    mark, _ = read(data_root / "binance/klines_daily_2021/cm_mark_BTCUSD_PERP_1d_2021Q1Q3.csv", "klines_csv")
    assert mark.num_rows == 273
    assert mark.column("open")[0].as_py() == 28955.91887778
    assert set(mark.column("volume").to_pylist()) == {0.0}  # mark-price files have no volume


def test_spot_ticks_sides_from_buyer_maker(data_root: Path) -> None:
    table, _ = read(data_root / "binance/spot_btcusdt_ticks_2021-01-08/btcusdt-trades.parquet", "parquet", "trades")
    # buyer_maker "True" on the first trade: the taker sold.
    assert table.column("side").to_pylist()[:2] == [-1, 1]
    ids = table.column("trade_id").to_numpy()
    assert ids[0] == 553287559 and ids[-1] == 553289559
