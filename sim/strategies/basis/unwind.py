"""The final-day unwind (seed 000, `task1_sell.py`): sell the spot and buy back every short over
24 hours with flat weights, `min(remaining × share, pov × recent 15-minute spot volume)` a slot,
aggressive when behind, and the final sweep that leaves the book flat. Each short follows the
spot: its cumulative buy-back is its contracts times the fraction of spot sold."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sim.strategies.basis.inverse_ledger import InversePosition
from sim.strategies.basis.legs import Leg
from sim.strategies.basis.market_view import MarketView
from sim.strategies.basis.params import BasisParams
from sim.strategies.basis.program import Program


class UnwindProgram(Program):
    kind = "unwind"

    def __init__(self, start_ns: int, params: BasisParams, spreads_bps: dict[str, float],
                 book: Callable[[], tuple[float, dict[str, InversePosition]]]) -> None:
        super().__init__(start_ns, params.unwind, params.execution, spreads_bps)
        self.params = params
        self.book = book
        self.spot_btc = 0.0
        self.shorts: dict[str, int] = {}

    def begin(self, now_ns: int, view: MarketView, ctx: Any) -> bool:
        spot = self.params.spot_symbol
        if not view.has(spot, now_ns):
            return False
        self.spot_btc, futures = self.book()
        self.shorts = {s: p.contracts for s, p in futures.items() if p.contracts}
        ex = self.params.exchange
        self.total = self.spot_btc
        self.driver = Leg(spot, -1, False, ex.spot_tick, 1e-5)
        for sym, n in self.shorts.items():
            self.followers[sym] = Leg(sym, 1 if n < 0 else -1, True, ex.futures_tick, 1.0)
        return True

    def progress(self) -> float:
        if self.total > 0:
            return super().progress()
        done = sum(leg.filled for leg in self.followers.values())
        return done / max(sum(abs(n) for n in self.shorts.values()), 1)

    def _follow(self) -> None:
        assert self.driver is not None
        frac = self.driver.target / self.total if self.total > 0 else 1.0
        for sym, leg in self.followers.items():
            n = abs(self.shorts[sym])
            leg.target = max(leg.target, float(min(math.floor(n * frac + 0.5), n)))

    def size_slot(self, k: int, now_ns: int, view: MarketView) -> dict[str, Any]:
        assert self.driver is not None
        pov = self.pov(k)
        spot = self.params.spot_symbol
        remaining = max(self.total - self.driver.target, 0.0)
        child = self.driver.round_qty(min(remaining * self.share(k), pov * view.recent_volume(spot), remaining))
        self.driver.target += child
        self._follow()
        basis = {s: view.basis_bps(s) for s in self.followers}
        return {"pov": pov, "child_btc": child, "basis_bps": min(basis.values()) if basis else math.nan}

    def final_targets(self, view: MarketView) -> None:
        assert self.driver is not None
        self.driver.target = self.total
        for sym, leg in self.followers.items():
            leg.target = float(abs(self.shorts[sym]))
