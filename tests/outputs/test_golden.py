"""Golden files through the real CLI: every scenario verifies, a changed parameter fails with
a diff naming file, row and column, every scenario is deterministic across fresh processes,
and two simulations in one process give identical outputs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from sim.outputs.golden import unused_golden_dirs
from sim.run import run

REPO = Path(__file__).resolve().parents[2]
SYNTH = REPO / "scenarios" / "foundation" / "hourly_probe_synthetic.yaml"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO)


def test_verify_all_passes() -> None:
    proc = sim("verify", "--all", "--skip-unavailable")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout


def test_a_changed_parameter_fails_with_file_row_and_column(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(REPO / "golden" / "foundation" / "hourly_probe_synthetic", golden)
    changed = tmp_path / "hourly_probe_synthetic.yaml"
    changed.write_text(SYNTH.read_text().replace("half_width_bps: 20", "half_width_bps: 21"))
    proc = sim("verify", str(changed), "--golden", str(golden))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout
    assert re.search(r"bars\.csv: row \d+, column \w+: expected '[^']*', got '[^']*' \(minute close at 2024-03-01T", proc.stdout), proc.stdout
    assert (golden / "bars.csv.obtained").is_file()
    # The golden itself is untouched.
    assert (golden / "bars.csv").read_text() == (REPO / "golden/foundation/hourly_probe_synthetic/bars.csv").read_text()


def test_a_config_override_shows_up_in_fills(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(REPO / "golden" / "foundation" / "hourly_probe_synthetic", golden)
    proc = sim("verify", str(SYNTH), "--golden", str(golden), "--set", "slippage_ticks_exit=4")
    assert proc.returncode == 1
    assert "fills.csv: row 1, column price" in proc.stdout, proc.stdout


def test_determinism_all() -> None:
    proc = sim("determinism", "--all", "--skip-unavailable")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout


def test_two_simulations_in_one_process_are_identical() -> None:
    a = run(SYNTH)
    other = run(SYNTH, {"slippage_ticks_exit": 3})  # a different run in between shares nothing
    b = run(SYNTH)
    assert a.exports == b.exports
    assert a.golden_manifest() == b.golden_manifest()
    assert other.exports["fills.csv"] != a.exports["fills.csv"]


def test_unused_golden_folders_are_reported(tmp_path: Path) -> None:
    for sid in ("g/a", "g/b"):
        (tmp_path / sid).mkdir(parents=True)
        (tmp_path / sid / "manifest.json").write_text("{}")
    assert unused_golden_dirs(tmp_path, {"g/a"}) == ["g/b"]
