"""The amt strategy's plugin: configured by the config file (spec §17.3) alone, one instrument,
the pipeline's canonical exports and the standard report."""

from __future__ import annotations

from typing import Any, ClassVar

from sim.core.config import Config
from sim.strategies.amt.invariants import AmtInvariants
from sim.strategies.amt.strategy import AmtStrategy
from sim.strategies.plugin import NoParams, RunInfo, StrategyPlugin, StrictParams


class AmtPlugin(StrategyPlugin):
    name: ClassVar[str] = "amt"
    params_model = NoParams

    def build(self, info: RunInfo, config: Config, params: StrictParams) -> AmtStrategy:
        return AmtStrategy()

    # -- scenario fuzzing (`sim fuzz`) ----------------------------------------------------------
    def invariants(self) -> AmtInvariants:
        return AmtInvariants()

    def fuzz_space(self) -> dict[str, Any]:
        return FUZZ_SPACE


#: Short scenarios that still trade: a warm-up and profile window of an hour or two (the value
#: area needs `min_va_bins` bins of traded volume), config keys within the spec's ranges (§17.3,
#: the §21.3 sweeps), the first value of a choice the ordinary one (shrinking goes there); ticks
#: from the segment generators, or synthetic 1-minute klines in bars mode.
FUZZ_SPACE: dict[str, Any] = {
    "market": [
        {"kind": "ticks", "lead_minutes_key": "warmup_minutes", "extra_lead": [0, 15],
         "tail_minutes_key": "flatten_at_end_minutes", "segments": [1, 6]},
        # kline archives run in bars mode, where every order fills on the next bar
        {"kind": "minute_bars", "lead_minutes_key": "warmup_minutes", "extra_lead": [0, 15],
         "tail_minutes_key": "flatten_at_end_minutes", "segments": [1, 6], "fixed": {"feature_input": "bars"}},
    ],
    "overrides": {
        "warmup_minutes": [30, 60],
        "rolling_window_minutes": {"one_of": [60, 120, 240]},
        "min_va_bins": [5, 20],
        "alpha_bin": {"one_of": [0.25, 0.15, 0.35]},
        "accept_outside_k": {"one_of": [3, 2, 1]},
        "risk_pct": [0.0005, 0.05],
        "max_leverage": {"one_of": [10, 5, 2]},
        "max_daily_loss": {"one_of": [500, 200, 50]},
        "max_hold_minutes": [5, 60],
        "extend_if_profitable": {"one_of": [True, False]},
        "cooldown_minutes": [0, 5],
        "stop_buffer_ticks": [0, 5],
        "tp1_pct": {"one_of": [0.3, 0.5]},
        "tp2_pct": {"one_of": [0.2, 0.5]},  # tp1_pct + tp2_pct <= 1; below 1 a remainder rides
        "limit_order_timeout_minutes": [0, 3],
        "use_limit_for_entry": {"one_of": [True, False]},
        "enable_retest_mode": {"one_of": [True, False]},
        "enable_flip_on_signal": {"one_of": [True, False]},
        "use_qimb": {"one_of": [True, False]},
        "slippage_ticks_entry": [0, 3],
        "slippage_ticks_exit": [0, 3],
        "flatten_at_end_minutes": [1, 5],
    },
}
