"""A plumbing strategy kept as a test fixture: it sends one market order at every hour's
minute close, alternating buy and sell, so orders, acknowledgements and fills travel the whole
real loop through the adapter. (The run records every minute bar whatever the strategy.)"""

from __future__ import annotations

from sim.events import NS_PER_MIN, Event, MinuteClose


class HourlyProbe:
    name = "hourly_probe"

    def __init__(self, qty: float = 0.001, every_minutes: int = 60) -> None:
        self.qty = qty
        self.every_ns = every_minutes * NS_PER_MIN
        self._side = 1

    def on_start(self, ctx) -> None:  # noqa: ANN001 - StrategyContext
        pass

    def on_event(self, event: Event, ctx) -> None:  # noqa: ANN001
        if isinstance(event, MinuteClose) and event.ts_ns % self.every_ns == 0:
            ctx.submit(self._side, "market", self.qty, intent="other", reason="hourly_probe")
            self._side = -self._side
