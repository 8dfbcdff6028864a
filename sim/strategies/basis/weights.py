"""Slot weights of the three paced programs (DESIGN §9) and the entry's opportunity factor.

* Entry: the leaderboard — our reconstruction of `task1.py`'s, which is not among the seeds. A
  slot's score blends its edge, the mean positive annualized basis of the quarterlies in that
  slot over the lookback days, with its liquidity, the mean spot volume in it:
  `edge^edge_exponent × liquidity^liquidity_exponent`. Weights are scores over their sum.
* Roll: the volume profile of the rolled contract over the lookback days (seed 003).
* Unwind: flat.

Every set of weights sums to 1; without history (or with nothing positive in it) a program falls
back to flat weights and says so.
"""

from __future__ import annotations

import numpy as np


def flat(slots: int) -> np.ndarray:
    return np.full(slots, 1.0 / slots)


def normalized(scores: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """(weights, whether they came from the scores): flat when the scores are unusable."""
    if scores is None or not np.isfinite(scores).all() or (scores < 0).any() or scores.sum() <= 0:
        n = 96 if scores is None else len(scores)
        return flat(n), False
    return scores / scores.sum(), True


def leaderboard(edge_bps: np.ndarray | None, liquidity: np.ndarray | None, edge_exponent: float,
                liquidity_exponent: float) -> tuple[np.ndarray, bool]:
    """Entry weights from per-slot mean annualized basis (bps) and mean spot volume."""
    if edge_bps is None or liquidity is None:
        return normalized(None)
    edge = np.clip(np.nan_to_num(edge_bps, nan=0.0), 0.0, None)
    liq = np.clip(np.nan_to_num(liquidity, nan=0.0), 0.0, None)
    return normalized(edge**edge_exponent * liq**liquidity_exponent)


def opportunity_factor(basis_bps: float, avg_basis_bps: float, lo: float, hi: float) -> float:
    """Size up when the basis is rich against its history, down when it is poor (clipped)."""
    if not avg_basis_bps > 0:
        return 1.0
    return float(min(max(basis_bps / avg_basis_bps, lo), hi))
