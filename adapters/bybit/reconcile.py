"""Continuous position reconciliation (spec §10.4): every position and execution push is checked.

Bybit pushes a fill on two streams that may arrive in either order: the `execution` push (which
is how the session learns of its own fills) and the `position` push (the account's position after
it). Both carry `seq`, Bybit's cross sequence, which "associates each fill and each position
update": a position push with seq S reflects every fill with seq <= S and none after. So at any
push the session can say what the exchange's position *should* be:

    ours as of S = position at connect + own fills seen with seq <= S (a fill with no seq, e.g.
                   one read back over REST, counts as reflected)

and what it cannot know yet is only its own fills still on their way: at most the unfilled rest
of its own open orders (buys can add, sells can take away). The exchange agrees when

    in_flight_low - tol <= exchange - ours_as_of_S <= in_flight_high + tol

with `tol` half the instrument's quantity step (positions live on the step grid: a difference
of one step is a real contract, less is float noise). Anything else halts. A live execution push
of a position-moving fill that is not the session's (another client's order on the account, an
ADL or liquidation) halts at once, even when an own open order could have hidden it in the
position check. Spot has no position push and no seq on the wallet push: its balance is checked
at connect, after a reconnect and at the end, and a foreign spot fill halts at its push.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: Execution types that do not move the position (Bybit's execType values).
NON_POSITION_EXEC_TYPES = ("Funding",)


@dataclass
class PushReconciler:
    """What the continuous check needs beyond the adapter's running totals."""

    own_fills: list[tuple[int | None, float]] = field(default_factory=list)  # (seq, signed qty)
    #: The cross sequence the held exchange position is as of; None: as of every fill seen.
    exchange_seq: int | None = None

    def fill(self, seq: int | None, signed_qty: float) -> None:
        self.own_fills.append((seq, signed_qty))

    def position(self, seq: int | None) -> bool:
        """A position push with this seq: False when it is older than the position held (pushes
        can overtake each other; the newer state wins), else it becomes the one held."""
        if seq is not None and self.exchange_seq is not None and seq < self.exchange_seq:
            return False
        self.exchange_seq = seq
        return True

    def unreflected(self) -> float:
        """Own fills the held exchange position does not include yet (seq after it)."""
        s = self.exchange_seq
        if s is None:
            return 0.0
        return sum(q for seq, q in self.own_fills if seq is not None and seq > s)


def in_flight(open_orders: Iterable[tuple[int, float]]) -> tuple[float, float]:
    """(low, high): how far the exchange may be ahead of the fills seen, from the unfilled rest
    (side, qty) of the session's own open orders."""
    lo = hi = 0.0
    for side, rest in open_orders:
        if rest <= 0:
            continue
        if side > 0:
            hi += rest
        else:
            lo -= rest
    return lo, hi


def disagrees(exchange: float, ours: float, band: tuple[float, float], tolerance: float) -> bool:
    diff = exchange - ours
    return diff < band[0] - tolerance or diff > band[1] + tolerance
