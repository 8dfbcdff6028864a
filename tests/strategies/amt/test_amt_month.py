"""A month of real 1-minute bars (Binance spot BTCUSDT 2024-07-26 → 08-25) through the amt strategy in
bars-only mode, end to end through the CLI, and its HTML report drawn in headless Chromium."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.outputs.test_report import png_pixels, sim

SCENARIO = "scenarios/amt/binance_spot_month_bars.yaml"

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def month_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("month") / "run"
    proc = sim("run", SCENARIO, "--out", str(out), "--report")
    assert proc.returncode == 0, proc.stderr
    assert f"report: {out / 'report.html'}" in proc.stdout
    return out


def test_the_month_runs_end_to_end_in_bars_mode(month_run: Path) -> None:
    bars = list(csv.DictReader((month_run / "bars.csv").read_text().splitlines()))
    assert len(bars) == 30 * 1440
    m = json.loads((month_run / "metrics.json").read_text())
    assert m["trades"] > 0 and m["funding"] != 0.0
    assert abs((m["final_equity"] - m["initial_equity"]) - (m["realized_pnl"] - m["fees"] - m["funding"])) < 0.005
    fills = list(csv.DictReader((month_run / "fills.csv").read_text().splitlines()))
    orders = {o["order_id"]: o for o in csv.DictReader((month_run / "orders.csv").read_text().splitlines())}
    assert all(int(f["ts_ms"]) > int(orders[f["order_id"]]["decision_ts_ms"]) for f in fills)
    for name in ("signals.db", "execution.db", "features.duckdb", "raw.duckdb"):
        assert (month_run / name).is_file(), name


def test_the_months_report_draws_its_charts_in_headless_chromium(browser, month_run: Path, tmp_path: Path) -> None:  # noqa: ANN001, F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((month_run / "report.html").as_uri())
    drawn = ("return ['chart-price', 'chart-equity', 'chart-drawdown'].every(function (id) {"
             " var el = document.getElementById(id);"
             " return el.querySelectorAll('.main-svg').length > 0 && el.data && el.data.length > 0; })")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(drawn))
    n_fills = len((month_run / "fills.csv").read_text().splitlines()) - 1
    markers = browser.execute_script("return document.querySelectorAll('#chart-price .scatterlayer path.point').length")
    assert markers == n_fills
    lines = browser.execute_script(
        "return Array.from(document.querySelectorAll('.scatterlayer .trace path.js-line'))"
        ".map(function (p) { return (p.getAttribute('d') || '').split('L').length; })")
    assert len(lines) >= 5 and max(lines) > 1000, lines
    # The price chart is filled by its value-area band; the equity chart is a line on white.
    for chart, max_background in (("chart-price", 0.95), ("chart-equity", 0.99)):
        png = browser.find_element(By.ID, chart).screenshot_as_png
        (tmp_path / f"{chart}.png").write_bytes(png)
        px = png_pixels(png)
        colours, counts = np.unique(px[:, :, :3].reshape(-1, 3), axis=0, return_counts=True)
        assert len(colours) > 50, f"{chart}: only {len(colours)} distinct colours: nothing drawn?"
        assert counts.max() / counts.sum() < max_background, f"{chart}: one colour covers it: nothing drawn?"
        assert counts.sum() - counts.max() > 2000, f"{chart}: almost nothing drawn"
