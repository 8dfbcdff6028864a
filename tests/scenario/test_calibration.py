"""The committed calibration is what the data says, and the generator reproduces it.

Tolerances (3 hours of a plain walk, seed fixed): trade rate ±3 %, same-millisecond share
±0.02, median trade size within one size step of the fitted lognormal median exp(mu) and within
20 % of the recorded median, mean of log size ±0.15 and its sd ±0.2 (rounding to the size step
folds the lognormal's lower tail onto 0.001 BTC, which narrows it by ~0.15), spread shares
±0.005 each, quote rate ±2 %, L1 median size within 10 % of exp(mu), 1-second mid volatility
±15 %.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.scenario.calibration import CALIBRATION_FILE, Calibration, calibrate, load_calibration, with_overrides
from sim.scenario.synthetic import TickGenerator


@pytest.mark.needs_data
def test_committed_calibration_is_recomputed_from_the_data(data_root) -> None:  # noqa: ANN001
    cal = calibrate(data_root)
    assert cal.to_json() == CALIBRATION_FILE.read_text()
    assert cal == load_calibration()


def test_committed_file_is_canonical() -> None:
    text = CALIBRATION_FILE.read_text()
    data = json.loads(text)
    assert list(data) == sorted(data)
    cal = load_calibration()
    assert cal.to_json() == text

    def floats(v):  # noqa: ANN001, ANN202
        if isinstance(v, float):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from floats(x)
        elif isinstance(v, list):
            for x in v:
                yield from floats(x)

    assert all(float(f"{x:.6g}") == x for x in floats(data))
    # sanity of what the generators rely on
    assert cal.tick_size == 0.1 and cal.size_step == 0.001
    assert len(cal.spread_ticks_share) == 10 and math.isclose(sum(cal.spread_ticks_share), 1.0, abs_tol=1e-5)
    assert 10 < cal.trade_rate_per_s < 50 and 50 < cal.quote_rate_per_s < 200
    assert 0.5 < cal.same_ms_trade_frac < 0.8 and cal.spread_ticks_share[0] > 0.97


def test_overrides_are_checked() -> None:
    cal = with_overrides(load_calibration(), {"trade_rate_per_s": 5.0})
    assert cal.trade_rate_per_s == 5.0 and isinstance(cal, Calibration)
    with pytest.raises(TypeError, match="unknown generator parameter"):
        with_overrides(load_calibration(), {"source": "x"})


@pytest.fixture(scope="module")
def walk3h(start_ns, collect):  # noqa: ANN001, ANN201
    g = TickGenerator(start_ns=start_ns, segments=[{"type": "walk", "minutes": 180}], seed=11)
    return g, collect(g.trades()), collect(g.quotes())


def test_generated_trades_match_the_calibration(walk3h) -> None:  # noqa: ANN001
    g, t, _ = walk3h
    cal = load_calibration()
    secs = (g.end_ns - g.start_ns) / 1e9
    ts = t["ts_ns"].to_numpy()
    size = t["size"].to_numpy()
    assert len(ts) / secs == pytest.approx(cal.trade_rate_per_s, rel=0.03)
    assert np.mean(ts[1:] == ts[:-1]) == pytest.approx(cal.same_ms_trade_frac, abs=0.02)
    med = float(np.median(size))
    assert abs(med - math.exp(cal.trade_size_log_mu)) <= cal.size_step + 1e-12
    assert med == pytest.approx(cal.trade_size_median, rel=0.2)
    assert np.log(size).mean() == pytest.approx(cal.trade_size_log_mu, abs=0.15)
    assert np.log(size).std() == pytest.approx(cal.trade_size_log_sigma, abs=0.2)
    assert 0.4 < np.mean(t["side"].to_numpy() > 0) < 0.6


def test_generated_quotes_match_the_calibration(walk3h) -> None:  # noqa: ANN001
    g, _, q = walk3h
    cal = load_calibration()
    secs = (g.end_ns - g.start_ns) / 1e9
    qt = q["ts_ns"].to_numpy()
    assert len(qt) / secs == pytest.approx(cal.quote_rate_per_s, rel=0.02)
    k = np.rint((q["ask_px"].to_numpy() - q["bid_px"].to_numpy()) * 10).astype(int)
    share = np.bincount(np.clip(k, 1, 10) - 1, minlength=10) / len(k)
    assert np.allclose(share, cal.spread_ticks_share, atol=0.005)
    l1 = np.concatenate([q["bid_sz"].to_numpy(), q["ask_sz"].to_numpy()])
    assert float(np.median(l1)) == pytest.approx(math.exp(cal.l1_size_log_mu), rel=0.1)
    # 1-second mid volatility, sampled as the calibration samples it
    mid2 = q["bid_px"].to_numpy() + q["ask_px"].to_numpy()
    grid = g.start_ns + np.arange(1, int(secs)) * 1_000_000_000
    at = mid2[np.searchsorted(qt, grid, side="right") - 1]
    r = np.diff(np.log(at))
    assert r.std(ddof=1) == pytest.approx(cal.mid_vol_1s, rel=0.15)


def test_a_calibration_file_can_be_named(tmp_path, start_ns) -> None:  # noqa: ANN001
    f = tmp_path / "cal.json"
    f.write_text(with_overrides(load_calibration(), {"trade_rate_per_s": 2.0}).to_json())
    g = TickGenerator(start_ns=start_ns, segments=[{"type": "walk", "minutes": 1}], seed=1, calibration=f)
    assert g.calibration.trade_rate_per_s == 2.0
    assert g.calibration.quote_rate_per_s == load_calibration().quote_rate_per_s
