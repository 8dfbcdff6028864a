"""The roll of one expiring short into the next quarter over 24 hours (seed 003's
`RolloverExecutor`, corrected): buy back the old contract, sell the new one, paced.

Slot weights come from the old contract's volume profile over the lookback days (flat without
history); the child is `min(remaining × share, pov × recent 15-minute volume)` in contracts, at
least one while any remain and the cap allows. The new short follows the buy-back: its target
grows with the fraction of the old contracts the program has asked to buy back. Its size
(`roll.sizing`):
* `spot_hedge` (default, the seed's rule): the new short hedges the spot BTC — the spot position
  at the roll less what the other shorts hedge (their `contracts × CV × entry_inv`). A short of n
  contracts sold at F hedges n × CV / F BTC, so each slot converts the BTC still to hedge at the
  new contract's mid of that slot: target = contracts sold + (fraction × BTC to hedge − BTC the
  roll's fills already hedge) × mid / CV, never below what is already sold. A rally during the
  roll day therefore does not leave the book under-hedged; the final sweep tops it up at market.
* `old_leg_delta`: the new short carries the old one's BTC delta (`contracts × CV × entry_inv`),
  converted once at the new contract's mid at the roll's first minute. Fills later in a rally hedge
  less than that, and each roll adds its error to the one it carried over (kept to show that drift).
Unlike the seed, a fill's own price is what realizes PnL, the sweep's fills are counted as the
sweep's, and an old contract is only ever reduced by what was actually bought.
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
                 position: Callable[[], InversePosition], to_symbol: str,
                 unhedged_btc: Callable[[], float]) -> None:
        super().__init__(start_ns, params.roll, params.execution, spreads_bps)
        self.params = params
        self.position = position
        self.from_symbol = position().instrument.symbol
        self.to_symbol = to_symbol
        self.unhedged_btc = unhedged_btc
        self.sizing = params.roll.sizing
        self.contracts = 0
        self.side = 1
        self.hedge_btc = 0.0  # the BTC the new short is to hedge
        self.to_total = 0  # old_leg_delta: the new short's contracts, fixed at the start
        self.sold_btc = 0.0  # Σ contracts × CV / price over the new short's fills

    def begin(self, now_ns: int, view: MarketView, ctx: Any) -> bool:
        if not (view.has(self.from_symbol, now_ns) and view.has(self.to_symbol, now_ns)):
            return False
        pos = self.position()
        self.contracts = abs(pos.contracts)
        self.side = 1 if pos.contracts < 0 else -1  # buy back a short
        tick = self.params.exchange.futures_tick
        self.total = float(self.contracts)
        self.driver = Leg(self.from_symbol, self.side, True, tick, 1.0)
        cv = self.params.exchange.contract_value_usd
        if self.sizing == "spot_hedge":
            self.hedge_btc = max(0.0, self.unhedged_btc())
        else:
            self.hedge_btc = abs(pos.contracts) * pos.cv * pos.entry_inv
            self.to_total = max(1, math.floor(self.hedge_btc * view.mid(self.to_symbol) / cv + 0.5))
        self.followers[self.to_symbol] = Leg(self.to_symbol, -self.side, True, tick, 1.0)
        day = self.start_ns // NS_PER_DAY
        self.weights, self.weights_from_history = normalized(
            view.volume_profile(self.from_symbol, day, self.params.roll.volume_lookback_days))
        if not self.weights_from_history:
            ctx.alert("flat_weights", f"roll {self.from_symbol}: no volume history; slot weights are flat")
        return True

    def _follow(self, view: MarketView) -> None:
        assert self.driver is not None
        to = self.followers[self.to_symbol]
        if self.sizing == "old_leg_delta":
            want = math.floor(self.driver.target * self.to_total / self.total + 0.5)
            to.target = max(to.target, float(min(want, self.to_total)))
            return
        mid = view.mid(self.to_symbol)
        if not math.isfinite(mid) or mid <= 0:
            return  # no price to convert at: the next slot (or the sweep) sizes it
        frac = self.driver.target / self.total if self.total > 0 else 1.0
        still = frac * self.hedge_btc - self.sold_btc
        want = to.filled + math.floor(still * mid / self.params.exchange.contract_value_usd + 0.5)
        # what an earlier slot asked and did not get is re-priced too, so the target may shrink
        to.target = float(max(to.filled, want))

    def on_fill(self, order_id: str, qty: float, price: float, now_ns: int, view: MarketView, ctx: Any) -> None:
        leg, _ = self._orders[order_id]
        if leg.symbol == self.to_symbol:
            self.sold_btc += qty * self.params.exchange.contract_value_usd / price
        super().on_fill(order_id, qty, price, now_ns, view, ctx)

    def size_slot(self, k: int, now_ns: int, view: MarketView) -> dict[str, Any]:
        assert self.driver is not None
        pov = self.pov(k)
        cv = self.params.exchange.contract_value_usd
        cap = math.floor(pov * view.recent_volume(self.from_symbol) * view.mid(self.from_symbol) / cv)
        remaining = self.total - self.driver.target
        twap = max(1, math.ceil(remaining * self.share(k) - 1e-9)) if remaining > 0 else 0
        child = float(max(0, min(twap, cap, remaining)))
        self.driver.target += child
        self._follow(view)
        return {"pov": pov, "cap_ct": cap, "child_ct": child}

    def final_targets(self, view: MarketView) -> None:
        assert self.driver is not None
        self.driver.target = self.total
        if self.sizing == "old_leg_delta":
            self.followers[self.to_symbol].target = float(self.to_total)
        else:
            self._follow(view)
