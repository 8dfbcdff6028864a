"""A run's output metrics (spec §12.6), computed from its exported tables, and a reader for a run directory.

`compute_metrics` takes the tables as columns (name -> list of typed values, as `read_run_dir` returns
them) and gives a JSON-safe dict: every value a float, int, str, None or a nested dict of those, NaN never
(None instead), nothing rounded, so `sim.outputs.exports.json_text` of it is byte-stable and can be a golden file.
Sums use `math.fsum` (exactly rounded, independent of order of evaluation).

Definitions:
- Account figures (`final_equity`, `realized_pnl`, `fees`, `funding`, `unrealized_pnl`) are the last row
  of equity.csv, whose columns are cumulative; `net_pnl = final_equity - initial_equity`; `gross_pnl` is
  `realized_pnl` (price PnL before fees and funding). Fees and funding are amounts paid (a rebate is < 0).
- A trade is a positions.csv row whose status is CLOSED or STOPPED (a flip is two trades). Its net PnL is
  `realized_pnl - fees_paid - funding_paid`. A win has net > 0, a loss net < 0 (a trade at exactly 0 is
  neither, but counts in `trades`). `win_rate = wins / trades`; `avg_win` / `avg_loss` are the mean net of
  wins / losses (`avg_loss` is negative); `pnl_per_trade` is the mean net over all closed trades.
- Drawdown: the running peak of the per-minute equity curve, starting from `initial_equity`;
  `max_drawdown = max(peak - equity)` in quote currency (>= 0), `max_drawdown_pct = max(100 * (peak -
  equity) / peak)` in percent (the two maxima may fall at different minutes).
- Sharpe: risk-free rate 0, `mean(r) / stdev(r) * sqrt(periods per year)` with the sample standard
  deviation (ddof = 1) of simple returns `r = E_t / E_{t-1} - 1`. When the equity curve spans at least two
  full UTC days (three UTC midnights inside it), r are the daily returns between consecutive midnights
  (equity at a midnight = the last row at or before it) and periods per year = 365 (crypto trades every
  day). Otherwise r are the returns between consecutive minute rows and periods per year = 525600.
  `sharpe_basis` says which ("daily" / "minute"); `sharpe` is None with fewer than two returns, a zero
  standard deviation, or a non-positive equity as a base.
- Spread paid, per fill with a mid: `s = side * (price - mid_px)`, side +1 buy / -1 sell, so a positive s is
  a cost against the mid (half the spread plus slippage; a maker fill inside the spread can be negative);
  in price units and in bps of the mid (`1e4 * s / mid_px`); `total_cost = sum(qty * s)` in quote currency
  (USDT for the linear perpetual, qty in BTC). Fills without a mid are counted in `missing_mid`.
- Distributions report count, mean, p50, p90 and max; percentiles interpolate linearly between order
  statistics (numpy's default "linear" method).
- Ambiguous trade fraction: over the minutes where `ambiguous_trade_frac_1m` is defined;
  `above_max_frac` is the fraction of those minutes strictly above `ambiguous_max` (the strategy's own
  rule is "above ambiguous_trade_frac_max": both initiative legs required).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.core.errors import DataFileError, UserInputError

Table = dict[str, list[Any]]

MS_PER_DAY = 86_400_000
DAYS_PER_YEAR = 365
MINUTES_PER_YEAR = 525_600
CLOSED_STATUSES = ("CLOSED", "STOPPED")

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


def _col(table: Table, name: str, what: str) -> list[Any]:
    """A column, or [] for a table that is absent; a present table must have the column."""
    if not table:
        return []
    if name not in table:
        raise UserInputError(f"{what}: no column {name!r} (columns: {', '.join(table)})")
    return table[name]


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


def _max_drawdown(initial_equity: float, equity: Sequence[float]) -> tuple[float, float]:
    peak, dd, dd_pct = initial_equity, 0.0, 0.0
    for e in equity:
        if not math.isfinite(e):
            continue
        peak = max(peak, e)
        dd = max(dd, peak - e)
        if peak > 0:
            dd_pct = max(dd_pct, 100.0 * (peak - e) / peak)
    return dd, dd_pct


def _returns(levels: Sequence[float]) -> list[float] | None:
    out = []
    for a, b in zip(levels, levels[1:]):
        if a <= 0:
            return None
        out.append(b / a - 1.0)
    return out


def sharpe_ratio(ts_ms: Sequence[int], equity: Sequence[float]) -> tuple[float | None, str | None, int]:
    """(sharpe, basis, number of returns) by the rule in the module docstring."""
    rows = [(t, e) for t, e in zip(ts_ms, equity) if t is not None and math.isfinite(e)]
    if not rows:
        return None, None, 0
    first_day = -(-rows[0][0] // MS_PER_DAY)  # the first midnight at or after the first row
    last_day = rows[-1][0] // MS_PER_DAY
    if last_day - first_day >= 2:
        levels, i = [], 0
        for day in range(first_day, last_day + 1):
            midnight = day * MS_PER_DAY
            while i + 1 < len(rows) and rows[i + 1][0] <= midnight:
                i += 1
            levels.append(rows[i][1])
        basis, per_year = "daily", DAYS_PER_YEAR
    else:
        levels = [e for _, e in rows]
        basis, per_year = "minute", MINUTES_PER_YEAR
    r = _returns(levels)
    if r is None or len(r) < 2:
        return None, basis, 0 if r is None else len(r)
    m = math.fsum(r) / len(r)
    sd = math.sqrt(math.fsum((x - m) ** 2 for x in r) / (len(r) - 1))
    if sd == 0.0:
        return None, basis, len(r)
    return m / sd * math.sqrt(per_year), basis, len(r)


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


def _trades(positions: Table) -> dict[str, Any]:
    status = _col(positions, "status", "positions")
    realized = _col(positions, "realized_pnl", "positions")
    fees = _col(positions, "fees_paid", "positions")
    funding = _col(positions, "funding_paid", "positions")
    net = [r - f - g for st, r, f, g in zip(status, realized, fees, funding) if st in CLOSED_STATUSES]
    wins = [x for x in net if x > 0]
    losses = [x for x in net if x < 0]
    return {
        "trades": len(net), "wins": len(wins), "losses": len(losses),
        "win_rate": len(wins) / len(net) if net else None,
        "avg_win": _mean(wins), "avg_loss": _mean(losses), "pnl_per_trade": _mean(net),
    }


def compute_metrics(
    *,
    initial_equity: float,
    equity: Table,
    positions: Table,
    fills: Table,
    features: Table,
    ambiguous_max: float = 0.35,
) -> dict[str, Any]:
    eq = [float("nan") if v is None else v for v in _col(equity, "equity", "equity")]
    ts = _col(equity, "ts_ms", "equity")
    if eq:
        last = {k: _col(equity, k, "equity")[-1] for k in ("realized_pnl", "unrealized_pnl", "fees", "funding")}
        final = eq[-1]
    else:  # no minute closed: nothing happened to the account
        last = {"realized_pnl": 0.0, "unrealized_pnl": 0.0, "fees": 0.0, "funding": 0.0}
        final = initial_equity
    dd, dd_pct = _max_drawdown(initial_equity, eq)
    sharpe, basis, n_returns = sharpe_ratio(ts, eq)
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
        **_trades(positions),
        "max_drawdown": dd,
        "max_drawdown_pct": dd_pct,
        "sharpe": sharpe,
        "sharpe_basis": basis,
        "sharpe_returns": n_returns,
        "fills": len(liquidity),
        "maker_fills": sum(1 for x in liquidity if x == "maker"),
        "taker_fills": sum(1 for x in liquidity if x == "taker"),
        "spread_paid": _spread_paid(fills),
        "ambiguous_frac": _ambiguous(features, ambiguous_max),
    }
    return _json_safe(out)


def _json_safe(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    return v


# The order a reader expects (metrics.json itself has sorted keys); names not listed follow, sorted.
DISPLAY_ORDER = (
    "initial_equity", "final_equity", "net_pnl", "gross_pnl", "realized_pnl", "unrealized_pnl", "fees", "funding",
    "trades", "wins", "losses", "win_rate", "avg_win", "avg_loss", "pnl_per_trade", "max_drawdown",
    "max_drawdown_pct", "sharpe", "sharpe_basis", "sharpe_returns", "fills", "maker_fills", "taker_fills",
    "spread_paid", "ambiguous_frac",
    "count", "missing_mid", "minutes", "mean", "avg", "p50", "p90", "max", "avg_bps", "p50_bps", "p90_bps",
    "max_bps", "total_cost", "threshold", "above_max_frac",
)
_RANK = {k: i for i, k in enumerate(DISPLAY_ORDER)}


def _flatten(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k in sorted(metrics, key=lambda k: (_RANK.get(k, len(_RANK)), k)):
        v = metrics[k]
        if isinstance(v, dict):
            rows.extend(_flatten(v, f"{prefix}{k}."))
        else:
            rows.append((f"{prefix}{k}", v))
    return rows


def metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, text) pairs, nested dicts flattened to dotted names; None shows as "-"."""
    from sim.outputs.exports import fmt

    return [(k, "-" if v is None else fmt(v)) for k, v in _flatten(metrics)]


def metrics_table(metrics: dict[str, Any]) -> str:
    """A plain two-column table for the terminal, names left-aligned, values right-aligned."""
    rows = metrics_rows(metrics)
    if not rows:
        return ""
    wk = max(len(k) for k, _ in rows)
    wv = max(len(v) for _, v in rows)
    return "\n".join(f"{k:<{wk}}  {v:>{wv}}" for k, v in rows) + "\n"
