"""The order lifecycle as an explicit transition table.

An order moves only along the table; any other (state, event) pair is an `IllegalTransition`
error, never a silent state. Client order ids are deterministic: `<strategy>-<n>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class OrderState(str, Enum):
    NEW = "new"  # created by the strategy, not yet sent
    SUBMITTED = "submitted"  # sent to the adapter, no answer yet
    ACCEPTED = "accepted"  # resting or working at the exchange
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_PENDING = "cancel_pending"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class OrderEvent(str, Enum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    REJECT = "reject"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL_REQUEST = "cancel_request"
    CANCEL = "cancel"
    CANCEL_REJECT = "cancel_reject"


S, E = OrderState, OrderEvent

TRANSITIONS: dict[tuple[OrderState, OrderEvent], OrderState] = {
    (S.NEW, E.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, E.ACCEPT): S.ACCEPTED,
    (S.SUBMITTED, E.REJECT): S.REJECTED,
    (S.ACCEPTED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, E.FILL): S.FILLED,
    (S.ACCEPTED, E.CANCEL_REQUEST): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUEST): S.CANCEL_PENDING,
    # The exchange cancels on its own: the unfilled rest of an IOC or FOK, a PostOnly that would
    # take liquidity, a reduce-only order with nothing (left) to reduce (docs/ORDER_SEMANTICS.md).
    (S.ACCEPTED, E.CANCEL): S.CANCELLED,
    (S.PARTIALLY_FILLED, E.CANCEL): S.CANCELLED,
    # A fill can overtake a cancel request on its way to the exchange.
    (S.CANCEL_PENDING, E.PARTIAL_FILL): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.FILL): S.FILLED,
    (S.CANCEL_PENDING, E.CANCEL): S.CANCELLED,
    (S.CANCEL_PENDING, E.CANCEL_REJECT): S.ACCEPTED,
}

TERMINAL = frozenset({S.FILLED, S.CANCELLED, S.REJECTED})


class IllegalTransition(RuntimeError):
    def __init__(self, order_id: str, state: OrderState, event: OrderEvent) -> None:
        super().__init__(f"order {order_id}: {event.value} is not allowed in state {state.value}")
        self.order_id, self.state, self.event = order_id, state, event


@dataclass
class Order:
    client_order_id: str
    side: int  # +1 buy, -1 sell
    order_type: str  # "market" | "limit"
    qty: float
    price: float | None
    intent: str  # "entry" | "exit" | "other"
    reason: str
    decision_ts_ns: int
    state: OrderState = OrderState.NEW
    filled_qty: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[int, OrderState]] = field(default_factory=list)
    symbol: str | None = None  # the instrument; None is the run's main one
    time_in_force: str = "GTC"  # GTC | IOC | FOK | PostOnly, as sent to the adapter
    reduce_only: bool = False  # may only shrink the position it trades against (the ledger checks)

    def apply(self, event: OrderEvent, ts_ns: int) -> OrderState:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise IllegalTransition(self.client_order_id, self.state, event)
        self.state = nxt
        self.history.append((ts_ns, nxt))
        return nxt

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL
