"""`sim sweep` through the real CLI: the §21.3 sensitivity table over alpha_bin, accept_outside_k and
risk_pct, its CSV, and one-line errors for a bad grid."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIO = "scenarios/amt/entry_breakout_long.yaml"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO)


def test_sensitivity_table_over_the_three_parameters(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    proc = sim("sweep", SCENARIO, "--grid", "alpha_bin=0.15,0.25", "--grid", "accept_outside_k=2,3",
               "--grid", "risk_pct=0.0005,0.002", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["alpha_bin", "accept_outside_k", "risk_pct", "trades"]
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 8
    assert [(r["alpha_bin"], r["accept_outside_k"], r["risk_pct"]) for r in rows[:2]] == [
        ("0.15", "2", "0.0005"), ("0.15", "2", "0.002")]
    # each parameter changes the outcome somewhere in the table
    by = {(r["alpha_bin"], r["accept_outside_k"], r["risk_pct"]): r["net_pnl"] for r in rows}
    assert by[("0.15", "2", "0.0005")] != by[("0.15", "2", "0.002")]
    assert by[("0.15", "2", "0.0005")] != by[("0.15", "3", "0.0005")]
    assert by[("0.15", "2", "0.0005")] != by[("0.25", "2", "0.0005")]
    assert len({r["config_hash"] for r in rows}) == 8


def test_a_bad_grid_is_one_line_and_exit_2() -> None:
    for args in (["--grid", "alpha_bin"], ["--grid", "no_such_key=1,2"], []):
        proc = sim("sweep", SCENARIO, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
