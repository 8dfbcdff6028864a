"""Two plumbing strategies kept as fixtures of the pipeline itself.

* `hourly_probe` sends one market order at every hour's minute close, alternating buy and sell,
  so orders, acknowledgements and fills travel the whole real loop through the adapter, and
  closes what it holds `flatten_at_end_minutes` before a backtest's window ends, like every
  strategy here.
* `observe` never trades: the run records bars, features and the raw tape only. The scenarios
  that pin the feature engine on real data use it.

(The run records every minute bar whatever the strategy.)"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from sim.core.config import Config
from sim.core.events import NS_PER_MIN, Event, MinuteClose
from sim.strategies.api import StrategyContext
from sim.strategies.plugin import NoParams, RunInfo, StrategyPlugin, StrictParams


class HourlyProbeParams(StrictParams):
    qty: float = Field(0.001, gt=0)
    every_minutes: int = Field(60, gt=0)


class HourlyProbe:
    name = "hourly_probe"

    def __init__(self, qty: float = 0.001, every_minutes: int = 60) -> None:
        self.qty = qty
        self.every_ns = every_minutes * NS_PER_MIN
        self._side = 1
        self._closing = False

    def on_start(self, ctx: StrategyContext) -> None:
        ctx.ledger.require_plan = False  # plumbing: its positions carry no plan (no tag, no stop)

    def on_event(self, event: Event, ctx: StrategyContext) -> None:
        if not isinstance(event, MinuteClose):
            return
        if ctx.end_ns is not None and event.ts_ns >= ctx.end_ns - ctx.config.flatten_at_end_minutes * NS_PER_MIN:
            if ctx.position.qty != 0.0 and not self._closing:
                side = 1 if ctx.position.qty < 0 else -1
                ctx.submit(side, "market", abs(ctx.position.qty), intent="exit", reason="end_of_run")
                self._closing = True
            return
        if event.ts_ns % self.every_ns == 0:
            ctx.submit(self._side, "market", self.qty, intent="other", reason="hourly_probe")
            self._side = -self._side

    def on_end(self, ctx: StrategyContext) -> None:
        pass


class Observe:
    name = "observe"

    def on_start(self, ctx: StrategyContext) -> None:
        pass

    def on_event(self, event: Event, ctx: StrategyContext) -> None:
        pass

    def on_end(self, ctx: StrategyContext) -> None:
        pass


class HourlyProbePlugin(StrategyPlugin):
    name: ClassVar[str] = "hourly_probe"
    params_model = HourlyProbeParams

    def build(self, info: RunInfo, config: Config, params: StrictParams) -> HourlyProbe:
        assert isinstance(params, HourlyProbeParams)
        return HourlyProbe(params.qty, params.every_minutes)


class ObservePlugin(StrategyPlugin):
    name: ClassVar[str] = "observe"
    params_model = NoParams

    def build(self, info: RunInfo, config: Config, params: StrictParams) -> Observe:
        return Observe()
