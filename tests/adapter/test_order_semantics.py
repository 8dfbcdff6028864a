"""Bybit's execution rules in the simulated exchange (docs/ORDER_SEMANTICS.md), driven through
`adapters.simulated.SimulatedAdapter` on in-memory markets and checked against a small Python
reference of the same rules: arrival at the first quote after submission (bars mode: the next
kline's open), a crossing limit taking the touch as taker, a resting one filling at its price as
maker, GTC/IOC/FOK/PostOnly, and reduce-only capped at the position and never flipping it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.protocol import OrderRequest
from adapters.simulated import SimulatedAdapter, SlippageModel
from sim.data.schema import SCHEMAS
from sim.core.events import NS_PER_MIN, Event, Fill, OrderUpdate
from sim.market.feed import MarketFeed
from tests.market.memory_sources import MemorySource, quotes, trades

S = 1_000_000_000
MS = 1_000_000
TICK = 0.1
TAKER_BPS, MAKER_BPS = 5.0, -1.0
SLIP = SlippageModel(entry_ticks=1, exit_ticks=2, other_ticks=1)


# --- the reference -----------------------------------------------------------------------------


def grid(price: float) -> float:
    """A price on the tick grid, rebuilt as the engine does (`sim_core::price`)."""
    return round(price / TICK) / round(1 / TICK)


def fee(price: float, qty: float, maker: bool) -> float:
    return price * qty * (MAKER_BPS if maker else TAKER_BPS) / 10_000


@dataclass
class Book:
    bid: float
    ask: float
    mid: float

    @staticmethod
    def bar(open_: float, spread_bps: float = 0.0) -> Book:
        half = spread_bps / 2 / 10_000
        return Book(open_ * (1 - half), open_ * (1 + half), open_)


@dataclass
class Ref:
    """What the reference expects of an order: fills (price, qty, liquidity, mid) and whether it
    ends cancelled (with the reason's Bybit prefix) or resting."""

    fills: list[tuple[float, float, str, float]] = field(default_factory=list)
    cancel: str | None = None
    rests: bool = False


def arrive(o: OrderRequest, book: Book, slip_ticks: int, position: float) -> tuple[Ref, float]:
    """An order's fate on arrival at `book` with the account at `position`; the new position."""
    far = book.ask if o.side > 0 else book.bid
    far_px = grid(far)
    if o.order_type == "market":
        ref = Ref(fills=[(grid(far + o.side * slip_ticks * TICK), o.qty, "taker", book.mid)])
    else:
        assert o.price is not None
        crosses = far_px <= o.price if o.side > 0 else far_px >= o.price
        if crosses and o.time_in_force == "PostOnly":
            return Ref(cancel="EC_PostOnlyWillTakeLiquidity"), position
        if crosses:
            ref = Ref(fills=[(far_px, o.qty, "taker", book.mid)])
        elif o.time_in_force == "IOC":
            return Ref(cancel="EC_NoImmediateQtyToFill"), position
        elif o.time_in_force == "FOK":
            return Ref(cancel="EC_CancelForNoFullFill"), position
        else:
            ref = Ref(rests=True)
    if o.reduce_only:
        against = -o.side * position
        if against <= 0:
            return Ref(cancel="CancelByReduceOnly"), position
        if ref.fills and ref.fills[0][1] > against:
            price, _, liq, mid = ref.fills[0]
            ref = Ref(fills=[(price, against, liq, mid)], cancel="CancelByReduceOnly")
    for _, qty, _, _ in ref.fills:
        position += o.side * qty
    return ref, position


# --- driving the adapter -----------------------------------------------------------------------


def _klines(rows: list[tuple[float, float, float, float]]) -> MemorySource:
    cols = list(zip(*[(m * NS_PER_MIN, o, h, lo, c, 1.0) for m, (o, h, lo, c) in enumerate(rows)]))
    table = pa.table(dict(zip(SCHEMAS["klines"].names, cols)), schema=SCHEMAS["klines"])
    return MemorySource("klines", table, name="klines", interval_ns=NS_PER_MIN)


def _feed(sources: list[MemorySource], end_ns: int, bars: bool = False) -> MarketFeed:
    return MarketFeed(sources, start_ns=0, end_ns=end_ns, tick_size=TICK, taker_fee_bps=TAKER_BPS,
                      maker_fee_bps=MAKER_BPS, features={"feature_input": "bars"} if bars else None)


def _drain(market: MarketFeed, t: int) -> list[Event]:
    out: list[Event] = []
    while events := market.advance_to(t):
        out += events
    return out


class Venue:
    """A MarketFeed with a SimulatedAdapter on it, advanced by hand."""

    def __init__(self, market: MarketFeed) -> None:
        self.market = market
        self.adapter = SimulatedAdapter(market, SLIP)
        self.n = 0
        self.events: list[Event] = []

    def send(self, now: int, side: int, order_type: str, qty: float, price: float | None = None,
             tif: str = "GTC", reduce_only: bool = False, intent: str = "other") -> OrderRequest:
        self.n += 1
        o = OrderRequest(f"o{self.n}", side, order_type, qty, price, intent=intent,  # type: ignore[arg-type]
                         time_in_force=tif, reduce_only=reduce_only)  # type: ignore[arg-type]
        self.adapter.submit(o, now)
        return o

    def run(self, t: int) -> list[Event]:
        ev = _drain(self.market, t)
        self.events += ev
        return ev

    def outcome(self, oid: str) -> Ref:
        fills = [(e.price, e.qty, e.liquidity, e.mid) for e in self.events if isinstance(e, Fill) and e.order_id == oid]
        cancels = [e.reason for e in self.events if isinstance(e, OrderUpdate) and e.order_id == oid
                   and e.status == "cancelled"]
        assert len(cancels) <= 1
        cancel = cancels[0].split(":")[0] if cancels else None
        return Ref(fills=fills, cancel=cancel, rests=not fills and cancel is None)

    def fees(self, oid: str) -> list[float]:
        return [e.fee for e in self.events if isinstance(e, Fill) and e.order_id == oid]


def _tick_venue(book_rows: list[tuple[int, float, float]], prints: list[tuple[int, float]] = ()) -> Venue:
    q = quotes([(ts, bid, 1.0, ask, 1.0) for ts, bid, ask in book_rows])
    t = trades([(ts, px, 1.0, 0, i + 1) for i, (ts, px) in enumerate(prints)])
    return Venue(_feed([t, q], end_ns=10 * S))


# --- tick mode ---------------------------------------------------------------------------------


def test_a_crossing_limit_takes_the_touch_as_taker_and_a_resting_one_fills_at_its_price_as_maker() -> None:
    v = _tick_venue([(1 * S, 100.0, 100.1), (2 * S, 100.0, 100.1), (4 * S, 98.8, 98.9)], prints=[(3 * S, 98.9)])
    v.run(1 * S)
    cross = v.send(1 * S, 1, "limit", 0.5, 100.3)
    rest = v.send(1 * S, 1, "limit", 0.5, 99.0)
    cross_sell = v.send(1 * S, -1, "limit", 0.25, 99.95)
    v.run(10 * S)
    book = Book(100.0, 100.1, 100.05)
    for o in (cross, cross_sell):
        ref, _ = arrive(o, book, 1, 0.0)
        assert v.outcome(o.client_order_id) == ref
        (price, qty, _, _), = ref.fills
        assert v.fees(o.client_order_id) == [pytest.approx(fee(price, qty, maker=False), rel=1e-12)]
        assert (price - o.price) * o.side <= 0, "never worse than the limit"
    assert arrive(rest, book, 1, 0.0)[0].rests
    # It rested at 2 s; the print at 3 s goes through 99.0, while the latest mid is 100.05.
    assert v.outcome(rest.client_order_id).fills == [(99.0, 0.5, "maker", 100.05)]
    assert v.fees(rest.client_order_id) == [pytest.approx(fee(99.0, 0.5, maker=True), rel=1e-12)]


def test_market_orders_keep_their_slippage_by_intent() -> None:
    v = _tick_venue([(1 * S, 100.0, 100.1), (2 * S, 100.0, 100.1)])
    v.run(1 * S)
    o = v.send(1 * S, -1, "market", 1.0, intent="exit")
    v.run(10 * S)
    assert v.outcome(o.client_order_id) == arrive(o, Book(100.0, 100.1, 100.05), SLIP.exit_ticks, 0.0)[0]
    assert v.outcome(o.client_order_id).fills[0][0] == 99.8


@pytest.mark.parametrize("tif", ["GTC", "IOC", "FOK", "PostOnly"])
@pytest.mark.parametrize("limit", [99.9, 100.0, 100.1, 100.2])
def test_time_in_force_on_arrival_matches_the_reference(tif: str, limit: float) -> None:
    v = _tick_venue([(1 * S, 100.0, 100.1), (2 * S, 100.0, 100.1)])
    v.run(1 * S)
    o = v.send(1 * S, 1, "limit", 0.3, limit, tif=tif)
    v.run(10 * S)
    ref, _ = arrive(o, Book(100.0, 100.1, 100.05), 1, 0.0)
    assert v.outcome(o.client_order_id) == ref
    assert not ref.rests or tif in ("GTC", "PostOnly"), "only GTC and PostOnly rest"


def test_a_market_post_only_is_rejected() -> None:
    v = _tick_venue([(1 * S, 100.0, 100.1)])
    v.run(1 * S)
    o = v.send(1 * S, 1, "market", 0.3, tif="PostOnly")
    (ack,) = [e for e in v.run(10 * S) if isinstance(e, OrderUpdate)]
    assert (ack.order_id, ack.status) == (o.client_order_id, "rejected")
    assert ack.reason.startswith("EC_MarketOrderCannotBePostOnly")


def test_reduce_only_is_capped_at_the_position_and_a_resting_one_is_cancelled_once_flat() -> None:
    v = _tick_venue([(1 * S, 100.0, 100.1), (2 * S, 100.0, 100.1), (3 * S, 100.0, 100.1), (4 * S, 100.0, 100.1)])
    book = Book(100.0, 100.1, 100.05)
    v.run(1 * S)
    pos = 0.0
    opening = v.send(1 * S, 1, "market", 0.003)
    take_profit = v.send(1 * S, -1, "limit", 0.003, 105.0, reduce_only=True)
    v.run(2 * S)
    ref, pos = arrive(opening, book, 1, pos)
    assert v.outcome(opening.client_order_id) == ref
    assert arrive(take_profit, book, 1, pos)[0].rests
    assert v.market.engine.position() == pos == 0.003
    too_big = v.send(2 * S, -1, "market", 0.005, reduce_only=True)
    v.run(3 * S)
    ref, pos = arrive(too_big, book, 1, pos)
    assert ref.fills[0][1] == 0.003 and ref.cancel == "CancelByReduceOnly"
    assert v.outcome(too_big.client_order_id) == ref
    assert v.fees(too_big.client_order_id) == [pytest.approx(fee(ref.fills[0][0], 0.003, maker=False), rel=1e-12)]
    assert v.market.engine.position() == pos == 0.0
    assert v.outcome(take_profit.client_order_id) == Ref(cancel="CancelByReduceOnly"), "nothing left to reduce"
    nothing = v.send(3 * S, 1, "market", 0.001, reduce_only=True)
    v.run(10 * S)
    assert v.outcome(nothing.client_order_id) == arrive(nothing, book, 1, pos)[0] == Ref(cancel="CancelByReduceOnly")


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(-5, 5).filter(bool),
    orders=st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(1, 6), st.sampled_from(["market", "limit"]),
                              st.sampled_from(["GTC", "IOC", "FOK"])), min_size=1, max_size=6),
)
def test_a_reduce_only_sequence_matches_the_reference_and_never_flips(start: int, orders: list) -> None:
    """Each order arrives at its own quote; limits are placed one tick through the touch."""
    rows = [(k * S, 100.0, 100.1) for k in range(1, len(orders) + 3)]
    v = _tick_venue(rows)
    book = Book(100.0, 100.1, 100.05)
    v.run(1 * S)
    pos = 0.0
    first = v.send(1 * S, 1 if start > 0 else -1, "market", abs(start) * 0.001)
    v.run(2 * S)
    _, pos = arrive(first, book, 1, pos)
    for k, (side, lots, kind, tif) in enumerate(orders, start=2):
        price = None if kind == "market" else (100.2 if side > 0 else 99.9)
        o = v.send(k * S, side, kind, lots * 0.001, price, tif=tif, reduce_only=True)
        v.run((k + 1) * S)
        ref, new = arrive(o, book, 1, pos)
        got = v.outcome(o.client_order_id)
        assert (got.cancel, [(p, liq) for p, _, liq, _ in got.fills]) == (ref.cancel, [(p, liq) for p, _, liq, _ in ref.fills])
        assert [q for _, q, _, _ in got.fills] == pytest.approx([q for _, q, _, _ in ref.fills], abs=1e-12)
        assert v.market.engine.position() == pytest.approx(new, abs=1e-12)
        assert new == 0 or math.copysign(1, new) == math.copysign(1, start), "reduce-only flipped the position"
        pos = new


# --- bars mode ---------------------------------------------------------------------------------

BARS = [
    (100.0, 100.5, 99.5, 100.2),  # minute 0: the decision is taken at its close
    (100.3, 100.8, 99.8, 100.6),  # minute 1: the orders arrive at its open
    (100.7, 101.0, 99.4, 100.9),
]


def test_bars_mode_limits_cross_the_next_open_as_taker_or_rest_and_fill_at_their_price_as_maker() -> None:
    v = Venue(_feed([_klines(BARS)], end_ns=3 * NS_PER_MIN, bars=True))
    v.run(NS_PER_MIN)
    decide = NS_PER_MIN
    book = Book.bar(100.3)
    cross = v.send(decide, 1, "limit", 0.01, 100.5)
    at_open = v.send(decide, -1, "limit", 0.01, 100.3)
    rest_same_bar = v.send(decide, 1, "limit", 0.01, 99.9)
    rest_later = v.send(decide, 1, "limit", 0.01, 99.5)
    ioc = v.send(decide, 1, "limit", 0.01, 99.9, tif="IOC")
    post = v.send(decide, 1, "limit", 0.01, 100.3, tif="PostOnly")
    v.run(3 * NS_PER_MIN)
    for o in (cross, at_open, ioc, post):
        assert v.outcome(o.client_order_id) == arrive(o, book, 1, 0.0)[0], o
    assert v.outcome(cross.client_order_id).fills == [(100.3, 0.01, "taker", 100.3)]
    # Resting from the open: minute 1's low 99.8 goes through 99.9; 99.5 waits for minute 2's 99.4.
    assert v.outcome(rest_same_bar.client_order_id).fills == [(99.9, 0.01, "maker", 99.9)]
    assert v.outcome(rest_later.client_order_id).fills == [(99.5, 0.01, "maker", 99.5)]
    # The last event of each order: its fill, or its cancel; both known only at the bar's close.
    stamps = {e.order_id: e.ts_ns for e in v.events if isinstance(e, (Fill, OrderUpdate))}
    assert stamps[cross.client_order_id] == stamps[ioc.client_order_id] == 2 * NS_PER_MIN, "known at the bar's close"
    assert stamps[rest_later.client_order_id] == 3 * NS_PER_MIN


@pytest.mark.parametrize("spread_bps", [0.0, 4.0, 7.0])
@pytest.mark.parametrize("limit", [100.2, 100.3, 100.35, 100.4])
def test_bars_mode_with_a_spread_model_matches_the_reference(spread_bps: float, limit: float) -> None:
    from sim.core.instruments import EngineInstrument

    market = MarketFeed([_klines(BARS)], start_ns=0, end_ns=3 * NS_PER_MIN, tick_size=TICK, taker_fee_bps=TAKER_BPS,
                        maker_fee_bps=MAKER_BPS, features={"feature_input": "bars"},
                        instruments=[EngineInstrument("BTCUSDT", TICK, TAKER_BPS, MAKER_BPS, bar_spread_bps=spread_bps)])
    v = Venue(market)
    v.run(NS_PER_MIN)
    o = v.send(NS_PER_MIN, 1, "limit", 0.01, limit, tif="IOC")
    m = v.send(NS_PER_MIN, -1, "market", 0.01)
    v.run(2 * NS_PER_MIN)
    book = Book.bar(100.3, spread_bps)
    assert v.outcome(o.client_order_id) == arrive(o, book, 1, 0.0)[0]
    assert v.outcome(m.client_order_id) == arrive(m, book, 1, 0.0)[0]


def test_bars_mode_reduce_only_is_capped_at_the_position() -> None:
    v = Venue(_feed([_klines(BARS)], end_ns=3 * NS_PER_MIN, bars=True))
    v.run(NS_PER_MIN)
    book = Book.bar(100.3)
    short = v.send(NS_PER_MIN, -1, "market", 0.002)
    cover = v.send(NS_PER_MIN, 1, "limit", 0.005, 100.5, reduce_only=True)
    v.run(3 * NS_PER_MIN)
    ref, pos = arrive(short, book, 1, 0.0)
    assert v.outcome(short.client_order_id) == ref
    ref, pos = arrive(cover, book, 1, pos)
    assert v.outcome(cover.client_order_id) == ref == Ref(fills=[(100.3, 0.002, "taker", 100.3)], cancel="CancelByReduceOnly")
    assert v.market.engine.position() == pos == 0.0
