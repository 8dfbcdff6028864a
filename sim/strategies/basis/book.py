"""The basis trade's book: the spot leg, one inverse position per quarterly, and a USD cash
account — what the portfolio is worth and where its PnL came from (DESIGN §9).

Cash starts at the capital. A spot buy pays price × qty plus its fee; a sale receives it less the
fee. An inverse fill's realized BTC PnL and its fee (charged in BTC) are turned into USD at the
spot price of the fill, the seeds' convention, and settled into cash then. So the portfolio value
`cash + spot BTC × spot + Σ unrealized BTC × spot` always equals
`capital + spot PnL + futures realized + futures unrealized − fees`: the accounting identity.

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
