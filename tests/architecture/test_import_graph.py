"""Dependencies point one way: no import cycle, no arrow against the layering, strategies see only
the core, the strategy API, the adapter protocol and their own package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sim.strategies import registry

from tests.architecture.import_graph import cycles, imports, modules, violations

REPO = Path(__file__).resolve().parents[2]


def test_no_import_points_against_the_layering() -> None:
    assert violations(imports(REPO)) == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(imports(REPO)) == []


def test_every_module_has_a_layer() -> None:
    edges = imports(REPO)
    for mod in modules(REPO):
        edges.setdefault(mod, set())
    assert [v for v in violations(edges) if "has no layer" in v] == []


def test_a_back_arrow_is_caught() -> None:
    """The checker itself: an outputs module importing the run, the core importing the market, a
    strategy importing a loader or another strategy, and a two-module cycle are all reported."""
    edges = imports(REPO)
    edges["sim.outputs.golden"].add("sim.run")
    edges["sim.core.loop"].add("sim.market.feed")
    edges["sim.strategies.amt.strategy"].add("sim.data.readers")
    edges["sim.strategies.amt.strategy"].add("sim.strategies.basis.params")
    edges["sim.market.feed"].add("sim.core.loop")
    found = violations(edges)
    assert any(v.startswith("sim.outputs.golden -> sim.run:") for v in found)
    assert any(v.startswith("sim.core.loop -> sim.market.feed:") for v in found)
    assert any(v.startswith("sim.strategies.amt.strategy -> sim.data.readers:") for v in found)
    assert any(v.startswith("sim.strategies.amt.strategy -> sim.strategies.basis.params:") for v in found)
    assert ["sim.core.loop", "sim.market.feed"] in cycles(edges)


#: where the run path, the scenario layer, the outputs, the batches and the CLI's dispatch live
STRATEGY_FREE = ("sim/run.py", "sim/scenario", "sim/outputs", "sim/cli.py", "sim/batch")
#: a strategy named in code (a string or an import) or in prose; "basis" alone is also the market
#: quantity (futures over spot) and a Sharpe's return basis, so only its strategy senses count
NAMED = re.compile(r"\b(amt|hourly_probe|observe|probes)\b|\bbasis[ -](strategy|trade|run|backtest)\b|"
                   r"\bcash[- ]and[- ]carry\b|sim\.strategies\.(?!api\b|plugin\b|registry\b)\w+")


def _strategy_strings(path: Path) -> list[str]:
    names = set(registry.STRATEGY_NAMES)
    return [f"{path.relative_to(REPO)}:{n.lineno}: {n.value!r}" for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in names]


def test_no_strategy_is_named_outside_its_package_and_the_registry() -> None:
    hits = []
    for where in STRATEGY_FREE:
        root = REPO / where
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            hits += _strategy_strings(path)
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if NAMED.search(line):
                    hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert hits == []
