"""The HTML report of a basis run directory (`sim basis-backtest --report`, or `sim report RUN_DIR`
on a directory holding daily_pnl_tracker.csv): one self-contained page, plotly.js inlined from the
`plotly` wheel as `sim.outputs.report` does it (no CDN, no network).

It reads only the run directory: summary.json and daily_pnl_tracker.csv (required), and when
present pnl_tracker.csv, rehedge_log.csv, rollover_exec_log.csv, entry_day_exec_log.csv,
unwind_exec_log.csv, alerts.csv and manifest.json. Three charts share one UTC time axis:

* `chart-equity`: the portfolio value at each day's mark (the row for day D is marked at the end
  of D, 00:00 UTC of D+1, and drawn there), spot at the same marks on the right axis, and a
  marker at each re-hedge;
* `chart-pnl`: the cumulative PnL and its split — spot MTM, futures realized, futures
  unrealized, fees (drawn negative) — at the same marks;
* `chart-basis`: the basis where the run traded. The run's files carry no futures mark between
  trades (the daily tracker has the futures' unrealized PnL, not their prices), so there is no
  daily basis line; the points are: the entry and unwind slots' basis (futures close / spot
  close − 1, the strategy's own measure at the slot), the futures fills that realized PnL (fill
  price / spot mid at the fill − 1: the roll buy-backs of the expiring contract, the unwind's
  buy-backs, re-hedge buy-backs), and per roll slot the spread the roll sold the new contract at
  over the old one's buy-back (new / old − 1: a calendar spread, not a basis against spot).

Rolls are shaded from their first to their last leg and labelled; re-hedges are dashed vertical
lines (layout shapes named `roll …` / `re-hedge …` on every chart); the entry and unwind days
are shaded grey. Below the charts: a note naming the synthetic contracts (summary.json
`synthetic_contracts`; their curve from the manifest's `basis_market` when `sim basis-backtest`
wrote it), the summary table, and the run's alerts.
"""

from __future__ import annotations

import csv
import html
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sim.core.errors import UserInputError
from sim.core.page import SYNC_AXES_JS, script_json

REQUIRED_FILES = ("summary.json", "daily_pnl_tracker.csv")
DAY_MS = 86_400_000
_ANNOTATE_REHEDGES = 12  # more re-hedges than this get lines and markers but no text labels
_SOURCES = {"roll": ("roll buy-backs (fill / spot − 1)", "#e6550d"),
            "unwind": ("unwind buy-backs (fill / spot − 1)", "#31a354"),
            "rehedge": ("re-hedge buy-backs (fill / spot − 1)", "#756bb1")}
Rows = list[dict[str, str]]


def _read(run_dir: Path, name: str) -> Rows:
    path = run_dir / name
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        out = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserInputError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(out, dict):
        raise UserInputError(f"{path}: expected a JSON object")
    return out


def _num(x: float) -> float | None:
    """A display value: None (a gap) for NaN, 10 significant digits to keep the page small."""
    return float(f"{x:.10g}") if math.isfinite(x) else None


def _f(v: str | None) -> float | None:
    """A CSV field as a display value; None for a blank or a non-number."""
    try:
        return _num(float(v)) if v not in (None, "") else None
    except ValueError:
        return None


def _ms(ts: str) -> int:
    d = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    d = d.replace(tzinfo=UTC) if d.tzinfo is None else d
    return int(d.timestamp() * 1000)


def _day_ms(day: str) -> int:
    return _ms(f"{day}T00:00:00+00:00")


def _iso(ms: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M")


def _short(sym: str) -> str:
    return sym.split("_")[-1] if "_" in sym else sym


# -- the charts ------------------------------------------------------------------------------------

def _line(name: str, x: list[Any], y: list[Any], color: str, **kw: Any) -> dict[str, Any]:
    width = kw.pop("width", 1.5)
    return {"type": "scatter", "mode": kw.pop("mode", "lines+markers"), "name": name, "x": x, "y": y,
            "line": {"color": color, "width": width, **kw.pop("line", {})}, "marker": {"size": 4, "color": color},
            **kw}


def _daily(rows: Rows) -> tuple[list[int], list[str]]:
    """(mark instant of each row in ms — the end of its day — and its hover label)."""
    return [_day_ms(r["date"]) + DAY_MS for r in rows], [f"{r['date']} (marked at the day's end)" for r in rows]


def _equity_traces(daily: Rows, rehedges: Rows) -> list[dict[str, Any]]:
    x, label = _daily(daily)
    value = [_f(r.get("portfolio_value_usd")) for r in daily]
    traces = [
        _line("portfolio value", x, value, "#2c7fb8", width=2, text=label,
              hovertemplate="%{text}<br>value %{y:,.2f} USD<extra></extra>"),
        _line("spot (right axis)", x, [_f(r.get("spot_price")) for r in daily], "#999", yaxis="y2", text=label,
              line={"dash": "dot"}, hovertemplate="%{text}<br>spot %{y:,.2f}<extra></extra>"),
    ]
    if rehedges:
        at = dict(zip(x, value))
        rx = [_ms(r["timestamp"]) for r in rehedges]
        traces.append({"type": "scatter", "mode": "markers", "name": "re-hedge", "x": rx,
                       "y": [at.get(t, value[-1] if value else None) for t in rx],
                       "text": [f"re-hedge {r['side']} {r['qty']} {r['symbol']} @ {r['price']}, net delta "
                                f"{_f(r.get('net_delta_btc'))} BTC ({r.get('reason', '')})" for r in rehedges],
                       "hovertemplate": "%{text}<extra></extra>",
                       "marker": {"symbol": "diamond", "size": 11, "color": "#756bb1"}})
    return traces


def _pnl_traces(daily: Rows) -> list[dict[str, Any]]:
    x, label = _daily(daily)
    hover = {"text": label, "hovertemplate": "%{text}<br>%{y:,.2f} USD<extra>%{fullData.name}</extra>"}

    def col(name: str, sign: float = 1.0) -> list[Any]:
        return [None if (v := _f(r.get(name))) is None else sign * v for r in daily]

    return [
        _line("cumulative PnL", x, col("cumulative_pnl_usd"), "#111", width=2.5, **hover),
        _line("spot MTM", x, col("spot_mtm_pnl_usd"), "#1a9850", **hover),
        _line("futures realized", x, col("futures_realized_pnl_usd"), "#d73027", **hover),
        _line("futures unrealized", x, col("futures_unrealized_pnl_usd"), "#fc8d59", line={"dash": "dash"}, **hover),
        _line("futures total", x, [None if a is None or b is None else _num(a + b) for a, b in
                                   zip(col("futures_realized_pnl_usd"), col("futures_unrealized_pnl_usd"))],
              "#b2182b", width=2, **hover),
        _line("fees (negative)", x, col("fees_usd", -1.0), "#7b3294", line={"dash": "dot"}, **hover),
    ]


def _basis_traces(entry: Rows, unwind: Rows, pnl: Rows, rolls: Rows, spot_symbol: str) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = []
    hover = "%{text}<br>%{y:.1f} bps<extra>%{fullData.name}</extra>"
    by_sym: dict[str, Rows] = {}
    for r in entry:
        by_sym.setdefault(r.get("fut_symbol", ""), []).append(r)
    for (sym, rows), color in zip(sorted(by_sym.items()), ["#2c7fb8", "#01665e", "#8c510a", "#c51b7d"] * 9):
        traces.append(_line(f"entry slots {sym} (close / spot − 1)", [_ms(r["ts"]) for r in rows],
                            [_f(r.get("basis_bps")) for r in rows], color, mode="markers",
                            text=[f"entry slot {r['slot']} {sym}" for r in rows], hovertemplate=hover))
    slots: dict[str, dict[str, str]] = {}
    for r in unwind:
        if r.get("symbol") != spot_symbol and _f(r.get("basis_bps")) is not None:
            slots.setdefault(r["slot"], r)
    if slots:
        rows = list(slots.values())
        traces.append(_line("unwind slots (close / spot − 1)", [_ms(r["ts"]) for r in rows],
                            [_f(r["basis_bps"]) for r in rows], "#74c476", mode="markers",
                            text=[f"unwind slot {r['slot']} {r['symbol']}" for r in rows], hovertemplate=hover))
    groups: dict[str, Rows] = {}
    for r in pnl:
        groups.setdefault(r.get("source", ""), []).append(r)
    for source, rows in sorted(groups.items()):
        name, color = _SOURCES.get(source, (f"{source or 'other'} fills (fill / spot − 1)", "#636363"))
        pts = [(r, _f(r.get("price")), _f(r.get("spot_px"))) for r in rows]
        pts = [(r, p, s) for r, p, s in pts if p and s]
        traces.append(_line(name, [_ms(r["timestamp"]) for r, _, _ in pts],
                            [_num((p / s - 1.0) * 1e4) for _, p, s in pts], color, mode="markers",
                            text=[f"{r['symbol']} {r.get('contracts', '')} ct @ {p} vs spot {s}" for r, p, s in pts],
                            hovertemplate=hover))
    legs: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in rolls:
        px = _f(r.get("price"))
        if px and (_f(r.get("filled_qty")) or 0) > 0:
            legs.setdefault((r["ts"], r.get("from_symbol", ""), r.get("to_symbol", "")), {})[r["symbol"]] = px
    spread = [(ts, a, b, leg[b] / leg[a]) for (ts, a, b), leg in legs.items() if a in leg and b in leg]
    if spread:
        traces.append(_line("roll slots: new sold / old bought − 1 (calendar spread)", [_ms(t) for t, *_ in spread],
                            [_num((q - 1.0) * 1e4) for *_, q in spread], "#fdae6b", mode="markers",
                            marker={"symbol": "x", "size": 6, "color": "#fdae6b"},
                            text=[f"roll slot {_short(a)}->{_short(b)}" for _, a, b, _ in spread], hovertemplate=hover))
    return traces


# -- rolls, re-hedges and the entry/unwind days as shapes ------------------------------------------

def _events(summary: dict[str, Any], rolls: Rows, rehedges: Rows) -> tuple[list[dict], list[dict]]:
    """(shapes, annotations) drawn on every chart."""
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []

    def band(name: str, x0: int, x1: int, fill: str, text: str, above: bool) -> None:
        shapes.append({"type": "rect", "name": name, "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0,
                       "y1": 1, "fillcolor": fill, "line": {"width": 0}, "layer": "below"})
        notes.append({"x": x0, "y": 1, "xref": "x", "yref": "paper", "text": text, "showarrow": False,
                      "xanchor": "left", "yanchor": "bottom" if above else "top", "font": {"size": 10}})

    for key, label in (("entry_day", "entry"), ("end_day", "unwind")):
        if summary.get(key):
            x0 = _day_ms(str(summary[key]))
            band(f"{label} {summary[key]}", x0, x0 + DAY_MS, "rgba(120,120,120,0.10)", label, False)
    spans: dict[tuple[str, str], list[int]] = {}
    for r in rolls:
        spans.setdefault((r.get("from_symbol", ""), r.get("to_symbol", "")), []).append(_ms(r["ts"]))
    for roll in summary.get("rolls") or []:
        pair = (roll.get("from", ""), roll.get("to", ""))
        t0 = _day_ms(str(roll["day"]))
        ts = [t for t in spans.get(pair, []) if t0 <= t < t0 + 2 * DAY_MS]
        x1 = max(ts) + 15 * 60_000 if ts else t0 + DAY_MS  # the last slot's end
        band(f"roll {pair[0]}->{pair[1]} {roll['day']}", t0, max(x1, t0 + 3_600_000), "rgba(253,141,60,0.18)",
             f"roll {_short(pair[0])}→{_short(pair[1])}", True)
    for i, r in enumerate(rehedges):
        t = _ms(r["timestamp"])
        shapes.append({"type": "line", "name": f"re-hedge {i + 1} {r['side']} {r['qty']} {r['symbol']}",
                       "xref": "x", "yref": "paper", "x0": t, "x1": t, "y0": 0, "y1": 1,
                       "line": {"color": "#756bb1", "width": 1.5, "dash": "dash"}})
        if len(rehedges) <= _ANNOTATE_REHEDGES:
            notes.append({"x": t, "y": 0, "xref": "x", "yref": "paper", "text": f"re-hedge {r['side']} {r['qty']}",
                          "showarrow": False, "xanchor": "left", "yanchor": "bottom",
                          "font": {"size": 10, "color": "#756bb1"}})
    return shapes, notes


def _layout(title: str, ytitle: str, height: int, xr: list[int] | None, shapes: list, notes: list,
            y2: str | None = None) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"type": "date"}
    if xr:
        xaxis["range"] = xr
    out = {"title": {"text": title}, "height": height, "margin": {"l": 80, "r": 70 if y2 else 20, "t": 60, "b": 40},
           "xaxis": xaxis, "yaxis": {"title": {"text": ytitle}, "zeroline": True},
           "legend": {"orientation": "h", "traceorder": "normal", "y": -0.15}, "hovermode": "closest",
           "shapes": shapes, "annotations": notes}
    if y2:
        out["yaxis2"] = {"title": {"text": y2}, "overlaying": "y", "side": "right", "showgrid": False}
    return out


# -- the page --------------------------------------------------------------------------------------

def _synthetic_note(summary: dict[str, Any], manifest: dict[str, Any], traded: set[str]) -> str:
    market = manifest.get("basis_market") if isinstance(manifest.get("basis_market"), dict) else {}
    if market.get("kind") == "synthetic":
        return ("Synthetic market: every price in this run — spot and every quarterly — is generated "
                "(basis_market kind: synthetic, sim/scenario/futures_market.py); nothing here is recorded.")
    names = [str(s) for s in summary.get("synthetic_contracts") or []]
    if not names:
        return ""
    curves = market.get("synthetic_futures") or {}
    parts = []
    for s in names:
        pct = (curves.get(s) or {}).get("annual_basis_pct")
        rate = f"{pct:g} %/yr" if isinstance(pct, (int, float)) else "the scenario's annual_basis_pct (%/yr)"
        parts.append(f"{s}: price = spot × (1 + b(t)), b(t) = {rate} × (days to expiry) / 365, converging to 0 "
                     f"at its expiry ({'traded in this run' if s in traded else 'not traded in this run'})")
    return ("Synthetic contracts — no recorded prices, so that leg's prices, fills, marks and PnL are synthetic "
            "(spot × a documented basis curve, sim/scenario/futures_market.py): " + "; ".join(parts) + ".")


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:g}"
    if isinstance(v, list):
        if v and all(isinstance(r, dict) for r in v):
            return "; ".join(f"{r.get('day', '')} {r.get('from', '')} → {r.get('to', '')}" for r in v) + f" ({len(v)})"
        return ", ".join(map(str, v)) or "none"
    return str(v)


_ORDER = ("entry_day", "end_day", "days", "capital_usd", "final_value_usd", "total_pnl_usd", "return_pct", "spot_pnl_usd",
          "futures_realized_pnl_usd", "fees_usd", "financing_cost_usd", "financing_rate_annual", "min_cash_usd",
          "min_cash_date", "peak_gross_leverage", "peak_gross_leverage_date", "basis_harvested_usd",
          "hedge_residual_usd", "rolls", "roll_sizing", "rehedges", "flat_at_end", "synthetic_contracts", "delta_model",
          "fill_model")


def _summary_rows(summary: dict[str, Any], manifest: dict[str, Any]) -> list[tuple[str, str]]:
    keys = [k for k in _ORDER if k in summary] + [k for k in summary if k not in _ORDER]
    rows = [(k, _fmt(summary[k])) for k in keys]
    w = manifest.get("window")
    for label, value in (("scenario", manifest.get("scenario")), ("seed", manifest.get("seed")),
                         ("window run", f"{w.get('start')} → {w.get('end')}" if isinstance(w, dict) else None),
                         ("config hash", str(manifest.get("config_hash") or "")[:16] or None),
                         ("code version", manifest.get("code_version"))):
        if value is not None:
            rows.append((label, str(value)))
    return rows


_DRAW = (
    """
(function () {
  var charts = JSON.parse(document.getElementById('run-charts').textContent);
  var config = {responsive: true, displaylogo: false};
  var drawn = [], c0 = {range: charts[0].layout.xaxis.range};
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (!c.traces.length) { el.textContent = c.empty; el.className += ' empty'; return; }
    Plotly.newPlot(el, c.traces, c.layout, config);
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
h1 { font-size: 20px; } .note { color: #555; font-size: 13px; max-width: 1100px; }
.synthetic { background: #fff3cd; border: 1px solid #e0b800; padding: 8px 12px; font-size: 14px; max-width: 1100px; }
.chart { width: 100%; margin-bottom: 8px; } .empty { color: #888; padding: 16px 0; }
table.summary { border-collapse: collapse; font-family: ui-monospace, monospace; font-size: 13px; }
table.summary td { padding: 2px 12px; border-bottom: 1px solid #eee; } table.summary td.v { text-align: right; }
"""

BASIS_NOTE = (
    "What the basis chart can show: the run's files carry no futures price between trades (the daily tracker "
    "has the futures' unrealized PnL, not their marks), so there is no daily basis line. The points are where "
    "the run traded: entry and unwind slots (the chosen quarterly's minute close over spot's − 1, the strategy's "
    "own measure), futures fills that realized PnL (fill price over the spot mid at the fill − 1, so they include "
    "the execution's distance from the mid), and per roll slot the new contract's sale price over the old one's "
    "buy-back − 1 (a calendar spread between the two quarterlies, not a basis against spot).")


def _check(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise UserInputError(f"{run_dir}: no such run directory")
    for name in REQUIRED_FILES:
        if not (run_dir / name).is_file():
            raise UserInputError(f"{run_dir / name}: missing (a basis run directory written by "
                                 f"`sim basis-backtest` has it)")


def report_page(run_dir: Path) -> str:
    """The basis report page of `run_dir` (the run path writes it, by default to `run_dir/report.html`)."""
    run_dir = Path(run_dir)
    _check(run_dir)
    summary, manifest = _json(run_dir / "summary.json"), _json(run_dir / "manifest.json")
    daily = _read(run_dir, "daily_pnl_tracker.csv")
    need = {"date", "portfolio_value_usd", "cumulative_pnl_usd"}
    if daily and not need <= set(daily[0]):
        raise UserInputError(f"{run_dir / 'daily_pnl_tracker.csv'}: missing columns "
                             f"{', '.join(sorted(need - set(daily[0])))}")
    rehedges, rolls = _read(run_dir, "rehedge_log.csv"), _read(run_dir, "rollover_exec_log.csv")
    entry, unwind = _read(run_dir, "entry_day_exec_log.csv"), _read(run_dir, "unwind_exec_log.csv")
    pnl, alerts = _read(run_dir, "pnl_tracker.csv"), _read(run_dir, "alerts.csv")
    spot_symbol = next((r["symbol"] for r in unwind if r.get("symbol", "").endswith("USDT")), "BTCUSDT")

    shapes, notes = _events(summary, rolls, rehedges)
    times = [t for s in shapes for t in (s["x0"], s["x1"])] + _daily(daily)[0]
    xr = [min(times) - 3_600_000, max(times) + 3_600_000] if times else None
    charts = [
        {"id": "chart-equity", "traces": _equity_traces(daily, rehedges), "empty": "no daily rows in this run",
         "layout": _layout("Portfolio value at each day's mark (UTC)", "USD", 380, xr, shapes, notes, y2="spot")},
        {"id": "chart-pnl", "traces": _pnl_traces(daily), "empty": "no daily rows in this run",
         "layout": _layout("PnL split: spot MTM, futures realized and unrealized, fees (cumulative, UTC)", "USD", 380,
                           xr, shapes, notes)},
        {"id": "chart-basis", "traces": _basis_traces(entry, unwind, pnl, rolls, spot_symbol),
         "empty": "no trades with a basis in this run's files",
         "layout": _layout("Basis where the run traded (bps)", "bps", 380, xr, shapes, notes)},
    ]
    traded = {r.get(k, "") for rows, k in ((entry, "fut_symbol"), (unwind, "symbol"), (rolls, "symbol"),
                                          (rehedges, "symbol")) for r in rows}
    synthetic = _synthetic_note(summary, manifest, traded)
    rows = "\n".join(f"<tr><td>{html.escape(k)}</td><td class=\"v\">{html.escape(v)}</td></tr>"
                     for k, v in _summary_rows(summary, manifest))
    alert_rows = "\n".join(f"<tr><td>{html.escape(a.get('ts', ''))}</td><td>{html.escape(a.get('kind', ''))}</td>"
                           f"<td>{html.escape(a.get('message', ''))}</td></tr>" for a in alerts)
    scenario = str(manifest.get("scenario", run_dir.name))
    title = f"Basis run: {scenario}, {summary.get('entry_day', '?')} → {summary.get('end_day', '?')}"

    from plotly.offline import get_plotlyjs

    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<h1>{html.escape(title)}</h1>
{f'<p class="synthetic" id="synthetic-note">{html.escape(synthetic)}</p>' if synthetic else ''}
<p class="note">Daily rows are marked at each day's end (00:00 UTC of the next day) and drawn there. Shaded:
the entry and unwind days (grey) and each roll from its first to its last leg (orange); dashed purple lines:
re-hedges (at the day's end they follow).</p>
<div id="chart-equity" class="chart"></div>
<div id="chart-pnl" class="chart"></div>
<div id="chart-basis" class="chart"></div>
<p class="note" id="basis-note">{html.escape(BASIS_NOTE)}</p>
<h2>Summary</h2>
<table class="summary" id="summary">
{rows}
</table>
<h2>Alerts</h2>
{f'<table class="summary" id="alerts">{alert_rows}</table>' if alerts else '<p class="note" id="alerts">none</p>'}
<script type="application/json" id="run-charts">{script_json(charts)}</script>
<script>{_DRAW}</script>
</body>
</html>
"""
    return page
