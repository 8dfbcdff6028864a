"""What every synthetic segment is built on: the regime spans it sets, what it returns, the
context it is drawn in, and the pydantic base class (see `sim.scenario.segments` for the types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.scenario.paths import Grid, recent_range

Side = Literal["buy", "sell"]


@dataclass
class Span:
    """The regime of seconds [start, end) of a segment (later spans override earlier ones)."""

    start: int
    end: int
    trade_mult: float = 1.0
    quote_mult: float = 1.0
    #: share of taker prints that are buys
    buy_frac: float = 0.5
    #: log(bid size / ask size) added to the L1 size draws: > 0 bids heavier (buying pressure)
    imbalance: float = 0.0
    #: ticks added to every drawn spread
    spread_add: int = 0


@dataclass
class Rendered:
    mid: np.ndarray
    spans: list[Span]
    #: (second, side): a taker print that must happen at the start of that second (+1 buy at the
    #: ask, -1 sell at the bid), with a fresh quote in the same millisecond before it
    forced_trades: list[tuple[int, int]] = field(default_factory=list)
    #: seconds that must start with a fresh quote
    forced_quotes: list[int] = field(default_factory=list)
    info: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class Context:
    """What a segment knows when it is drawn: the path so far and the market's parameters."""

    index: int
    rng: np.random.Generator
    #: the 1-second mid path so far, in ticks (empty for the first segment)
    history: np.ndarray
    #: the mid in ticks the segment starts from
    mid: float
    start_ns: int
    #: standard deviation of 1-second log returns of the mid
    vol_1s: float
    #: share of seconds in which the mid moves
    move_frac: float
    grid: Grid
    #: the widest spread (ticks) the tick model draws
    max_spread: int

    def sigma(self, vol_mult: float) -> float:
        """1-second standard deviation in ticks at the current price."""
        return self.vol_1s * self.mid * vol_mult

    def margin(self, spread_add: int = 0) -> float:
        """How far (ticks) a mid must stay from a level for no bid or ask to reach it."""
        return (self.max_spread + spread_add) / 2.0 + 1.0

    def ticks(self, price: float) -> float:
        return price * self.grid.den / self.grid.num

    def price(self, ticks: float) -> float:
        return float(ticks) * self.grid.num / self.grid.den

    def bps(self, bps: float) -> float:
        return self.mid * bps / 1e4

    def recent_range(self, what: str) -> tuple[float, float]:
        if len(self.history) < 60:
            raise ValueError(
                f"segment {self.index} ({what}) needs a recent range: put at least a minute of "
                "rotate/walk/drift before it"
            )
        return recent_range(self.history)

    def ns(self, second: int) -> int:
        return self.start_ns + int(second) * 1_000_000_000


class SegmentBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: a name for the plan and the logs
    label: str | None = None
    #: multiplies the calibrated trade and quote rates over the whole segment
    activity: float = Field(1.0, ge=0)
    #: multiplies the calibrated 1-second volatility
    vol_mult: float = Field(1.0, ge=0)

    @property
    def duration_s(self) -> int:
        raise NotImplementedError

    def render(self, ctx: Context) -> Rendered:
        raise NotImplementedError

    def _base(self, n: int) -> Span:
        return Span(0, n, trade_mult=self.activity, quote_mult=self.activity)


def initiative_regime(side: Side | None, default: Side, share: float, imbalance: float) -> tuple[float, float, int]:
    """(buy share, book imbalance, sign) of a taker initiative: `share` of prints and exp(imbalance)
    of resting size on its side; `side` None means `default`."""
    side = side or default
    sign = 1 if side == "buy" else -1
    return (share if sign > 0 else 1.0 - share), sign * imbalance, sign
