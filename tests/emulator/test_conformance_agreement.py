"""One matching engine: the cases of tests/adapter/test_order_semantics.py (a crossing limit
taking the touch as taker, a resting one, GTC / IOC / FOK / PostOnly on arrival, market orders
with their slippage, reduce-only capped at the position) sent to the emulator through unmodified
pybit and to the simulated adapter over the same scenario's market, at the same market instants;
both must execute every order alike, and as test_order_semantics' reference (`arrive`) says.

Market time is held still between the two batches of orders: the emulator runs with
`--pause-without-clients`, so its replay moves only while a public WebSocket is subscribed, and
the orders of a batch are all placed at one known instant (`/emulator/state` market_ns). Its clock is
the scenario's (`--clock scenario`): on the wall timeline the replay would first run the minute up to
the wall clock at once.

The one place the two differ by design is docs/ORDER_SEMANTICS.md §7: a reduce-only order with
nothing to reduce is refused at placement by the emulator (Bybit's 110017,
docs/v5/error.mdx) and accepted then cancelled (CancelByReduceOnly) by the simulated engine."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.emulator.exchange import EmulatedExchange
from adapters.protocol import OrderRequest
from adapters.simulated import SimulatedAdapter, SlippageModel
from sim.core.events import Fill, OrderUpdate
from sim.scenario.manifest import load_scenario
from tests.adapter.test_order_semantics import Book, arrive
from tests.emulator.conformance_helpers import PLAIN, code, order_row, wait
from tests.emulator.emulator_process import emulator, pybit_http, routed_websocket, state

L = {"category": "linear", "symbol": "BTCUSDT"}


@dataclass(frozen=True)
class Order:
    link: str
    side: int
    order_type: str  # market | limit
    qty: float
    price: float | None = None
    tif: str = "GTC"
    reduce_only: bool = False

    def request(self) -> OrderRequest:
        return OrderRequest(self.link, self.side, self.order_type, self.qty, self.price,  # type: ignore[arg-type]
                            intent="entry", time_in_force=self.tif, reduce_only=self.reduce_only)  # type: ignore[arg-type]


@dataclass
class Outcome:
    fills: list[tuple[float, float, str]] = field(default_factory=list)  # price, qty, liquidity
    cancel: str | None = None  # the Bybit code of a cancel the exchange made


class Simulated:
    """The simulated adapter on the scenario's own market, as the emulator builds it."""

    def __init__(self) -> None:
        ex = EmulatedExchange(load_scenario(PLAIN))
        self.feed, self.start_ns = ex.feed, ex.start_ns
        self.ticks = ex.slippage  # the emulator gives every market order the entry slippage
        self.adapter = SimulatedAdapter(self.feed, SlippageModel(self.ticks, self.ticks, self.ticks))
        self.events: list[Any] = []

    def run(self, t: int) -> None:
        while ev := self.feed.advance_to(t):
            self.events += ev

    def send(self, o: Order, t: int) -> None:
        self.adapter.submit(o.request(), t)
        self.run(t)  # as the emulator does after each order call

    def outcome(self, link: str) -> Outcome:
        fills = [(e.price, e.qty, e.liquidity) for e in self.events if isinstance(e, Fill) and e.order_id == link]
        cancels = [e.reason for e in self.events if isinstance(e, OrderUpdate) and e.order_id == link
                   and e.status == "cancelled"]
        return Outcome(fills, cancels[0].split(":")[0] if cancels else None)


def _first_book(start_ns: int) -> Book:
    """The first quote after the window's start: where orders placed at the start arrive."""
    probe = EmulatedExchange(load_scenario(PLAIN)).feed
    t = start_ns
    while True:
        t += 50_000_000
        probe.advance_to(t)
        q = probe.engine.last_quote()
        if q is not None and q[0] > start_ns:
            return Book(q[1], q[3], (q[1] + q[3]) / 2)


def _emulator_outcome(s: Any, link: str) -> Outcome:
    row = order_row(s, "linear", link, final=False)
    execs = sorted(s.get_executions(**L, orderLinkId=link)["result"]["list"], key=lambda e: e["seq"])
    fills = [(float(e["execPrice"]), float(e["execQty"]), "maker" if e["isMaker"] else "taker") for e in execs]
    cancel = None
    if row["orderStatus"] == "Cancelled":
        cancel = row["rejectReason"] if row["cancelType"] == "UNKNOWN" else row["cancelType"]
    return Outcome(fills, cancel)


def _run_market(base: str, market_s: float) -> int:
    """Lets the emulator's market time run about `market_s` seconds (a public subscriber makes it
    move), then holds it still; returns the instant it stopped at."""
    t0 = state(base)["market_ns"]
    ws = routed_websocket(base.replace("http", "ws"), testnet=True, channel_type="linear")
    try:
        ws.orderbook_stream(1, "BTCUSDT", lambda m: None)
        wait(lambda: state(base)["market_ns"] >= t0 + int(market_s * 1e9), timeout=30)
    finally:
        ws.exit()
    return int(wait(lambda: _held(base)))


def _held(base: str) -> int | None:
    """The market instant, once it has stopped moving."""
    a = state(base)["market_ns"]
    time.sleep(0.3)
    return a if state(base)["market_ns"] == a else None


@pytest.fixture
def sim() -> Iterator[Simulated]:
    s = Simulated()
    yield s
    # The Rust engine may only be freed on the thread that made it: drop it here, not in a garbage
    # collection that a client's WebSocket thread happens to run later.
    s.adapter = s.feed = None  # type: ignore[assignment]
    gc.collect()


def test_the_emulator_and_the_simulated_adapter_execute_alike(sim: Simulated) -> None:
    """docs/ORDER_SEMANTICS.md §2-§4 through both; docs/v5/order/create-order.mdx (timeInForce,
    reduceOnly) and docs/v5/enum.mdx (rejectReason, cancelType) for the emulator's wire."""
    b = _first_book(sim.start_ns)
    tick = 0.1
    first = [  # placed at the window's start, before any quote: they arrive at the first one
        Order("a-mkt", 1, "market", 0.03),
        Order("a-gtc-cross", 1, "limit", 0.01, round(b.ask + 2 * tick, 1)),
        Order("a-gtc-rest", 1, "limit", 0.01, round(b.bid - 300, 1)),
        *(Order(f"a-{tif}-short", 1, "limit", 0.01, round(b.bid - 10 * tick, 1), tif)
          for tif in ("IOC", "FOK", "PostOnly")),
        *(Order(f"a-{tif}-at-ask", 1, "limit", 0.01, round(b.ask, 1), tif) for tif in ("IOC", "FOK", "PostOnly")),
        Order("a-sell-cross", -1, "limit", 0.01, round(b.bid, 1)),
    ]
    with emulator(PLAIN, "--start", "now", "--speed", "10", "--pause-without-clients", "--clock", "scenario") as base:
        s = pybit_http(base)
        t_a = state(base)["market_ns"]
        assert t_a == sim.start_ns
        for o in first:
            _place(s, o)
            sim.send(o, t_a)
        # The reference of test_order_semantics, order by order, at the first book.
        position = 0.0
        expected: dict[str, Outcome] = {}
        for o in first:
            ref, position = arrive(o.request(), b, sim.ticks, position)
            expected[o.link] = Outcome([(p, q, liq) for p, q, liq, _ in ref.fills], ref.cancel)

        t_b = _run_market(base, 30)
        sim.run(t_b)
        q = sim.feed.engine.last_quote()
        assert q is not None
        bid = q[1]
        held = sim.feed.engine.position(0)  # the first batch's fills, and any resting order's since
        second = [  # at one later instant, with the position the first batch left (long 0.05)
            Order("b-ro-part", -1, "market", 0.02, reduce_only=True),
            Order("b-ro-capped", -1, "market", 0.1, reduce_only=True),
            Order("b-ioc-sell", -1, "limit", 0.01, round(bid + 10 * tick, 1), "IOC"),
        ]
        assert state(base)["market_ns"] == t_b
        for o in second:
            _place(s, o)
            sim.send(o, t_b)
        # Nothing to reduce on its own side: Bybit refuses it at placement, the engine cancels it.
        same_side = Order("b-ro-same-side", 1, "market", 0.01, reduce_only=True)
        assert code(lambda: _place(s, same_side))[0] == 110017
        sim.send(same_side, t_b)

        t_end = _run_market(base, 10)
        sim.run(t_end)
        assert sim.outcome(same_side.link) == Outcome([], "CancelByReduceOnly")
        for o in first + second:
            emu, simulated = _emulator_outcome(s, o.link), sim.outcome(o.link)
            assert emu.cancel == simulated.cancel, o
            assert [(f[0], f[1], f[2]) for f in emu.fills] == \
                [(pytest.approx(p, abs=1e-9), pytest.approx(q, abs=1e-12), liq) for p, q, liq in simulated.fills], o
        for o in first:
            if expected[o.link].fills or expected[o.link].cancel:  # a resting order may fill later
                assert sim.outcome(o.link) == expected[o.link], o
        assert sim.outcome("b-ro-capped").cancel == "CancelByReduceOnly"
        assert sum(f[1] for f in sim.outcome("b-ro-capped").fills) == pytest.approx(held - 0.02)
        assert state(base)["position"]["size"] in ("0", "0.0")  # closed, never flipped


def _place(s: Any, o: Order) -> None:
    kw: dict[str, Any] = {"orderLinkId": o.link, "timeInForce": o.tif}
    if o.price is not None:
        kw["price"] = f"{o.price:.1f}"
    if o.reduce_only:
        kw["reduceOnly"] = True
    s.place_order(**L, side="Buy" if o.side > 0 else "Sell", orderType="Market" if o.order_type == "market" else "Limit",
                  qty=f"{o.qty:.3f}", **kw)
