"""The return-based metrics (sim/outputs/metrics_returns.py) equal empyrical-reloaded's on every golden equity
curve, to 1e-9 relative.

The reference side is built independently with pandas: the curve is the initial equity at the scenario's window
start (from its YAML) followed by every equity.csv row, or for a basis run the capital at the entry day's
midnight followed by each daily_pnl_tracker.csv mark at the end of its day; daily levels are `Series.asof` at
each UTC midnight when there are at least three, else every point is a level. The annualization handed to
empyrical is the one the metrics use: 365 for daily returns (crypto trades every day), 525600 for minute returns.
Where empyrical's value is NaN or infinite, the metric must be None (metrics.json has no NaN).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import yaml

from sim.outputs.metrics import compute_metrics, curve_metrics, read_run_dir
from sim.strategies.basis.plugin import BasisPlugin

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "golden"
EQUITY_RUNS = sorted(p.parent for p in GOLDEN.glob("*/*/equity.csv"))
BASIS_RUNS = sorted(p.parent for p in GOLDEN.glob("basis/*/daily_pnl_tracker.csv"))
REL = 1e-9


def _start(run_dir: Path) -> pd.Timestamp:
    spec = yaml.safe_load((REPO / "scenarios" / run_dir.parent.name / f"{run_dir.name}.yaml").read_text())
    return pd.Timestamp(spec["window"]["start"])


def _reference_returns(series: pd.Series) -> tuple[str, int, np.ndarray]:
    midnights = pd.date_range(series.index[0].ceil("D"), series.index[-1].floor("D"), freq="D")
    if len(midnights) >= 3:
        levels, basis, per_year = series.asof(midnights), "daily", 365
    else:
        levels, basis, per_year = series, "minute", 525_600
    return basis, per_year, levels.pct_change().dropna().to_numpy()


def _same(ours: float | None, theirs: float) -> None:
    if not math.isfinite(theirs):
        assert ours is None, f"library {theirs}, ours {ours}"
    else:
        assert ours is not None and math.isclose(ours, theirs, rel_tol=REL), f"ours {ours}, library {theirs}"


def _compare(m: dict, series: pd.Series) -> None:
    basis, per_year, r = _reference_returns(series)
    assert (m["sharpe_basis"], m["sharpe_returns"]) == (basis, len(r))
    _same(m["sharpe"], ep.sharpe_ratio(r, annualization=per_year))
    _same(m["sortino"], ep.sortino_ratio(r, annualization=per_year))
    vol = ep.annual_volatility(r, annualization=per_year)
    _same(m["volatility_ann_pct"], 100.0 * vol)
    cagr = ep.cagr(r, annualization=per_year) if len(r) else float("nan")
    _same(m["cagr_pct"], 100.0 * cagr)
    _same(m["calmar"], ep.calmar_ratio(r, annualization=per_year) if len(r) else float("nan"))
    # The drawdown in percent is over every point of the curve, whatever the returns basis.
    every = series.pct_change().dropna().to_numpy()
    _same(m["max_drawdown_pct"], -100.0 * ep.max_drawdown(every) if len(every) else 0.0)


@pytest.mark.parametrize("run_dir", EQUITY_RUNS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_return_metrics_equal_the_library_on_golden_equity_curves(run_dir: Path) -> None:
    t = read_run_dir(run_dir, ("equity", "positions", "fills", "features"))
    initial = json.loads((run_dir / "metrics.json").read_text())["initial_equity"]
    start = _start(run_dir)
    m = compute_metrics(initial_equity=initial, equity=t["equity"], positions=t["positions"], fills=t["fills"],
                        features=t["features"], start_ms=int(start.value // 1_000_000))
    eq = t["equity"]
    index = pd.DatetimeIndex([start]).append(pd.to_datetime(eq["ts_ms"], unit="ms", utc=True))
    _compare(m, pd.Series([initial, *eq["equity"]], index=index, dtype=float))


def _basis_curve(run_dir: Path) -> tuple[SimpleNamespace, pd.Series]:
    with (run_dir / "daily_pnl_tracker.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    capital = json.loads((run_dir / "summary.json").read_text())["capital_usd"]
    dates = pd.to_datetime([r[0] for r in rows], utc=True)
    values = [float(r[2]) for r in rows]
    strategy = SimpleNamespace(entry_day=int(dates[0].value // 86_400_000_000_000),
                               daily_rows=[(r[0], float(r[1]), float(r[2]), *r[3:]) for r in rows],
                               p=SimpleNamespace(capital_usd=capital))
    index = pd.DatetimeIndex([dates[0]]).append(dates + pd.Timedelta(days=1))  # a day's mark is at its end
    return strategy, pd.Series([capital, *values], index=index, dtype=float)


@pytest.mark.parametrize("run_dir", BASIS_RUNS, ids=lambda p: p.name)
def test_basis_daily_curve_metrics_equal_the_library(run_dir: Path) -> None:
    strategy, series = _basis_curve(run_dir)
    ts, values = BasisPlugin().equity_curve(strategy)
    assert ts == [int(t.value // 1_000_000) for t in series.index] and values == list(series)
    m = curve_metrics(ts, values)
    assert m["initial_equity"] == values[0] and m["final_equity"] == values[-1]
    _compare(m, series)


def test_the_real_month_daily_sharpe_uses_thirty_returns() -> None:
    run_dir = GOLDEN / "amt" / "binance_spot_month_bars"
    t = read_run_dir(run_dir, ("equity", "positions", "fills", "features"))
    m = compute_metrics(initial_equity=10_000.0, equity=t["equity"], positions=t["positions"], fills=t["fills"],
                        features=t["features"], start_ms=int(_start(run_dir).value // 1_000_000))
    assert (m["sharpe_basis"], m["sharpe_returns"]) == ("daily", 30)
    # Its default start (a minute before the first row, which closes the run's first minute) is the same.
    d = compute_metrics(initial_equity=10_000.0, equity=t["equity"], positions=t["positions"], fills=t["fills"],
                        features=t["features"])
    assert d["sharpe"] == m["sharpe"]


def test_every_golden_curve_is_compared() -> None:
    assert len(EQUITY_RUNS) >= 30 and len(BASIS_RUNS) >= 5
