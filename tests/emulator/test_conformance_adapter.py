"""The Bybit adapter sends an order's timeInForce and reduceOnly (docs/v5/order/create-order.mdx)
and turns the cancels they ask for back into `cancelled` events whose reason begins with Bybit's
code, as the simulated adapter's do (docs/ORDER_SEMANTICS.md §5); checked against a real
emulator process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from adapters.bybit.adapter import BybitAdapter, BybitSettings
from adapters.protocol import OrderRequest
from sim.core.events import OrderUpdate
from sim.market.live_feed import LiveFeed
from tests.emulator.conformance_helpers import PACED, PLAIN, wait
from tests.emulator.emulator_process import KEY, SECRET, emulator, state


@pytest.fixture(scope="module")
def adapter() -> Iterator[tuple[BybitAdapter, list, str]]:
    with emulator(PLAIN, *PACED) as base:
        feed = LiveFeed(start_ns=0, tick_size=0.1, taker_fee_bps=5, maker_fee_bps=-1, features=None)
        events: list = []
        settings = BybitSettings(network="testnet", symbol="BTCUSDT", api_key=KEY, api_secret=SECRET,
                                 link_prefix="c", rest_base=base, ws_base=base.replace("http", "ws"))
        a = BybitAdapter(settings, feed, schedule=events.append, now_ns=lambda: 1, alert=lambda k, m: None)
        try:
            a.connect()
            wait(lambda: state(base)["market_ms"] > 0 and state(base)["wallet"])
            time.sleep(1.0)  # the replay's first quotes
            yield a, events, base
        finally:
            a.close()


def _updates(a: BybitAdapter, events: list, cid: str, status: str) -> list[OrderUpdate]:
    def got() -> list[OrderUpdate]:
        a.pump(0.1)
        return [e for e in events if isinstance(e, OrderUpdate) and e.order_id == cid and e.status == status]
    return wait(got)


def _pumped(a: BybitAdapter) -> bool:
    a.pump(0.1)
    return True


def _row(base: str, cid: str) -> dict:
    return next(o for o in state(base)["orders"] if o["orderLinkId"] == f"c-{cid}")


def test_an_ioc_limit_is_sent_as_ioc_and_its_cancel_comes_back_with_the_code(adapter: tuple) -> None:
    """docs/v5/order/create-order.mdx (timeInForce) and docs/v5/enum.mdx (EC_NoImmediateQtyToFill)."""
    a, events, base = adapter
    bid = _bid(base)
    a.submit(OrderRequest("ioc-1", 1, "limit", 0.01, round(bid - 5, 1), time_in_force="IOC"), 1)
    [cancel] = _updates(a, events, "ioc-1", "cancelled")
    assert cancel.reason.startswith("EC_NoImmediateQtyToFill")
    assert _row(base, "ioc-1")["timeInForce"] == "IOC"
    assert a.halted is None  # an asked-for cancel is no surprise


def test_a_reduce_only_order_is_sent_as_reduce_only(adapter: tuple) -> None:
    """docs/v5/order/create-order.mdx (reduceOnly) and docs/v5/error.mdx (110017 with no position)."""
    a, events, base = adapter
    a.submit(OrderRequest("ro-1", -1, "market", 0.01, reduce_only=True), 1)
    [rejected] = _updates(a, events, "ro-1", "rejected")
    assert rejected.reason.startswith("retCode 110017")
    a.submit(OrderRequest("open-1", 1, "market", 0.02), 1)
    wait(lambda: _pumped(a) and float(state(base)["position"]["size"]) == 0.02)
    a.submit(OrderRequest("ro-2", -1, "market", 0.05, reduce_only=True), 1)
    [capped] = _updates(a, events, "ro-2", "cancelled")
    assert capped.reason.startswith("CancelByReduceOnly")
    assert _row(base, "ro-2")["reduceOnly"] is True
    wait(lambda: _pumped(a) and float(state(base)["position"]["size"]) == 0.0)
    assert a.halted is None


def _bid(base: str) -> float:
    import json
    import urllib.request

    t = json.loads(urllib.request.urlopen(base + "/v5/market/tickers?category=linear&symbol=BTCUSDT").read())
    return float(t["result"]["list"][0]["bid1Price"])
