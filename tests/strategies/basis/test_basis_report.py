"""The basis run's HTML report (`sim.strategies.basis.report`): written by `sim basis-backtest --report` and by
`sim report RUN_DIR` on a basis run directory, self-contained, and drawn in headless Chromium with
the network cut off — the three charts, the roll and re-hedge markers when the run had them (none
when it had none), and the note naming the synthetic contracts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "fixtures" / "basis_synthetic_roll.yaml"
CHARTS = ("chart-equity", "chart-pnl", "chart-basis")


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO)


def charts_of(page: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="run-charts">(.*?)</script>', page, re.S)
    assert raw is not None
    return {c["id"]: c for c in json.loads(raw[1])}


def shapes(chart: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [s for s in chart["layout"]["shapes"] if s["name"].startswith(prefix)]


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic fixture: entry 2021-06-19, a re-hedge, the roll 210625 -> 210924, unwind 06-24."""
    out = tmp_path_factory.mktemp("basis") / "run"
    proc = sim("basis-backtest", "2021-06-19", "2021-06-24", "--scenario", str(FIXTURE), "--out", str(out), "--report")
    assert proc.returncode == 0, proc.stderr
    assert f"report: {out / 'report.html'}" in proc.stdout.splitlines()
    return out


@pytest.fixture(scope="module")
def real_run(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recorded 2021 markets (whose Dec-2021 leg is synthetic), 2021-01-02 to 01-05: no roll, no re-hedge."""
    out = tmp_path_factory.mktemp("basis_real") / "run"
    proc = sim("basis-backtest", "2021-01-02", "2021-01-05", "--out", str(out), "--report")
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_report_is_self_contained_and_marks_rolls_and_rehedges(synthetic_run: Path) -> None:
    page = (synthetic_run / "report.html").read_text()
    summary = json.loads((synthetic_run / "summary.json").read_text())
    assert summary["rolls"] and summary["rehedges"] > 0  # the fixture has both
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I), "every script must be inline"
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']https?://", page, re.I)
    assert "Plotly" in page and 2_000_000 < len(page) < 8_000_000
    charts = charts_of(page)
    assert set(charts) == set(CHARTS)
    for c in charts.values():
        assert c["traces"], c["id"]
        assert [s["name"] for s in shapes(c, "roll ")] == ["roll BTCUSD_210625->BTCUSD_210924 2021-06-23"]
        assert len(shapes(c, "re-hedge ")) == summary["rehedges"]
    rehedge = [t for t in charts["chart-equity"]["traces"] if t["name"] == "re-hedge"]
    assert len(rehedge) == 1 and len(rehedge[0]["x"]) == summary["rehedges"]
    names = {t["name"] for t in charts["chart-basis"]["traces"]}
    assert {"entry slots BTCUSD_210625 (close / spot − 1)", "roll buy-backs (fill / spot − 1)",
            "unwind slots (close / spot − 1)", "roll slots: new sold / old bought − 1 (calendar spread)"} <= names
    # the PnL split at the daily marks: one point per daily row in every series
    assert all(len(t["x"]) == summary["days"] for t in charts["chart-pnl"]["traces"])
    assert 'id="synthetic-note"' in page and "every price in this run" in page
    assert 'id="basis-note"' in page and "no daily basis line" in page
    assert re.search(r"<td>total_pnl_usd</td><td class=\"v\">-?[0-9,.]+</td>", page)
    assert "<td>rolls</td><td class=\"v\">2021-06-23 BTCUSD_210625 → BTCUSD_210924 (1)</td>" in page


def test_sim_report_picks_the_basis_report(synthetic_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.html"
    proc = sim("report", str(synthetic_run), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert out.read_text() == (synthetic_run / "report.html").read_text()


def test_a_basis_run_dir_without_its_summary_is_one_line_and_exit_2(synthetic_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "run"
    broken.mkdir()
    for name in ("manifest.json", "daily_pnl_tracker.csv"):  # a run directory of the basis kind, less its summary
        (broken / name).write_text((synthetic_run / name).read_text())
    proc = sim("report", str(broken))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "summary.json" in lines[0] and "Traceback" not in proc.stderr


def test_a_real_run_names_its_synthetic_contract_and_has_no_markers(real_run: Path) -> None:
    page = (real_run / "report.html").read_text()
    summary = json.loads((real_run / "summary.json").read_text())
    assert summary["synthetic_contracts"] == ["BTCUSD_211231"]
    assert not summary["rolls"] and summary["rehedges"] == 0
    for c in charts_of(page).values():
        assert not shapes(c, "roll ") and not shapes(c, "re-hedge ")
        assert [s["name"] for s in c["layout"]["shapes"]] == ["entry 2021-01-02", "unwind 2021-01-05"]
    note = re.search(r'id="synthetic-note">(.*?)</p>', page, re.S)
    assert note is not None
    assert "BTCUSD_211231" in note[1] and "6 %/yr" in note[1] and "(not traded in this run)" in note[1]


# ---- the browser ---------------------------------------------------------------------------------------


DRAWN = ("return ['chart-equity', 'chart-pnl', 'chart-basis'].every(function (id) {"
         " var el = document.getElementById(id);"
         " return el.querySelectorAll('.main-svg').length > 0 && el.data && el.data.length > 0; })")


def _open(browser: Any, page: Path) -> None:  # noqa: ANN401
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    WebDriverWait(browser, 15).until(lambda d: d.execute_script(DRAWN))


def _offline_and_clean(browser: Any) -> None:  # noqa: ANN401
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert [u for u in fetched if not u.startswith("file:")] == []
    assert [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_report_draws_with_roll_and_rehedge_markers(browser: Any, synthetic_run: Path) -> None:  # noqa: ANN401
    from selenium.webdriver.common.by import By

    summary = json.loads((synthetic_run / "summary.json").read_text())
    _open(browser, synthetic_run / "report.html")
    for chart in CHARTS:
        drawn = browser.execute_script(
            "var el = document.getElementById(arguments[0]);"
            "return {shapes: el.layout.shapes.map(function (s) { return s.name; }),"
            " paths: el.querySelectorAll('.shapelayer path').length,"
            " notes: Array.from(el.querySelectorAll('.annotation-text')).map(function (a) { return a.textContent; }),"
            " lines: el.querySelectorAll('.scatterlayer .trace path.js-line').length,"
            " points: el.querySelectorAll('.scatterlayer path.point').length}", chart)
        assert sum(n.startswith("roll ") for n in drawn["shapes"]) == 1, (chart, drawn)
        assert sum(n.startswith("re-hedge ") for n in drawn["shapes"]) == summary["rehedges"], (chart, drawn)
        assert drawn["paths"] == len(drawn["shapes"]) == 3 + summary["rehedges"], (chart, drawn)  # + entry, unwind
        assert "roll 210625→210924" in drawn["notes"], (chart, drawn)
        assert sum(n.startswith("re-hedge ") for n in drawn["notes"]) == summary["rehedges"], (chart, drawn)
        assert drawn["points"] > 0, (chart, drawn)
    rehedge_points = browser.execute_script(
        "var el = document.getElementById('chart-equity');"
        "var g = Array.from(el.querySelectorAll('.scatterlayer .trace')).filter(function (g) {"
        " return g.__data__ && g.__data__[0].trace.name === 're-hedge'; });"
        "return g.length === 1 ? g[0].querySelectorAll('path.point').length : -g.length")
    assert rehedge_points == summary["rehedges"]
    lines = browser.execute_script("return document.querySelectorAll('#chart-pnl .scatterlayer path.js-line').length")
    assert lines == 6  # cumulative, spot MTM, futures realized / unrealized / total, fees
    note = browser.find_element(By.ID, "synthetic-note")
    assert note.is_displayed() and "every price in this run" in note.text
    assert browser.find_element(By.ID, "summary").is_displayed()
    _offline_and_clean(browser)


def test_the_synthetic_contract_note_shows(browser: Any, real_run: Path) -> None:  # noqa: ANN401
    from selenium.webdriver.common.by import By

    _open(browser, real_run / "report.html")
    note = browser.find_element(By.ID, "synthetic-note")
    assert note.is_displayed()
    assert "BTCUSD_211231" in note.text and "synthetic" in note.text and "6 %/yr" in note.text
    shapes_drawn = browser.execute_script("return document.querySelectorAll('#chart-equity .shapelayer path').length")
    assert shapes_drawn == 2  # the entry and unwind days only
    _offline_and_clean(browser)
