"""`sim basis-backtest START END` through the real CLI, in a subprocess: a short run on the recorded
2021 markets writes the run directory and prints the summary table; the window cut at END + 1 day
leaves every export as a wider window gives it; bad input is one line on stderr naming the thing
and exit 2, no traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "fixtures" / "basis_synthetic_roll.yaml"
MONEY = ("total_pnl_usd", "spot_pnl_usd", "fees_usd", "basis_harvested_usd", "hedge_residual_usd", "financing_cost_usd",
         "min_cash_usd")


def sim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})})


def table(stdout: str) -> dict[str, str]:
    """The printed table's `key  value` rows."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].replace("_", "").isalpha() and parts[0].islower():
            out[parts[0].rstrip(":")] = parts[1]
    return out


def money(text: str) -> float:
    return float(text.replace(",", ""))


def test_a_short_real_run_writes_the_run_dir_and_prints_the_table(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = sim("basis-backtest", "2021-01-02", "2021-01-05", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("daily_pnl_tracker.csv", "pnl_tracker.csv", "rehedge_log.csv", "rollover_exec_log.csv",
                 "entry_day_exec_log.csv", "unwind_exec_log.csv", "fills.csv", "orders.csv", "alerts.csv",
                 "summary.json", "manifest.json"):
        assert (out / name).is_file(), name
    assert not (out / "report.html").exists()
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    daily = list(csv.DictReader(io.StringIO((out / "daily_pnl_tracker.csv").read_text())))
    assert [r["date"] for r in daily] == ["2021-01-02", "2021-01-03", "2021-01-04", "2021-01-05"]
    assert (summary["entry_day"], summary["end_day"], summary["days"]) == ("2021-01-02", "2021-01-05", 4)
    # the window run: from the scenario's start to the unwind day's mark
    assert manifest["window"] == {"start": "2021-01-01T00:00:00+00:00", "end": "2021-01-06T00:00:00+00:00"}
    assert manifest["basis_market"] == {"kind": "recorded_daily",
                                        "synthetic_futures": {"BTCUSD_211231": {"annual_basis_pct": 6.0}}}
    assert manifest["scenario"] == "basis/binance_2021_real" and manifest["seed"] == 20210102

    lines = proc.stdout.splitlines()
    assert lines[0].startswith("basis backtest 2021-01-02 -> 2021-01-05: basis/binance_2021_real")
    rows = table(proc.stdout)
    for key in MONEY:
        assert money(rows[key]) == pytest.approx(summary[key], abs=0.005), key
    assert money(rows["futures_pnl_usd"]) == pytest.approx(
        summary["futures_realized_pnl_usd"] + float(daily[-1]["futures_unrealized_pnl_usd"]), abs=0.01)
    assert float(rows["return_pct"]) == pytest.approx(summary["return_pct"], abs=5e-5)
    assert int(rows["rolls"]) == len(summary["rolls"]) and int(rows["rehedges"]) == summary["rehedges"]
    assert float(rows["peak_gross_leverage"]) == pytest.approx(summary["peak_gross_leverage"], abs=0.005)
    assert rows["flat_at_end"] == ("yes" if summary["flat_at_end"] else "NO")
    synthetic = [x for x in lines if x.startswith("synthetic contracts:")]
    assert len(synthetic) == 1 and "BTCUSD_211231" in synthetic[0] and "6 %/yr" in synthetic[0]
    assert f"outputs: {out}" in lines


def test_the_cut_window_gives_a_wider_windows_exports(data_root: Path, tmp_path: Path) -> None:
    """On the recorded market the CLI runs [the scenario's start, END + 1 day); the same dates over a
    wider window give every export byte for byte (the whole 2021 window does too, in 13 s rather than 1)."""
    from datetime import UTC, datetime

    from sim.run import run
    from sim.scenario.manifest import load_scenario

    out = tmp_path / "run"
    proc = sim("basis-backtest", "2021-01-03", "2021-01-05", "--out", str(out), "--seed", "99",
               "--set", "rehedge.threshold_pct=0.01")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["window"] == {"start": "2021-01-01T00:00:00+00:00", "end": "2021-01-06T00:00:00+00:00"}
    assert manifest["seed"] == 99

    sc = load_scenario("basis/binance_2021_real")
    wide = sc.spec.window.model_copy(update={"end": datetime(2021, 1, 12, tzinfo=UTC)})
    sc.spec = sc.spec.model_copy(update={"window": wide})
    whole = run(sc, {"rehedge.threshold_pct": 0.01, "entry_date": "2021-01-03", "end_date": "2021-01-05"}, seed=99)
    assert manifest["config_hash"] == whole.manifest["config_hash"]
    assert manifest["events"] < whole.manifest["events"]
    for name, text in whole.exports.items():
        assert (out / name).read_text() == text, name


def test_a_synthetic_market_runs_its_whole_window(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = sim("basis-backtest", "2021-06-20", "2021-06-23", "--scenario", str(FIXTURE), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["window"] == {"start": "2021-06-17T00:00:00+00:00", "end": "2021-06-25T00:00:00+00:00"}
    assert manifest["basis_market"]["kind"] == "synthetic"
    assert "every price in this run is synthetic" in proc.stdout


def test_overrides_reach_the_basis_parameters(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = sim("basis-backtest", "2021-06-19", "2021-06-24", "--scenario", str(FIXTURE), "--out", str(out),
               "--set", "rehedge.delta_model=usd_neutral", "--set", "capital_usd=250000")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["delta_model"] == "usd_neutral" and summary["capital_usd"] == 250_000.0
    assert table(proc.stdout)["capital_usd"] == "250,000.00"


@pytest.mark.parametrize(("args", "needle"), [
    (("2021-13-01", "2021-01-05"), "START '2021-13-01' is not a date"),
    (("2021-1-2", "2021-01-05"), "START '2021-1-2' is not a date (YYYY-MM-DD)"),
    (("2021-01-02", "tomorrow"), "END 'tomorrow' is not a date"),
    (("2021-01-05", "2021-01-05"), "START 2021-01-05 must be before END 2021-01-05"),
    (("2021-01-06", "2021-01-02"), "START 2021-01-06 must be before END 2021-01-02"),
    (("2020-12-01", "2021-01-05"), "outside the scenario's window 2021-01-01..2021-09-30"),
    (("2021-09-20", "2021-10-02"), "outside the scenario's window 2021-01-01..2021-09-30"),
    (("2021-01-02", "2021-01-05", "--set", "nope=1"), "--set nope: unknown key"),
    (("2021-01-02", "2021-01-05", "--set", "rehedge.nope=1"), "--set rehedge.nope: unknown key"),
    (("2021-01-02", "2021-01-05", "--set", "rehedge.delta_model=foo"), "--set rehedge.delta_model:"),
    (("2021-01-02", "2021-01-05", "--set", "end_date.x=1"), "--set end_date.x"),
    (("2021-01-02", "2021-01-05", "--set", "entry_date=2021-01-03"), "--set entry_date: give the dates as START"),
    (("2021-01-02", "2021-01-05", "--set", "novalue"), "--set expects KEY=VALUE"),
    (("2021-01-02", "2021-01-05", "--seed", "x"), "--seed 'x' is not an integer"),
    (("2021-01-02", "2021-01-05", "--data", "/nonexistent/data"), "--data /nonexistent/data: no such directory"),
    (("2021-01-02", "2021-01-05", "--scenario", "basis/nope"), "nope.yaml: scenario file not found"),
])
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    proc = sim("basis-backtest", *args, "--out", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]
    assert not (tmp_path / "run").exists()


def test_a_data_root_without_the_files_names_the_file(tmp_path: Path) -> None:
    proc = sim("basis-backtest", "2021-01-02", "2021-01-05", "--data", str(tmp_path), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "file not found" in lines[0] and str(tmp_path) in lines[0], proc.stderr


def test_a_missing_data_root_is_one_line_and_exit_3(tmp_path: Path) -> None:
    proc = sim("basis-backtest", "2021-01-02", "2021-01-05", "--out", str(tmp_path / "r"),
               env={"SIM_DATA_DIR": str(tmp_path / "absent")})
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "data root not found" in lines[0], proc.stderr
