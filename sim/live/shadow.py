"""Shadow mode (spec §11.3): the strategy trades on paper, every order is mirrored to the venue,
and the two executions are compared order by order.

The pipeline follows the paper fills only — its position, PnL and decisions are the paper
session's. The mirror's updates and fills never reach the strategy: they are kept here, and
once an order is done on both sides the two are compared. A live fill missing or extra, a
different filled quantity, an average price further apart than the tolerance, or a fill time
further apart than the tolerance raises one `shadow_divergence` alert for that order; nothing
stops (§11.3: alert only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.protocol import ExchangeAdapter, OrderRequest
from sim.core.events import Event, Fill, OrderUpdate


@dataclass
class _Side:
    qty: float = 0.0
    value: float = 0.0
    last_ts_ns: int = 0
    final: str | None = None  # filled | rejected | cancelled

    def add(self, f: Fill) -> None:
        self.qty += f.qty
        self.value += f.qty * f.price
        self.last_ts_ns = max(self.last_ts_ns, f.ts_ns)

    @property
    def avg(self) -> float:
        return self.value / self.qty if self.qty else float("nan")


@dataclass
class _Pair:
    request: OrderRequest
    paper: _Side = field(default_factory=_Side)
    live: _Side = field(default_factory=_Side)
    compared: bool = False


class ShadowAdapter:
    name = "shadow"

    def __init__(self, paper: ExchangeAdapter, mirror: ExchangeAdapter, *, tick: float, price_tolerance_ticks: float,
                 time_tolerance_ms: int, alert: Callable[[str, str], None]) -> None:
        self.paper, self.mirror = paper, mirror
        self.tick = tick
        self.price_tol = price_tolerance_ticks * tick
        self.time_tol_ns = time_tolerance_ms * 1_000_000
        self._alert = alert
        self.pairs: dict[str, _Pair] = {}
        self.divergences: list[str] = []

    # -- the adapter protocol ---------------------------------------------------------------
    def submit(self, order: OrderRequest, now_ns: int) -> str:
        self.pairs[order.client_order_id] = _Pair(order)
        self.paper.submit(order, now_ns)
        self.mirror.submit(order, now_ns)
        return order.client_order_id

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.paper.cancel(client_order_id, now_ns)
        self.mirror.cancel(client_order_id, now_ns)

    # -- what each side reports ---------------------------------------------------------------
    def on_paper(self, ev: Event) -> None:
        """An engine event of the pipeline (called for every event; only paper orders count)."""
        self._on(ev, live=False)

    def on_live(self, ev: Event) -> None:
        """The mirror adapter's event: kept here, never handed to the strategy."""
        self._on(ev, live=True)

    def _on(self, ev: Event, live: bool) -> None:
        if not isinstance(ev, (Fill, OrderUpdate)):
            return
        pair = self.pairs.get(ev.order_id)
        if pair is None:
            return
        side = pair.live if live else pair.paper
        if isinstance(ev, Fill):
            side.add(ev)
            if side.qty >= pair.request.qty - 1e-12:
                side.final = "filled"
        elif ev.status in ("rejected", "cancelled") and side.final is None:
            side.final = ev.status
        if pair.paper.final and pair.live.final and not pair.compared:
            pair.compared = True
            self._compare(ev.order_id, pair)

    def _compare(self, cid: str, p: _Pair) -> None:
        a, b = p.paper, p.live
        why = []
        if abs(a.qty - b.qty) > 1e-12:
            why.append(f"filled {a.qty:g} on paper, {b.qty:g} live ({a.final} / {b.final})")
        elif a.qty > 0:
            if abs(a.avg - b.avg) > self.price_tol + 1e-9:
                why.append(f"average price {a.avg:g} on paper, {b.avg:g} live "
                           f"(tolerance {self.price_tol / self.tick:g} ticks)")
            if abs(a.last_ts_ns - b.last_ts_ns) > self.time_tol_ns:
                why.append(f"filled {abs(a.last_ts_ns - b.last_ts_ns) / 1e6:.0f} ms apart "
                           f"(tolerance {self.time_tol_ns // 1_000_000} ms)")
        if why:
            msg = f"order {cid}: " + "; ".join(why)
            self.divergences.append(msg)
            self._alert("shadow_divergence", msg)

    def pending(self) -> list[str]:
        """Orders not yet done on both sides (the session reports them at its end)."""
        return [cid for cid, p in self.pairs.items() if not p.compared]
