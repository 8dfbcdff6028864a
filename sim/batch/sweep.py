"""Parameter sweeps: one scenario replayed over a grid of config values (spec §13, §21.3).

The grid is the Cartesian product of the given values, in the order the keys and values were
given; each point is an ordinary `sim.run.run` with those overrides, so every point is a pure,
reproducible run identified by its config hash. The result is a table — one row per point, the
swept values then the headline metrics — printed aligned and written as CSV.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.core.errors import UserInputError
from sim.outputs.exports import csv_text, fmt

METRIC_COLUMNS = ("trades", "net_pnl", "gross_pnl", "fees", "funding", "win_rate", "max_drawdown", "sharpe",
                  "final_equity", "config_hash")


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`KEY=V1,V2,...` items → {key: [values]} (values parsed as strict YAML scalars)."""
    from sim.core.yaml_file import parse_value

    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise UserInputError(f"--grid expects KEY=V1,V2,..., got {item!r}")
        key, values = item.split("=", 1)
        key = key.strip()
        if not key:
            raise UserInputError(f"--grid expects KEY=V1,V2,..., got {item!r}")
        if key in grid:
            raise UserInputError(f"--grid names {key!r} twice")
        parsed = [parse_value(v, f"--grid {key}") for v in values.split(",") if v.strip()]
        if not parsed:
            raise UserInputError(f"--grid {key}: no values")
        grid[key] = parsed
    return grid


def sweep(scenario: str | Path, grid: dict[str, list[Any]], base: dict[str, Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Runs every grid point; returns (columns, rows)."""
    from sim.run import run
    from sim.scenario.manifest import load_scenario

    sc = load_scenario(scenario)
    keys = list(grid)
    rows: list[tuple[Any, ...]] = []
    for values in itertools.product(*(grid[k] for k in keys)):
        overrides = {**(base or {}), **dict(zip(keys, values))}
        result = run(sc, overrides)
        m = result.summary["metrics"]
        rows.append((*values, *(m.get(c) if c != "config_hash" else result.manifest["config_hash"][:12]
                                for c in METRIC_COLUMNS)))
    return [*keys, *METRIC_COLUMNS], rows


def table_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else fmt(v)

    cells = [list(columns)] + [[cell(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells) + "\n"


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(columns, rows))
