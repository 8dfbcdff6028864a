"""What a strategy sees: the clock, events and a context that queues commands for the adapter.

Strategies never import a loader, the replayer or a concrete adapter, and never read the wall
clock or a global RNG: everything they need comes through `StrategyContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np

from adapters.protocol import ExchangeAdapter, OrderRequest
from sim.clock import Clock
from sim.config import Config
from sim.events import Event
from sim.orders import Order, OrderEvent
from sim.portfolio import Position
from sim.rng import component_rng
from sim.timers import TimerSpec


class Strategy(Protocol):
    name: str

    def on_start(self, ctx: StrategyContext) -> None: ...

    def on_event(self, event: Event, ctx: StrategyContext) -> None: ...


class StrategyContext:
    def __init__(
        self,
        *,
        clock: Clock,
        adapter: ExchangeAdapter,
        config: Config,
        seed: int,
        strategy_name: str,
        add_timer: Callable[[TimerSpec], None],
        on_order: Callable[[Order], None],
    ) -> None:
        self.clock = clock
        self.config = config
        self.seed = seed
        self.position = Position()
        self.orders: dict[str, Order] = {}
        self._adapter = adapter
        self._name = strategy_name
        self._add_timer = add_timer
        self._on_order = on_order
        self._commands: list[tuple[str, Any]] = []
        self._next_id = 0

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def rng(self, name: str) -> np.random.Generator:
        return component_rng(self.seed, f"{self._name}/{name}")

    def submit(
        self,
        side: int,
        order_type: Literal["market", "limit"],
        qty: float,
        *,
        price: float | None = None,
        intent: Literal["entry", "exit", "other"] = "other",
        reason: str = "",
    ) -> str:
        """Queues an order; it is sent when the current handler returns. Returns its id."""
        self._next_id += 1
        cid = f"{self._name}-{self._next_id:06d}"
        order = Order(cid, side, order_type, qty, price, intent, reason, self.now_ns())
        self.orders[cid] = order
        self._commands.append(("submit", order))
        return cid

    def cancel(self, client_order_id: str) -> None:
        self._commands.append(("cancel", client_order_id))

    def add_timer(self, spec: TimerSpec) -> None:
        self._commands.append(("timer", spec))

    def drain(self) -> bool:
        """Sends the queued commands in order. True when any went to the adapter."""
        sent = False
        commands, self._commands = self._commands, []
        now = self.now_ns()
        for what, arg in commands:
            if what == "submit":
                order: Order = arg
                order.apply(OrderEvent.SUBMIT, now)
                self._on_order(order)
                self._adapter.submit(
                    OrderRequest(order.client_order_id, order.side, order.order_type, order.qty,  # type: ignore[arg-type]
                                 order.price, order.intent, order.reason),  # type: ignore[arg-type]
                    now,
                )
                sent = True
            elif what == "cancel":
                self.orders[arg].apply(OrderEvent.CANCEL_REQUEST, now)
                self._adapter.cancel(arg, now)
                sent = True
            else:
                self._add_timer(arg)
        return sent
