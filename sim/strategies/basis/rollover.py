"""The roll of one expiring short into the next quarter over 24 hours (seed 003's
`RolloverExecutor`, corrected): buy back the old contract, sell the new one, paced.

Slot weights come from the old contract's volume profile over the lookback days (flat without
history); the child is `min(remaining × share, pov × recent 15-minute volume)` in contracts, at
least one while any remain and the cap allows. The new short is sized to keep the BTC hedge the
old one gave — its `contracts × CV × entry_inv` — at the new contract's price, and follows the
buy-back: its cumulative target is that size times the fraction bought back. Unlike the seed, a
fill's own price is what realizes PnL, the sweep's fills are counted as the sweep's, and an old
contract is only ever reduced by what was actually bought.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sim.core.expiry import NS_PER_DAY
from sim.strategies.basis.inverse_ledger import InversePosition
from sim.strategies.basis.legs import Leg
from sim.strategies.basis.market_view import MarketView
from sim.strategies.basis.params import BasisParams
from sim.strategies.basis.program import Program
from sim.strategies.basis.weights import normalized


class RollProgram(Program):
    kind = "roll"

    def __init__(self, start_ns: int, params: BasisParams, spreads_bps: dict[str, float],
                 position: Callable[[], InversePosition], to_symbol: str) -> None:
        super().__init__(start_ns, params.roll, params.execution, spreads_bps)
        self.params = params
        self.position = position
        self.from_symbol = position().instrument.symbol
        self.to_symbol = to_symbol
        self.contracts = 0
        self.side = 1
        self.hedge_btc = 0.0
        self.to_total = 0

    def begin(self, now_ns: int, view: MarketView, ctx: Any) -> bool:
        if not (view.has(self.from_symbol, now_ns) and view.has(self.to_symbol, now_ns)):
            return False
        pos = self.position()
        self.contracts = abs(pos.contracts)
        self.side = 1 if pos.contracts < 0 else -1  # buy back a short
        self.hedge_btc = abs(pos.contracts) * pos.cv * pos.entry_inv
        tick = self.params.exchange.futures_tick
        self.total = float(self.contracts)
        self.driver = Leg(self.from_symbol, self.side, True, tick, 1.0)
        cv = self.params.exchange.contract_value_usd
        self.to_total = max(1, math.floor(self.hedge_btc * view.mid(self.to_symbol) / cv + 0.5))
        self.followers[self.to_symbol] = Leg(self.to_symbol, -self.side, True, tick, 1.0)
        day = self.start_ns // NS_PER_DAY
        self.weights, self.weights_from_history = normalized(
            view.volume_profile(self.from_symbol, day, self.params.roll.volume_lookback_days))
        if not self.weights_from_history:
            ctx.alert("flat_weights", f"roll {self.from_symbol}: no volume history; slot weights are flat")
        return True

    def _follow(self) -> None:
        assert self.driver is not None
        to = self.followers[self.to_symbol]
        want = math.floor(self.driver.target * self.to_total / self.total + 0.5)
        to.target = max(to.target, float(min(want, self.to_total)))

    def size_slot(self, k: int, now_ns: int, view: MarketView) -> dict[str, Any]:
        assert self.driver is not None
        pov = self.pov(k)
        cv = self.params.exchange.contract_value_usd
        cap = math.floor(pov * view.recent_volume(self.from_symbol) * view.mid(self.from_symbol) / cv)
        remaining = self.total - self.driver.target
        twap = max(1, math.ceil(remaining * self.share(k) - 1e-9)) if remaining > 0 else 0
        child = float(max(0, min(twap, cap, remaining)))
        self.driver.target += child
        self._follow()
        return {"pov": pov, "cap_ct": cap, "child_ct": child}

    def final_targets(self, view: MarketView) -> None:
        assert self.driver is not None
        self.driver.target = self.total
        self.followers[self.to_symbol].target = float(self.to_total)
