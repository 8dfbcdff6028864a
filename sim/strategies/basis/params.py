"""The basis strategy's parameters: one strict, frozen pydantic model, the seeds' values as
defaults (seeds 000–003, DESIGN §9). Unknown keys are errors naming the key; the canonical JSON
of the parameters is hashed into the run's identity."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Pacing(_Strict):
    """One paced 24-hour program (entry, roll or unwind) over `slots` × `slot_minutes`."""

    slots: int = Field(96, gt=0)
    slot_minutes: int = Field(15, gt=0)
    pov_base: float = Field(0.10, gt=0)
    pov_min: float = Field(0.02, gt=0)
    pov_max: float = Field(0.25, gt=0)
    #: pov = clip(pov_base × (1 + gain × −schedule_deviation), pov_min, pov_max)
    pov_deviation_gain: float = Field(0.8, ge=0)
    #: behind schedule when progress < time fraction − this: price aggressively
    behind_threshold: float = Field(0.05, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Pacing:
        if not self.pov_min <= self.pov_base <= self.pov_max:
            raise ValueError("need pov_min <= pov_base <= pov_max")
        return self


class Entry(Pacing):
    #: days of history before the entry day the slot leaderboard and the average basis use
    leaderboard_lookback_days: int = Field(100, gt=0)
    #: slot score = (mean positive annualized basis)^edge_exponent × (mean spot volume)^liquidity_exponent
    edge_exponent: float = Field(1.0, ge=0)
    liquidity_exponent: float = Field(1.0, ge=0)
    #: child × clip(basis now / historical average basis, lo, hi)
    opportunity_min: float = Field(0.5, gt=0)
    opportunity_max: float = Field(1.5, gt=0)
    #: the seed's fallback average basis when there is no history
    default_avg_basis_bps: float = 200.0
    #: a slot trades only a contract whose basis is above this (the seed's basis_bps_min_buy)
    min_basis_bps: float = 0.0
    #: CURRENT vs NEXT by the higher annualized basis (comparable across tenors) or the raw one
    contract_choice: Literal["annualized", "raw"] = "annualized"
    #: aggressive when the basis falls below this fraction of its historical average
    compress_ratio: float = Field(0.5, ge=0)


class Roll(Pacing):
    pov_base: float = Field(0.25, gt=0)
    pov_max: float = Field(0.25, gt=0)
    #: roll a short when it is this many days or fewer from expiry (the seed's roll_window_days)
    window_days: int = Field(2, ge=0)
    #: slot weights from the volume profile of this many days before the roll day
    volume_lookback_days: int = Field(21, gt=0)
    #: the new short's size: `spot_hedge` (the seed's rule) hedges the spot BTC the other shorts leave
    #: unhedged, converted to contracts at the new contract's price slot by slot; `old_leg_delta` carries
    #: the old short's BTC delta over, converted once at the roll's first minute (drifts in a trend)
    sizing: Literal["spot_hedge", "old_leg_delta"] = "spot_hedge"


class Unwind(Pacing):
    pass


class Rehedge(_Strict):
    #: re-hedge at end of day when |net delta| > this fraction of the spot position
    threshold_pct: float = Field(0.05, ge=0)
    delta_model: Literal["usd_neutral", "seed"] = "usd_neutral"


class Execution(_Strict):
    """Limit pricing in spreads from the mid (the seeds' RolloverExecutor), retries inside a slot."""

    passive_spreads: float = 0.1
    aggressive_spreads: float = 0.75
    #: re-placement k (1-based) is priced at mid ± spread × (retry_base + retry_step × (k − 1))
    retry_base_spreads: float = 0.5
    retry_step_spreads: float = 0.25
    #: attempts per leg per slot (the first placement included)
    max_attempts: int = Field(3, gt=0)
    #: minutes an attempt rests before it is cancelled and re-placed
    retry_after_minutes: int = Field(1, gt=0)


class Exchange(_Strict):
    """The simulated exchange for bar data (DESIGN §9): fill model, spread model and fees."""

    fill_model: Literal["probabilistic", "touch"] = "probabilistic"
    fill_prob: float = Field(0.9, ge=0, le=1)
    spot_spread_bps: float = Field(1.0, ge=0)
    futures_spread_bps: float = Field(2.0, ge=0)
    #: Binance 2021 regular tier: spot 0.1 %/0.1 %, COIN-M 0.01 % maker / 0.05 % taker
    spot_maker_bps: float = 10.0
    spot_taker_bps: float = 10.0
    futures_maker_bps: float = 1.0
    futures_taker_bps: float = 5.0
    contract_value_usd: float = Field(100.0, gt=0)
    spot_tick: float = Field(0.01, gt=0)
    futures_tick: float = Field(0.1, gt=0)


class BasisParams(_Strict):
    capital_usd: float = Field(1_000_000.0, gt=0)
    #: the entry day (default: the window's first day) and the unwind day (default: its last)
    entry_date: date | None = None
    end_date: date | None = None
    spot_symbol: str = "BTCUSDT"
    #: the yearly rate charged on negative cash (borrowed USD), act/365 at each day's mark; the seeds
    #: assume free financing (0)
    financing_rate_annual: float = Field(0.0, ge=0, allow_inf_nan=False)
    entry: Entry = Field(default_factory=Entry)
    roll: Roll = Field(default_factory=Roll)
    unwind: Unwind = Field(default_factory=Unwind)
    rehedge: Rehedge = Field(default_factory=Rehedge)
    execution: Execution = Field(default_factory=Execution)
    exchange: Exchange = Field(default_factory=Exchange)

    def hash(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
