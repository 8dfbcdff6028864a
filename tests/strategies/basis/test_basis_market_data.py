"""The basis backtest's minute markets (`sim.scenario.futures_market`): spot tiles the recorded daily
bars, futures reproduce the recorded mark closes at day ends and converge to spot at expiry, the
Dec-2021 curve follows its formula, synthetic specs do what they say, runs are deterministic, and
bad input is a one-line error naming the file, row or key."""

from __future__ import annotations

import heapq
import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from sim.core.expiry import expiry_of_symbol
from sim.scenario.futures_market import (DEFAULT_ANNUAL_BASIS_PCT, RecordedDaily, SyntheticBasis, build_futures_market,
                                   files, parse_futures_market)
from sim.data.schema import KLINES
from sim.core.errors import DataFileError, ManifestError
from sim.scenario.manifest import data_root

DAY = 86_400 * 10**9
MIN = 60 * 10**9
DAILY = "binance/klines_daily_2021"
SPOT_DAILY = f"{DAILY}/spot_BTCUSDT_1d_2021Q1Q3.csv"
SPOT_HOURLY = "binance/spot_btcusdt_klines_1h/binance-BTCUSDT-1h.parquet"
RECORDED = ("BTCUSD_210326", "BTCUSD_210625", "BTCUSD_210924")
ORIGIN = Path("scenarios/basis/test.yaml")


def ns(text: str) -> int:
    d = datetime.fromisoformat(text)
    return int((d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()) * 10**9


def mark_file(sym: str) -> str:
    return f"{DAILY}/cm_mark_{sym}_1d_2021Q1Q3.csv"


@pytest.fixture(scope="module")
def root() -> Path:
    r = data_root()
    if r is None or not r.is_dir():
        pytest.skip("recorded data root not present (SIM_DATA_DIR or ../shared/data)")
    return r


def resolver(root: Path, replaced: dict[str, Path] | None = None) -> Callable[[str, str], Path]:
    def resolve(path: str, key: str) -> Path:
        p = (replaced or {}).get(path, root / path)
        if not p.is_file():
            raise ManifestError(ORIGIN, key, f"file not found: {p}")
        return p
    return resolve


def recorded_raw(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "kind": "recorded_daily",
        "spot_daily": SPOT_DAILY,
        "spot_hourly": SPOT_HOURLY,
        "futures": {s: mark_file(s) for s in RECORDED},
        "synthetic_futures": {"BTCUSD_211231": {"annual_basis_pct": 6.0}},
    }
    raw.update(over)
    return raw


def build(raw: dict[str, Any], start: str, end: str, root: Path | None = None, seed: int = 7,
          replaced: dict[str, Path] | None = None) -> dict[str, Any]:
    spec = parse_futures_market(raw, ORIGIN)
    return build_futures_market(spec, seed=seed, start_ns=ns(start), end_ns=ns(end),
                              resolve=resolver(root or Path("/nonexistent"), replaced))


def table(src: Any) -> pa.Table:
    batches = [b for _, b in src.batches()]
    for b in batches:
        assert b.schema == KLINES
    return pa.Table.from_batches(batches, schema=KLINES)


def cols(t: pa.Table) -> dict[str, np.ndarray]:
    return {n: t[n].to_numpy() for n in KLINES.names}


def daily(root: Path, rel: str) -> dict[str, np.ndarray]:
    t = pacsv.read_csv(root / rel)
    return {n: t[n].to_numpy() for n in t.column_names if n not in ("open_time", "close_time")}


def assert_consistent(c: dict[str, np.ndarray], tick: float) -> None:
    assert (c["low"] <= np.minimum(c["open"], c["close"])).all()
    assert (np.maximum(c["open"], c["close"]) <= c["high"]).all()
    for k in ("open", "high", "low", "close"):
        assert (np.round(c[k] / tick) * tick == pytest.approx(c[k], abs=1e-9))
    assert (np.diff(c["open_ts_ns"]) == MIN).all()


def merged(sources: dict[str, Any]) -> Iterator[tuple[int, str, pa.RecordBatch]]:
    """Batches of all sources in time order, pulled lazily, as the engine's merge pulls them."""
    def tagged(sym: str, src: Any) -> Iterator[tuple[int, str, pa.RecordBatch]]:
        for _, b in src.batches():
            yield int(b.column(0)[0].as_py()), sym, b
    return heapq.merge(*(tagged(s, src) for s, src in sources.items()), key=lambda x: (x[0], x[1]))


# -- recorded spot ---------------------------------------------------------------------------------

@pytest.mark.needs_data
def test_spot_minutes_tile_each_daily_bar(root: Path) -> None:
    src = build(recorded_raw(), "2021-01-01", "2021-01-11", root)
    d = daily(root, SPOT_DAILY)
    batches = [b for _, b in src["BTCUSDT"].batches()]
    assert len(batches) == 10
    for i, b in enumerate(batches):
        c = cols(pa.Table.from_batches([b]))
        assert len(c["open"]) == 1440 and c["open_ts_ns"][0] == d["open_time_ms"][i] * 10**6
        assert c["open"][0] == d["open"][i] and c["close"][-1] == d["close"][i]
        assert c["high"].max() == d["high"][i] and c["low"].min() == d["low"][i]
        assert c["volume"].sum() == pytest.approx(d["volume"][i], rel=1e-12)
        assert_consistent(c, 0.01)
    assert src["BTCUSDT"].fallback_days == ()
    assert list(src) == ["BTCUSDT", "BTCUSD_210326", "BTCUSD_210625", "BTCUSD_210924", "BTCUSD_211231"]


@pytest.mark.needs_data
def test_a_day_with_an_hourly_gap_falls_back_to_the_daily_bar(root: Path) -> None:
    src = build(recorded_raw(), "2021-02-10", "2021-02-13", root)
    d = daily(root, SPOT_DAILY)
    i0 = int(np.flatnonzero(d["open_time_ms"] == ns("2021-02-10") // 10**6)[0])
    c = cols(table(src["BTCUSDT"]))
    assert src["BTCUSDT"].fallback_days == ("2021-02-11",)  # the hourly file skips 04:00 and 05:00 that day
    for k in range(3):
        day = {n: a[k * 1440:(k + 1) * 1440] for n, a in c.items()}
        assert day["open"][0] == d["open"][i0 + k] and day["close"][-1] == d["close"][i0 + k]
        assert day["high"].max() == d["high"][i0 + k] and day["low"].min() == d["low"][i0 + k]
    # a day the hourly bars tile goes through each of them
    hourly = pq.read_table(root / SPOT_HOURLY)
    h = hourly.filter(pc.equal(hourly["Date"], pa.scalar(datetime(2021, 2, 10, 5), pa.timestamp("us"))))
    assert c["open"][5 * 60] == h["open"][0].as_py() and c["close"][6 * 60 - 1] == h["close"][0].as_py()


# -- recorded futures ------------------------------------------------------------------------------

@pytest.mark.needs_data
def test_futures_close_on_the_mark_close_at_each_day_end_and_converge_at_expiry(root: Path) -> None:
    start, end = "2021-03-20", "2021-04-02"
    src = build(recorded_raw(), start, end, root)
    spot = cols(table(src["BTCUSDT"]))
    for sym in RECORDED:
        f = cols(table(src[sym]))
        expiry = expiry_of_symbol(sym)
        listing = ns("2021-03-26T08:00") if sym == "BTCUSD_210924" else ns(start)
        assert f["open_ts_ns"][0] == listing
        assert f["open_ts_ns"][-1] == min(expiry, ns(end)) - MIN  # none at or after expiry
        assert_consistent(f, 0.1)
        assert (f["open"][1:] == f["close"][:-1]).all()  # each open is the previous close, across days too
        m = daily(root, mark_file(sym))
        checked = 0
        for t_ms, close in zip(m["open_time_ms"], m["mark_close"]):
            day_end = t_ms * 10**6 + DAY
            if day_end <= ns(start) or day_end > min(ns(end), expiry - expiry % DAY):
                continue
            k = np.flatnonzero(f["open_ts_ns"] == day_end - MIN)
            assert len(k) == 1
            assert abs(f["close"][k[0]] - close) <= 0.05 + 1e-6, (sym, t_ms)
            checked += 1
        assert checked >= 6
        if expiry < ns(end):
            i = np.flatnonzero(spot["open_ts_ns"] == f["open_ts_ns"][-1])[0]
            assert abs(f["close"][-1] / spot["close"][i] - 1) < 1e-4
    assert table(src["BTCUSD_210326"]).num_rows == (ns("2021-03-26T08:00") - ns(start)) // MIN


@pytest.mark.needs_data
def test_the_synthetic_dec_2021_curve_and_its_listing(root: Path) -> None:
    src = build(recorded_raw(synthetic_futures={"BTCUSD_211231": {}}), "2021-09-20", "2021-09-23", root)
    spot, f = cols(table(src["BTCUSDT"])), cols(table(src["BTCUSD_211231"]))
    assert len(f["open"]) == len(spot["open"])
    tau = (expiry_of_symbol("BTCUSD_211231") - (f["open_ts_ns"] + MIN)) / DAY
    want = spot["close"] * (1 + DEFAULT_ANNUAL_BASIS_PCT / 100 * tau / 365)
    assert np.abs(f["close"] - want).max() <= 0.05 + 1e-6
    # listed when 210625 delivers (it becomes NEXT then), or from listed_from
    src = build(recorded_raw(), "2021-06-24", "2021-06-27", root)
    assert cols(table(src["BTCUSD_211231"]))["open_ts_ns"][0] == ns("2021-06-25T08:00")
    later = recorded_raw(synthetic_futures={"BTCUSD_211231": {"annual_basis_pct": 8.0,
                                                              "listed_from": "2021-06-26T12:30:00"}})
    assert cols(table(build(later, "2021-06-24", "2021-06-27", root)["BTCUSD_211231"]))["open_ts_ns"][0] == \
        ns("2021-06-26T12:30")


@pytest.mark.needs_data
def test_recorded_determinism(root: Path) -> None:
    def run(seed: int) -> list[bytes]:
        return [ipc_bytes(table(s)) for s in build(recorded_raw(), "2021-03-25", "2021-03-27", root, seed).values()]
    a, b, c = run(1), run(1), run(2)
    assert a == b
    assert a[0] != c[0]


# -- recorded: bad files ---------------------------------------------------------------------------

def _edited(root: Path, rel: str, tmp: Path, edit: Callable[[list[str]], list[str]]) -> dict[str, Path]:
    lines = (root / rel).read_text().splitlines()
    out = tmp / Path(rel).name
    out.write_text("\n".join(edit(lines)) + "\n")
    return {rel: out}


@pytest.mark.needs_data
def test_a_day_missing_from_the_spot_file_inside_the_window(root: Path, tmp_path: Path) -> None:
    rep = _edited(root, SPOT_DAILY, tmp_path, lambda ls: [x for x in ls if not x.startswith("1609718400000")])
    with pytest.raises(DataFileError, match=r"spot_BTCUSDT_1d_2021Q1Q3\.csv: no daily bar for 2021-01-04"):
        build(recorded_raw(), "2021-01-01", "2021-01-06", root, replaced=rep)
    build(recorded_raw(futures={}), "2021-01-05", "2021-01-06", root, replaced=rep)  # outside: fine


@pytest.mark.needs_data
def test_a_bad_price_and_a_missing_column_name_file_and_row(root: Path, tmp_path: Path) -> None:
    rep = _edited(root, SPOT_DAILY, tmp_path, lambda ls: [x.replace(",32178.33,", ",-1.0,") for x in ls])  # 01-02
    with pytest.raises(DataFileError, match=r"row 2: open/high/low/close .* positive prices"):
        build(recorded_raw(), "2021-01-01", "2021-01-04", root, replaced=rep)
    rep = _edited(root, SPOT_DAILY, tmp_path, lambda ls: [",".join(x.split(",")[:-1]) for x in ls])
    with pytest.raises(DataFileError, match="no volume column"):
        build(recorded_raw(), "2021-01-01", "2021-01-04", root, replaced=rep)
    rep = _edited(root, mark_file("BTCUSD_210625"), tmp_path,
                  lambda ls: [ls[0].replace("mark_close", "settle"), *ls[1:]])
    with pytest.raises(DataFileError, match="cm_mark_BTCUSD_210625_1d_2021Q1Q3.csv: no klines columns"):
        build(recorded_raw(), "2021-01-01", "2021-01-04", root, replaced=rep)


@pytest.mark.needs_data
def test_futures_data_missing_inside_the_contract_life(root: Path, tmp_path: Path) -> None:
    rel = mark_file("BTCUSD_210625")
    rep = _edited(root, rel, tmp_path, lambda ls: [x for x in ls if not x.startswith("1609718400000")])  # 01-04
    with pytest.raises(DataFileError, match=r"210625_1d_2021Q1Q3\.csv: no bar for 2021-01-04"):
        build(recorded_raw(), "2021-01-01", "2021-01-08", root, replaced=rep)
    build(recorded_raw(), "2021-01-06", "2021-01-08", root, replaced=rep)  # not needed there
    # the file starts after the window does, while 210625 trades: its first day is missing
    rep = _edited(root, rel, tmp_path, lambda ls: [x for x in ls if not x.startswith("1609459200000")])  # 01-01
    with pytest.raises(DataFileError, match=r"210625_1d_2021Q1Q3\.csv: no bar for 2021-01-01: BTCUSD_210625 trades"):
        build(recorded_raw(), "2021-01-01", "2021-01-03", root, replaced=rep)
    # the spot file has no 2020: a one-line error naming it
    with pytest.raises(DataFileError, match="spot_BTCUSDT_1d_2021Q1Q3.csv: no daily bar for 2020-12-31"):
        build(recorded_raw(), "2020-12-31", "2021-01-02", root)


@pytest.mark.needs_data
def test_a_window_starting_and_ending_inside_a_day(root: Path) -> None:
    src = build(recorded_raw(), "2021-03-25T12:00", "2021-03-26T12:30", root)
    rows = {s: cols(table(x))["open_ts_ns"] for s, x in src.items()}
    assert rows["BTCUSDT"][0] == ns("2021-03-25T12:00") and rows["BTCUSDT"][-1] == ns("2021-03-26T12:29")
    assert len(rows["BTCUSDT"]) == 24 * 60 + 30
    assert rows["BTCUSD_210326"][-1] == ns("2021-03-26T07:59")
    assert rows["BTCUSD_210924"][0] == ns("2021-03-26T08:00") and len(rows["BTCUSD_210924"]) == 270
    # the same minutes as in a whole-day window
    whole = cols(table(build(recorded_raw(), "2021-03-25", "2021-03-27", root)["BTCUSDT"]))
    part = cols(table(src["BTCUSDT"]))
    assert np.array_equal(whole["close"][720:720 + len(part["close"])], part["close"])


def test_files_lists_every_file_read() -> None:
    spec = parse_futures_market(recorded_raw(futures={s: mark_file(s) for s in reversed(RECORDED)}), ORIGIN)
    assert isinstance(spec, RecordedDaily)
    assert files(spec) == [("basis_market.spot_daily", SPOT_DAILY), ("basis_market.spot_hourly", SPOT_HOURLY),
                           *[(f"basis_market.futures.{s}", mark_file(s)) for s in RECORDED]]
    assert files(parse_futures_market(synthetic_raw(), ORIGIN)) == []


# -- synthetic -------------------------------------------------------------------------------------

def synthetic_raw(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "kind": "synthetic",
        "start_price": 40_000.0,
        "spot": [{"minutes": 1440, "drift_pct": 2.0, "vol_bps_per_min": 3.0},
                 {"minutes": 720, "drift_pct": -5.0, "vol_bps_per_min": 0.0},
                 {"minutes": 2160, "drift_pct": 0.0, "vol_bps_per_min": 6.0}],
        "volume_btc_per_min": 12.0,
        "volume_windows": [{"start": "2021-06-02T10:00:00", "end": "2021-06-02T11:00:00", "factor": 0.001}],
        "futures": {
            "BTCUSD_210625": {"basis_bps": [["2021-06-01T12:00:00", 40.0], ["2021-06-02T12:00:00", 10.0]]},
            "BTCUSD_210924": {"annual_basis_pct": 12.0},
            "BYBIT_DEC": {"annual_basis_pct": 9.0, "expiry": "2021-06-03T08:00:00Z"},
        },
    }
    raw.update(over)
    return raw


def ipc_bytes(t: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    return sink.getvalue()


SYN = ("2021-06-01", "2021-06-04")


def test_synthetic_spot_follows_its_segments() -> None:
    src = build(synthetic_raw(), *SYN)
    c = cols(table(src["BTCUSDT"]))
    assert len(c["open"]) == 3 * 1440 and c["open_ts_ns"][0] == ns(SYN[0])
    assert_consistent(c, 0.01)
    assert (c["open"][1:] == c["close"][:-1]).all() and c["open"][0] == 40_000.0
    assert c["close"][1439] == pytest.approx(40_800.0, abs=0.005)  # segment ends sit on the line
    flat = slice(1440, 2160)  # vol 0: the straight line, no wicks
    assert c["close"][2159] == pytest.approx(40_800.0 * 0.95, abs=0.005)
    assert (c["high"][flat] == np.maximum(c["open"][flat], c["close"][flat])).all()
    assert (np.diff(c["close"][flat]) < 0).all()
    assert src["BTCUSDT"].fallback_days == ()


def test_synthetic_volume_window_factor() -> None:
    base = cols(table(build(synthetic_raw(volume_windows=[]), *SYN)["BTCUSDT"]))
    c = cols(table(build(synthetic_raw(), *SYN)["BTCUSDT"]))
    inside = (c["open_ts_ns"] >= ns("2021-06-02T10:00")) & (c["open_ts_ns"] < ns("2021-06-02T11:00"))
    assert inside.sum() == 60
    assert np.allclose(c["volume"][inside], base["volume"][inside] * 0.001, rtol=1e-15)
    assert (c["volume"][~inside] == base["volume"][~inside]).all()
    assert base["volume"].mean() == pytest.approx(12.0, rel=0.05)


def test_synthetic_futures_basis_anchors_curve_and_expiry() -> None:
    src = build(synthetic_raw(), *SYN)
    assert list(src) == ["BTCUSDT", "BYBIT_DEC", "BTCUSD_210625", "BTCUSD_210924"]  # by expiry
    s = cols(table(src["BTCUSDT"]))
    for sym, tick_checks in (("BTCUSD_210625", [("2021-06-01T12:00", 40.0), ("2021-06-02T00:00", 25.0),
                                                ("2021-06-02T12:00", 10.0), ("2021-06-03T18:00", 10.0),
                                                ("2021-06-01T06:00", 40.0)]),):
        f = cols(table(src[sym]))
        assert_consistent(f, 0.1)
        assert (f["open"][1:] == f["close"][:-1]).all()
        assert np.array_equal(f["volume"], s["volume"])
        for when, bps in tick_checks:
            i = int(np.flatnonzero(f["open_ts_ns"] == ns(when) - MIN)[0])
            assert abs(f["close"][i] - s["close"][i] * (1 + bps / 10_000)) <= 0.05 + 1e-6
    f = cols(table(src["BTCUSD_210924"]))
    tau = (expiry_of_symbol("BTCUSD_210924") - (f["open_ts_ns"] + MIN)) / DAY
    assert np.abs(f["close"] - s["close"] * (1 + 0.12 * tau / 365)).max() <= 0.05 + 1e-6
    dec = cols(table(src["BYBIT_DEC"]))  # the exchange's delivery time wins over any calendar
    assert dec["open_ts_ns"][-1] == ns("2021-06-03T08:00") - MIN
    assert abs(dec["close"][-1] / s["close"][len(dec["close"]) - 1] - 1) < 1e-5


def test_synthetic_segments_must_tile_the_window() -> None:
    with pytest.raises(ManifestError, match=r"test\.yaml: basis_market\.spot: the segments cover 4320 minutes"):
        build(synthetic_raw(), "2021-06-01", "2021-06-05")
    with pytest.raises(ManifestError, match=r"basis_market\.spot: the segments cover 4320 minutes"):
        build(synthetic_raw(), "2021-06-01", "2021-06-03T23:59")


def test_synthetic_determinism() -> None:
    def run(seed: int) -> list[bytes]:
        return [ipc_bytes(table(s)) for s in build(synthetic_raw(), *SYN, seed=seed).values()]
    a, b, c = run(3), run(3), run(4)
    assert a == b
    assert a[0] != c[0]
    # a day's minutes do not depend on where the window starts
    later = build(synthetic_raw(spot=[{"minutes": 1440, "drift_pct": 2.0, "vol_bps_per_min": 3.0}]),
                  "2021-06-01", "2021-06-02", seed=3)
    assert table(later["BTCUSDT"]).equals(pa.ipc.open_stream(a[0]).read_all().slice(0, 1440))


@pytest.mark.parametrize(("raw", "key"), [
    (synthetic_raw(spot=[{"minutes": 10, "drift": 1.0}]), "basis_market.spot.0.drift: unknown key"),
    (synthetic_raw(spot=[{"minutes": 0}]), "basis_market.spot.0.minutes: "),
    (synthetic_raw(futures={"BTCUSD_210625": {"annual_basis_pct": 5.0, "basis_bps": [["2021-06-01", 1.0]]}}),
     "basis_market.futures.BTCUSD_210625: "),
    (synthetic_raw(futures={"DEC": {"annual_basis_pct": 5.0}}), "basis_market.futures.DEC: 'DEC' is not a quarterly"),
    ({**synthetic_raw(), "kind": "recorded"}, "basis_market.kind: must be one of recorded_daily, synthetic"),
    (recorded_raw(spot_daily=None), "basis_market.spot_daily: "),
    (recorded_raw(extra=1), "basis_market.extra: unknown key"),
    (recorded_raw(synthetic_futures={"BTCUSD_210924": {}}), "basis_market.synthetic_futures.BTCUSD_210924: also"),
])
def test_a_bad_spec_names_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ManifestError) as e:
        parse_futures_market(raw, ORIGIN)
    assert str(e.value).startswith(f"{ORIGIN}: {key}") and "\n" not in str(e.value)


def test_specs_are_frozen() -> None:
    spec = parse_futures_market(synthetic_raw(), ORIGIN)
    assert isinstance(spec, SyntheticBasis)
    with pytest.raises(Exception, match="frozen"):
        spec.start_price = 1.0  # type: ignore[misc]


# -- speed -----------------------------------------------------------------------------------------

@pytest.mark.needs_data
def test_print_the_time_to_build_nine_months(root: Path) -> None:
    t0 = time.perf_counter()
    src = build(recorded_raw(), "2021-01-01", "2021-10-01", root)
    t1 = time.perf_counter()
    rows = dict.fromkeys(src, 0)
    for _, sym, b in merged(src):
        rows[sym] += b.num_rows
    t2 = time.perf_counter()
    print(f"\nbasis market 2021-01-01 → 2021-10-01: read+check {t1 - t0:.2f} s, minutes {t2 - t1:.2f} s, "
          f"rows {rows}")
    assert rows["BTCUSDT"] == 273 * 1440
    assert src["BTCUSDT"].fallback_days == ("2021-02-11", "2021-03-06", "2021-04-20", "2021-04-25", "2021-08-13",
                                            "2021-09-29")
