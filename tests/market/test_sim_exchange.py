"""The simulated exchange end to end through `MarketFeed` and the event loop: funding settled by
the engine at 00/08/16 UTC with its mark (fixed rate, recorded file), bad funding files as
one-line errors naming the row, the scenario's `funding:` key, fills carrying the mid they filled
against, and bars-mode fills strictly after the decision."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from sim.core.clock import SimClock
from sim.core.errors import DataFileError, ManifestError
from sim.core.events import NS_PER_MIN, Event, Fill, Funding, MinuteClose
from sim.data.funding import file_schedule, fixed_schedule, funding_times
from sim.core.loop import EventLoop
from sim.market.feed import MarketFeed
from sim.scenario.manifest import load_scenario
from sim.core.timers import TimerQueue
from tests.market.memory_sources import MemorySource, quotes, trades

S = 1_000_000_000
HOUR = 3600 * S
DAY = 24 * HOUR
FUNDING_DIR = "bybit/funding"


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()) * S


D0 = _ns("2024-01-01T00:00:00")


def _run(market: MarketFeed, end_ns: int, on_close=None) -> list[Event]:  # noqa: ANN001
    """Every event of the feed through the event loop; `on_close(ev)` may return orders to send
    as (side, type, qty, limit) tuples, submitted at the close's time."""
    loop = EventLoop(SimClock(market.start_ns), market, TimerQueue(), end_ns)
    seen: list[Event] = []
    queued: list[tuple[int, tuple]] = []
    ids = itertools.count(1)

    def handle(ev: Event) -> None:
        seen.append(ev)
        if on_close is not None and isinstance(ev, MinuteClose):
            queued.extend((ev.ts_ns, o) for o in on_close(ev))

    def drain() -> bool:
        sent = bool(queued)
        for ts, (side, kind, qty, limit) in queued:
            oid = market.register_order_id(f"o-{next(ids)}")
            market.engine.submit_order(oid, side, kind, qty, ts, limit_px=limit, slippage_ticks=1)
        queued.clear()
        return sent

    loop.run(handle, drain)
    keys = [e.key for e in seen]
    assert keys == sorted(keys), "events in the total order"
    return seen


def _hourly_quotes(start_ns: int, hours: int) -> MemorySource:
    # One quote at 17 minutes past each hour: no tick falls on a funding time.
    return quotes([(start_ns + h * HOUR + 17 * NS_PER_MIN, 100.0 + h, 1.0, 100.1 + h, 1.0) for h in range(hours)])


# --- funding -----------------------------------------------------------------------------------


def test_fixed_schedule_is_00_08_16_utc_strictly_after_start_and_up_to_end() -> None:
    ts, rate = fixed_schedule(D0, D0 + DAY, 1e-4)
    assert ts.tolist() == [D0 + 8 * HOUR, D0 + 16 * HOUR, D0 + DAY]
    assert rate.tolist() == [1e-4] * 3
    assert funding_times(D0 + 1, D0 + 8 * HOUR - 1).tolist() == []
    assert funding_times(D0 - 1, D0).tolist() == [D0]


def test_the_engine_settles_a_fixed_rate_at_00_08_16_with_the_mid_of_the_latest_quote() -> None:
    market = MarketFeed([_hourly_quotes(D0, 24)], start_ns=D0, end_ns=D0 + DAY, tick_size=0.1, taker_fee_bps=5,
                        maker_fee_bps=-1, funding=fixed_schedule(D0, D0 + DAY, 1e-4))
    events = _run(market, D0 + DAY)
    funding = [(e.ts_ns - D0, e.rate, e.mark) for e in events if isinstance(e, Funding)]
    # The latest quotes before 08:00, 16:00 and 24:00 are those of 07:17, 15:17, 23:17.
    assert funding == [(8 * HOUR, 1e-4, 107.05), (16 * HOUR, 1e-4, 115.05), (24 * HOUR, 1e-4, 123.05)]
    # At 08:00 the funding sorts before the minute close of that instant.
    at_eight = [type(e).__name__ for e in events if e.ts_ns == D0 + 8 * HOUR]
    assert at_eight == ["Funding", "MinuteClose"]


def test_without_quotes_the_mark_is_the_latest_trade_and_nan_before_any() -> None:
    t = trades([(D0 + 9 * HOUR, 42000.5, 0.1, 1, 1)])
    market = MarketFeed([t], start_ns=D0, end_ns=D0 + DAY, tick_size=0.1, taker_fee_bps=5, maker_fee_bps=-1,
                        funding=fixed_schedule(D0, D0 + DAY, -2e-4))
    marks = [e.mark for e in _run(market, D0 + DAY) if isinstance(e, Funding)]
    assert math.isnan(marks[0]) and marks[1:] == [42000.5, 42000.5]


@pytest.mark.needs_data
def test_funding_from_the_recorded_feather_file(data_root: Path) -> None:
    path = data_root / FUNDING_DIR / "BTC_USDT_USDT-8h-funding_rate.feather"
    start, end = _ns("2024-03-01T00:00:00"), _ns("2024-03-02T00:00:00")
    ts, rate = file_schedule(path, start, end)
    assert ts.tolist() == [start + 8 * HOUR, start + 16 * HOUR, end]
    table = ipc.open_file(pa.memory_map(str(path))).read_all()
    by_time = dict(zip(table.column("date").cast(pa.int64()).to_pylist(), table.column("open").to_pylist()))
    assert rate.tolist() == [by_time[t] for t in ts.tolist()]

    market = MarketFeed([_hourly_quotes(start, 24)], start_ns=start, end_ns=end, tick_size=0.1, taker_fee_bps=5,
                        maker_fee_bps=-1, funding=(ts, rate))
    funding = [(e.ts_ns, e.rate, e.mark) for e in _run(market, end) if isinstance(e, Funding)]
    assert funding == [(t, r, m) for t, r, m in zip(ts.tolist(), rate.tolist(), [107.05, 115.05, 123.05])]


@pytest.mark.needs_data
def test_the_lean_csv_covers_its_one_day(data_root: Path) -> None:
    path = data_root / FUNDING_DIR / "btcusdt.csv"
    day = _ns("2022-12-13T00:00:00")
    ts, rate = file_schedule(path, day - 1, day + DAY - 1)
    assert ts.tolist() == [day, day + 8 * HOUR, day + 16 * HOUR]
    assert rate.tolist() == [-0.0002016, -0.00022398, -0.00038555]


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rates.csv"
    p.write_text(text)
    return p


def _feather(tmp_path: Path, times: list[int], rates: list[float]) -> Path:
    p = tmp_path / "rates.feather"
    table = pa.table({"date": pa.array(times, pa.timestamp("ns", tz="UTC")), "open": pa.array(rates, pa.float64())})
    with ipc.new_file(str(p), table.schema) as w:
        w.write_table(table)
    return p


def _error(path: Path, start: int = D0, end: int = D0 + DAY) -> str:
    with pytest.raises(DataFileError) as e:
        file_schedule(path, start, end)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


GOOD_DAY = "20240101 08:00:00,0.0001\n20240101 16:00:00,0.0002\n20240102 00:00:00,0.0003\n"


@pytest.mark.parametrize(
    "text, row, words",
    [
        ("20240101 08:00:00,0.0001\nhello, 1\n", 2, "expected 'YYYYMMDD HH:MM:SS, rate'"),
        ("20240101 08:00:00,0.0001\n20241301 16:00:00,0.0002\n", 2, "not a date and a rate"),
        ("20240101 08:00:00,0.0001\n20240101 08:00:00,0.0002\n", 2, "not after the previous row"),
        ("20240101 08:00:00,0.0001\n\n20240101 16:00:00,nan\n", 3, "not finite"),
        ("20240101 08:00:00,0.0001\n20240101 16:00:00,abc\n", 2, "not a date and a rate"),
        ("20240101 08:00:00,0.0001\n20240102 00:00:00,0.0003\n", 2, "no rate for the funding time 2024-01-01 16:00 UTC"),
        ("20240101 08:00:00,0.0001\n20240101 16:00:00,0.0002\n", 2, "the file ends at 2024-01-01 16:00 UTC"),
        ("20240101 16:00:00,0.0002\n20240102 00:00:00,0.0003\n", 1, "the file starts at 2024-01-01 16:00 UTC"),
    ],
)
def test_a_bad_csv_names_the_row(tmp_path: Path, text: str, row: int, words: str) -> None:
    msg = _error(_csv(tmp_path, text))
    assert f", row {row}: " in msg and words in msg


def test_a_good_csv_reads_and_keeps_only_the_window(tmp_path: Path) -> None:
    ts, rate = file_schedule(_csv(tmp_path, "20231231 16:00:00,0.0009\n" + GOOD_DAY), D0, D0 + DAY)
    assert ts.tolist() == [D0 + 8 * HOUR, D0 + 16 * HOUR, D0 + DAY]
    assert rate.tolist() == [0.0001, 0.0002, 0.0003]


def test_a_bad_feather_names_the_row(tmp_path: Path) -> None:
    times = [D0 + 8 * HOUR, D0 + 16 * HOUR, D0 + 12 * HOUR]
    msg = _error(_feather(tmp_path, times, [1e-4, 1e-4, 1e-4]))
    assert ", row 3: " in msg and "not after the previous row" in msg
    msg = _error(_feather(tmp_path, [D0 + 8 * HOUR, D0 + 16 * HOUR, D0 + DAY], [1e-4, math.inf, 1e-4]))
    assert ", row 2: rate inf is not finite" in msg


def test_an_unusable_funding_file_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "rates.feather"
    junk.write_bytes(b"not arrow at all")
    assert "not a readable Feather file" in _error(junk)
    no_rate = tmp_path / "other.feather"
    table = pa.table({"date": pa.array([D0], pa.timestamp("ns", tz="UTC"))})
    with ipc.new_file(str(no_rate), table.schema) as w:
        w.write_table(table)
    assert "no column 'open'" in _error(no_rate)
    txt = tmp_path / "rates.txt"
    txt.write_text(GOOD_DAY)
    assert "unknown funding-rate format" in _error(txt)
    assert "not found" in _error(tmp_path / "missing.csv")
    assert "no funding rates" in _error(_csv(tmp_path, "\n"))


def test_set_funding_rejects_a_bad_schedule_naming_the_index() -> None:
    market = MarketFeed([_hourly_quotes(D0, 1)], start_ns=D0, end_ns=D0 + HOUR, tick_size=0.1, taker_fee_bps=5,
                        maker_fee_bps=-1)
    with pytest.raises(ValueError, match="index 1"):
        market.engine.set_funding(np.array([D0 + 1, D0 + 1], dtype=np.int64), np.array([0.0, 0.0]))
    with pytest.raises(ValueError, match="index 0"):
        market.engine.set_funding(np.array([D0 + 1], dtype=np.int64), np.array([math.nan]))
    with pytest.raises(ValueError, match="2 times but 1 rates"):
        market.engine.set_funding(np.array([D0 + 1, D0 + 2], dtype=np.int64), np.array([0.0]))


# --- the scenario's funding key ----------------------------------------------------------------

SCENARIO = """\
name: funding_probe
description: a scenario with a funding key
strategy: observe
window: {{start: "2024-01-01T00:00:00Z", end: "2024-01-02T00:00:00Z"}}
seed: 1
synthetic:
  segments: [{{type: walk, minutes: 10}}]
{funding}
"""


def _scenario(tmp_path: Path, funding: str):  # noqa: ANN202
    p = tmp_path / "funding_probe.yaml"
    p.write_text(SCENARIO.format(funding=funding))
    return load_scenario(p)


def test_no_funding_key_is_the_config_rate(tmp_path: Path) -> None:
    ts, rate = _scenario(tmp_path, "").funding_schedule(1.0)
    assert ts.tolist() == [D0 + 8 * HOUR, D0 + 16 * HOUR, D0 + DAY] and rate.tolist() == [1e-4] * 3


def test_a_fixed_funding_key_overrides_the_config_rate(tmp_path: Path) -> None:
    _ts, rate = _scenario(tmp_path, "funding: {rate_8h_bps: -2.5}").funding_schedule(1.0)
    assert rate.tolist() == [-2.5e-4] * 3


def test_a_funding_file_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "rates.csv").write_text(GOOD_DAY)
    sc = _scenario(tmp_path, "funding: {file: rates.csv, root: scenario}")
    ts, rate = sc.funding_schedule(1.0)
    assert rate.tolist() == [0.0001, 0.0002, 0.0003]
    before = sc.content_hash()
    (tmp_path / "rates.csv").write_text(GOOD_DAY.replace("0.0003", "0.0004"))
    assert sc.content_hash() != before, "the funding file is part of the scenario's content"


@pytest.mark.needs_data
def test_a_funding_file_under_the_data_root(tmp_path: Path, data_root: Path) -> None:
    sc = _scenario(tmp_path, f"funding: {{file: {FUNDING_DIR}/BTC_USDT_USDT-8h-funding_rate.feather}}")
    ts, rate = sc.funding_schedule(1.0)
    assert ts.tolist() == [D0 + 8 * HOUR, D0 + 16 * HOUR, D0 + DAY]
    assert np.isfinite(rate).all()


@pytest.mark.parametrize(
    "funding, key, words",
    [
        ("funding: {rate: 1}", "funding.rate", "unknown key"),
        ("funding: {rate_8h_bps: 1, file: x.csv}", "funding", "give exactly one of"),
        ("funding: {}", "funding", "give exactly one of"),
        ("funding: {rate_8h_bps: .nan}", "funding.rate_8h_bps", ""),
        ("funding: {rate_8h_bps: 1, root: scenario}", "funding", "'root' applies to 'file' only"),
    ],
)
def test_a_bad_funding_key_is_one_line(tmp_path: Path, funding: str, key: str, words: str) -> None:
    with pytest.raises(ManifestError) as e:
        _scenario(tmp_path, funding)
    assert e.value.key == key and words in str(e.value) and "\n" not in str(e.value)


def test_a_missing_funding_file_names_the_key(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, "funding: {file: nowhere.csv, root: scenario}")
    with pytest.raises(ManifestError) as e:
        sc.funding_schedule(1.0)
    assert e.value.key == "funding.file" and "file not found" in str(e.value)


# --- fills -------------------------------------------------------------------------------------


def test_a_tick_mode_fill_carries_the_mid_of_the_quote_it_filled_on() -> None:
    q = quotes([(i * 10 * S, 100.0 + i * 0.1, 1.0, 100.2 + i * 0.1, 1.0) for i in range(18)])
    market = MarketFeed([q], start_ns=0, end_ns=3 * NS_PER_MIN, tick_size=0.1, taker_fee_bps=5, maker_fee_bps=-1)
    events = _run(market, 3 * NS_PER_MIN, lambda ev: [(1, "market", 0.01, math.nan)] if ev.ts_ns == NS_PER_MIN else [])
    (fill,) = [e for e in events if isinstance(e, Fill)]
    # The quote at 60 s was consumed before the decision; the one at 70 s fills: ask 100.9 + 1 tick.
    assert (fill.ts_ns, fill.price, fill.liquidity) == (70 * S, 101.0, "taker")
    assert fill.mid == pytest.approx(100.8)


def _klines(rows: list[tuple[float, float, float, float]]) -> MemorySource:
    from sim.data.schema import SCHEMAS

    cols = list(zip(*[(m * NS_PER_MIN, o, h, lo, c, 1.0) for m, (o, h, lo, c) in enumerate(rows)]))
    table = pa.table(dict(zip(SCHEMAS["klines"].names, cols)), schema=SCHEMAS["klines"])
    return MemorySource("klines", table, name="klines", interval_ns=NS_PER_MIN)


def _bars_feed(rows: list[tuple[float, float, float, float]]) -> MarketFeed:
    return MarketFeed([_klines(rows)], start_ns=0, end_ns=len(rows) * NS_PER_MIN, tick_size=0.1, taker_fee_bps=5,
                      maker_fee_bps=-1, features={"feature_input": "bars"})


BARS = [
    (100.0, 100.5, 99.5, 100.2),  # minute 0, known at 1 min
    (100.3, 100.8, 100.0, 100.6),  # minute 1, known at 2 min: the decision is taken at its close
    (100.7, 101.0, 100.4, 100.9),  # minute 2: the market for orders decided at 2 min
    (100.9, 101.6, 100.5, 101.4),  # minute 3: trades through a sell limit at 101.5
    (101.4, 101.5, 100.0, 100.2),
]


def test_bars_mode_market_orders_fill_at_the_next_bars_open_after_the_decision() -> None:
    market = _bars_feed(BARS)
    decide = 2 * NS_PER_MIN
    orders = [(1, "market", 0.01, math.nan), (-1, "market", 0.02, math.nan)]
    events = _run(market, 5 * NS_PER_MIN, lambda ev: orders if ev.ts_ns == decide else [])
    fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.side, f.price, f.liquidity, f.mid) for f in fills] == [(1, 100.8, "taker", 100.7), (-1, 100.6, "taker", 100.7)]
    assert all(f.ts_ns == 3 * NS_PER_MIN > decide for f in fills), "stamped at the close of the bar they filled on"
    assert fills[0].fee == pytest.approx(100.8 * 0.01 * 5 / 10_000)
    # At the fill's instant: the minute close of that bar comes first.
    at_fill = [type(e).__name__ for e in events if e.ts_ns == 3 * NS_PER_MIN]
    assert at_fill == ["KlineClose", "MinuteClose", "Fill", "Fill"]


def test_bars_mode_limits_fill_at_their_price_when_a_later_bar_trades_through() -> None:
    market = _bars_feed(BARS)
    decide = 2 * NS_PER_MIN
    orders = [(-1, "limit", 0.01, 101.5), (1, "limit", 0.01, 100.0), (1, "limit", 0.01, 99.0)]
    events = _run(market, 5 * NS_PER_MIN, lambda ev: orders if ev.ts_ns == decide else [])
    fills = [(e.ts_ns, e.side, e.price, e.liquidity, e.mid) for e in events if isinstance(e, Fill)]
    # The sell at 101.5 fills on minute 3 (high 101.6), stamped at its close; minute 4's low of
    # 100.0 only touches the buy at 100.0, which does not fill, nor does the buy at 99.0.
    assert fills == [(4 * NS_PER_MIN, -1, 101.5, "maker", 101.5)]
    fee = [e.fee for e in events if isinstance(e, Fill)][0]
    assert fee == pytest.approx(-101.5 * 0.01 / 10_000)


def test_bars_mode_a_limit_decided_at_a_close_ignores_the_bar_it_was_decided_on() -> None:
    # Minute 1's low (100.0) is below 100.1, but that bar was finished when the order was placed.
    market = _bars_feed(BARS)
    events = _run(market, 5 * NS_PER_MIN,
                  lambda ev: [(1, "limit", 0.01, 100.1)] if ev.ts_ns == 2 * NS_PER_MIN else [])
    fills = [(e.ts_ns, e.price) for e in events if isinstance(e, Fill)]
    assert fills == [(5 * NS_PER_MIN, 100.1)]
