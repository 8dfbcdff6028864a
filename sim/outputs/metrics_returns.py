"""Return-based risk metrics of an equity curve: Sharpe, Sortino, volatility, CAGR, Calmar, drawdown.

The curve is a list of (ts_ms, level) points whose first point is the initial capital at the run's
start (a run's equity.csv rows are minute closes, so the capital stands one minute before the first
row; a strategy's own curve has daily marks). Non-finite levels are left out. Everything is computed
in plain Python with `math.fsum` sums, so a value is a function of the curve alone, not of evaluation
order; a value that is undefined is None, never NaN or infinity.

Definitions (risk-free rate 0 throughout; the conventions are empyrical's, with its `annualization`
set to the periods per year below, so the two agree to rounding):
- The returns basis. When the curve holds at least three UTC midnights (two full days between the
  first and the last), the levels are the equity at each midnight from the first to the last (the
  last point at or before it) and periods per year = 365 (crypto trades every day): "daily". A run
  that starts at a midnight thus has the initial capital as its first daily level, and a run of
  exactly two full days has two daily returns. Otherwise the levels are every point (the initial
  capital, then each minute row) and periods per year = 525600: "minute". A curve of daily marks
  (`minute_fallback=False`) is always "daily". `sharpe_basis` names the basis and `sharpe_returns`
  counts the returns, n.
- Returns `r_i = L_i / L_{i-1} - 1` between consecutive levels; every return-based value is None
  when a base level is <= 0.
- `sharpe = mean(r) / stdev(r) * sqrt(P)`, stdev the sample standard deviation (ddof 1), P the
  periods per year; None with n < 2 or all returns equal.
- `sortino = mean(r) / DD * sqrt(P)` with the downside deviation `DD = sqrt(sum(min(r_i, 0)^2) / n)`
  (over all n returns, not only the negative ones); None with n < 2 or DD = 0.
- `volatility_ann_pct = 100 * stdev(r) * sqrt(P)`; None with n < 2.
- `cagr_pct = 100 * ((L_n / L_0) ^ (P / n) - 1)`: the growth of the sampled levels compounded over
  n / P years; None with n < 1, L_n < 0, or a value too large for a float.
- `calmar = (cagr_pct / 100) / D`, D the largest fall `(peak - L) / peak` of the sampled levels
  from their running peak (starting at L_0); None when D = 0 or CAGR is None. On a daily basis D
  is the drawdown between midnights, which can be smaller than `max_drawdown_pct`.
- `max_drawdown` = max(peak - level) and `max_drawdown_pct` = max(100 * (peak - level) / peak) over
  every point of the curve, the running peak starting at the initial capital (the two maxima may
  fall at different points).
- `longest_drawdown_days`: the longest time under water. An episode starts at the last point at the
  running peak before a point below it and ends at the first later point at or above that peak, or
  at the curve's last point when it never gets back; its length is the difference of the two
  timestamps in days (86 400 000 ms). 0.0 when the curve never falls below its peak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MS_PER_DAY = 86_400_000
MS_PER_MIN = 60_000
DAYS_PER_YEAR = 365
MINUTES_PER_YEAR = 525_600

Point = tuple[int, float]


def curve_points(start_ms: int, initial: float, ts_ms: Sequence[Any], levels: Sequence[Any]) -> list[Point]:
    """The curve: (start_ms, initial) first, then every row with a timestamp and a finite level."""
    pts: list[Point] = [(start_ms, initial)]
    pts += [(t, float(e)) for t, e in zip(ts_ms, levels) if t is not None and e is not None and math.isfinite(e)]
    return pts


def sampled_levels(points: Sequence[Point], minute_fallback: bool = True) -> tuple[str | None, int, list[float]]:
    """(basis, periods per year, levels) by the rule in the module docstring."""
    if not points:
        return None, 0, []
    first_day = -(-points[0][0] // MS_PER_DAY)  # the first midnight at or after the first point
    last_day = points[-1][0] // MS_PER_DAY
    if last_day - first_day < 2 and minute_fallback:
        return "minute", MINUTES_PER_YEAR, [e for _, e in points]
    levels, i = [], 0
    for day in range(first_day, last_day + 1):
        midnight = day * MS_PER_DAY
        while i + 1 < len(points) and points[i + 1][0] <= midnight:
            i += 1
        levels.append(points[i][1])
    return "daily", DAYS_PER_YEAR, levels


def simple_returns(levels: Sequence[float]) -> list[float] | None:
    """`L_i / L_{i-1} - 1`, or None when a base level is not positive."""
    out = []
    for a, b in zip(levels, levels[1:]):
        if a <= 0:
            return None
        out.append(b / a - 1.0)
    return out


def _mean(r: Sequence[float]) -> float:
    return math.fsum(r) / len(r)


def _stdev(r: Sequence[float]) -> float:
    """Sample standard deviation; exactly 0 when all values are equal (no rounding residue of the mean)."""
    if max(r) == min(r):
        return 0.0
    m = _mean(r)
    return math.sqrt(math.fsum((x - m) ** 2 for x in r) / (len(r) - 1))


def sharpe(r: Sequence[float], per_year: int) -> float | None:
    if len(r) < 2:
        return None
    sd = _stdev(r)
    return None if sd == 0.0 else _mean(r) / sd * math.sqrt(per_year)


def sortino(r: Sequence[float], per_year: int) -> float | None:
    if len(r) < 2:
        return None
    dd = math.sqrt(math.fsum(min(x, 0.0) ** 2 for x in r) / len(r))
    return None if dd == 0.0 else _mean(r) / dd * math.sqrt(per_year)


def volatility_ann(r: Sequence[float], per_year: int) -> float | None:
    return _stdev(r) * math.sqrt(per_year) if len(r) >= 2 else None


def cagr(levels: Sequence[float], per_year: int) -> float | None:
    """As a fraction; see the module docstring."""
    n = len(levels) - 1
    if n < 1 or levels[0] <= 0:
        return None
    growth = levels[-1] / levels[0]
    if growth < 0:
        return None
    try:
        return growth ** (per_year / n) - 1.0
    except OverflowError:
        return None


def drawdown_fraction(levels: Sequence[float]) -> float:
    """The largest `(peak - L) / peak` of a level series from its running peak (starting at the first)."""
    if not levels:
        return 0.0
    peak, worst = levels[0], 0.0
    for e in levels:
        peak = max(peak, e)
        if peak > 0:
            worst = max(worst, (peak - e) / peak)
    return worst


def max_drawdown(points: Sequence[Point]) -> tuple[float, float]:
    """(max drawdown in quote currency, in percent of the peak) over every point."""
    if not points:
        return 0.0, 0.0
    peak, dd, dd_pct = points[0][1], 0.0, 0.0
    for _, e in points:
        peak = max(peak, e)
        dd = max(dd, peak - e)
        if peak > 0:
            dd_pct = max(dd_pct, 100.0 * (peak - e) / peak)
    return dd, dd_pct


def longest_drawdown_ms(points: Sequence[Point]) -> int:
    """The longest episode under water, in ms, by the rule in the module docstring."""
    if not points:
        return 0
    peak, peak_ts = points[0][1], points[0][0]
    longest, under = 0, False
    for t, e in points[1:]:
        if e >= peak:
            if under:  # back at the peak: the episode ends at this point
                longest = max(longest, t - peak_ts)
            peak, peak_ts, under = e, t, False
        else:
            under = True
            longest = max(longest, t - peak_ts)
    return longest


def return_metrics(points: Sequence[Point], minute_fallback: bool = True) -> dict[str, Any]:
    """The return-based metrics of a curve (keys as in the module docstring)."""
    basis, per_year, levels = sampled_levels(points, minute_fallback)
    r = simple_returns(levels)
    dd, dd_pct = max_drawdown(points)
    growth = cagr(levels, per_year) if r is not None else None
    sampled_dd = drawdown_fraction(levels)
    rr = r or []
    return {
        "sharpe": sharpe(rr, per_year),
        "sharpe_basis": basis,
        "sharpe_returns": len(rr),
        "sortino": sortino(rr, per_year),
        "volatility_ann_pct": None if (v := volatility_ann(rr, per_year)) is None else 100.0 * v,
        "cagr_pct": None if growth is None else 100.0 * growth,
        "calmar": growth / sampled_dd if growth is not None and sampled_dd > 0 else None,
        "max_drawdown": dd,
        "max_drawdown_pct": dd_pct,
        "longest_drawdown_days": longest_drawdown_ms(points) / MS_PER_DAY,
    }
