"""The exchange-adapter protocol strategies and execution code are written against.

The protocol is asynchronous in shape: `submit` returns only the client order id; what
happens to the order (accepted, filled, cancelled, rejected) arrives later as events through
the event loop. No code path gets a fill as a return value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    side: int  # +1 buy, -1 sell
    order_type: Literal["market", "limit"]
    qty: float
    price: float | None = None  # limit price
    intent: Literal["entry", "exit", "other"] = "other"
    reason: str = ""
    symbol: str | None = None  # the instrument; None is the run's main one
    time_in_force: Literal["GTC", "IOC", "FOK", "PostOnly"] = "GTC"
    reduce_only: bool = False


class ExchangeAdapter(Protocol):
    name: str

    def submit(self, order: OrderRequest, now_ns: int) -> str:
        """Sends the order; returns its client order id. The outcome comes back as events."""
        ...

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Asks to cancel; the outcome (cancelled or cancel_rejected) comes back as an event."""
        ...
