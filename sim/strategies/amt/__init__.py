"""The auction-market (value-area) strategy of the spec, `auction-trader`: acceptance tracking,
setups A/B/C with priority, risk-based sizing, partial exits, stops, time stops, cooldown, the
daily-loss kill switch and an execution engine over the adapter protocol."""

from sim.strategies.amt.strategy import AmtStrategy

__all__ = ["AmtStrategy"]
