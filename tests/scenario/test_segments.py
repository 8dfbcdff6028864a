"""Each segment type does what its docstring says, on the generated ticks (not only the path)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.errors import ManifestError
from sim.scenario.segments import Poke, Rotate, parse_segments
from sim.scenario.synthetic import TickGenerator

MIN = 60_000_000_000
TICK = 0.1


@pytest.fixture(params=[0, 1, 2, 3], ids=lambda s: f"seed{s}")
def run(request, script_run):  # noqa: ANN001, ANN201
    g, t, q = script_run(request.param)
    return g, t["ts_ns"].to_numpy(), t["price"].to_numpy(), t["side"].to_numpy(), t["size"].to_numpy(), q


def _plans(g: TickGenerator, kind: str) -> list:
    return [p for p in g.plan if p.type == kind]


def _minute(tt: np.ndarray, tp: np.ndarray, m0: int) -> np.ndarray:
    return tp[(tt >= m0) & (tt < m0 + MIN)]


def test_the_script_is_valid_ticks(run, script_run, script, check_ticks) -> None:  # noqa: ANN001
    g, *_ = run
    _, t, q = script_run(g.seed)
    check_ticks(t, q)
    assert [p.type for p in g.plan] == [s["type"] for s in script]
    assert g.plan[0].label == "balance"
    assert all(p.start_ns % MIN == 0 and p.end_ns % MIN == 0 for p in g.plan), "segments start on minutes"
    assert g.plan[-1].end_ns == g.end_ns


def test_rotate_stays_in_its_band(run) -> None:  # noqa: ANN001
    g, tt, tp, *_ = run
    mids = g.mid_prices()
    for p in _plans(g, "rotate"):
        s0, s1 = (p.start_ns - g.start_ns) // 1_000_000_000, (p.end_ns - g.start_ns) // 1_000_000_000
        m = mids[s0:s1]
        assert m.min() >= p.info["band_lo"] - 1e-6 and m.max() <= p.info["band_hi"] + 1e-6
        # it rotates: the band is explored on both sides of the centre
        assert (m < p.info["center"]).any() and (m > p.info["center"]).any()
        w = (tt >= p.start_ns + MIN) & (tt < p.end_ns)
        assert tp[w].min() >= p.info["band_lo"] - 1.0 and tp[w].max() <= p.info["band_hi"] + 1.0


def test_drift_ends_where_it_says(run) -> None:  # noqa: ANN001
    g, *_ = run
    (p,) = _plans(g, "drift")
    end = g.mid_prices()[(p.end_ns - g.start_ns) // 1_000_000_000 - 1]
    assert end == pytest.approx(p.start_mid * (1 - 40 / 1e4), rel=1e-12)


def test_poke_goes_beyond_the_edge_and_closes_back_inside_with_initiative(run) -> None:  # noqa: ANN001
    g, tt, tp, side, size, q = run
    low, high = _plans(g, "poke")
    for p, beyond in ((low, 10), (high, 25)):
        m0 = p.info["poke_minute_ns"]
        px = _minute(tt, tp, m0)
        w = (tt >= m0) & (tt < m0 + MIN)
        if p is low:
            assert p.info["edge"] == p.info["range_lo"]
            assert px.min() <= p.info["edge"] - beyond * TICK + 1e-9, "the minute's low is beyond the range low"
            assert px[-1] > p.info["edge"] and px[-1] >= p.info["close_level"], "it closes back inside"
            assert p.info["initiative"] == "buy"
        else:
            assert p.info["edge"] == p.info["range_hi"]
            assert px.max() >= p.info["edge"] + beyond * TICK - 1e-9
            assert px[-1] < p.info["edge"] and px[-1] <= p.info["close_level"]
            assert p.info["initiative"] == "sell"
        sign = 1 if p.info["initiative"] == "buy" else -1
        # order flow and book imbalance lean the initiative's way
        assert sign * float(np.sum(size[w] * side[w])) > 0
        qt = q["ts_ns"].to_numpy()
        qw = (qt >= m0) & (qt < m0 + MIN)
        imb = np.log(q["bid_sz"].to_numpy()[qw] / q["ask_sz"].to_numpy()[qw]).mean()
        assert sign * imb > 0.5


def test_poke_range_is_the_recent_percentile_band(run) -> None:  # noqa: ANN001
    g, *_ = run
    p = _plans(g, "poke")[0]
    s0 = (p.start_ns - g.start_ns) // 1_000_000_000
    hist = g.mid_prices()[max(0, s0 - 240 * 60) : s0]
    lo, hi = np.percentile(hist, [15, 85])
    assert p.info["range_lo"] == pytest.approx(lo, abs=1e-6) and p.info["range_hi"] == pytest.approx(hi, abs=1e-6)


def test_hold_outside_gives_k_closes_beyond_the_edge(run) -> None:  # noqa: ANN001
    g, tt, tp, *_ = run
    up, down = _plans(g, "hold_outside")
    for p, k, direction in ((up, 3, 1), (down, 2, -1)):
        f = p.info["first_hold_minute_ns"]
        before = _minute(tt, tp, f - MIN)
        assert direction * (before[-1] - p.info["edge"]) < 0, "the approach closes inside"
        for i in range(k):
            close = _minute(tt, tp, f + i * MIN)[-1]
            assert direction * (close - p.info["close_beyond"]) >= -1e-9, f"close {i + 1} beyond the edge"
        assert f + k * MIN == p.end_ns


def test_gap_leaves_no_trade_near_the_level(run) -> None:  # noqa: ANN001
    g, tt, tp, *_ = run
    up, down = _plans(g, "gap")
    assert down.info["level"] == pytest.approx(29000.0) and down.info["direction"] == "down"
    assert up.info["direction"] == "up" and up.info["level"] == up.info["range_hi"]
    for p in (up, down):
        d = 1 if p.info["direction"] == "up" else -1
        w = (tt >= p.info["clear_from_ns"]) & (tt < p.end_ns)
        dist = tp[w] - p.info["level"]
        assert np.all(np.abs(dist) > p.info["clear_ticks"] * TICK), "no print within N ticks of the level"
        before = (tt >= p.info["clear_from_ns"]) & (tt < p.info["jump_ns"])
        after = (tt >= p.info["jump_ns"]) & (tt < p.end_ns)
        assert np.all(d * (tp[before] - p.info["level"]) < 0) and np.all(d * (tp[after] - p.info["level"]) > 0)
        assert before.any() and after.any()
    # the down gap started far above its level, so it is clear from the start of the segment
    assert down.info["clear_from_ns"] < down.info["jump_ns"]


def test_flash_crash_drops_at_least_x_bps(run) -> None:  # noqa: ANN001
    g, tt, tp, side, *_ = run
    (p,) = _plans(g, "flash_crash")
    w = (tt >= p.info["crash_ns"]) & (tt <= p.info["trough_ns"] + 2_000_000_000)
    assert tp[w].min() <= p.info["start_mid"] * (1 - 150 / 1e4)
    assert np.mean(side[w] < 0) > 0.7, "mostly sells on the way down"
    # partial recovery
    after = tp[(tt >= p.end_ns - 10_000_000_000) & (tt < p.end_ns)]
    assert tp[w].min() < after.mean() < p.info["start_mid"]


def test_stale_has_no_ticks_in_its_window_and_resumes_with_a_quote(run) -> None:  # noqa: ANN001
    g, tt, tp, side, size, q = run
    (p,) = _plans(g, "stale")
    a, b = p.info["stale_from_ns"], p.info["stale_to_ns"]
    assert b - a == 90_000_000_000
    qt = q["ts_ns"].to_numpy()
    assert not ((tt >= a) & (tt < b)).any() and not ((qt >= a) & (qt < b)).any()
    assert qt[np.searchsorted(qt, b)] == b, "the feed comes back with a quote"
    assert ((tt >= a - 10_000_000_000) & (tt < a)).any(), "ticks right up to the silence"


def test_quiet_is_quiet(run) -> None:  # noqa: ANN001
    g, tt, *_ = run
    (p,) = _plans(g, "quiet")
    rate = np.count_nonzero((tt >= p.start_ns) & (tt < p.end_ns)) / ((p.end_ns - p.start_ns) / 1e9)
    assert rate == pytest.approx(0.2 * g.calibration.trade_rate_per_s, rel=0.35)


def test_segments_need_a_range_before_poking(start_ns) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="needs a recent range"):
        TickGenerator(start_ns=start_ns, segments=[Poke(side="low")], seed=1)


def test_segments_validate_with_one_line_errors(tmp_path) -> None:  # noqa: ANN001
    segs = parse_segments([{"type": "rotate", "minutes": 5, "half_width_ticks": 40}, Poke(side="high")])
    assert isinstance(segs[0], Rotate) and segs[0].half_width_ticks == 40 and segs[1].side == "high"
    with pytest.raises(ValueError, match=r"^synthetic\.segments\[1\]\.beyond_ticks: "):
        parse_segments([{"type": "walk", "minutes": 1}, {"type": "poke", "side": "low", "beyond_ticks": -1}])
    with pytest.raises(ValueError, match=r"segments\[0\]\.minute: unknown key"):
        parse_segments([{"type": "walk", "minutes": 1, "minute": 1}])
    with pytest.raises(ValueError, match=r"segments\[0\]: unknown segment type 'sideways'"):
        parse_segments([{"type": "sideways", "minutes": 1}])
    with pytest.raises(ValueError, match=r"segments\[0\]: missing 'type'"):
        parse_segments([{"minutes": 1}])
    with pytest.raises(ValueError, match="not both"):
        parse_segments([{"type": "rotate", "minutes": 1, "half_width_ticks": 1, "half_width_bps": 1}])
    with pytest.raises(ValueError, match="minutes too short"):
        parse_segments([{"type": "flash_crash", "drop_bps": 100, "minutes": 1}])
    f = tmp_path / "s.yaml"
    with pytest.raises(ManifestError) as e:
        parse_segments([{"type": "stale"}], origin=f)
    assert str(e.value) == f"{f}: synthetic.segments[0].seconds: required key is missing"


def test_segments_round_trip_through_yaml(tmp_path, script) -> None:  # noqa: ANN001
    import yaml

    from sim.scenario.synthetic import load_segments_yaml

    f = tmp_path / "segments.yaml"
    f.write_text(yaml.safe_dump(script))
    segs = load_segments_yaml(f)
    assert [s.model_dump(exclude_unset=True) for s in segs] == script


def test_bad_generator_arguments(start_ns) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="minute boundary"):
        TickGenerator(start_ns=start_ns + 1, segments=[{"type": "walk", "minutes": 1}], seed=1)
    with pytest.raises(TypeError, match="unknown generator parameter"):
        TickGenerator(start_ns=start_ns, segments=[{"type": "walk", "minutes": 1}], seed=1, trade_rate=3)
