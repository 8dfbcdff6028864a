"""A run's output metrics (spec §12.6), computed from its exported tables, and a reader for a run directory.

`compute_metrics` takes the tables as columns (name -> list of typed values, as `read_run_dir` returns
them) and gives a JSON-safe dict: every value a float, int, str, None or a nested dict of those, NaN never
(None instead), nothing rounded, so `sim.outputs.exports.json_text` of it is byte-stable and can be a golden file.
Sums use `math.fsum` (exactly rounded, independent of order of evaluation).

Definitions:
- Account figures (`final_equity`, `realized_pnl`, `fees`, `funding`, `unrealized_pnl`) are the last row
  of equity.csv, whose columns are cumulative; `net_pnl = final_equity - initial_equity`; `gross_pnl` is
  `realized_pnl` (price PnL before fees and funding). Fees and funding are amounts paid (a rebate is < 0).
- Trade statistics (`trades`, `win_rate`, `win_rate_gross`, `profit_factor`, `payoff_ratio`, holding
  times, `exposure_pct`, `turnover`, `by_setup`, `by_side`, ...) are defined in
  `sim/outputs/metrics_trades.py`.
- Return-based metrics (`sharpe` with `sharpe_basis` and `sharpe_returns`, `sortino`,
  `volatility_ann_pct`, `cagr_pct`, `calmar`, `max_drawdown`, `max_drawdown_pct`,
  `longest_drawdown_days`) are defined in `sim/outputs/metrics_returns.py`. Their curve is the initial
  equity at the run's start (`start_ms`; by default one minute before the first equity.csv row, which
  closes the run's first minute) followed by every equity.csv row.
- Spread paid, per fill with a mid: `s = side * (price - mid_px)`, side +1 buy / -1 sell, so a positive s is
  a cost against the mid (half the spread plus slippage; a maker fill inside the spread can be negative);
  in price units and in bps of the mid (`1e4 * s / mid_px`); `total_cost = sum(qty * s)` in quote currency
  (USDT for the linear perpetual, qty in BTC). Fills without a mid are counted in `missing_mid`.
- Distributions report count, mean, p50, p90 and max; percentiles interpolate linearly between order
  statistics (numpy's default "linear" method).
- Ambiguous trade fraction: over the minutes where `ambiguous_trade_frac_1m` is defined;
  `above_max_frac` is the fraction of those minutes strictly above `ambiguous_max` (the strategy's own
  rule is "above ambiguous_trade_frac_max": both initiative legs required).

`metrics_groups` orders the metrics for a reader (account, returns and risk, trades, per setup, per
side, execution, features); `metrics_table` prints them that way.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.core.errors import DataFileError, UserInputError
from sim.outputs.metrics_returns import MS_PER_MIN, curve_points, return_metrics
from sim.outputs.metrics_trades import closed_trades, column as _col, exposure_pct, grouped, trade_stats, turnover

Table = dict[str, list[Any]]

# Column types of the exported tables. Integers: timestamps and counts; booleans: flags written as 1/0;
# strings: ids, enums and free text; every other column is a float (an empty field is NaN).
INT_COLUMNS = frozenset({"trade_count", "va_bin_count"})
BOOL_COLUMNS = frozenset({"va_valid", "near_vah", "near_val"})
STR_COLUMNS = frozenset({
    "id", "order_id", "side", "type", "intent", "reason", "state", "liquidity", "strategy_tag", "status",
    "chosen_action", "reason_code", "acceptance_state", "event", "rebucketed", "kind", "message",
})


def column_kind(name: str) -> str:
    if name in STR_COLUMNS:
        return "str"
    if name in BOOL_COLUMNS or name.startswith("signal_"):
        return "bool"
    if name in INT_COLUMNS or name.endswith("_ms"):
        return "int"
    return "float"


def _convert(kind: str, text: str) -> Any:
    if kind == "str":
        return text
    if text == "":
        return float("nan") if kind == "float" else None
    if kind == "int":
        return int(text)
    if kind == "bool":
        if text not in ("0", "1", "true", "false", "True", "False"):
            raise ValueError(text)
        return text in ("1", "true", "True")
    return float(text)


def read_csv_table(path: Path) -> Table:
    """One exported CSV as typed columns. A bad value is a one-line error naming the file, row and column."""
    with path.open(newline="") as fh:
        rows = csv.reader(fh)  # RFC 4180, as sim/outputs/exports.py writes it
        header = next(rows, None)
        if header is None:
            raise DataFileError(path, "empty file, expected a header row")
        kinds = [column_kind(c) for c in header]
        table: Table = {c: [] for c in header}
        for i, row in enumerate(rows, start=1):
            if len(row) != len(header):
                raise DataFileError(path, f"{len(row)} fields, the header has {len(header)}", row=i)
            for name, kind, text in zip(header, kinds, row):
                try:
                    table[name].append(_convert(kind, text))
                except ValueError:
                    raise DataFileError(path, f"column {name}: cannot read {text!r} as {kind}", row=i) from None
    return table


def read_run_dir(path: Path | str, names: Sequence[str] | None = None) -> dict[str, Table]:
    """The CSVs of a run directory (all of them, or those whose stems are in `names`), keyed by file stem
    ("bars", "fills", ...). Absent files are absent keys."""
    path = Path(path)
    if not path.is_dir():
        raise UserInputError(f"{path}: not a run directory (no such directory)")
    files = sorted(path.glob("*.csv")) if names is None else [path / f"{n}.csv" for n in names]
    return {p.stem: read_csv_table(p) for p in files if p.is_file()}


# ---- small deterministic statistics ------------------------------------------------------------------


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def quantile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between order statistics (numpy's default), on an already sorted list."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    if frac == 0.0:
        return sorted_values[lo]
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def distribution(values: Sequence[float]) -> dict[str, Any]:
    s = sorted(values)
    return {"count": len(s), "mean": _mean(s), "p50": quantile(s, 0.5), "p90": quantile(s, 0.9),
            "max": s[-1] if s else None}


# ---- the metrics -------------------------------------------------------------------------------------


def drawdown_series(initial_equity: float, equity: Sequence[float]) -> list[float]:
    """Drawdown at each row, `equity - running peak` (<= 0), the peak starting at `initial_equity`."""
    peak = initial_equity
    out = []
    for e in equity:
        if math.isfinite(e):
            peak = max(peak, e)
            out.append(e - peak)
        else:
            out.append(float("nan"))
    return out


def _spread_paid(fills: Table) -> dict[str, Any]:
    side = _col(fills, "side", "fills")
    price = _col(fills, "price", "fills")
    qty = _col(fills, "qty", "fills")
    # A run without quotes has no mid: fills.csv may lack the column entirely.
    mid = fills.get("mid_px") or [float("nan")] * len(side)
    cost, bps, total = [], [], []
    for sd, px, q, m in zip(side, price, qty, mid):
        if m is None or not math.isfinite(m) or m <= 0:
            continue
        s = (1.0 if sd == "buy" else -1.0) * (px - m)
        cost.append(s)
        bps.append(1e4 * s / m)
        total.append(q * s)
    d = distribution(cost)
    b = distribution(bps)
    return {
        "count": d["count"], "missing_mid": len(side) - d["count"],
        "avg": d["mean"], "p50": d["p50"], "p90": d["p90"], "max": d["max"],
        "avg_bps": b["mean"], "p50_bps": b["p50"], "p90_bps": b["p90"], "max_bps": b["max"],
        "total_cost": math.fsum(total) if total else 0.0,
    }


def _ambiguous(features: Table, ambiguous_max: float) -> dict[str, Any]:
    v = _finite(_col(features, "ambiguous_trade_frac_1m", "features"))
    d = distribution(v)
    above = sum(1 for x in v if x > ambiguous_max)
    return {"minutes": d["count"], "mean": d["mean"], "p50": d["p50"], "p90": d["p90"], "max": d["max"],
            "threshold": ambiguous_max, "above_max_frac": above / len(v) if v else None}


def compute_metrics(
    *,
    initial_equity: float,
    equity: Table,
    positions: Table,
    fills: Table,
    features: Table,
    ambiguous_max: float = 0.35,
    start_ms: int | None = None,
) -> dict[str, Any]:
    """The run's metrics; `start_ms` is when the initial equity stands (the run's start), by default one
    minute before the first equity row."""
    eq = [float("nan") if v is None else v for v in _col(equity, "equity", "equity")]
    ts = _col(equity, "ts_ms", "equity")
    if eq:
        last = {k: _col(equity, k, "equity")[-1] for k in ("realized_pnl", "unrealized_pnl", "fees", "funding")}
        final = eq[-1]
    else:  # no minute closed: nothing happened to the account
        last = {"realized_pnl": 0.0, "unrealized_pnl": 0.0, "fees": 0.0, "funding": 0.0}
        final = initial_equity
    if start_ms is None:
        start_ms = ts[0] - MS_PER_MIN if ts else 0
    elif ts and ts[0] < start_ms:
        raise UserInputError(f"equity: the first row (ts_ms {ts[0]}) is before the run's start ({start_ms})")
    trades = closed_trades(positions)
    liquidity = _col(fills, "liquidity", "fills")
    out: dict[str, Any] = {
        "initial_equity": initial_equity,
        "final_equity": final,
        "net_pnl": final - initial_equity,
        "gross_pnl": last["realized_pnl"],
        "realized_pnl": last["realized_pnl"],
        "unrealized_pnl": last["unrealized_pnl"],
        "fees": last["fees"],
        "funding": last["funding"],
        **trade_stats(trades),
        "by_setup": grouped(trades, "tag"),
        "by_side": grouped(trades, "side"),
        "exposure_pct": exposure_pct(_col(equity, "position_qty", "equity")),
        "turnover": turnover(fills, initial_equity),
        **return_metrics(curve_points(start_ms, initial_equity, ts, eq)),
        "fills": len(liquidity),
        "maker_fills": sum(1 for x in liquidity if x == "maker"),
        "taker_fills": sum(1 for x in liquidity if x == "taker"),
        "spread_paid": _spread_paid(fills),
        "ambiguous_frac": _ambiguous(features, ambiguous_max),
    }
    return _json_safe(out)


def curve_metrics(ts_ms: Sequence[int], values: Sequence[float]) -> dict[str, Any]:
    """The return-based metrics of a strategy's own equity curve of daily marks, whose first point is the
    initial capital: the initial and final value, the net PnL and the
    metrics of `sim/outputs/metrics_returns.py` on a daily basis."""
    if not values:
        raise ValueError("an equity curve needs its initial capital as its first point")
    points = curve_points(ts_ms[0], values[0], ts_ms[1:], values[1:])
    return _json_safe({
        "initial_equity": values[0], "final_equity": points[-1][1], "net_pnl": points[-1][1] - values[0],
        **return_metrics(points, minute_fallback=False),
    })


def _json_safe(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    return v


# How a reader sees the metrics (metrics.json itself has sorted keys): groups of top-level keys in order;
# keys in no group follow under "Other", sorted. Inside a nested dict the keys of _INNER_ORDER come first.
METRIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Account", ("initial_equity", "final_equity", "net_pnl", "gross_pnl", "realized_pnl", "unrealized_pnl",
                 "fees", "funding")),
    ("Returns and risk", ("sharpe", "sharpe_basis", "sharpe_returns", "sortino", "calmar", "cagr_pct",
                          "volatility_ann_pct", "max_drawdown", "max_drawdown_pct", "longest_drawdown_days")),
    ("Trades", ("trades", "wins", "losses", "win_rate", "win_rate_gross", "avg_win", "avg_loss", "payoff_ratio",
                "profit_factor", "pnl_per_trade", "largest_win", "largest_loss", "longest_losing_streak",
                "avg_holding_minutes", "median_holding_minutes", "exposure_pct", "turnover")),
    ("By setup", ("by_setup",)),
    ("By side", ("by_side",)),
    ("Execution", ("fills", "maker_fills", "taker_fills", "spread_paid")),
    ("Features", ("ambiguous_frac",)),
)
_INNER_ORDER = (
    "trades", "wins", "losses", "win_rate", "net_pnl", "pnl_per_trade", "profit_factor", "avg_holding_minutes",
    "count", "missing_mid", "minutes", "mean", "avg", "p50", "p90", "max", "avg_bps", "p50_bps", "p90_bps",
    "max_bps", "total_cost", "threshold", "above_max_frac",
)
_RANK = {k: i for i, k in enumerate(_INNER_ORDER)}


def _flatten(key: str, v: Any) -> list[tuple[str, Any]]:
    if not isinstance(v, dict):
        return [(key, v)]
    rows: list[tuple[str, Any]] = []
    for k in sorted(v, key=lambda k: (_RANK.get(k, len(_RANK)), k)):
        rows.extend(_flatten(f"{key}.{k}", v[k]))
    return rows


def metrics_groups(metrics: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(name, text)]) in reading order, nested dicts flattened to dotted names, None shown
    as "-"; groups with no key present are left out."""
    from sim.outputs.exports import fmt

    listed = {k for _, keys in METRIC_GROUPS for k in keys}
    groups = [*METRIC_GROUPS, ("Other", tuple(sorted(k for k in metrics if k not in listed)))]
    out = []
    for title, keys in groups:
        rows = [(name, "-" if v is None else fmt(v)) for k in keys if k in metrics for name, v in _flatten(k, metrics[k])]
        if rows:
            out.append((title, rows))
    return out


def metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (name, text) pair of `metrics_groups`, in order."""
    return [row for _, rows in metrics_groups(metrics) for row in rows]


def metrics_table(metrics: dict[str, Any]) -> str:
    """A plain table for the terminal: each group's title, then its names left-aligned and values
    right-aligned (one width for the whole table)."""
    groups = metrics_groups(metrics)
    rows = [r for _, rs in groups for r in rs]
    if not rows:
        return ""
    wk = max(len(k) for k, _ in rows)
    wv = max(len(v) for _, v in rows)
    lines = []
    for title, rs in groups:
        lines.append(title)
        lines += [f"  {k:<{wk}}  {v:>{wv}}" for k, v in rs]
    return "\n".join(lines) + "\n"
