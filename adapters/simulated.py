"""The simulated exchange adapter: orders go to the Rust matching engine inside the market
engine, and their acknowledgements and fills come back from `advance_to` as events at
simulated times. The engine executes as Bybit does (docs/ORDER_SEMANTICS.md): market orders fill
at the first quote strictly after the decision, with slippage ticks by intent; a limit that
crosses the book there executes at once at the book's price as taker, one that rests fills later
at its own price as maker; time in force and reduce-only are passed through."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.protocol import OrderRequest
from sim.market.feed import MarketFeed


@dataclass(frozen=True)
class SlippageModel:
    entry_ticks: int = 1
    exit_ticks: int = 1
    other_ticks: int = 1

    def ticks(self, intent: str) -> int:
        return {"entry": self.entry_ticks, "exit": self.exit_ticks}.get(intent, self.other_ticks)


class SimulatedAdapter:
    name = "simulated"

    def __init__(self, market: MarketFeed, slippage: SlippageModel) -> None:
        self._market = market
        self._slippage = slippage
        self._ids: dict[str, int] = {}

    def submit(self, order: OrderRequest, now_ns: int) -> str:
        if order.client_order_id in self._ids:
            raise ValueError(f"client order id {order.client_order_id} reused")
        n = self._market.register_order_id(order.client_order_id)
        self._ids[order.client_order_id] = n
        self._market.engine.submit_order(
            n,
            order.side,
            order.order_type,
            order.qty,
            now_ns,
            limit_px=float("nan") if order.price is None else order.price,
            slippage_ticks=self._slippage.ticks(order.intent),
            instrument=self._market.instrument_index(order.symbol),
            time_in_force=order.time_in_force,
            reduce_only=order.reduce_only,
        )
        return order.client_order_id

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self._market.engine.cancel_order(self._ids[client_order_id], now_ns)
