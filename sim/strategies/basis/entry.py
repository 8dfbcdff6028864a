"""The entry program (`task1.py`, known from the seeds' READMEs; DESIGN §9): buy the capital's
worth of spot over 24 hours and short its hedge in COIN-M quarterlies, slot by slot.

Each slot picks the contract to short — CURRENT or NEXT, whichever has the higher positive basis,
annualized by default (a contract within the roll window is not entered); with none positive the slot does not trade.
The spot child is `min(remaining × share × opportunity, pov × recent 15-minute spot volume)`, the
opportunity factor being the basis now over its historical average, clipped. The futures follow
the spot: each slot adds the contracts that hedge the BTC not yet hedged at the chosen contract's
price (`btc × F / CV`), so a rising price does not re-size the contracts already targeted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.core.expiry import NS_PER_DAY, current_and_next, days_to_expiry
from sim.strategies.basis.legs import Leg
from sim.strategies.basis.market_view import MarketView
from sim.strategies.basis.params import BasisParams
from sim.strategies.basis.program import Program
from sim.strategies.basis.weights import leaderboard, opportunity_factor


class EntryProgram(Program):
    kind = "entry"

    def __init__(self, start_ns: int, params: BasisParams, spreads_bps: dict[str, float], symbols: dict[int, str],
                 deliveries: dict[tuple[int, int], int]) -> None:
        super().__init__(start_ns, params.entry, params.execution, spreads_bps)
        self.params = params
        self.e = params.entry
        self.symbols = symbols  # expiry ns → symbol of the quarterlies the market has
        self.deliveries = deliveries
        self.avg_basis_bps = params.entry.default_avg_basis_bps
        self.avg_from_history = False
        self.contract: str | None = None
        self.hedged_btc = 0.0  # the BTC the futures targets stand for, at the prices they were set

    def _tick(self, symbol: str) -> float:
        ex = self.params.exchange
        return ex.spot_tick if symbol == self.params.spot_symbol else ex.futures_tick

    def begin(self, now_ns: int, view: MarketView, ctx: Any) -> bool:
        spot = self.params.spot_symbol
        if not view.has(spot, now_ns):
            return False
        self.driver = Leg(spot, +1, False, self._tick(spot), 1e-5)
        self.total = self.driver.round_qty(self.params.capital_usd / view.mid(spot))
        day = self.start_ns // NS_PER_DAY
        lookback = self.e.leaderboard_lookback_days
        hist = view.basis_history(sorted(self.symbols.values()), day, lookback)
        liquidity = view.volume_profile(spot, day, lookback)
        if hist is not None:
            total, n = hist
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_bps = np.where(n > 0, total / n, np.nan)
            self.avg_basis_bps = float(total.sum() / n.sum())
            self.avg_from_history = True
            # annualize with the days the history's contracts had left, roughly a quarter
            edge = mean_bps * 365.0 / 90.0
            self.weights, self.weights_from_history = leaderboard(edge, liquidity, self.e.edge_exponent,
                                                                  self.e.liquidity_exponent)
        if not self.weights_from_history:
            ctx.alert("flat_weights", "entry: no basis history before the entry day; slot weights are flat")
        return True

    def candidates(self, now_ns: int, view: MarketView) -> list[str]:
        cur, nxt = current_and_next(now_ns, self.deliveries)
        out = []
        for expiry in (cur, nxt):
            sym = self.symbols.get(expiry)
            if sym is None or not view.has(sym, now_ns):
                continue
            if days_to_expiry(now_ns, expiry) <= self.params.roll.window_days + 1:
                continue
            out.append(sym)
        return out

    def choose(self, now_ns: int, view: MarketView, need_positive: bool) -> str | None:
        """The contract with the higher basis — annualized by default, since a longer tenor
        has more raw basis for the same carry — among those above `min_basis_bps`."""
        best, best_score = None, -math.inf
        for sym in self.candidates(now_ns, view):
            b = view.basis_bps(sym)
            if need_positive and not b > self.e.min_basis_bps:
                continue
            expiry = next(e for e, s in self.symbols.items() if s == sym)
            score = b * 365.0 / days_to_expiry(now_ns, expiry) if self.e.contract_choice == "annualized" else b
            if score > best_score:
                best, best_score = sym, score
        return best

    def _hedge(self, symbol: str, btc: float, view: MarketView) -> None:
        """Raises the futures targets until they hedge `btc`: the BTC not yet hedged, in contracts
        at `symbol`'s price now (contracts already targeted keep the BTC they stood for)."""
        cv = self.params.exchange.contract_value_usd
        price = view.mid(symbol)
        n = math.floor((btc - self.hedged_btc) * price / cv + 0.5)
        if n > 0:
            leg = self.followers.get(symbol)
            if leg is None:
                leg = self.followers[symbol] = Leg(symbol, -1, True, self._tick(symbol), 1.0)
            leg.target += n
            self.hedged_btc += n * cv / price

    def size_slot(self, k: int, now_ns: int, view: MarketView) -> dict[str, Any]:
        assert self.driver is not None
        sym = self.choose(now_ns, view, need_positive=True)
        self.contract = sym
        pov = self.pov(k)
        spot = self.params.spot_symbol
        row: dict[str, Any] = {"fut_symbol": sym or "", "basis_bps": view.basis_bps(sym) if sym else math.nan,
                               "pov": pov, "weight": float(self.weights[k])}
        cap = pov * view.recent_volume(spot)
        if sym is None:
            return {**row, "pov_cap_btc": cap, "opportunity": math.nan, "child_btc": 0.0}
        opp = opportunity_factor(view.basis_bps(sym), self.avg_basis_bps, self.e.opportunity_min, self.e.opportunity_max)
        remaining = max(self.total - self.driver.target, 0.0)
        child = self.driver.round_qty(min(remaining * self.share(k) * opp, cap, remaining))
        self.driver.target += child
        self._hedge(sym, self.driver.target, view)
        return {**row, "pov_cap_btc": cap, "opportunity": opp, "child_btc": child}

    def aggressive(self, k: int, view: MarketView) -> bool:
        compressed = self.contract is not None and view.basis_bps(self.contract) < self.e.compress_ratio * self.avg_basis_bps
        return super().aggressive(k, view) or compressed

    def final_targets(self, view: MarketView) -> None:
        assert self.driver is not None
        self.driver.target = self.total
        sym = self.choose(self.sweep_ns, view, need_positive=False) or self.contract
        if sym is not None:
            self._hedge(sym, self.total, view)

    def slot_log(self) -> list[dict[str, Any]]:
        """`entry_day_exec_log.csv` rows: one per slot (and the sweep), both legs' fills."""
        assert self.driver is not None
        rows = []
        info = {r["slot"]: r for r in self.slot_rows}
        slots = sorted(set(info) | {s for leg in self.legs() for s in leg.slot_fills})
        for s in slots:
            r = info.get(s, {"ts_ns": self.sweep_ns, "fut_symbol": "", "basis_bps": math.nan, "pov": math.nan,
                             "pov_cap_btc": math.nan, "weight": math.nan, "opportunity": math.nan, "child_btc": math.nan, "aggressive": True})
            sf = self.driver.slot_fills.get(s, [0.0, 0.0, 0.0])
            futs = [(leg.symbol, leg.slot_fills[s]) for leg in self.followers.values() if s in leg.slot_fills]
            fut_ct = sum(f[0] for _, f in futs)
            rows.append({
                **r, "slot": s,
                "fut_symbol": r["fut_symbol"] or ";".join(sym for sym, _ in futs),
                "spot_px": sf[1] / sf[0] if sf[0] else math.nan, "fill_spot_btc": sf[0],
                "fut_px": sum(f[1] for _, f in futs) / fut_ct if fut_ct else math.nan, "fill_fut_ct": fut_ct,
            })
        return rows
