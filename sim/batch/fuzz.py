"""Scenario fuzzing: random scenarios through the one run path, invariants checked at every event,
a failure shrunk to a small scenario YAML that reproduces it.

`check_scenario` runs one scenario with a `RunObserver` (the generic invariants of
`sim.batch.fuzz_checks` and the strategy's own, from its plugin's `invariants()`), checks the end
(accounting, for strategies on the pipeline's exports) and runs it again to compare the hashes.
`scenario_strategy` is the hypothesis strategy of a strategy's scenarios (its plugin's
`fuzz_space()`, drawn by `sim.batch.fuzz_scenarios`); hypothesis shrinks what fails.

`fuzz` is the budgeted search behind `sim fuzz`: rounds of hypothesis runs, each with its own seed
derived from the base seed, until the wall-time budget is spent. In a round the first failing
invariant becomes the round's target (other failures do not count while it shrinks), and an
invariant reported once is not searched for again, so a long run lists distinct failures. Each is
stripped of the config keys and parameters it does not need (`minimize`) and written to `--out` as a
scenario YAML whose description says what failed: `sim run` replays it and
`sim fuzz --replay` checks it again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.batch.fuzz_checks import CaseResult, RunObserver, accounting, rerun_identical
from sim.core.errors import UserInputError
from sim.core.events import NS_PER_MS
from sim.core.yaml_file import validate
from sim.execution.orders import IllegalTransition
from sim.scenario.manifest import LoadedScenario, Scenario, load_scenario
from sim.strategies import registry
from sim.strategies.plugin import Violation


def loaded(mapping: dict[str, Any], path: Path | None = None) -> LoadedScenario:
    """A drawn scenario mapping as a loaded scenario (its YAML text is what gets hashed)."""
    text = scenario_yaml(mapping)
    path = path or Path(f"<fuzz>/{mapping['name']}.yaml")
    return LoadedScenario(validate(Scenario, yaml.safe_load(text), path), path, mapping["name"], text)


def scenario_yaml(mapping: dict[str, Any]) -> str:
    return yaml.safe_dump(mapping, sort_keys=False, default_flow_style=None, width=110)


def check_scenario(sc: LoadedScenario, *, rerun: bool = True) -> CaseResult:
    """Runs `sc` with every invariant watched; a crash inside the run is a violation too. A scenario
    the run refuses (bad input) is an error, not a finding."""
    from sim.run import run

    plugin = registry.plugin(sc.spec.strategy, sc.path)
    obs = RunObserver(plugin.invariants())
    try:
        result = run(sc, observer=obs)
    except UserInputError:
        raise
    except IllegalTransition as e:
        obs.add(Violation("order_transitions", obs.last_ts, str(e)))
        return obs.result
    except Exception as e:  # noqa: BLE001 - any crash of the pipeline is a finding, reported with its type
        obs.add(Violation("no_crash", obs.last_ts, f"{type(e).__name__}: {e}"))
        return obs.result
    end = sc.spec.window.end_ns
    if plugin.pipeline_exports:
        # the run's own context is gone; the observer saw it at the end
        for v in accounting(result.exports, obs.initial_equity, obs.final_position, end):
            obs.add(v)
        obs.result.checks += 1
    if rerun:
        for v in rerun_identical(result.manifest, run(sc).manifest, end):
            obs.add(v)
        obs.result.checks += 1
    return obs.result


def check_mapping(mapping: dict[str, Any], *, rerun: bool = True) -> CaseResult:
    return check_scenario(loaded(mapping), rerun=rerun)


def scenario_strategy(strategy: str) -> Any:
    """The hypothesis strategy of `strategy`'s fuzz scenarios (mappings, as a manifest holds them)."""
    from sim.batch.fuzz_scenarios import scenarios

    plugin = registry.plugin(strategy)
    space = plugin.fuzz_space()
    if not space:
        raise UserInputError(f"strategy {strategy!r} has no fuzz space")
    return scenarios(strategy, space, plugin.split_overrides)


def minimize(mapping: dict[str, Any], invariant: str) -> tuple[dict[str, Any], CaseResult]:
    """Drops each config key and strategy parameter the failure does not need (the run then uses
    its default), keeping a removal only while `invariant` still fails; hypothesis has already made
    the values small, this makes the reproducer short. Returns the mapping and its full check."""
    current = mapping
    for section in ("config", "strategy_params"):
        for key in list(current.get(section, {})):
            trial = {**current, section: {k: v for k, v in current[section].items() if k != key}}
            if not trial[section]:
                del trial[section]
            try:
                still = invariant in check_mapping(trial, rerun=False).invariants
            except UserInputError:  # the market needs the key (e.g. bars mode for klines)
                still = False
            if still:
                current = trial
    return current, check_mapping(current)


def fuzzable() -> list[str]:
    """The strategies whose plugins describe a fuzz space."""
    return [name for name in registry.STRATEGY_NAMES if registry.plugin(name).fuzz_space()]


def describe(mapping: dict[str, Any], res: CaseResult, limit: int = 5) -> dict[str, Any]:
    """The mapping with a description that says what failed (the manifest has no other free field)."""
    lines = [f"{v.invariant} at {_ts(v.ts_ns)}: {v.message}" for v in res.violations[:limit]]
    more = len(res.violations) - limit
    text = "Found by sim fuzz. " + " | ".join(lines) + (f" | ... {more} more" if more > 0 else "")
    return {**mapping, "description": text}


def _ts(ts_ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ns // NS_PER_MS / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_failure(out_dir: Path, mapping: dict[str, Any], res: CaseResult, invariant: str | None = None) -> Path:
    """The reproducing scenario YAML, named by strategy, invariant and content."""
    doc = describe(mapping, res)
    digest = hashlib.sha256(scenario_yaml(mapping).encode()).hexdigest()[:10]
    doc["name"] = f"fuzz_{mapping['strategy']}_{invariant or res.invariants[0]}_{digest}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{doc['name']}.yaml"
    path.write_text(scenario_yaml(doc))
    return path


def replay(path: Path | str) -> CaseResult:
    """Checks a scenario file again (`sim fuzz --replay`)."""
    return check_scenario(load_scenario(path))


@dataclass
class Failure:
    strategy: str
    invariant: str  # the one that was shrunk for
    mapping: dict[str, Any]
    result: CaseResult
    path: Path | None = None


@dataclass
class FuzzReport:
    scenarios: int = 0  # runs checked, shrinking included
    drawn: int = 0  # scenarios drawn fresh (not shrink steps)
    events: int = 0
    checks: int = 0
    rounds: int = 0
    by_strategy: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def add(self, strategy: str, res: CaseResult) -> None:
        self.scenarios += 1
        self.events += res.events
        self.checks += res.checks
        self.by_strategy[strategy] = self.by_strategy.get(strategy, 0) + 1


class _Found(Exception):
    """Raised inside a hypothesis run to make it shrink the case that failed the round's target."""


def fuzz_round(strategy: str, *, examples: int, seed: int, skip: set[str], report: FuzzReport,
               derandomize: bool = False) -> Failure | None:
    """One hypothesis run of up to `examples` scenarios; the shrunk failure of its first new
    invariant, or None."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed

    state: dict[str, Any] = {"target": None, "last": None, "shrinking": False}

    @settings(max_examples=examples, database=None, deadline=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              phases=(Phase.generate, Phase.shrink), print_blob=False)
    @given(scenario_strategy(strategy))
    def prop(mapping: dict[str, Any]) -> None:
        res = check_mapping(mapping)
        report.add(strategy, res)
        if not state["shrinking"]:
            report.drawn += 1
        new = [i for i in res.invariants if i not in skip]
        if state["target"] is None and new:
            state["target"], state["shrinking"] = new[0], True
        if state["target"] in new:
            state["last"] = (mapping, res)
            raise _Found(state["target"])

    runner: Callable[[], None] = prop if derandomize else hyp_seed(seed)(prop)
    try:
        runner()
    except _Found:
        mapping, res = state["last"]
        return Failure(strategy, state["target"], mapping, res)
    return None


def fuzz(strategies: list[str], *, budget_s: float, seed: int, out_dir: Path, round_examples: int = 25,
         progress: Callable[[str], None] | None = None) -> FuzzReport:
    """Fuzzes each strategy in turn (an equal share of the budget each) until the budget is spent."""
    report = FuzzReport()
    t0 = time.monotonic()  # sim-determinism: allowed (the budget is wall time; no output depends on it)
    for k, strategy in enumerate(strategies):
        share_end = budget_s * (k + 1) / len(strategies)
        skip: set[str] = set()
        r = 0
        while time.monotonic() - t0 < share_end:  # sim-determinism: allowed (the budget)
            round_seed = int.from_bytes(hashlib.sha256(f"{seed}/{strategy}/{r}".encode()).digest()[:8], "big")
            found = fuzz_round(strategy, examples=round_examples, seed=round_seed, skip=skip, report=report)
            r += 1
            report.rounds += 1
            if found is not None:
                found.mapping, found.result = minimize(found.mapping, found.invariant)
                found.path = write_failure(out_dir, found.mapping, found.result, found.invariant)
                skip.add(found.invariant)
                report.failures.append(found)
                if progress:
                    progress(f"{strategy}: {found.invariant} -> {found.path}")
    return report
