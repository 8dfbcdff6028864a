"""The strategies a scenario can name, each behind its plugin (`sim.strategies.plugin`).

This is the one place outside a strategy's own package that names strategies: the run, the
scenario layer, the outputs, the batches and the CLI look a plugin up here by the name a scenario
gives and use it through the plugin protocol only.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sim.core.errors import ManifestError
from sim.strategies.plugin import StrategyPlugin

#: name → "module:class" of its plugin; imported on first use, so a run loads only its own strategy
_PLUGINS = {
    "amt": "sim.strategies.amt.plugin:AmtPlugin",
    "basis": "sim.strategies.basis.plugin:BasisPlugin",
    "hourly_probe": "sim.strategies.probes:HourlyProbePlugin",
    "observe": "sim.strategies.probes:ObservePlugin",
}

STRATEGY_NAMES = tuple(sorted(_PLUGINS))


def plugin(name: str, origin: Path | str | None = None) -> StrategyPlugin:
    """The plugin of strategy `name`; an unknown name is a one-line error naming the key."""
    target = _PLUGINS.get(name)
    if target is None:
        raise ManifestError(origin or "scenario", "strategy",
                            f"unknown strategy {name!r} (known: {', '.join(STRATEGY_NAMES)})")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


def all_plugins() -> list[StrategyPlugin]:
    return [plugin(name) for name in STRATEGY_NAMES]


def plugin_for_run_dir(run_dir: Path) -> StrategyPlugin | None:
    """The plugin whose marker file the run directory holds (a strategy with its own report)."""
    for p in all_plugins():
        if p.run_dir_marker and (run_dir / p.run_dir_marker).is_file():
            return p
    return None
