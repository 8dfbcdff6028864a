"""A basis run (no minute equity curve of its own) reports the return-based metrics of its daily marks: the
plugin hands the run its curve (`StrategyPlugin.equity_curve`), the run writes them to metrics.json and the
summary, and summary.json keeps exactly its keys."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from sim.outputs.exports import json_text
from sim.outputs.metrics import curve_metrics
from sim.run import run
from sim.scenario.manifest import GOLDEN_DIR
from sim.strategies.plugin import StrategyPlugin

DAY_MS = 86_400_000


def test_a_basis_run_writes_the_metrics_of_its_daily_curve() -> None:
    result = run("basis/entry_low_volume_sweep")
    rows = list(csv.DictReader(io.StringIO(result.exports["daily_pnl_tracker.csv"])))
    day = [date.fromisoformat(r["date"]).toordinal() - date(1970, 1, 1).toordinal() for r in rows]
    capital = result.summary["capital_usd"]
    ts = [day[0] * DAY_MS] + [(d + 1) * DAY_MS for d in day]
    values = [capital] + [float(r["portfolio_value_usd"]) for r in rows]
    assert result.exports["metrics.json"] == json_text(curve_metrics(ts, values))
    m = json.loads(result.exports["metrics.json"])
    assert (m["sharpe_basis"], m["sharpe_returns"]) == ("daily", len(rows))
    assert result.summary["metrics"] == m
    golden = (GOLDEN_DIR / "basis" / "entry_low_volume_sweep" / "summary.json").read_text()
    assert result.exports["summary.json"] == golden  # its keys and values as before


def test_a_plugin_has_no_curve_of_its_own_by_default() -> None:
    assert StrategyPlugin().equity_curve(object()) is None
