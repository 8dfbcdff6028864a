"""The strategy/run configuration of spec §17.3: one strict, frozen pydantic model.

`config/default.yaml` holds every parameter with its default; a scenario's `config:` block
and command-line overrides are applied on top. Unknown keys and bad values are errors naming
the key. The canonical JSON of a config (sorted keys) is hashed into the run's identity.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.core.yaml_file import read_mapping, validate

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "default.yaml"

#: Config keys the feature engine reads (docs/FEATURES.md).
FEATURE_KEYS = (
    "rolling_window_minutes", "va_fraction", "base_bin_ticks", "alpha_bin", "bin_width_max_ticks",
    "rebucket_interval_minutes", "rebucket_change_pct", "min_va_bins", "max_quote_staleness_ms",
    "use_tick_rule_fallback", "qimb_ema_span_seconds", "spread_lookback_minutes", "side_source",
    "quote_alignment", "order_flow_source", "bvc_lookback_minutes", "feature_input",
)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    instrument: str = "BTCUSDT"
    exchange: Literal["bybit"] = "bybit"
    timeframe: Literal["1m"] = "1m"
    rolling_window_minutes: int = Field(240, gt=0)

    # Value area
    va_fraction: float = Field(0.70, gt=0.0, le=1.0)
    base_bin_ticks: int = Field(1, gt=0)
    alpha_bin: float = Field(0.25, gt=0.0)
    bin_width_max_ticks: int = Field(200, gt=0)
    rebucket_interval_minutes: int = Field(15, gt=0)
    rebucket_change_pct: float = Field(0.25, gt=0.0)
    min_va_bins: int = Field(20, gt=0)

    # Initiative
    max_quote_staleness_ms: int = Field(250, ge=0)
    ambiguous_trade_frac_max: float = Field(0.35, ge=0.0, le=1.0)
    use_tick_rule_fallback: bool = True
    side_source: Literal["inferred", "exchange"] = "inferred"
    quote_alignment: Literal["at_or_before", "before"] = "at_or_before"
    order_flow_source: Literal["trades", "bvc"] = "trades"
    bvc_lookback_minutes: int = Field(240, ge=2)
    feature_input: Literal["ticks", "bars"] = "ticks"

    # Quote imbalance
    use_qimb: bool = True
    qimb_source: Literal["close", "ema_60s"] = "close"
    qimb_entry_min: float = Field(0.10, ge=-1.0, le=1.0)
    qimb_breakout_min: float = Field(0.10, ge=-1.0, le=1.0)
    qimb_fail_min: float = Field(-0.10, ge=-1.0, le=1.0)
    qimb_ema_span_seconds: float = Field(60, gt=0)
    spread_lookback_minutes: int = Field(60, gt=0)

    # Order-flow thresholds
    of_entry_min: float = 0
    of_entry_min_norm: float = 0.1
    of_breakout_min: float = 0
    of_breakout_min_norm: float = 0.1
    of_fail_min: float = 0
    of_fail_min_norm: float = -0.1

    # Acceptance
    accept_outside_k: int = Field(3, gt=0)

    # Sizing
    risk_pct: float = Field(0.02, gt=0.0, le=1.0)
    max_leverage: float = Field(10, gt=0)
    margin_mode: Literal["cross"] = "cross"

    # Partial exits. TP1 exits `tp1_pct` of the entry's contracts; TP2 exits `tp2_pct` of them, or
    # what is left when that is less or when tp1_pct + tp2_pct covers the whole position (the
    # default 30/70). A remainder after TP2 rides the stop (at breakeven after TP1) and the time
    # stop, which trails while profitable.
    tp1_pct: float = Field(0.30, ge=0.0, le=1.0)
    tp2_pct: float = Field(0.70, gt=0.0, le=1.0)
    move_stop_to_breakeven_after_tp1: bool = True

    # Risk
    max_hold_minutes: int = Field(60, gt=0)
    extend_if_profitable: bool = True
    cooldown_minutes: int = Field(3, ge=0)
    stop_buffer_ticks: int = Field(2, ge=0)
    max_daily_loss: float = Field(500.0, gt=0)

    # Execution. Orders fill at the first quote (bars mode: kline) strictly after the decision;
    # there is no other timing to choose, so `fill_on_next_quote` only admits true (docs/DECISIONS.md).
    fill_on_next_quote: Literal[True] = True
    slippage_ticks_entry: int = Field(1, ge=0)
    slippage_ticks_exit: int = Field(1, ge=0)
    taker_fee_bps: float = 5
    maker_fee_bps: float = -1
    limit_order_timeout_minutes: int = Field(1, ge=0)
    use_limit_for_entry: bool = True
    entry_time_in_force: Literal["GTC", "IOC", "FOK", "PostOnly"] = "GTC"  # of a limit entry
    # false: exits are marketable limits (the close's mid beyond by slippage_ticks_exit), the rest
    # turned into a market order after limit_order_timeout_minutes (at least one minute)
    use_market_for_exit: bool = True

    # Backtest
    funding_rate_8h_bps: float = 1
    initial_equity: float = Field(10_000.0, gt=0)
    flatten_at_end_minutes: int = Field(5, ge=0)
    # The process pool `sim sweep` is to run its points on; no command reads it yet (today a sweep
    # runs its points one after another and a run is one process): see docs/DECISIONS.md.
    backtest_workers: Literal["auto"] | int = "auto"

    # Modes
    enable_retest_mode: bool = True
    enable_flip_on_signal: bool = True

    # Monitoring
    state_snapshot_interval_minutes: int = Field(5, gt=0)
    log_features_every_minute: bool = True  # a live session's session.log: the minute's bar and features

    # Startup. false: a paper session activates itself once the warm-up is complete; a session
    # that sends orders to a venue (shadow, live) refuses to start with it (docs/DECISIONS.md).
    require_manual_activation: bool = True
    warmup_minutes: int = Field(240, ge=0)

    @field_validator("backtest_workers")
    @classmethod
    def _workers_positive(cls, v: Any) -> Any:
        if isinstance(v, int) and v <= 0:
            raise ValueError("must be 'auto' or a positive integer")
        return v

    @model_validator(mode="after")
    def _split_fits(self) -> Config:
        if self.tp1_pct + self.tp2_pct > 1.0 + 1e-9:
            raise ValueError(f"tp2_pct: tp1_pct + tp2_pct must not exceed 1 (got {self.tp1_pct} + {self.tp2_pct})")
        return self

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def feature_params(self) -> dict[str, Any]:
        """The parameters of the Rust feature engine (`sim._core.MarketEngine(features=...)`)."""
        return {name: getattr(self, name) for name in FEATURE_KEYS}

    def workers(self) -> int:
        if self.backtest_workers == "auto":
            return max(1, (os.cpu_count() or 2) // 2)
        return int(self.backtest_workers)


def load_config(path: Path | str = DEFAULT_PATH, overrides: dict[str, Any] | None = None, *, origin: Path | str | None = None) -> Config:
    """Loads the defaults file and applies overrides; errors name the file and the key.

    `origin` names the file the overrides come from (a scenario manifest), for messages.
    """
    path = Path(path)
    raw, _ = read_mapping(path, "config")
    base = validate(Config, raw, path)
    if not overrides:
        return base
    return validate(Config, {**base.model_dump(), **overrides}, Path(origin or path), prefix="config")
