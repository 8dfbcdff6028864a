"""The amt strategy's plugin: configured by the config file (spec §17.3) alone, one instrument,
the pipeline's canonical exports and the standard report."""

from __future__ import annotations

from typing import ClassVar

from sim.core.config import Config
from sim.strategies.amt.strategy import AmtStrategy
from sim.strategies.plugin import NoParams, RunInfo, StrategyPlugin, StrictParams


class AmtPlugin(StrategyPlugin):
    name: ClassVar[str] = "amt"
    params_model = NoParams

    def build(self, info: RunInfo, config: Config, params: StrictParams) -> AmtStrategy:
        return AmtStrategy()
