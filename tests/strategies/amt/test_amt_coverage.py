"""The amt scenarios together cover every behaviour the strategy must show, each with a golden.

Each synthetic scenario under scenarios/amt/ names what it exercises in `covers:`; the behaviour
itself is checked from the run's outputs by tests/strategies/amt/test_amt_entry_coverage.py and
tests/strategies/amt/test_amt_exit_coverage.py. This file checks the bookkeeping: the union of the lists is
exactly the required set, no id is unknown, and every covering scenario has a golden folder."""

from __future__ import annotations

from pathlib import Path

from sim.scenario.manifest import GOLDEN_DIR, SCENARIOS_DIR, load_scenario

REQUIRED = {
    "breakin-long", "breakin-short", "breakout-long", "breakout-short", "breakout-retest-entry",
    "retest-fails-into-failed-breakout", "failed-breakout-short", "failed-breakout-long", "priority-conflict",
    "flip-on-signal", "acceptance-reset", "gap-without-crossing", "high-ambiguity-dual-confirmation",
    "va-invalid-few-bins", "warmup-blocks-signals", "tp1-partial-then-breakeven-stop", "single-contract-no-partial",
    "stop-and-target-same-bar", "time-stop", "time-stop-extended-while-profitable", "cooldown",
    "kill-switch-daily-loss", "leverage-cap", "limit-timeout-to-market", "funding-charged",
}


def _covering() -> dict[Path, list[str]]:
    out = {}
    for p in sorted((SCENARIOS_DIR / "amt").glob("*.yaml")):
        covers = load_scenario(p).spec.covers
        if covers:
            out[p] = covers
    return out


def test_the_amt_scenarios_cover_every_required_behaviour() -> None:
    covering = _covering()
    union = {c for cs in covering.values() for c in cs}
    assert union - REQUIRED == set(), "unknown coverage ids"
    assert REQUIRED - union == set(), "behaviours no scenario covers"


def test_every_covering_scenario_is_synthetic_and_has_a_golden() -> None:
    for p, _ in _covering().items():
        spec = load_scenario(p).spec
        assert spec.synthetic is not None, p
        golden = GOLDEN_DIR / "amt" / p.stem
        for name in ("signals.csv", "orders.csv", "fills.csv", "positions.csv", "equity.csv", "metrics.json"):
            assert (golden / name).is_file(), golden / name
