"""Strategies, looked up by the name a scenario gives."""

from __future__ import annotations

from typing import Any

from sim.strategies.api import Strategy


def make_strategy(name: str, params: dict[str, Any]) -> Strategy:
    if name == "hourly_probe":
        from sim.strategies.hourly_probe import HourlyProbe

        return HourlyProbe(**params)
    if name == "amt":
        from sim.strategies.amt import AmtStrategy

        return AmtStrategy(**params)
    if name == "observe":
        from sim.strategies.observe import Observe

        return Observe(**params)
    raise KeyError(name)


#: "basis" runs through `sim.strategies.basis.plugin` (several instruments, its own outputs), not `make_strategy`.
STRATEGY_NAMES = ("amt", "basis", "hourly_probe", "observe")
