"""The run report's metrics table (sim/outputs/report.py) shows the metrics in titled groups, in reading order."""

from __future__ import annotations

import re
from pathlib import Path

from sim.outputs.exports import csv_text, json_text
from sim.outputs.report import write_report

T0 = 1_709_251_200_000


def test_the_report_groups_the_metrics_under_titles(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json_text({"scenario": "x/y", "seed": 1}))
    (tmp_path / "bars.csv").write_text(csv_text(("ts_min_ms", "close"), [(T0, 100.0)]))
    metrics = {"final_equity": 10100.0, "sharpe": 1.5, "sortino": None, "profit_factor": 2.0, "fills": 3,
               "by_setup": {"breakin": {"trades": 2, "win_rate": 0.5}}, "by_side": {"long": {"trades": 2}},
               "something_new": 7}
    (tmp_path / "metrics.json").write_text(json_text(metrics))
    page = write_report(tmp_path).read_text()
    table = page[page.index('<table class="metrics"'):page.index("</table>")]
    cells = re.findall(r"<th colspan=\"2\">([^<]*)</th>|<td>([^<]*)</td>", table)
    order = [a or b for a, b in cells]
    assert order == ["Account", "final_equity", "Returns and risk", "sharpe", "sortino", "Trades", "profit_factor",
                     "By setup", "by_setup.breakin.trades", "by_setup.breakin.win_rate", "By side",
                     "by_side.long.trades", "Execution", "fills", "Other", "something_new"]
    assert '<td>sortino</td><td class="v">-</td>' in table
