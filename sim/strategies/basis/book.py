"""The basis trade's book: the spot leg, one inverse position per quarterly, and a USD cash
account — what the portfolio is worth and where its PnL came from (DESIGN §9).

Cash starts at the capital. A spot buy pays price × qty plus its fee; a sale receives it less the
fee. An inverse fill's realized BTC PnL and its fee (charged in BTC) are turned into USD at the
spot price of the fill, the seeds' convention, and settled into cash then. Cash can go negative
(spot bought on credit, futures losses paid out): that borrowing costs `financing_rate_annual` a
year, act/365, charged on the negative balance at each day's mark and taken from cash. So the
portfolio value `cash + spot BTC × spot + Σ unrealized BTC × spot` always equals
`capital + spot PnL + futures realized + futures unrealized − fees − financing`: the accounting
identity.

Gross notional: the spot leg at the spot mark plus every quarterly's face value (|contracts| × CV
USD, the notional of an inverse contract); gross leverage is that over the portfolio value. A
fully funded, fully hedged book is 2× on this measure; above 2× the book is borrowing.

The basis harvested: a short of n contracts opened at basis b0 (F/S − 1 at the fill) and bought
back at b1, hedged by the spot it stands for, makes `n × CV × (1/(1+b1) − 1/(1+b0))` USD whatever
spot did; summed over every futures fill (a buy adds `n × CV/(1+b)`, a sale subtracts it) it is
the PnL the carry itself earned. The rest of the PnL (less fees) is the hedge's imperfection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.strategies.basis.inverse_ledger import DeltaModel, InversePosition, Realized
from sim.core.instruments import Instrument


@dataclass
class SpotLeg:
    qty: float = 0.0
    cost: float = 0.0  # USD cost of the qty held (average cost)
    realized: float = 0.0
    fees: float = 0.0

    @property
    def avg(self) -> float:
        return self.cost / self.qty if self.qty else 0.0

    def fill(self, side: int, qty: float, price: float, fee: float) -> None:
        self.fees += fee
        if side > 0:
            self.qty += qty
            self.cost += qty * price
            return
        if qty > self.qty + 1e-12:
            raise ValueError(f"selling {qty} BTC of spot with only {self.qty} held: the basis book never shorts spot")
        avg = self.avg
        self.realized += qty * (price - avg)
        self.qty -= qty
        self.cost = self.qty * avg if self.qty > 1e-12 else 0.0
        if self.qty <= 1e-12:
            self.qty = 0.0

    def pnl(self, mark: float) -> float:
        return self.realized + self.qty * mark - self.cost


@dataclass
class BasisBook:
    capital: float
    instruments: dict[str, Instrument]
    spot: SpotLeg = field(default_factory=SpotLeg)
    futures: dict[str, InversePosition] = field(default_factory=dict)
    cash: float = 0.0
    harvested: float = 0.0
    financing: float = 0.0  # USD paid for negative cash so far

    def __post_init__(self) -> None:
        self.cash = self.capital

    def spot_fill(self, side: int, qty: float, price: float, fee: float) -> None:
        self.spot.fill(side, qty, price, fee)
        self.cash -= side * qty * price + fee

    def future_fill(self, symbol: str, side: int, contracts: int, price: float, fee_btc: float,
                    spot_px: float) -> Realized | None:
        pos = self.futures.get(symbol)
        if pos is None:
            pos = self.futures[symbol] = InversePosition(self.instruments[symbol])
        realized = pos.fill(side, contracts, price, spot_px, fee_btc=fee_btc)
        self.cash += (realized.usd if realized else 0.0) - fee_btc * spot_px
        self.harvested += side * contracts * pos.cv / (price / spot_px)
        return realized

    def charge_financing(self, rate_annual: float, days: float = 1.0) -> float:
        """Charges `days` (act/365) of interest on negative cash; returns the charge."""
        if self.cash >= 0 or rate_annual <= 0:
            return 0.0
        charge = -self.cash * rate_annual * days / 365.0
        self.cash -= charge
        self.financing += charge
        return charge

    def gross_notional(self, spot_px: float) -> float:
        return abs(self.spot.qty) * spot_px + sum(abs(p.contracts) * p.cv for p in self.futures.values())

    def open_futures(self) -> dict[str, InversePosition]:
        """Positions with contracts, by expiry then symbol."""
        live = {s: p for s, p in self.futures.items() if p.contracts}
        return dict(sorted(live.items(), key=lambda kv: (kv[1].instrument.expiry_ns or 0, kv[0])))

    def fees_usd(self) -> float:
        return self.spot.fees + sum(p.fees_usd for p in self.futures.values())

    def futures_realized(self) -> float:
        return sum(p.realized_usd for p in self.futures.values())

    def futures_unrealized(self, marks: dict[str, float], spot_px: float) -> float:
        return sum(p.unrealized_usd(marks[s], spot_px) for s, p in self.futures.items() if p.contracts)

    def value(self, marks: dict[str, float], spot_px: float) -> float:
        """Cash + spot at the mark + the futures' unrealized PnL at their marks, in USD."""
        return self.cash + self.spot.qty * spot_px + self.futures_unrealized(marks, spot_px)

    def net_delta(self, spot_px: float, model: DeltaModel) -> float:
        return self.spot.qty + sum(p.delta_btc(spot_px, model) for p in self.futures.values() if p.contracts)

    def unhedged_btc(self, excluding: str) -> float:
        """The spot BTC that the shorts other than `excluding` leave unhedged (USD-neutral delta):
        what a short replacing `excluding` must hedge for the book to be flat."""
        return self.spot.qty + sum(p.contracts * p.cv * p.entry_inv for s, p in self.futures.items()
                                   if p.contracts and s != excluding)
