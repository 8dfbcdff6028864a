"""Position and cash accounting for one linear (USD-margined) instrument.

Realized PnL is booked when a fill reduces or flips the position, against the average entry
price; fees and funding are kept apart so the accounting identity
`equity − initial = realized + unrealized − fees − funding` can be checked on every run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Position:
    qty: float = 0.0  # signed, base units (BTC)
    avg_entry: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0

    def apply_fill(self, side: int, price: float, qty: float, fee: float) -> None:
        signed = side * qty
        self.fees += fee
        if self.qty == 0.0 or (self.qty > 0) == (signed > 0):
            new_qty = self.qty + signed
            self.avg_entry = (self.avg_entry * abs(self.qty) + price * qty) / abs(new_qty)
            self.qty = new_qty
            return
        closing = min(abs(signed), abs(self.qty))
        direction = 1.0 if self.qty > 0 else -1.0
        self.realized_pnl += closing * (price - self.avg_entry) * direction
        rest = abs(signed) - closing
        if rest > 0:  # flipped through zero: the remainder opens at the fill price
            self.qty = -direction * rest
            self.avg_entry = price
        else:
            self.qty += signed
            if abs(self.qty) < 1e-12:
                self.qty = 0.0
                self.avg_entry = 0.0

    def apply_funding(self, rate: float, mark: float) -> float:
        """Charges funding on the position's notional at `mark`; longs pay a positive rate."""
        paid = self.qty * mark * rate
        self.funding += paid
        return paid

    def unrealized(self, mark: float) -> float:
        return self.qty * (mark - self.avg_entry) if self.qty else 0.0

    def equity(self, initial: float, mark: float) -> float:
        """Account equity marked at `mark`: initial + realized + unrealized − fees − funding."""
        return initial + self.realized_pnl + self.unrealized(mark) - self.fees - self.funding
