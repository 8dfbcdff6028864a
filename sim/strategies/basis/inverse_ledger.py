"""The inverse-contract position ledger (DESIGN §9; the seed's `PositionTracker`, corrected).

Contracts are signed (a short is negative). The entry is inverse-averaged: the contract-weighted
average of 1/price, which is what makes BTC PnL additive for inverse contracts. PnL in BTC of
`n` contracts of value CV (signed like the position) from entry to `exit`:
`n · CV · (entry_inv − 1/exit)` — a long gains when the price rises, a short when it falls (the
seed's "Notes on PnL signs"). Realized PnL is booked when a fill reduces the position, in BTC and
in USD at the spot price of that fill; adding to a position moves the inverse average, reducing
it does not. Fees are charged in BTC on the fill's notional (`|n| · CV / price · bps`) and in USD at
the fill's spot price.

The delta of the position for a USD-valued book is `contracts · CV · entry_inv` BTC — constant while
the position is unchanged (`delta_model: usd_neutral`); the seed used `contracts · CV / spot`,
which drifts with the price (`delta_model: seed`, kept to reproduce it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.core.instruments import Instrument

DeltaModel = Literal["usd_neutral", "seed"]


@dataclass(frozen=True)
class Realized:
    contracts: int  # signed like the position they closed
    price: float
    btc: float
    usd: float


@dataclass
class InversePosition:
    instrument: Instrument
    contracts: int = 0
    entry_inv: float = 0.0
    realized_btc: float = 0.0
    realized_usd: float = 0.0
    fees_btc: float = 0.0
    fees_usd: float = 0.0

    @property
    def cv(self) -> float:
        return self.instrument.contract_value_usd

    @property
    def entry_price(self) -> float:
        return 1.0 / self.entry_inv if self.entry_inv else 0.0

    def fill(self, side: int, contracts: int, price: float, spot_px: float, fee_bps: float = 0.0,
             fee_btc: float | None = None) -> Realized | None:
        """Applies a fill of `contracts` (> 0) on `side` (+1 buy, −1 sell) at `price`; returns the
        PnL it realized, if it reduced the position. The fee is `fee_btc` when the exchange says
        what it charged, else `fee_bps` of the notional."""
        if contracts <= 0 or side not in (1, -1):
            raise ValueError(f"a fill needs a positive contract count and a side of ±1, got {side} × {contracts}")
        if fee_btc is None:
            fee_btc = contracts * self.cv / price * fee_bps / 10_000
        self.fees_btc += fee_btc
        self.fees_usd += fee_btc * spot_px
        signed = side * contracts
        if self.contracts == 0 or (self.contracts > 0) == (signed > 0):
            total = abs(self.contracts) + contracts
            self.entry_inv = (self.entry_inv * abs(self.contracts) + contracts / price) / total
            self.contracts += signed
            return None
        closing = min(contracts, abs(self.contracts))
        n = closing if self.contracts > 0 else -closing
        btc = n * self.cv * (self.entry_inv - 1.0 / price)
        self.realized_btc += btc
        self.realized_usd += btc * spot_px
        self.contracts += side * closing
        rest = contracts - closing
        if self.contracts == 0:
            self.entry_inv = 0.0
        if rest:  # through zero: the remainder opens a new position at this price
            self.contracts = side * rest
            self.entry_inv = 1.0 / price
        return Realized(n, price, btc, btc * spot_px)

    def unrealized_btc(self, mark: float) -> float:
        return self.contracts * self.cv * (self.entry_inv - 1.0 / mark) if self.contracts else 0.0

    def unrealized_usd(self, mark: float, spot_px: float) -> float:
        return self.unrealized_btc(mark) * spot_px

    def delta_btc(self, spot_px: float, model: DeltaModel = "usd_neutral") -> float:
        if model == "usd_neutral":
            return self.contracts * self.cv * self.entry_inv
        return self.contracts * self.cv / spot_px
