"""A strategy that never trades: the run records bars, features and the raw tape only. Used by
the scenarios that pin the feature engine on real data."""

from __future__ import annotations

from sim.core.events import Event


class Observe:
    name = "observe"

    def on_start(self, ctx) -> None:  # noqa: ANN001 - StrategyContext
        pass

    def on_event(self, event: Event, ctx) -> None:  # noqa: ANN001
        pass
