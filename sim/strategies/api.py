"""What a strategy sees: the clock, events and a context that queues commands for the adapter.

Strategies never import a loader, the replayer or a concrete adapter, and never read the wall
clock or a global RNG: everything they need comes through `StrategyContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from adapters.protocol import ExchangeAdapter, OrderRequest
from sim.core.clock import Clock
from sim.core.config import Config
from sim.core.events import Event
from sim.execution.ledger import TradeLedger
from sim.execution.orders import Order, OrderEvent
from sim.execution.portfolio import Position
from sim.core.rng import component_rng
from sim.core.timers import TimerSpec


class Strategy(Protocol):
    name: str

    def on_start(self, ctx: StrategyContext) -> None: ...

    def on_event(self, event: Event, ctx: StrategyContext) -> None: ...

    def on_end(self, ctx: StrategyContext) -> None:
        """After the last event of a backtest's window (not called live)."""
        ...


@dataclass(frozen=True)
class InstrumentSpec:
    symbol: str
    tick_size: float
    qty_step: float


class Journal(Protocol):
    """Where a strategy's decisions, alerts and state snapshots go (the run's recorder)."""

    def signal(self, row: tuple[Any, ...], feature_snapshot: tuple[float, ...]) -> None: ...

    def alert(self, ts_ns: int, kind: str, message: str) -> None: ...

    def snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None: ...


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
        instrument: InstrumentSpec,
        journal: Journal,
        end_ns: int | None = None,
    ) -> None:
        self.clock = clock
        self.config = config
        self.seed = seed
        self.instrument = instrument
        self.journal = journal
        self.end_ns = end_ns  # a backtest's window end; None when running live
        self.position = Position()
        self.ledger = TradeLedger()
        self.orders: dict[str, Order] = {}
        self._adapter = adapter
        self._name = strategy_name
        self._add_timer = add_timer
        self._on_order = on_order
        self._commands: list[tuple[str, Any]] = []
        self._next_id = 0

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def equity(self, mark: float) -> float:
        """Account equity marked at `mark`: initial + realized + unrealized − fees − funding."""
        return self.position.equity(self.config.initial_equity, mark)

    def alert(self, kind: str, message: str) -> None:
        self.journal.alert(self.now_ns(), kind, message)

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
        meta: dict[str, Any] | None = None,
        symbol: str | None = None,
        time_in_force: Literal["GTC", "IOC", "FOK", "PostOnly"] = "GTC",
        reduce_only: bool = False,
        decided_ns: int | None = None,
    ) -> str:
        """Queues an order; it is sent when the current handler returns. Returns its id.

        `meta` is the plan of the position an entry opens (see `sim.execution.ledger.PLAN_FIELDS`);
        `symbol` the instrument in a run of several (None: the main one); `time_in_force` and
        `reduce_only` go to the adapter as Bybit's `timeInForce` and `reduceOnly` (a reduce-only
        fill that would open or grow a position is refused by the trade ledger); `decided_ns` the
        time it was decided when that was earlier than now (an order held back until another
        filled: its `decision_ts` stays the decision's)."""
        if time_in_force not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise ValueError(f"time_in_force must be GTC, IOC, FOK or PostOnly, not {time_in_force!r}")
        self._next_id += 1
        cid = f"{self._name}-{self._next_id:06d}"
        now = self.now_ns()
        if decided_ns is not None and decided_ns > now:
            raise ValueError(f"decided_ns {decided_ns} is after now {now}")
        order = Order(cid, side, order_type, qty, price, intent, reason, now if decided_ns is None else decided_ns,
                      meta=dict(meta or {}),
                      symbol=symbol, time_in_force=time_in_force, reduce_only=reduce_only)
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
                                 order.price, order.intent, order.reason, order.symbol,  # type: ignore[arg-type]
                                 time_in_force=order.time_in_force,  # type: ignore[arg-type]
                                 reduce_only=order.reduce_only),
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
