"""The adapter a live session's strategy sees: it decides whether an order may leave (spec §11).

A session starts in *observation*: signals are generated and orders decided, but none is sent —
each is answered at once with a `rejected` update saying why, so the strategy's own bookkeeping
stays exact (a replay of the same market with no fills would decide the same). Once activated,
orders go to the mode's adapter: the paper engine, the shadow pair, or the exchange. `dry_run`
is observation for good. Cancels go to whichever adapter took the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.protocol import ExchangeAdapter, OrderRequest
from sim.core.events import PRIORITY, Event, OrderUpdate

GATE_SOURCE = 1001  # the source index of the gate's own events in the total order


class ModeGate:
    name = "gate"

    def __init__(self, schedule: Callable[[Event], None], now_ns: Callable[[], int]) -> None:
        self._schedule = schedule
        self._now_ns = now_ns
        self._seq = 0
        self.adapter: ExchangeAdapter | None = None  # None: observation
        self.closed_reason = "observation: trading not activated"
        self._routes: dict[str, Any] = {}  # client order id -> the adapter that took it (None: the gate)
        self.after_submit: Callable[[], None] | None = None  # called once an order has left

    @property
    def active(self) -> bool:
        return self.adapter is not None

    def open(self, adapter: ExchangeAdapter) -> None:
        self.adapter = adapter

    def close(self, reason: str) -> None:
        self.adapter = None
        self.closed_reason = reason

    def submit(self, order: OrderRequest, now_ns: int) -> str:
        if self.adapter is None:
            self._routes[order.client_order_id] = None
            self._answer(order.client_order_id, "rejected", self.closed_reason)
            return order.client_order_id
        self._routes[order.client_order_id] = self.adapter
        cid = self.adapter.submit(order, now_ns)
        if self.after_submit is not None:
            self.after_submit()
        return cid

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        target = self._routes.get(client_order_id)
        if target is None:
            self._answer(client_order_id, "cancel_rejected", "not sent: " + self.closed_reason)
            return
        target.cancel(client_order_id, now_ns)

    def _answer(self, cid: str, status: str, reason: str) -> None:
        self._seq += 1
        now = self._now_ns()
        key = (now, PRIORITY["order_update"], GATE_SOURCE, self._seq)
        self._schedule(OrderUpdate("order_update", now, key, now, cid, status, reason))  # type: ignore[arg-type]
