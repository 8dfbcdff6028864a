"""The bridge generator: minute paths that respect every parent bar exactly, through inner bars
where they tile a parent, with ticks inside each minute's range; and on the real 2021 days."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.data.schema import KLINES
from sim.scenario.bridge import BridgeGenerator, bars_table

MIN = 60_000_000_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_609_459_200_000_000_000  # 2021-01-01


@st.composite
def _bar(draw, den: int):  # noqa: ANN001, ANN202
    lo = draw(st.integers(100 * den, 100_000 * den))
    hi = lo + draw(st.one_of(st.just(0), st.integers(0, 20), st.integers(0, 5000 * den)))
    o, c = draw(st.integers(lo, hi)), draw(st.integers(lo, hi))
    v = draw(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)))
    return (o / den, hi / den, lo / den, c / den, v)


def _check_parent(k: pa.RecordBatch, bar: tuple, ts: int, n_min: int, den: int) -> None:
    o, h, lo, c, v = bar
    mo, mh, ml, mc = (k[n].to_numpy() for n in ("open", "high", "low", "close"))
    mv = k["volume"].to_numpy()
    assert k.num_rows == n_min
    assert np.array_equal(k["open_ts_ns"].to_numpy(), ts + np.arange(n_min) * MIN)
    assert mo[0] == o and mc[-1] == c and mh.max() == h and ml.min() == lo
    assert np.all(ml <= np.minimum(mo, mc)) and np.all(mh >= np.maximum(mo, mc))
    assert np.all(ml >= lo) and np.all(mh <= h)
    for x in (mo, mh, ml, mc):
        assert np.all(np.rint(x * den) / den == x)
    assert np.all(mv >= 0)
    assert mv.sum() == pytest.approx(v, rel=1e-9, abs=0.0)


@settings(max_examples=max(5, settings.default.max_examples // 2))
@given(
    data=st.data(),
    den=st.sampled_from([100, 10]),
    n_min=st.sampled_from([1, 2, 5, 60, 240, 1440]),
    seed=st.integers(0, 2**40),
)
def test_minute_paths_respect_each_parent_exactly(data, den, n_min, seed) -> None:  # noqa: ANN001
    bars = data.draw(st.lists(_bar(den), min_size=1, max_size=3))
    gaps = data.draw(st.lists(st.integers(0, 3), min_size=len(bars), max_size=len(bars)))
    ts = list(T0 + np.cumsum([0] + [(1 + g) * n_min * MIN for g in gaps[1:]]))
    g = BridgeGenerator([(t, *b) for t, b in zip(ts, bars)], n_min * MIN, seed, tick_size=1 / den)
    got = list(g.minute_klines().batches())
    assert [r for r, _ in got] == [1 + i * n_min for i in range(len(bars))]
    for (_, k), bar, t in zip(got, bars, ts):
        _check_parent(k, bar, int(t), n_min, den)


def _hourly_day(rng: np.random.Generator, den: int = 100) -> tuple[list, tuple]:
    """24 consistent hourly bars (each opens where the last closed ± a little) and their day."""
    px = 30000 * den
    hours = []
    for i in range(24):
        o = px + int(rng.integers(-3, 4))
        c = o + int(rng.integers(-200 * den, 200 * den))
        hi = max(o, c) + int(rng.integers(0, 50 * den))
        lo = min(o, c) - int(rng.integers(0, 50 * den))
        hours.append((T0 + i * HOUR, o / den, hi / den, lo / den, c / den, float(rng.uniform(10, 500))))
        px = c
    day = (T0, hours[0][1], max(h[2] for h in hours), min(h[3] for h in hours), hours[-1][4],
           sum(h[5] for h in hours) * (1 + 1e-12))
    return hours, day


def test_paths_go_through_the_inner_bars_when_they_tile_the_parent() -> None:
    hours, day = _hourly_day(np.random.Generator(np.random.PCG64(5)))
    g = BridgeGenerator([day], DAY, 1, inner=hours, inner_interval_ns=HOUR)
    assert g.fallbacks == ()
    ((_, k),) = list(g.minute_klines().batches())
    _check_parent(k, day[1:], T0, 1440, 100)
    scale = day[5] / sum(h[5] for h in hours)
    for i, hour in enumerate(hours):
        _check_parent(k.slice(i * 60, 60), (*hour[1:5], hour[5] * scale), hour[0], 60, 100)


def test_inner_bars_without_volume_still_give_the_parent_volume() -> None:
    hours, day = _hourly_day(np.random.Generator(np.random.PCG64(7)))
    hours = [(*h[:5], 0.0) for h in hours]
    g = BridgeGenerator([(*day[:5], 100.0)], DAY, 1, inner=hours, inner_interval_ns=HOUR)
    ((_, k),) = list(g.minute_klines().batches())
    assert g.fallbacks == () and k["volume"].to_numpy().sum() == pytest.approx(100.0, rel=1e-12)


def test_inner_bars_that_do_not_tile_or_agree_fall_back_to_the_parent() -> None:
    hours, day = _hourly_day(np.random.Generator(np.random.PCG64(6)))
    day2 = (T0 + DAY, *day[1:])
    missing = hours[:5] + hours[6:]
    g = BridgeGenerator([day, day2], DAY, 1, inner=missing + [(h[0] + DAY, *h[1:]) for h in hours],
                        inner_interval_ns=HOUR)
    assert g.fallbacks == (0,)
    bad = list(hours)
    bad[3] = (bad[3][0], bad[3][1], day[2] + 1.0, *bad[3][3:])  # an hour above the day's high
    g = BridgeGenerator([day], DAY, 1, inner=bad, inner_interval_ns=HOUR)
    assert g.fallbacks == (0,)
    ((_, k),) = list(g.minute_klines().batches())
    _check_parent(k, day[1:], T0, 1440, 100)


def test_ticks_along_the_path_stay_inside_each_minute(collect, check_ticks) -> None:  # noqa: ANN001
    bars = [(T0, 30000.0, 30100.5, 29950.25, 30010.0, 120.5), (T0 + 2 * HOUR, 30010.0, 30010.0, 30009.99, 30010.0, 3.0)]
    g = BridgeGenerator(bars, 2 * HOUR, 4, chunk_minutes=45)
    t, q = collect(g.trades()), collect(g.quotes())
    check_ticks(t, q, tick_den=100, sides_at_touch=False)
    k = pa.Table.from_batches([b for _, b in g.minute_klines().batches()])
    kt = k["open_ts_ns"].to_numpy()
    tt, tp = t["ts_ns"].to_numpy(), t["price"].to_numpy()
    j = np.searchsorted(kt, tt, side="right") - 1
    assert np.all(tt - kt[j] < MIN)
    assert np.all(tp >= k["low"].to_numpy()[j]) and np.all(tp <= k["high"].to_numpy()[j])
    # busier where the volume profile is heavier (U-shape: the first and last minutes)
    per_min = np.bincount(j, minlength=len(kt))[:120]
    vol = k["volume"].to_numpy()[:120]
    assert np.corrcoef(per_min, vol)[0, 1] > 0.5
    # the trades stream keeps to the calibrated rate on average
    assert len(tt) / (4 * 3600) == pytest.approx(g.calibration.trade_rate_per_s, rel=0.1)


def test_bad_parent_bars_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"parent bar 1 .* not a bar on the 0.01 grid"):
        BridgeGenerator([(T0, 1.0, 2.0, 1.0, 1.5, 1.0), (T0 + HOUR, 1.0, 2.0, 1.0, 1.555, 1.0)], HOUR, 1)
    with pytest.raises(ValueError, match="parent bar 0 .*low <= open"):
        BridgeGenerator([(T0, 1.0, 2.0, 1.2, 1.5, 1.0)], HOUR, 1)
    with pytest.raises(ValueError, match="parent bar 1 .* starts before bar 0 ends"):
        BridgeGenerator([(T0, 1.0, 2.0, 1.0, 1.5, 1.0), (T0 + MIN, 1.0, 2.0, 1.0, 1.5, 1.0)], HOUR, 1)
    with pytest.raises(ValueError, match="whole number of minutes"):
        BridgeGenerator([(T0, 1.0, 2.0, 1.0, 1.5, 1.0)], HOUR + 1, 1)
    t = bars_table([{"open_ts_ns": T0, "open": 1.0, "high": 2.0, "low": 1.0, "close": 1.5, "volume": 1.0}])
    assert t.schema.equals(KLINES)


def _spot_2021(root) -> pa.Table:  # noqa: ANN001
    d = pacsv.read_csv(root / "binance" / "klines_daily_2021" / "spot_BTCUSDT_1d_2021Q1Q3.csv")
    cols = {"open_ts_ns": pc.multiply(d["open_time_ms"], 1_000_000)}
    cols.update({n: d[n] for n in ("open", "high", "low", "close", "volume")})
    return pa.table(cols, schema=KLINES)


def _ohlcv(bar: dict) -> tuple:
    return (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"])


@pytest.mark.needs_data
def test_real_2021_daily_spot_bars_all_273_days(data_root) -> None:  # noqa: ANN001
    days = _spot_2021(data_root)
    g = BridgeGenerator(days, DAY, 2021)
    rows = days.to_pylist()
    n = 0
    for (row0, k), bar in zip(g.minute_klines().batches(), rows, strict=True):
        assert row0 == 1 + n * 1440
        _check_parent(k, _ohlcv(bar), bar["open_ts_ns"], 1440, 100)
        n += 1
    assert n == 273


@pytest.mark.needs_data
def test_real_2021_days_through_the_real_hourly_bars(data_root) -> None:  # noqa: ANN001
    import pyarrow.parquet as pq

    days = _spot_2021(data_root)
    h = pq.read_table(data_root / "binance" / "spot_btcusdt_klines_1h" / "binance-BTCUSDT-1h.parquet")
    cols = {"open_ts_ns": h["Date"].cast(pa.timestamp("ns")).cast(pa.int64())}
    cols.update({n: h[n] for n in ("open", "high", "low", "close", "volume")})
    hours = pa.table(cols, schema=KLINES)
    g = BridgeGenerator(days, DAY, 2021, inner=hours, inner_interval_ns=HOUR)
    # the six days with a maintenance gap in the hourly file (SOURCE.md) are drawn through the day
    assert len(g.fallbacks) == 6
    hts = hours["open_ts_ns"].to_numpy()
    hrows = hours.to_pylist()
    for i, ((_, k), bar) in enumerate(zip(g.minute_klines().batches(), days.to_pylist(), strict=True)):
        _check_parent(k, _ohlcv(bar), bar["open_ts_ns"], 1440, 100)
        if i in g.fallbacks or i % 30:
            continue
        j0 = int(np.searchsorted(hts, bar["open_ts_ns"]))
        for j in range(24):
            hb = hrows[j0 + j]
            m = k.slice(j * 60, 60)
            assert m["open"][0].as_py() == hb["open"] and m["close"][59].as_py() == hb["close"]
            assert pc.max(m["high"]).as_py() == hb["high"] and pc.min(m["low"]).as_py() == hb["low"]
