"""Deterministic replay simulator and test harness for BTC trading systems on Bybit.

The package holds the clock, events, the event loop, scenario and data readers, the run and
golden-file machinery, strategies and the CLI; the per-tick work is in the Rust extension
`sim._core`.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
