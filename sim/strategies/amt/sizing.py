"""Position sizing (spec §7, §8.2, §20.1–§20.2; DESIGN §8).

Risk-based: qty = available margin × risk_pct / |entry − stop| in BTC, rounded down to the
quantity step; the notional is then capped at available margin × max_leverage (and the cap is
reported so the caller can alert). A "contract" is one quantity step. TP1 takes 30 % of the
contracts, rounded half up, at least one when there are two or more, and never the whole
position; a one-contract position takes no partial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_EPS = 1e-9  # quantities are float multiples of the step; this absorbs representation error


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + _EPS)) + 2


def contracts(qty: float, step: float) -> int:
    return int(math.floor(qty / step + _EPS))


def qty_of(n: int, step: float) -> float:
    return round(n * step, _decimals(step))


@dataclass(frozen=True)
class Sizing:
    qty: float
    capped: bool
    leverage: float  # notional / available margin
    risk_qty: float  # the uncapped risk-based quantity, before rounding


def size_position(available: float, risk_pct: float, entry: float, stop: float, max_leverage: float,
                  qty_step: float) -> Sizing:
    dist = abs(entry - stop)
    if not (available > 0 and dist > 0 and math.isfinite(dist) and entry > 0):
        return Sizing(0.0, False, 0.0, 0.0)
    raw = available * risk_pct / dist
    n = contracts(raw, qty_step)
    cap = contracts(available * max_leverage / entry, qty_step)
    capped = n > cap
    n = min(n, cap)
    qty = qty_of(n, qty_step)
    return Sizing(qty, capped, qty * entry / available, raw)


def tp1_contracts(n: int, tp1_pct: float) -> int:
    if n <= 1 or tp1_pct <= 0:
        return 0
    k = int(math.floor(n * tp1_pct + 0.5 + _EPS))  # half up: 90 × 0.35 = 31.499999… in binary
    return min(max(k, 1), n - 1)


def tp2_contracts(n: int, tp1_pct: float, tp2_pct: float) -> int:
    """Contracts exited at TP2 out of an entry of `n`; 0 means "all that is left" (the split
    covers the whole position, the spec's 30/70)."""
    if tp1_pct + tp2_pct >= 1.0 - 1e-9:
        return 0
    return int(math.floor(n * tp2_pct + 0.5 + _EPS))
