"""`sim report`: one self-contained HTML page for a run directory.

The page inlines plotly.js (from the `plotly` wheel; no CDN, no network) and draws three charts — price
with the value area (VAH/VAL band, POC) and the run's fills as entry/exit markers (`chart-price`), the
equity curve (`chart-equity`) and its drawdown (`chart-drawdown`) — above the metrics table. The data go in
once, as columns in one script literal (a time column shared by the series that have the same one), and
the traces reference them, so a month of minutes (~43k rows) stays a few MB. Traces are SVG lines, not
WebGL: plotly simplifies long lines as it draws, so a month draws in a fraction of a second, and the page
does not depend on a GPU (software WebGL in a VM or headless browser took seconds). Past `MAX_POINTS`
rows the minute series are thinned for display only (last value of each bucket, the deepest drawdown of
each bucket); metrics are never computed from the thinned data.

Metrics come from the run's metrics.json when it has one; otherwise they are computed here from the CSVs
(initial equity from the manifest, else recovered from the first equity row).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from sim.core.errors import UserInputError
from sim.core.page import SYNC_AXES_JS, script_json
from sim.outputs.metrics import Table, compute_metrics, drawdown_series, metrics_groups, read_run_dir

REQUIRED_FILES = ("manifest.json", "bars.csv")
TABLES = ("bars", "features", "orders", "fills", "positions", "equity")  # the CSVs the page uses
MAX_POINTS = 60_000

# Fill markers by (intent, side): entries are solid triangles, exits open ones, anything else a circle.
_MARKERS = {
    ("entry", "buy"): ("entry buy", "triangle-up", "#1a9850"),
    ("entry", "sell"): ("entry sell", "triangle-down", "#d73027"),
    ("exit", "buy"): ("exit buy", "triangle-up-open", "#1a9850"),
    ("exit", "sell"): ("exit sell", "triangle-down-open", "#d73027"),
}


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise UserInputError(f"{run_dir}: no such run directory")
    for name in REQUIRED_FILES:
        if not (run_dir / name).is_file():
            raise UserInputError(f"{run_dir / name}: missing (a run directory written by `sim run` has it)")


def _num(v: Any) -> Any:
    """A display value: None for NaN (a gap in the chart), 10 significant digits to keep the page small."""
    if v is None:
        return None
    if isinstance(v, float):
        return float(f"{v:.10g}") if math.isfinite(v) else None
    return v


def _stride(n: int) -> int:
    return max(1, -(-n // MAX_POINTS))


def _thin(values: list[Any], k: int, how: str = "last") -> list[Any]:
    if k == 1:
        return [_num(v) for v in values]
    out = []
    for i in range(0, len(values), k):
        chunk = values[i:i + k]
        if how == "min":
            finite = [v for v in chunk if v is not None and math.isfinite(v)]
            out.append(_num(min(finite)) if finite else None)
        else:
            out.append(_num(chunk[-1]))
    return out


def _thin_ts(ts: list[int], k: int) -> list[int]:
    return ts if k == 1 else [ts[min(i + k, len(ts)) - 1] for i in range(0, len(ts), k)]


def _put(data: dict[str, Any], key: str, values: list[Any]) -> str:
    """Store a column under `key`, or return the key of an identical column already stored."""
    for k, v in data.items():
        if v == values:
            return k
    data[key] = values
    return key


def _initial_equity(manifest: dict[str, Any], equity: Table) -> float | None:
    if isinstance(manifest.get("initial_equity"), (int, float)):
        return float(manifest["initial_equity"])
    if equity.get("equity"):
        # equity = initial + realized + unrealized - fees - funding, on every row
        e = {k: equity[k][0] for k in ("equity", "realized_pnl", "unrealized_pnl", "fees", "funding") if k in equity}
        if len(e) == 5:
            return e["equity"] - e["realized_pnl"] - e["unrealized_pnl"] + e["fees"] + e["funding"]
    return None


def _metrics(run_dir: Path, manifest: dict[str, Any], tables: dict[str, Table]) -> tuple[dict[str, Any], str]:
    """(metrics, where they came from); a run whose tables cannot give metrics gets an empty dict and why."""
    path = run_dir / "metrics.json"
    if path.is_file():
        try:
            return json.loads(path.read_text()), "metrics.json"
        except json.JSONDecodeError as e:
            raise UserInputError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    initial = _initial_equity(manifest, tables.get("equity", {}))
    if initial is None:
        return {}, "no metrics.json and no equity.csv to compute metrics from"
    try:
        m = compute_metrics(initial_equity=initial, equity=tables.get("equity", {}),
                            positions=tables.get("positions", {}), fills=tables.get("fills", {}),
                            features=tables.get("features", {}))
    except UserInputError as e:  # an older run layout: show what is there rather than nothing
        return {}, f"metrics unavailable: {e}"
    return m, "computed from the CSVs (no metrics.json)"


def _price_traces(tables: dict[str, Table], data: dict[str, Any]) -> list[dict[str, Any]]:
    bars, feats = tables["bars"], tables.get("features", {})
    k = _stride(len(bars.get("ts_min_ms", [])))
    data["t"] = _thin_ts(bars.get("ts_min_ms", []), k)
    data["close"] = _thin(bars.get("close", []), k)
    traces: list[dict[str, Any]] = []
    if feats.get("ts_min_ms") and all(c in feats for c in ("vah", "val", "poc")):
        kf = _stride(len(feats["ts_min_ms"]))
        ft = _put(data, "ft", _thin_ts(feats["ts_min_ms"], kf))
        valid = feats.get("va_valid") or [True] * len(feats["ts_min_ms"])
        for c in ("val", "vah", "poc"):
            # An invalid value area has no levels to draw: a gap, not a stale line.
            data[c] = _thin([v if ok else float("nan") for v, ok in zip(feats[c], valid)], kf)
        traces += [
            {"type": "scatter", "mode": "lines", "name": "VAL", "xref": ft, "yref": "val",
             "line": {"color": "rgba(70,130,180,0.7)", "width": 1}},
            {"type": "scatter", "mode": "lines", "name": "VAH", "xref": ft, "yref": "vah", "fill": "tonexty",
             "fillcolor": "rgba(70,130,180,0.15)", "line": {"color": "rgba(70,130,180,0.7)", "width": 1}},
            {"type": "scatter", "mode": "lines", "name": "POC", "xref": ft, "yref": "poc",
             "line": {"color": "rgba(255,140,0,0.8)", "width": 1, "dash": "dot"}},
        ]
    traces.append({"type": "scatter", "mode": "lines", "name": "close", "xref": "t", "yref": "close",
                   "line": {"color": "#333", "width": 1}})
    traces += _fill_traces(tables)
    return traces


def _fill_traces(tables: dict[str, Table]) -> list[dict[str, Any]]:
    fills, orders = tables.get("fills", {}), tables.get("orders", {})
    if not fills.get("order_id"):
        return []
    intent = dict(zip(orders.get("order_id", []), orders.get("intent", [])))
    reason = dict(zip(orders.get("order_id", []), orders.get("reason", [])))
    groups: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for oid, ts, side, px, qty in zip(fills["order_id"], fills["ts_ms"], fills["side"], fills["price"], fills["qty"]):
        g = groups.setdefault((intent.get(oid, "other"), side), {"x": [], "y": [], "text": []})
        g["x"].append(ts)
        g["y"].append(_num(px))
        g["text"].append(f"{oid} {side} {_num(qty)} @ {_num(px)} ({reason.get(oid, '')})")
    traces = []
    for key in sorted(groups):
        name, symbol, color = _MARKERS.get(key, (f"{key[0]} {key[1]}", "circle-open", "#7b3294"))
        traces.append({"type": "scatter", "mode": "markers", "name": name, **groups[key],
                       "hovertemplate": "%{text}<extra></extra>",
                       "marker": {"symbol": symbol, "size": 11, "color": color, "line": {"width": 2, "color": color}}})
    return traces


def _equity_traces(tables: dict[str, Table], initial: float | None, data: dict[str, Any]) -> tuple[list, list]:
    eq = tables.get("equity", {})
    if not eq.get("ts_ms") or "equity" not in eq:
        return [], []
    k = _stride(len(eq["ts_ms"]))
    et = _put(data, "et", _thin_ts(eq["ts_ms"], k))
    data["equity"] = _thin(eq["equity"], k)
    base = initial if initial is not None else eq["equity"][0]
    data["dd"] = _thin(drawdown_series(base, eq["equity"]), k, how="min")
    equity = [{"type": "scatter", "mode": "lines", "name": "equity", "xref": et, "yref": "equity",
               "line": {"color": "#2c7fb8", "width": 1.5}}]
    dd = [{"type": "scatter", "mode": "lines", "name": "drawdown", "xref": et, "yref": "dd",
           "fill": "tozeroy", "fillcolor": "rgba(215,48,39,0.25)", "line": {"color": "#d73027", "width": 1}}]
    return equity, dd


def _layout(title: str, ytitle: str, height: int, xrange: list[int] | None) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"type": "date"}
    if xrange:
        xaxis["range"] = xrange
    return {"title": {"text": title}, "height": height, "margin": {"l": 70, "r": 20, "t": 40, "b": 40},
            "xaxis": xaxis, "yaxis": {"title": {"text": ytitle}},
            # A fill between traces makes plotly reverse the legend by default; keep the trace order.
            "legend": {"orientation": "h", "traceorder": "normal"}, "hovermode": "closest"}




_DRAW = (
    """
(function () {
  var D = JSON.parse(document.getElementById('run-data').textContent);
  var charts = JSON.parse(document.getElementById('run-charts').textContent);
  var config = {responsive: true, displaylogo: false};
  var drawn = [], c0 = {range: charts[0].layout.xaxis.range};
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (!c.traces.length) { el.textContent = c.empty; el.className += ' empty'; return; }
    var traces = c.traces.map(function (t) {
      if (t.xref) { t.x = D[t.xref]; t.y = D[t.yref]; delete t.xref; delete t.yref; }
      return t;
    });
    Plotly.newPlot(el, traces, c.layout, config);
    drawn.push(el);
  });
"""
    + SYNC_AXES_JS
    + """  });
})();
"""
)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 16px 24px; color: #222; }
h1 { font-size: 20px; } .note { color: #666; font-size: 13px; }
.chart { width: 100%; margin-bottom: 8px; } .empty { color: #888; padding: 16px 0; }
table.metrics { border-collapse: collapse; font-family: ui-monospace, monospace; font-size: 13px; }
table.metrics td { padding: 2px 12px; border-bottom: 1px solid #eee; } table.metrics td.v { text-align: right; }
table.metrics tr.group th { text-align: left; padding: 10px 12px 2px; font-family: sans-serif; font-size: 14px; }
"""


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except json.JSONDecodeError as e:
        raise UserInputError(f"{run_dir / 'manifest.json'}: not valid JSON ({e.msg}, line {e.lineno})") from None
    tables = read_run_dir(run_dir, TABLES)
    metrics, source = _metrics(run_dir, manifest, tables)
    initial = metrics.get("initial_equity") if metrics else _initial_equity(manifest, tables.get("equity", {}))

    data: dict[str, Any] = {}
    price = _price_traces(tables, data)
    equity, dd = _equity_traces(tables, initial, data)
    no_equity = "no equity.csv in this run"
    times = [t for k in ("t", "ft", "et") for t in data.get(k, [])[:1] + data.get(k, [])[-1:]]
    xr = [min(times), max(times)] if times else None  # the charts share one time range
    charts = [
        {"id": "chart-price", "traces": price, "empty": "no bars",
         "layout": _layout("Price, value area and fills (UTC)", "price", 480, xr)},
        {"id": "chart-equity", "traces": equity, "empty": no_equity,
         "layout": _layout("Equity (UTC)", "equity", 300, xr)},
        {"id": "chart-drawdown", "traces": dd, "empty": no_equity,
         "layout": _layout("Drawdown from the running peak (UTC)", "drawdown", 240, xr)},
    ]

    from plotly.offline import get_plotlyjs

    scenario = str(manifest.get("scenario", run_dir.name))
    rows = "\n".join(
        f"<tr class=\"group\"><th colspan=\"2\">{html.escape(title)}</th></tr>\n"
        + "\n".join(f"<tr><td>{html.escape(k)}</td><td class=\"v\">{html.escape(v)}</td></tr>" for k, v in group)
        for title, group in metrics_groups(metrics))
    thinned = any(_stride(len(tables.get(t, {}).get(c, []))) > 1
                  for t, c in (("bars", "ts_min_ms"), ("features", "ts_min_ms"), ("equity", "ts_ms")))
    note = (f"Minute series thinned for display to at most {MAX_POINTS} points; metrics use every row."
            if thinned else "")
    about = " · ".join(f"{label} {str(manifest.get(key, '-'))[:width]}"
                       for label, key, width in (("seed", "seed", 40), ("code", "code_version", 40),
                                                 ("scenario hash", "scenario_hash", 12)))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Run report: {html.escape(scenario)}</title>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<h1>Run report: {html.escape(scenario)}</h1>
<p class="note">{html.escape(about)} {html.escape(note)}</p>
<div id="chart-price" class="chart"></div>
<div id="chart-equity" class="chart"></div>
<div id="chart-drawdown" class="chart"></div>
<h2>Metrics</h2>
<p class="note">{html.escape(source)}</p>
<table class="metrics" id="metrics">
{rows}
</table>
<script type="application/json" id="run-data">{script_json(data)}</script>
<script type="application/json" id="run-charts">{script_json(charts)}</script>
<script>{_DRAW}</script>
</body>
</html>
"""
    return write_page(page, run_dir, out)


def write_page(page: str, run_dir: Path, out: Path | str | None) -> Path:
    """Writes a report page to `out` (default: `run_dir/report.html`); returns where."""
    path = Path(out) if out is not None else run_dir / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
