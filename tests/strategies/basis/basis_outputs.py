"""Runs the basis scenarios once per test session and reads their exports as tables."""

from __future__ import annotations

import csv
import io
from functools import cache
from typing import Any

from sim.run import RunResult, run


@cache
def result(scenario: str) -> RunResult:
    return run(scenario)


def table(scenario: str, name: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(result(scenario).exports[name])))
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = float(v) if v != "" else float("nan")
            except ValueError:
                pass
    return rows
