"""The import graph of the project's packages, read from the source (every import statement,
function-level ones included), and the layering it must follow (docs/ARCHITECTURE.md).

Layers, from the bottom: the core; data; scenario and market; execution; the adapters the run
drives and the strategy API; each strategy; outputs; the run; the emulator; batches and live
sessions; the CLI. An import may only point to a lower layer or stay inside its own group.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOTS = ("sim", "adapters", "dashboard")

#: group → layer; an import must point to a lower layer (or stay in its group)
LAYERS = {
    "sim": -1, "sim.core": 0, "adapters.protocol": 0,
    "sim.data": 1,
    "sim.scenario": 2, "sim.market": 2, "sim.execution": 2,
    "adapters.simulated": 3, "adapters.bybit": 3, "sim.strategies": 3, "sim.outputs": 3,
    "sim.strategies.*": 4,
    "sim.run": 5,
    "adapters.emulator": 6,
    "sim.batch": 7, "sim.live": 7,
    "dashboard": 8,
    "sim.cli": 9, "sim.__main__": 10, "adapters": 11,
}

#: what a strategy's own package may import besides itself: the core, the strategy API and the
#: adapter protocol — never a loader, the market, the run, the outputs or a concrete adapter
STRATEGY_MAY_IMPORT = ("sim", "sim.core", "sim.strategies", "adapters.protocol")
#: the dashboard only reads run outputs and stores
DASHBOARD_MAY_IMPORT = ("sim.core", "sim.outputs", "dashboard")
STRATEGY_API = ("api", "plugin", "registry")


def module_name(path: Path, repo: Path) -> str:
    parts = list(path.relative_to(repo).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(repo: Path) -> dict[str, Path]:
    return {module_name(p, repo): p for root in ROOTS for p in sorted((repo / root).rglob("*.py"))}


def imports(repo: Path) -> dict[str, set[str]]:
    """module → the project modules it imports (a `from pkg import name` counts `pkg.name` when
    that is a module)."""
    mods = modules(repo)
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]
            for t in targets:
                if t.split(".")[0] in ROOTS and t != mod:
                    edges[mod].add(t)
    return edges


def group(mod: str) -> str:
    parts = mod.split(".")
    if parts[0] == "sim":
        if len(parts) == 1:
            return "sim"
        if parts[1] == "strategies" and len(parts) > 2 and parts[2] not in STRATEGY_API:
            return "sim.strategies.*"
        return f"sim.{parts[1]}"
    if parts[0] == "adapters":
        return f"adapters.{parts[1]}" if len(parts) > 1 else "adapters"
    return parts[0]


def strategy_package(mod: str) -> str | None:
    parts = mod.split(".")
    if parts[:2] == ["sim", "strategies"] and len(parts) > 2 and parts[2] not in STRATEGY_API:
        return ".".join(parts[:3])
    return None


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Every import against the layering, as 'a -> b: why'."""
    out = []
    for a in sorted(edges):
        for b in sorted(edges[a]):
            ga, gb = group(a), group(b)
            if ga not in LAYERS or gb not in LAYERS:
                out.append(f"{a} -> {b}: {ga if ga not in LAYERS else gb} has no layer (add it to LAYERS)")
                continue
            own = strategy_package(a)
            if own is not None:
                if not (b == own or b.startswith(own + ".") or group(b) in STRATEGY_MAY_IMPORT):
                    out.append(f"{a} -> {b}: a strategy sees only the core, the strategy API, the adapter "
                               "protocol and its own package")
                elif strategy_package(b) not in (None, own):
                    out.append(f"{a} -> {b}: a strategy never imports another strategy")
                continue
            if ga == "dashboard" and gb not in DASHBOARD_MAY_IMPORT:
                out.append(f"{a} -> {b}: the dashboard reads outputs and stores only")
            elif ga != gb and LAYERS[gb] >= LAYERS[ga]:
                out.append(f"{a} -> {b}: {ga} (layer {LAYERS[ga]}) must not import {gb} (layer {LAYERS[gb]})")
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The module-level import cycles (strongly connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm, recursive: the graph is a few hundred modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return found
