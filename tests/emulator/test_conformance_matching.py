"""The emulator's order handling against Bybit's v5 documentation, driven by unmodified pybit
against real emulator processes: time in force and the cancels the exchange makes on its own
(cancelType / rejectReason), reduce-only, the position mode, the price band, the instrument's
quantity and price bounds, and unknown symbols. Each test names in its docstring the page of
github.com/bybit-exchange/docs it checks (docs/v5/...). Linear unless the name says otherwise.

The agreement of the emulator's matching with the simulated adapter's (the cases of
tests/adapter/test_order_semantics.py on one market, through both) is in
test_conformance_agreement.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.emulator.conformance_helpers import inverse, linear  # noqa: F401 - the emulators, module-scoped fixtures
from tests.emulator.conformance_helpers import (
    PACED,
    SPOT,
    book,
    code,
    order_row,
    paced,
    position_size,
    set_position,
    wait,
)
from tests.emulator.emulator_process import KEY, SECRET, emulator, pybit_http, routed_websocket

L = {"category": "linear", "symbol": "BTCUSDT"}


@pytest.fixture(scope="module")
def spot() -> Iterator[str]:
    with emulator(SPOT, *PACED) as url:
        yield paced(url)


def _limit(s, side: str, price: float, tif: str, link: str, *, final: bool = True) -> dict:  # noqa: ANN001
    s.place_order(**L, side=side, orderType="Limit", qty="0.010", price=f"{price:.1f}", timeInForce=tif,
                  orderLinkId=link)
    return order_row(s, "linear", link, final=final)


# -- time in force --------------------------------------------------------------------------

def test_ioc_that_does_not_reach_the_book_is_cancelled_with_ec_no_immediate_qty_to_fill(linear: str) -> None:
    """docs/v5/enum.mdx (rejectReason EC_NoImmediateQtyToFill, cancelType) and
    docs/v5/order/create-order.mdx (timeInForce IOC): nothing executes, the order ends Cancelled."""
    s = pybit_http(linear)
    bid, _, _ = book(s, "linear", "BTCUSDT")
    row = _limit(s, "Buy", bid - 5, "IOC", "m-ioc")
    assert (row["orderStatus"], row["rejectReason"], row["cancelType"]) == ("Cancelled", "EC_NoImmediateQtyToFill",
                                                                            "UNKNOWN")
    assert (row["timeInForce"], row["cumExecQty"]) == ("IOC", "0.0")
    assert s.get_executions(**L, orderLinkId="m-ioc")["result"]["list"] == []


def test_fok_that_cannot_fill_in_full_is_cancelled_with_ec_cancel_for_no_full_fill(linear: str) -> None:
    """docs/v5/enum.mdx (rejectReason EC_CancelForNoFullFill) and docs/v5/order/create-order.mdx
    (timeInForce FOK: all or nothing)."""
    s = pybit_http(linear)
    _, ask, _ = book(s, "linear", "BTCUSDT")
    row = _limit(s, "Sell", ask + 5, "FOK", "m-fok")
    assert (row["orderStatus"], row["rejectReason"], row["cancelType"]) == ("Cancelled", "EC_CancelForNoFullFill",
                                                                            "UNKNOWN")
    assert s.get_executions(**L, orderLinkId="m-fok")["result"]["list"] == []


def test_post_only_that_would_take_is_cancelled_and_never_fills(linear: str) -> None:
    """docs/v5/enum.mdx (EC_PostOnlyWillTakeLiquidity: "your post only order would have executed
    as a taker, and so was rejected"); shared/reference/bybit-v5.md §5."""
    s = pybit_http(linear)
    _, ask, _ = book(s, "linear", "BTCUSDT")
    row = _limit(s, "Buy", ask + 2, "PostOnly", "m-po-take")
    assert (row["orderStatus"], row["rejectReason"]) == ("Cancelled", "EC_PostOnlyWillTakeLiquidity")
    assert s.get_executions(**L, orderLinkId="m-po-take")["result"]["list"] == []


def test_post_only_below_the_book_rests_and_a_user_cancel_is_cancel_by_user(linear: str) -> None:
    """docs/v5/enum.mdx (cancelType CancelByUser; rejectReason EC_NoError) and
    docs/v5/order/cancel-order.mdx."""
    s = pybit_http(linear)
    bid, _, _ = book(s, "linear", "BTCUSDT")
    row = _limit(s, "Buy", bid - 20, "PostOnly", "m-po-rest", final=False)
    assert row["orderStatus"] == "New"
    s.cancel_order(**L, orderLinkId="m-po-rest")
    row = order_row(s, "linear", "m-po-rest")
    assert (row["orderStatus"], row["cancelType"], row["rejectReason"]) == ("Cancelled", "CancelByUser", "EC_NoError")


def test_the_order_push_carries_the_cancel_reason(linear: str) -> None:
    """docs/v5/websocket/private/order.mdx (cancelType, rejectReason on the order topic)."""
    s = pybit_http(linear)
    ws = routed_websocket(linear.replace("http", "ws"), testnet=True, channel_type="private", api_key=KEY,
                          api_secret=SECRET)
    pushed: list[dict] = []
    try:
        wait(lambda: ws.auth)
        ws.order_stream(lambda m: pushed.extend(m["data"]))
        # The subscription is live once its acknowledgement is in, which pybit does not expose: send
        # IOC orders (each a new link id) until one's push comes back, then read that push.
        last: list[dict] = []
        for k in range(20):
            bid, _, _ = book(s, "linear", "BTCUSDT")
            _limit(s, "Buy", bid - 5, "IOC", f"m-ioc-push-{k}")
            deadline = time.monotonic() + 0.5
            while not last and time.monotonic() < deadline:
                last = [o for o in pushed if o["orderLinkId"].startswith("m-ioc-push-") and o["orderStatus"] == "Cancelled"]
                time.sleep(0.02)
            if last:
                break
        assert last, "no order push within 10 s"
        assert (last[-1]["rejectReason"], last[-1]["cancelType"]) == ("EC_NoImmediateQtyToFill", "UNKNOWN")
    finally:
        ws.exit()


def test_a_market_order_always_runs_as_ioc(linear: str) -> None:
    """docs/v5/order/create-order.mdx, timeInForce: "Market order will always use IOC"."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-1")
    s.place_order(**L, side="Buy", orderType="Market", qty="0.010", timeInForce="GTC", orderLinkId="m-mkt-ioc")
    row = order_row(s, "linear", "m-mkt-ioc")
    assert (row["orderStatus"], row["timeInForce"]) == ("Filled", "IOC")
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-2")


def test_rpi_is_for_approved_market_makers_only(linear: str) -> None:
    """docs/v5/error.mdx, UTA 110119 "RPI orders are restricted to approved market makers only"."""
    s = pybit_http(linear)
    bid, _, _ = book(s, "linear", "BTCUSDT")
    assert code(lambda: s.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=f"{bid - 50:.1f}",
                                      timeInForce="RPI"))[0] == 110119


def test_a_crossing_gtc_limit_takes_the_book_as_taker_never_worse_than_its_price(linear: str) -> None:
    """docs/v5/order/create-order.mdx (limit orders match at the best price available) and
    docs/v5/order/execution.mdx (isMaker false for the taker side)."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-3")
    _, ask, _ = book(s, "linear", "BTCUSDT")
    limit = round(ask + 3, 1)
    row = _limit(s, "Buy", limit, "GTC", "m-cross")
    [fill] = s.get_executions(**L, orderLinkId="m-cross")["result"]["list"]
    assert row["orderStatus"] == "Filled" and fill["isMaker"] is False
    assert float(fill["execPrice"]) <= limit
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-4")


# -- reduce-only ----------------------------------------------------------------------------

def test_reduce_only_with_no_position_is_refused_with_110017(linear: str) -> None:
    """docs/v5/error.mdx (UTA 110017: the reduce-only quantity truncates to zero) and
    docs/v5/order/create-order.mdx (reduceOnly: the position can only reduce)."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-5")
    for side in ("Buy", "Sell"):
        assert code(lambda: s.place_order(**L, side=side, orderType="Market", qty="0.010", reduceOnly=True))[0] == 110017


def test_reduce_only_on_the_side_of_the_position_is_refused_with_110017(linear: str) -> None:
    """docs/v5/error.mdx (UTA 110017); a reduce-only buy cannot reduce a long."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.02, "m-long-1")
    assert code(lambda: s.place_order(**L, side="Buy", orderType="Market", qty="0.010", reduceOnly=True))[0] == 110017
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-6")


def test_reduce_only_larger_than_the_position_closes_it_and_never_flips(linear: str) -> None:
    """docs/v5/enum.mdx (cancelType CancelByReduceOnly) and docs/v5/order/create-order.mdx
    (reduceOnly): the excess over the position is cancelled, the position ends flat."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.02, "m-long-2")
    s.place_order(**L, side="Sell", orderType="Market", qty="0.050", reduceOnly=True, orderLinkId="m-ro-big")
    row = order_row(s, "linear", "m-ro-big")
    assert (row["orderStatus"], row["cancelType"], row["cumExecQty"], row["reduceOnly"]) == \
        ("Cancelled", "CancelByReduceOnly", "0.02", True)
    wait(lambda: position_size(s, "linear", "BTCUSDT") == 0.0)
    assert sum(float(e["execQty"]) for e in s.get_executions(**L, orderLinkId="m-ro-big")["result"]["list"]) == 0.02


def test_inverse_reduce_only_with_no_position_is_110017(inverse: str) -> None:
    """docs/v5/error.mdx (UTA 110017) for an inverse perpetual (reduceOnly is valid for inverse,
    docs/v5/order/create-order.mdx)."""
    s = pybit_http(inverse)
    book(s, "inverse", "BTCUSD")
    assert code(lambda: s.place_order(category="inverse", symbol="BTCUSD", side="Sell", orderType="Market",
                                      qty="100", reduceOnly=True))[0] == 110017


def test_spot_has_no_reduce_only(spot: str) -> None:
    """docs/v5/order/create-order.mdx: reduceOnly is "Valid for linear, inverse & option"; a spot
    order carrying it is an ordinary order."""
    s = pybit_http(spot)
    book(s, "spot", "BTCUSDT")
    s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.002", marketUnit="baseCoin",
                  reduceOnly=True, orderLinkId="s-ro")
    row = order_row(s, "spot", "s-ro")
    assert (row["orderStatus"], row["reduceOnly"]) == ("Filled", False)


# -- position mode --------------------------------------------------------------------------

@pytest.mark.parametrize("idx", [1, 2])
def test_a_hedge_mode_position_idx_in_one_way_mode_is_10001(linear: str, idx: int) -> None:
    """docs/v5/order/create-order.mdx (positionIdx: 0 one-way, 1/2 hedge-mode legs) and
    docs/v5/position/position-mode.mdx (the account is in one-way mode)."""
    s = pybit_http(linear)
    bid, _, _ = book(s, "linear", "BTCUSDT")
    ret, msg = code(lambda: s.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=f"{bid - 50:.1f}",
                                          positionIdx=idx))
    assert ret == 10001 and "position idx" in msg


def test_inverse_is_one_way_only(inverse: str) -> None:
    """shared/reference/bybit-v5.md §5 and docs/v5/position/position-mode.mdx: inverse contracts
    are one-way only; positionIdx 1 is refused."""
    s = pybit_http(inverse)
    bid, _, _ = book(s, "inverse", "BTCUSD")
    assert code(lambda: s.place_order(category="inverse", symbol="BTCUSD", side="Buy", orderType="Limit", qty="100",
                                      price=f"{bid - 50:.1f}", positionIdx=1))[0] == 10001


# -- price band -----------------------------------------------------------------------------

def test_a_futures_price_outside_the_band_is_moved_to_its_edge_by_default(linear: str) -> None:
    """docs/v5/account/get-user-setting-config.mdx (futures default: "the system will
    automatically adjust the price to the nearest allowed price") with the band of
    docs/v5/account/set-price-limit.mdx and riskParameters of docs/v5/market/instrument.mdx."""
    s = pybit_http(linear)
    info = s.get_instruments_info(**L)["result"]["list"][0]
    x = float(info["riskParameters"]["priceLimitRatioX"])
    assert s.get_user_setting_config()["result"]["lpaPerp"] is False
    bid, _, mark = book(s, "linear", "BTCUSDT")
    # A resting sell far below the band: moved up to the lowest sell price, where it takes the bid.
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-7")
    s.place_order(**L, side="Sell", orderType="Limit", qty="0.010", price="1000.0", orderLinkId="m-band-adj")
    row = order_row(s, "linear", "m-band-adj", final=False)
    assert float(row["price"]) == pytest.approx(mark * (1 - x), rel=2e-4)
    set_position(s, "linear", "BTCUSDT", 0.0, "m-flat-8")


def test_with_modify_disabled_a_futures_price_outside_the_band_is_refused(linear: str) -> None:
    """docs/v5/account/set-price-limit.mdx (modifyEnable false rejects) and docs/v5/error.mdx
    (UTA 110121 above / 110120 below the price limitation)."""
    s = pybit_http(linear)
    s.set_limit_price_action(category="linear", modifyEnable=False)
    try:
        assert s.get_user_setting_config()["result"]["lpaPerp"] is True
        _, _, mark = book(s, "linear", "BTCUSDT")
        assert code(lambda: s.place_order(**L, side="Buy", orderType="Limit", qty="0.010",
                                          price=f"{mark * 1.2:.1f}"))[0] == 110121
        assert code(lambda: s.place_order(**L, side="Sell", orderType="Limit", qty="0.010",
                                          price=f"{mark * 0.8:.1f}"))[0] == 110120
        # Inside the band the order is placed as usual.
        s.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=f"{mark * 0.995:.1f}",
                      orderLinkId="m-band-in")
        assert order_row(s, "linear", "m-band-in", final=False)["orderStatus"] == "New"
        s.cancel_order(**L, orderLinkId="m-band-in")
    finally:
        s.set_limit_price_action(category="linear", modifyEnable=True)


def test_spot_rejects_a_price_outside_the_band_by_default(spot: str) -> None:
    """docs/v5/account/get-user-setting-config.mdx (spot default lpaSpot false: "the system
    rejects the request") and docs/v5/error.mdx (Spot Trade 170193 / 170194)."""
    s = pybit_http(spot)
    _, _, mid = book(s, "spot", "BTCUSDT")
    assert s.get_user_setting_config()["result"]["lpaSpot"] is False
    assert code(lambda: s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.002",
                                      price=f"{mid * 1.1:.1f}"))[0] == 170193
    assert code(lambda: s.place_order(category="spot", symbol="BTCUSDT", side="Sell", orderType="Limit", qty="0.002",
                                      price=f"{mid * 0.9:.1f}"))[0] == 170194


# -- quantity and price bounds --------------------------------------------------------------

@pytest.mark.parametrize(("qty", "price", "otype", "expect"), [
    ("0.0001", None, "Market", 10001),  # below minOrderQty
    ("1190.001", "1000.0", "Limit", 10001),  # above maxOrderQty
    ("500.001", None, "Market", 10001),  # above maxMktOrderQty
    ("0.0105", "1000.0", "Limit", 10001),  # off qtyStep
    ("0.010", "1000.05", "Limit", 10001),  # off tickSize
    ("0.001", "1000.0", "Limit", 110094),  # below minNotionalValue (5 USDT)
], ids=["min-qty", "max-qty", "max-market-qty", "qty-step", "tick", "min-notional"])
def test_instrument_bounds_are_enforced(linear: str, qty: str, price: str | None, otype: str, expect: int) -> None:
    """docs/v5/market/instrument.mdx (lotSizeFilter minOrderQty, maxOrderQty, maxMktOrderQty,
    qtyStep, minNotionalValue; priceFilter tickSize) and docs/v5/error.mdx (110094)."""
    s = pybit_http(linear)
    book(s, "linear", "BTCUSDT")
    kw = {"price": price} if price else {}
    assert code(lambda: s.place_order(**L, side="Buy", orderType=otype, qty=qty, **kw))[0] == expect


# -- unknown symbols ------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["get_tickers", "get_orderbook", "get_kline", "get_public_trade_history",
                                  "get_funding_rate_history", "get_instruments_info"])
def test_market_data_for_an_unknown_symbol_is_10001(linear: str, call: str) -> None:
    """docs/v5/error.mdx (10001 request parameter error) for docs/v5/market/tickers.mdx,
    orderbook.mdx, kline.mdx, recent-trade.mdx, history-fund-rate.mdx, instrument.mdx: another
    symbol's data is never answered for it."""
    s = pybit_http(linear, None, None)
    kw = {"interval": "1"} if call == "get_kline" else {}
    assert code(lambda: getattr(s, call)(category="linear", symbol="ETHUSDT", **kw))[0] == 10001
    # The served symbol in a category it is not served in is as unknown.
    assert code(lambda: getattr(s, call)(category="inverse", symbol="BTCUSDT", **kw))[0] == 10001


def test_trading_an_unknown_symbol_is_10001(linear: str) -> None:
    """docs/v5/error.mdx (10001) for docs/v5/order/create-order.mdx, amend-order.mdx,
    cancel-order.mdx, cancel-all.mdx and docs/v5/position/leverage.mdx."""
    s = pybit_http(linear)
    other = {"category": "linear", "symbol": "ETHUSDT"}
    assert code(lambda: s.place_order(**other, side="Buy", orderType="Market", qty="0.01"))[0] == 10001
    assert code(lambda: s.amend_order(**other, orderLinkId="nope", price="1000"))[0] == 10001
    assert code(lambda: s.cancel_order(**other, orderLinkId="nope"))[0] == 10001
    assert code(lambda: s.cancel_all_orders(**other))[0] == 10001
    assert code(lambda: s.set_leverage(**other, buyLeverage="5", sellLeverage="5"))[0] == 10001
