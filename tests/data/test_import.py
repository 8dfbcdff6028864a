"""`sim import`: the normalized Parquet it writes, its quality report, and side inference."""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.data.importer import add_import_arguments, import_file, output_path, run_import
from sim.data.quality import GapTracker, infer_sides, iso_utc
from sim.data.readers import open_source
from sim.data.schema import META_INTERVAL_NS, META_KIND, SCHEMAS
from sim.core.errors import DataFileError, UserInputError

MS = 1_000_000
T0 = 1_680_652_700_000  # ms


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sim import")
    add_import_arguments(parser)
    return parser.parse_args(argv)


# --- the real 2023 window ---------------------------------------------------------------


@pytest.mark.needs_data
def test_import_real_window_with_quotes(data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trades = data_root / "binance/l1_trades_csv/usdm_btcusdt_2023-04-04T2358_trades.csv.gz"
    quotes = data_root / "binance/l1_trades_csv/usdm_btcusdt_2023-04-04T2358_quotes.csv.gz"
    report_path = tmp_path / "report.json"
    argv = [str(trades), "--quotes", str(quotes), "--out", str(tmp_path), "--report", str(report_path)]
    assert run_import(parse(argv)) == 0
    printed = capsys.readouterr().out
    assert "side agreement" in printed and "12,935" in printed

    report = json.loads(report_path.read_text())
    assert list(report) == sorted(report)
    assert report["rows"] == 12_935
    assert report["bad_rows_total"] == 0 and report["bad_rows"] == {}
    assert report["first_ts"] == "2023-04-04T23:58:20.452Z"
    assert report["last_ts"] == "2023-04-05T00:06:54.437Z"
    assert report["gaps_over_threshold"] == 0
    # The two captures (SOURCE.md) join at midnight: the largest gap follows the 2,197th trade.
    assert report["largest_gaps"][0]["after_row"] == 2_197
    agreement = report["side_agreement"]
    assert 0.0 <= agreement["rate"] <= 1.0
    assert agreement["compared"] > 12_000
    assert agreement["rate"] == agreement["agreed"] / agreement["compared"]

    out = tmp_path / "usdm_btcusdt_2023-04-04T2358_trades.parquet"
    assert report["output"] == str(out)
    pf = pq.ParquetFile(out)
    assert pf.schema_arrow.metadata[META_KIND] == b"trades"
    assert pf.schema_arrow.remove_metadata() == SCHEMAS["trades"]
    original = pa.Table.from_batches([b for _, b in open_source(trades, "trades_csv").batches()])
    reread = pa.Table.from_batches([b for _, b in open_source(out, "parquet").batches()])
    assert reread.equals(original)


@pytest.mark.needs_data
def test_import_klines_keeps_the_interval(data_root: Path, tmp_path: Path) -> None:
    path = data_root / "binance/klines_daily_2021/cm_mark_BTCUSD_210326_1d_2021Q1Q3.csv"
    report = import_file(path, None, out=tmp_path)
    assert report.kind == "klines" and report.rows == 273 and report.interval_ns == 86_400 * 10**9
    assert report.bad_rows_total == 0
    assert report.gaps_over_threshold == 0  # daily bars are one interval apart: not gaps
    source = open_source(tmp_path / "cm_mark_BTCUSD_210326_1d_2021Q1Q3.parquet", "parquet")
    assert source.kind == "klines" and source.interval_ns == 86_400 * 10**9
    meta = pq.ParquetFile(tmp_path / "cm_mark_BTCUSD_210326_1d_2021Q1Q3.parquet").schema_arrow.metadata
    assert meta[META_INTERVAL_NS] == str(86_400 * 10**9).encode()


# --- injected bad rows -------------------------------------------------------------------


def make_trades(n: int, bad: dict[int, str]) -> str:
    rows = ["ts_ms,price,size,side,trade_id"]
    for i in range(1, n + 1):
        rows.append(bad.get(i, f"{T0 + i * 10},{28_000 + i % 7}.5,0.01,{'buy' if i % 3 else 'sell'},{1_000 + i}"))
    return "\n".join(rows) + "\n"


BAD_TRADES = {
    5: f"{T0 + 50},NaN,0.01,buy,1005",
    9: f"{T0 + 90},,0.01,buy,1009",  # empty price: NaN
    40: f"{T0 + 400},0,0.01,buy,1040",
    41: f"{T0 + 410},-3,0.01,buy,1041",
    77: f"{T0 + 770},28000.5,-0.01,sell,1077",
    100: f"{T0 + 1000},28000.5,0.01,sell,1099",  # the id of row 99
    150: f"{T0 + 10},28000.5,0.01,sell,1150",  # earlier than row 149
    151: f"{T0 + 20},28000.5,0.01,sell,1151",
    300: f"{T0 + 2_000_000},28000.5,0.01,sell,1300",  # 33 min after row 299: a gap
}


def test_import_counts_injected_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad_trades.csv"
    path.write_text(make_trades(400, BAD_TRADES))
    report = import_file(path, "trades_csv", out=tmp_path / "out", on_bad_rows="drop")
    counts = {k: (b.count, b.first_row) for k, b in report.bad_rows.items()}
    assert counts == {
        "not_finite": (2, 5),
        "non_positive_price": (2, 40),
        "non_positive_size": (1, 77),
        "duplicate_trade_id": (1, 100),
        # rows 150-151, and rows 301..400, which are stamped before row 300's jump ahead
        "time_backwards": (102, 150),
    }
    assert report.bad_rows_total == 108
    assert report.rows == 400  # rows are written as read: import converts, it does not clean
    assert pq.ParquetFile(tmp_path / "out" / "bad_trades.parquet").metadata.num_rows == 400
    assert report.gaps_over_threshold == 1
    assert report.largest_gaps[0].after_row == 299
    assert "time_backwards" in report.to_text()


def test_import_fail_policy_names_the_first_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "bad_trades.csv"
    path.write_text(make_trades(400, BAD_TRADES))
    with pytest.raises(DataFileError) as e:
        import_file(path, "trades_csv", out=tmp_path, on_bad_rows="fail")
    assert e.value.row == 5 and "not_finite" in str(e.value) and str(path) in str(e.value)
    assert not (tmp_path / "bad_trades.parquet").exists()  # no half-written output


def test_import_counts_bad_quotes(tmp_path: Path) -> None:
    rows = ["ts_ms,bid_px,bid_sz,ask_px,ask_sz"]
    for i in range(1, 201):
        rows.append(f"{T0 + i},100.0,1,100.1,1")
    rows[10] = f"{T0 + 10},100.2,1,100.1,1"  # row 10 crossed
    rows[20] = f"{T0 + 20},100.1,1,100.1,1"  # row 20 locked
    rows[30] = f"{T0 + 30},100.0,0,100.1,1"  # row 30 zero size
    path = tmp_path / "q.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    report = import_file(path, None, out=tmp_path)
    assert report.format == "quotes_csv"
    assert {k: (b.count, b.first_row) for k, b in report.bad_rows.items()} == {
        "crossed_quote": (2, 10),
        "non_positive_size": (1, 30),
    }
    assert report.output == str(tmp_path / "q.parquet")


def test_run_import_errors_and_default_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    trades = tmp_path / "src" / "t.csv"
    trades.parent.mkdir()
    trades.write_text(make_trades(20, {}))
    assert run_import(parse([str(trades)])) == 0
    assert (tmp_path / "t.parquet").is_file()
    with pytest.raises(UserInputError, match="holds trades, not --kind quotes"):
        run_import(parse([str(trades), "--format", "trades_csv", "--kind", "quotes"]))
    with pytest.raises(UserInputError, match="holds trades, not quotes"):
        run_import(parse([str(trades), "--kind", "quotes"]))
    klines = tmp_path / "k.csv"
    klines.write_text("open_time,open,high,low,close\n1609459200000,1,2,0.5,1.5\n1609545600000,1,2,0.5,1.5\n")
    with pytest.raises(UserInputError, match="--quotes"):
        run_import(parse([str(klines), "--quotes", str(trades)]))
    with pytest.raises(UserInputError, match="overwrite"):
        run_import(parse([str(tmp_path / "t.parquet"), "--out", str(tmp_path)]))
    with pytest.raises(DataFileError, match="no such file"):
        run_import(parse([str(tmp_path / "missing.csv")]))


def test_output_path_strips_data_suffixes() -> None:
    assert output_path(Path("/a/x_trades.csv.gz"), "/o") == Path("/o/x_trades.parquet")
    assert output_path(Path("BTC_USDT-1m.feather"), Path("o")) == Path("o/BTC_USDT-1m.parquet")
    assert output_path(Path("2023-04-04T2358.csv"), "o") == Path("o/2023-04-04T2358.parquet")


# --- side inference reference -------------------------------------------------------------


def test_infer_sides_by_hand() -> None:
    quote_ts = np.array([0, 100, 1_000_000_000])
    bid = np.array([99.0, 100.0, 100.0])
    ask = np.array([101.0, 100.5, 100.5])
    trade_ts = np.array([0, 50, 60, 100, 150, 200, 300_000_000, 400_000_000, 1_000_000_000])
    trade_px = np.array([101.0, 99.0, 100.0, 100.2, 100.2, 100.1, 100.3, 100.3, 100.5])
    got = infer_sides(trade_ts, trade_px, quote_ts, bid, ask)
    # at ask; at bid; inside → up-tick; inside → up-tick; zero tick → carries +1; down-tick;
    # stale quote (300 ms) → up-tick; stale, zero tick → +1; at the new ask.
    assert got.tolist() == [1, -1, 1, 1, 1, -1, 1, 1, 1]
    no_quotes = (np.array([], dtype=np.int64), np.array([]), np.array([]))
    assert infer_sides(np.array([5]), np.array([100.0]), *no_quotes).tolist() == [0]
    # Only quotes stamped strictly before: the first trade has no quote and no previous price;
    # the one at 100 sees the quote of 0 (100.2 inside 99 … 101: an up-tick); the last one
    # sees only a stale quote (an up-tick from 100.3).
    strict = infer_sides(trade_ts, trade_px, quote_ts, bid, ask, same_instant=False)
    assert strict.tolist() == [0, -1, 1, 1, 1, -1, 1, 1, 1]


def naive_infer(
    trade_ts: list[int], trade_px: list[float], quotes: list[tuple[int, float, float]], stale: int, strict: bool
) -> list[int]:
    """Spec §5.7 pseudocode, one trade at a time (`strict`: only quotes stamped before the trade)."""
    out, prev_px, prev_sign = [], None, 0
    for ts, px in zip(trade_ts, trade_px, strict=True):
        quote = None
        for q in quotes:
            if q[0] < ts or (q[0] == ts and not strict):
                quote = q
        sign = 0
        if quote is not None and ts - quote[0] <= stale:
            if px >= quote[2]:
                sign = 1
            elif px <= quote[1]:
                sign = -1
        if sign == 0 and prev_px is not None:
            sign = 1 if px > prev_px else -1 if px < prev_px else prev_sign
        out.append(sign)
        prev_px, prev_sign = px, sign
    return out


@settings(max_examples=150, deadline=None)
@given(
    trades=st.lists(st.tuples(st.integers(0, 2_000), st.integers(990, 1_010)), min_size=1, max_size=60),
    quotes=st.lists(st.tuples(st.integers(0, 2_000), st.integers(990, 1_010), st.integers(1, 5)), max_size=30),
    split=st.integers(0, 60),
    stale=st.sampled_from([50, 250, 10_000]),
    strict=st.booleans(),
)
def test_infer_sides_matches_the_pseudocode(
    trades: list[tuple[int, int]], quotes: list[tuple[int, int, int]], split: int, stale: int, strict: bool
) -> None:
    trades = sorted(trades, key=lambda t: t[0])
    qs = sorted((t, b / 10, (b + s) / 10) for t, b, s in quotes)
    ts = [t for t, _ in trades]
    px = [p / 10 for _, p in trades]
    # Several quotes at one instant: the last one in file order is the one in force.
    q_ts = np.array([q[0] for q in qs], dtype=np.int64)
    expected = naive_infer(ts, px, qs, stale, strict)
    args = (q_ts, np.array([q[1] for q in qs]), np.array([q[2] for q in qs]))
    whole = infer_sides(np.array(ts), np.array(px), *args, max_staleness_ns=stale, same_instant=not strict)
    assert whole.tolist() == expected
    # Batch-split invariance with the carried state.
    k = min(split, len(ts))
    first = infer_sides(np.array(ts[:k]), np.array(px[:k]), *args, max_staleness_ns=stale, same_instant=not strict)
    prev_px = px[k - 1] if k else np.nan
    prev_sign = int(first[-1]) if k else 0
    second = infer_sides(
        np.array(ts[k:]), np.array(px[k:]), *args,
        max_staleness_ns=stale, prev_price=prev_px, prev_sign=prev_sign, same_instant=not strict,
    )  # fmt: skip
    assert first.tolist() + second.tolist() == expected


def test_gap_tracker_across_batches() -> None:
    g = GapTracker(threshold_ns=10, keep=2)
    g.update(np.array([0, 5, 30]), 1)
    g.update(np.array([31, 60, 61]), 4)  # 30 → 31 spans the batch boundary
    g.update(np.array([200]), 7)
    assert g.rows == 7 and g.over_threshold == 3
    assert [(x.after_row, x.seconds) for x in g.largest()] == [(6, 139e-9), (4, 29e-9)]
    assert g.largest()[0].start == iso_utc(61)


def test_report_text_and_json_shapes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(make_trades(50, {}))
    report = import_file(path, "trades_csv", out=tmp_path)
    # All gaps are equal (10 ms): the earliest ones are listed, whatever the batch size.
    assert [g.after_row for g in report.largest_gaps] == [1, 2, 3, 4, 5]
    text = report.to_text()
    lines = text.splitlines()
    width = lines[0].index(str(path))
    assert all(line[width - 2 : width] == "  " for line in lines)  # one aligned value column
    data: dict[str, Any] = json.loads(report.to_json())
    assert data["rows"] == 50 and data["side_agreement"] is None
    assert report.to_json() == json.dumps(data, sort_keys=True, indent=2) + "\n"
