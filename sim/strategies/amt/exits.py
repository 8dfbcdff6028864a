"""Exit rules for an open position, checked at each minute close on the finished bar
(spec §8–§9.2, §10.5; DESIGN §8).

In order of precedence: the stop (a long's bar low at or below the stop; when the same bar also
reached a target, the stop wins), a breakout's close back inside the value area, TP2 (all that is
left, or with `tp1_pct + tp2_pct < 1` a partial of the TP2 contracts whose remainder rides the
stop and the time stop), TP1 (a partial of the TP1 contracts, after which the stop moves to the
entry price; not after a TP2 partial, which went beyond it), the time stop.
The bar the entry filled in is checked against the stop on its whole range (conservative) but
against targets on its close only, because part of the bar happened before the fill.

A target only counts while it lies strictly beyond the position's average entry in the trade's
direction. The setups drop targets behind the signal close, but an entry limit that timed out
is filled at market later and possibly past a target: a "TP1" behind the fill would be a partial
exit at a loss followed at once by the breakeven stop (the entry price, already crossed), so such
a target is ignored (no such exit) and the position is held by its stop and time stop.

The time stop starts at the first minute close after the fill. After `max_hold_minutes` the
position exits, unless `extend_if_profitable` and the position is profitable net of fees — its
unrealized PnL at the close exceeds the fees it has paid plus the taker fee of closing it now —
in which case it is held and re-checked each minute, with no cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.core.config import Config
from sim.core.events import NS_PER_MIN, Bar


@dataclass
class Plan:
    """The strategy's plan for the open position."""

    direction: int
    tag: str
    stop: float
    tp1: float
    tp2: float
    level: float  # breakouts: the locked boundary; NaN otherwise
    tp1_qty: float  # 0 when no partial is taken
    tp2_qty: float = 0.0  # 0: TP2 exits all that is left
    entry_ns: int = 0  # time of the first entry fill
    hold_start_ns: int = 0  # the first minute close after the entry fill
    tp1_done: bool = False
    tp2_done: bool = False
    extended: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else x
        return {"direction": self.direction, "tag": self.tag, "stop": num(self.stop), "tp1": num(self.tp1),
                "tp2": num(self.tp2), "level": num(self.level), "tp1_done": self.tp1_done,
                "extended": self.extended, **({"tp2_done": True} if self.tp2_done else {})}


@dataclass(frozen=True)
class ExitDecision:
    reason: str  # stop | stop_breakeven | close_inside_va | tp2 | tp1 | time_stop
    partial: bool


def check(plan: Plan, bar: Bar, ts_ns: int, *, qty: float, avg_entry: float, fees_paid: float, cfg: Config) -> ExitDecision | None:
    if math.isnan(bar.close):
        return None
    d = plan.direction
    fill_bar = plan.entry_ns > ts_ns - NS_PER_MIN  # the entry filled inside this bar
    low, high = bar.low, bar.high
    adverse = low if d > 0 else high
    fav = bar.close if fill_bar else (high if d > 0 else low)
    if (adverse - plan.stop) * d <= 0:
        return ExitDecision("stop_breakeven" if plan.tp1_done or plan.tp2_done else "stop", False)
    if not math.isnan(plan.level) and (bar.close - plan.level) * d <= 0:
        return ExitDecision("close_inside_va", False)
    if not plan.tp2_done and _live(plan.tp2, avg_entry, d) and (fav - plan.tp2) * d >= 0:
        return ExitDecision("tp2", 0.0 < plan.tp2_qty < abs(qty) - 1e-12)
    if not plan.tp1_done and not plan.tp2_done and plan.tp1_qty > 0 and _live(plan.tp1, avg_entry, d) and (fav - plan.tp1) * d >= 0:
        return ExitDecision("tp1", True)
    if plan.hold_start_ns and ts_ns - plan.hold_start_ns >= cfg.max_hold_minutes * NS_PER_MIN:
        if cfg.extend_if_profitable and profitable_net(qty, avg_entry, bar.close, fees_paid, cfg):
            plan.extended = True
            return None
        return ExitDecision("time_stop", False)
    return None


def _live(target: float, avg_entry: float, d: int) -> bool:
    """A target is live when set and strictly beyond the average entry in direction `d`."""
    return not math.isnan(target) and not (target - avg_entry) * d <= 0  # a NaN entry leaves it live


def profitable_net(qty: float, avg_entry: float, mark: float, fees_paid: float, cfg: Config) -> bool:
    """Unrealized PnL at `mark` covers the fees paid and the estimated taker fee to close."""
    unrealized = qty * (mark - avg_entry)
    exit_fee = abs(qty) * mark * cfg.taker_fee_bps / 10_000
    return unrealized - fees_paid - exit_fee > 0
