"""The fuzz budget CI runs: random scenarios through the real pipeline (`sim.run.run`) with every
invariant checked at every event (`sim.batch.fuzz`), derandomized so that CI draws the same
scenarios every time. A failure is shrunk by hypothesis; the message holds the scenario YAML that
reproduces it (save it and `sim run` / `sim fuzz --replay` it).

Also `sim fuzz` through the real CLI: its report, the YAML it writes for a failure (which
`--replay` checks again), and one-line errors for bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from sim.batch.fuzz import check_mapping, describe, scenario_strategy, scenario_yaml

REPO = Path(__file__).resolve().parents[2]
CI = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False, print_blob=False)


def _failure(mapping: dict[str, Any], res: Any) -> str:
    return "invariants failed; this scenario reproduces it:\n" + scenario_yaml(describe(mapping, res, limit=10))


@settings(CI, max_examples=200)
@given(scenario_strategy("amt"))
def test_amt_scenarios_keep_every_invariant(mapping: dict[str, Any]) -> None:
    res = check_mapping(mapping)
    assert res.events > 0
    assert not res.violations, _failure(mapping, res)


@settings(CI, max_examples=10)
@given(scenario_strategy("basis"))
def test_basis_scenarios_keep_every_invariant(mapping: dict[str, Any]) -> None:
    res = check_mapping(mapping)
    assert res.events > 0
    assert not res.violations, _failure(mapping, res)


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO)


def test_sim_fuzz_reports_what_it_ran_and_writes_replayable_failures(tmp_path: Path) -> None:
    proc = sim("fuzz", "--budget", "3s", "--strategy", "amt", "--seed", "7", "--round", "4", "--out", str(tmp_path))
    assert proc.returncode in (0, 1), proc.stderr
    out = proc.stdout
    scenarios = int(re.search(r"^scenarios\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    assert scenarios >= 4
    assert int(re.search(r"^events\s+(\d+)", out, re.M).group(1)) > 0  # type: ignore[union-attr]
    assert int(re.search(r"^invariant checks\s+(\d+)", out, re.M).group(1)) > 0  # type: ignore[union-attr]
    failures = int(re.search(r"^failures\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    paths = re.findall(r"^- amt \w+: (\S+\.yaml)$", out, re.M)
    assert len(paths) == failures and (proc.returncode == 1) == (failures > 0)
    for path in paths:
        again = sim("fuzz", "--replay", path)
        assert again.returncode == 1, again.stdout + again.stderr
        assert "violations" in again.stdout


def test_sim_fuzz_replay_of_a_clean_scenario_passes() -> None:
    proc = sim("fuzz", "--replay", "scenarios/amt/entry_breakout_long.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.match(r"replayed \S+: \d+ events, \d+ invariant checks, 0 violations", proc.stdout)


def test_sim_fuzz_bad_input_is_one_line() -> None:
    for args, needle in ((("--budget", "ten"), "--budget"), (("--strategy", "nope"), "--strategy nope"),
                         (("--round", "0"), "--round"), (("--replay", "/no/such.yaml"), "/no/such.yaml")):
        proc = sim("fuzz", *args)
        assert proc.returncode == 2
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


FINDINGS = sorted((REPO / "tests/fixtures/fuzz").glob("*.yaml"))


@pytest.mark.parametrize("path", FINDINGS, ids=lambda p: p.stem)
def test_shrunk_findings_keep_every_invariant(path: Path) -> None:
    """Scenarios `sim fuzz` found and shrunk (their description says what failed): each is a
    regression test once its cause is fixed."""
    from sim.batch.fuzz import replay

    res = replay(path)
    assert not res.violations, "\n".join(f"{v.invariant}: {v.message}" for v in res.violations)
