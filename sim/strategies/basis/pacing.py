"""The pacing arithmetic shared by entry, roll and unwind (DESIGN §9, seeds 000 and 003):
participation, child size and limit prices. Pure functions, so each is tested on its own.

* Schedule deviation = progress − time fraction (negative when behind).
* `pov = clip(pov_base × (1 + gain × −deviation), pov_min, pov_max)`.
* Child = `min(remaining × share, pov × recent 15-minute volume)`, where `share` is the slot's
  weight over the weight of the slots left (this slot included): the seeds' "remaining × w" on a
  TWAP backbone that ends exactly at the last slot when every child fills.
* Prices in spreads from the mid: passive (buy below the mid, sell above), aggressive when behind
  (across the mid), and each re-placement inside a slot a step more aggressive.
"""

from __future__ import annotations

import math

import numpy as np


def pov(base: float, lo: float, hi: float, gain: float, deviation: float) -> float:
    return float(min(max(base * (1.0 + gain * -deviation), lo), hi))


def slot_share(weights: np.ndarray, slot: int) -> float:
    """The slot's weight over the weight of the slots from it to the end."""
    left = float(weights[slot:].sum())
    return float(weights[slot]) / left if left > 0 else 1.0


def child_size(remaining: float, share: float, pov_rate: float, recent_volume: float) -> float:
    return max(0.0, min(remaining * share, pov_rate * recent_volume))


def limit_price(side: int, mid: float, spread: float, spreads_from_mid: float, tick: float) -> float:
    """A buy at mid + k × spread (k < 0 passive), a sell at mid − k × spread, on the tick grid:
    `spreads_from_mid` is how far across the mid the order reaches (k; negative = behind it)."""
    raw = mid + side * spreads_from_mid * spread
    return round(round(raw / tick) * tick, 10)


def aggression(attempt: int, behind: bool, passive: float, aggressive: float, retry_base: float,
               retry_step: float) -> float:
    """Spreads across the mid for an attempt (0 = the first placement)."""
    if attempt == 0:
        return aggressive if behind else -passive
    return max(retry_base + retry_step * (attempt - 1), aggressive if behind else -math.inf)
