"""Properties of the trade and curve metrics (sim/outputs/metrics_trades.py, metrics_returns.py) against small
pure-Python references written the long way, on random trade lists and equity curves."""

from __future__ import annotations

import itertools
import math
import statistics

import empyrical as ep
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.outputs.metrics_returns import (MS_PER_DAY, curve_points, longest_drawdown_ms, max_drawdown,
                                         return_metrics)
from sim.outputs.metrics_trades import Trade, longest_losing_streak, median, profit_factor, trade_stats

T0 = 1_709_251_200_000  # a UTC midnight
nets = st.lists(st.one_of(st.just(0.0), st.floats(-1e4, 1e4, allow_nan=False)), max_size=60)
levels = st.lists(st.floats(1.0, 1e6, allow_nan=False), min_size=1, max_size=60)


@given(nets)
def test_profit_factor_is_gross_profit_over_gross_loss(xs: list[float]) -> None:
    profit = sum(x for x in xs if x > 0)
    loss = sum(-x for x in xs if x < 0)
    pf = profit_factor(xs)
    if loss == 0:
        assert pf is None
    else:
        assert math.isclose(pf, profit / loss, rel_tol=1e-12)


@given(nets)
def test_longest_losing_streak_is_the_longest_run_of_losses(xs: list[float]) -> None:
    runs = [len(list(g)) for is_loss, g in itertools.groupby(xs, key=lambda x: x < 0) if is_loss]
    assert longest_losing_streak(xs) == max(runs, default=0)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=40))
def test_median_is_the_statistics_median(xs: list[float]) -> None:
    assert median(xs) == (statistics.median(xs) if xs else None)


@given(st.lists(st.tuples(st.floats(-100, 100, allow_nan=False), st.floats(0, 5, allow_nan=False),
                          st.integers(0, 10_000), st.sampled_from(["long", "short"])), max_size=40))
def test_trade_stats_partition_the_trades(rows: list[tuple[float, float, int, str]]) -> None:
    trades = [Trade(i, i + held * 1000, side, "x", gross, gross - fee) for i, (gross, fee, held, side) in enumerate(rows)]
    s = trade_stats(trades)
    zero = sum(1 for t in trades if t.net == 0)
    assert s["wins"] + s["losses"] + zero == s["trades"] == len(trades)
    if trades:
        assert s["win_rate_gross"] >= s["win_rate"]  # fees and funding here are >= 0: no net win is a gross loss
        assert s["largest_win"] is None or s["largest_win"] == max(t.net for t in trades)
        assert s["avg_holding_minutes"] == math.fsum(h * 1000 / 60_000 for _, _, h, _ in rows) / len(rows)


def _brute_longest_drawdown(points: list[tuple[int, float]]) -> int:
    """For each point at its running peak followed by a lower one: the time until the first later point at or
    above it (or the last point)."""
    best = 0
    for i, (t, e) in enumerate(points):
        if i + 1 >= len(points) or points[i + 1][1] >= e or any(p[1] > e for p in points[:i]):
            continue
        end = next((u for u, f in points[i + 1:] if f >= e), points[-1][0])
        best = max(best, end - t)
    return best


@given(levels, st.integers(1, 3 * 1440))
def test_longest_drawdown_and_max_drawdown_against_brute_force(values: list[float], step_min: int) -> None:
    pts = [(T0 + i * step_min * 60_000, v) for i, v in enumerate(values)]
    assert longest_drawdown_ms(pts) == _brute_longest_drawdown(pts)
    dd, dd_pct = max_drawdown(pts)
    pairs = [(a, b) for i, (_, a) in enumerate(pts) for _, b in pts[i:]]
    assert dd == max(a - b for a, b in pairs)  # the largest fall from any earlier (or the same) point
    assert math.isclose(dd_pct, max(100.0 * (max(v for _, v in pts[:j + 1]) - pts[j][1]) / max(v for _, v in pts[:j + 1])
                                    for j in range(len(pts))), rel_tol=1e-12, abs_tol=0.0)


@settings(max_examples=60)
@given(levels, st.sampled_from([60_000, 3_600_000, MS_PER_DAY]))
def test_return_metrics_equal_the_library_on_random_curves(values: list[float], step: int) -> None:
    """The same comparison as on the goldens. A ratio whose mean return cancels to almost 0 loses relative
    precision in any summation order, so values below 1e-9 in size compare absolutely."""
    pts = curve_points(T0, 1000.0, [T0 + (i + 1) * step for i in range(len(values))], values)
    m = return_metrics(pts)
    days = (pts[-1][0] // MS_PER_DAY) - (-(-pts[0][0] // MS_PER_DAY))
    if days >= 2:
        lv = [next(v for t, v in reversed(pts) if t <= d * MS_PER_DAY)
              for d in range(-(-pts[0][0] // MS_PER_DAY), pts[-1][0] // MS_PER_DAY + 1)]
        per_year, basis = 365, "daily"
    else:
        lv, per_year, basis = [v for _, v in pts], 525_600, "minute"
    r = np.diff(lv) / np.array(lv[:-1])
    assert (m["sharpe_basis"], m["sharpe_returns"]) == (basis, len(r))
    for ours, theirs in ((m["sharpe"], ep.sharpe_ratio(r, annualization=per_year)),
                         (m["sortino"], ep.sortino_ratio(r, annualization=per_year)),
                         (m["volatility_ann_pct"], 100 * ep.annual_volatility(r, annualization=per_year))):
        if not math.isfinite(theirs):
            assert ours is None
        else:
            assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)
