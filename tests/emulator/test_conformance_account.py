"""The emulator's account against Bybit's v5 documentation of the unified account, driven by
unmodified pybit against real emulator processes: leverage per symbol, initial and maintenance
margin on positions, orders and the wallet, the available balance and 110007, breakEvenPrice,
execPnl on execution pushes and closedPnl on order pushes. Each test names in its docstring the
page of github.com/bybit-exchange/docs it checks (docs/v5/...). Linear unless named inverse."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pybit.exceptions import InvalidRequestError

from tests.emulator.conformance_helpers import await_order_pushes, inverse, linear  # noqa: F401 - the emulators, module-scoped fixtures
from tests.emulator.conformance_helpers import book, code, order_row, set_position, wait
from tests.emulator.emulator_process import KEY, SECRET, pybit_http, routed_websocket

L = {"category": "linear", "symbol": "BTCUSDT"}
MMR = 0.005  # docs/v5/market/risk-limit.mdx: BTCUSDT riskId 1, maintenanceMargin 0.5 (%)
TAKER = 0.0005  # the probe scenario's taker fee (5 bps)



def _leverage(s: Any, value: str, category: str = "linear", symbol: str = "BTCUSDT") -> None:
    try:
        s.set_leverage(category=category, symbol=symbol, buyLeverage=value, sellLeverage=value)
    except InvalidRequestError as e:
        assert e.status_code == 110043  # already that leverage


def _position(s: Any, category: str = "linear", symbol: str = "BTCUSDT") -> dict[str, Any]:
    return s.get_positions(category=category, symbol=symbol)["result"]["list"][0]


def _wallet(s: Any) -> dict[str, Any]:
    return s.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]


def test_set_leverage_sets_it_and_110043_only_when_unchanged(linear: str) -> None:
    """docs/v5/position/leverage.mdx (buyLeverage = sellLeverage in one-way mode, in [1, max
    leverage]) and docs/v5/error.mdx (110043 "Set leverage has not been modified")."""
    s = pybit_http(linear)
    _leverage(s, "10")
    assert s.set_leverage(**L, buyLeverage="5", sellLeverage="5")["retCode"] == 0
    assert _position(s)["leverage"] == "5"
    assert code(lambda: s.set_leverage(**L, buyLeverage="5", sellLeverage="5"))[0] == 110043
    assert code(lambda: s.set_leverage(**L, buyLeverage="5", sellLeverage="6"))[0] == 10001
    max_lev = s.get_instruments_info(**L)["result"]["list"][0]["leverageFilter"]["maxLeverage"]
    assert code(lambda: s.set_leverage(**L, buyLeverage="100.5", sellLeverage="100.5"))[0] == 10001, max_lev
    assert code(lambda: s.set_leverage(**L, buyLeverage="0.5", sellLeverage="0.5"))[0] == 10001
    assert s.set_leverage(**L, buyLeverage="12.5", sellLeverage="12.5")["retCode"] == 0
    assert _position(s)["leverage"] == "12.5"
    assert s.set_leverage(**L, buyLeverage="20.00", sellLeverage="20.00")["retCode"] == 0
    assert _position(s)["leverage"] == "20"
    assert code(lambda: s.set_leverage(**L, buyLeverage="20", sellLeverage="20"))[0] == 110043


def test_position_margin_is_value_over_leverage_and_the_first_tier_rate(linear: str) -> None:
    """docs/v5/position/position.mdx (positionIM, positionMM, unrealisedPnl, leverage) with
    docs/v5/market/risk-limit.mdx (maintenance rate of the first tier)."""
    s = pybit_http(linear)
    _leverage(s, "4")
    set_position(s, "linear", "BTCUSDT", 0.05, "a-long-1")
    p = _position(s)
    mark, entry, size = float(p["markPrice"]), float(p["avgPrice"]), float(p["size"])
    assert (p["side"], p["leverage"]) == ("Buy", "4")
    assert float(p["positionIM"]) == pytest.approx(size * mark / 4, rel=1e-12)
    assert float(p["positionMM"]) == pytest.approx(size * mark * MMR, rel=1e-12)
    assert p["positionIMByMp"] == p["positionIM"] and p["positionMMByMp"] == p["positionMM"]
    assert float(p["unrealisedPnl"]) == pytest.approx((mark - entry) * size, rel=1e-9, abs=1e-9)
    set_position(s, "linear", "BTCUSDT", 0.0, "a-flat-1")
    flat = _position(s)
    assert (flat["positionIM"], flat["positionMM"], flat["side"]) == ("0", "0", "")


def test_the_wallet_counts_position_and_order_margin_and_the_available_balance(linear: str) -> None:
    """docs/v5/account/wallet-balance.mdx: totalInitialMargin, totalMaintenanceMargin,
    totalAvailableBalance (margin balance less initial margin), the coin's totalPositionIM,
    totalOrderIM, totalPositionMM, accountIMRate / accountMMRate."""
    s = pybit_http(linear)
    _leverage(s, "5")
    set_position(s, "linear", "BTCUSDT", 0.04, "a-long-2")
    bid, _, _ = book(s, "linear", "BTCUSDT")
    rest_px = round(bid * 0.995, 1)
    s.place_order(**L, side="Buy", orderType="Limit", qty="0.020", price=f"{rest_px:.1f}", orderLinkId="a-rest-im")
    order_row(s, "linear", "a-rest-im", final=False)
    w = _wallet(s)
    usdt = next(c for c in w["coin"] if c["coin"] == "USDT")
    pos_im, order_im, pos_mm = float(usdt["totalPositionIM"]), float(usdt["totalOrderIM"]), float(usdt["totalPositionMM"])
    assert order_im == pytest.approx(0.02 * rest_px / 5, rel=1e-12)
    assert pos_im > 0 and pos_mm == pytest.approx(pos_im * 5 * MMR, rel=1e-12)
    assert float(w["totalInitialMargin"]) == pytest.approx(pos_im + order_im, rel=1e-12)
    assert float(w["totalMaintenanceMargin"]) == pytest.approx(pos_mm, rel=1e-12)
    equity = float(w["totalMarginBalance"])
    assert float(w["totalAvailableBalance"]) == pytest.approx(equity - pos_im - order_im, rel=1e-12)
    assert float(w["accountIMRate"]) == pytest.approx((pos_im + order_im) / equity, abs=1e-4)
    s.cancel_order(**L, orderLinkId="a-rest-im")
    set_position(s, "linear", "BTCUSDT", 0.0, "a-flat-2")


def test_an_order_whose_margin_does_not_fit_is_110007_and_a_closing_one_needs_none(linear: str) -> None:
    """docs/v5/error.mdx (UTA 110007 "Available balance is insufficient"); initial margin =
    value / leverage (docs/v5/position/leverage.mdx: leverage bounds what can be opened)."""
    s = pybit_http(linear)
    _leverage(s, "1")
    _, ask, _ = book(s, "linear", "BTCUSDT")
    equity = float(_wallet(s)["totalMarginBalance"])
    too_big = f"{equity / ask * 1.05:.3f}"  # 105% of the equity at 1x
    assert code(lambda: s.place_order(**L, side="Buy", orderType="Market", qty=too_big))[0] == 110007
    # At 2x the same order fits.
    _leverage(s, "2")
    s.place_order(**L, side="Buy", orderType="Market", qty=too_big, orderLinkId="a-fits")
    assert order_row(s, "linear", "a-fits")["orderStatus"] == "Filled"
    # The position now holds about half the equity: the same order again does not fit...
    assert float(_wallet(s)["totalAvailableBalance"]) < equity * 0.5
    assert code(lambda: s.place_order(**L, side="Buy", orderType="Market", qty=too_big))[0] == 110007
    # ...but one that only closes needs no margin, even when larger than what is available.
    s.place_order(**L, side="Sell", orderType="Market", qty=too_big, orderLinkId="a-close")
    assert order_row(s, "linear", "a-close")["orderStatus"] == "Filled"
    _leverage(s, "10")


def test_break_even_price_follows_the_documented_formula(linear: str) -> None:
    """docs/v5/position/position.mdx breakEvenPrice: (entry × qty − realised) / (qty − |qty| ×
    max(taker fee rate, 0.00055)), realised being the holding's curRealisedPnl (its fees)."""
    s = pybit_http(linear)
    _leverage(s, "10")
    set_position(s, "linear", "BTCUSDT", 0.0, "a-flat-3")
    set_position(s, "linear", "BTCUSDT", -0.03, "a-short-1")
    p = _position(s)
    [fill] = s.get_executions(**L, orderLinkId="a-short-1")["result"]["list"]
    q, entry = -float(p["size"]), float(p["avgPrice"])
    realised = float(p["curRealisedPnl"])
    assert realised == pytest.approx(-float(fill["execFee"]), rel=1e-12)
    expected = (entry * q - realised) / (q - abs(q) * max(TAKER, 0.00055))
    assert float(p["breakEvenPrice"]) == pytest.approx(expected, rel=1e-12)
    set_position(s, "linear", "BTCUSDT", 0.0, "a-flat-4")


def test_exec_pnl_on_executions_and_closed_pnl_on_order_pushes(linear: str) -> None:
    """docs/v5/websocket/private/execution.mdx (execPnl: "Profit and Loss for each close position
    execution") and docs/v5/websocket/private/order.mdx (closedPnl of a closing order)."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.0, "a-flat-5")
    ws = routed_websocket(linear.replace("http", "ws"), testnet=True, channel_type="private", api_key=KEY,
                          api_secret=SECRET)
    execs: list[dict] = []
    orders: list[dict] = []
    try:
        wait(lambda: ws.auth)
        ws.execution_stream(lambda m: execs.extend(m["data"]))
        ws.order_stream(lambda m: orders.extend(m["data"]))
        await_order_pushes(s, lambda: bool(orders), "a")
        set_position(s, "linear", "BTCUSDT", 0.02, "a-open")
        set_position(s, "linear", "BTCUSDT", 0.0, "a-close-2")
        close = wait(lambda: [e for e in execs if e["orderLinkId"] == "a-close-2"])
        [opened] = wait(lambda: [e for e in execs if e["orderLinkId"] == "a-open"])
        pnl = (float(close[0]["execPrice"]) - float(opened["execPrice"])) * 0.02
        assert float(close[0]["execPnl"]) == pytest.approx(pnl, rel=1e-9, abs=1e-9)
        assert float(opened["execPnl"]) == 0.0  # an opening fill closes nothing
        final = wait(lambda: [o for o in orders if o["orderLinkId"] == "a-close-2" and o["orderStatus"] == "Filled"])
        assert float(final[-1]["closedPnl"]) == pytest.approx(pnl - float(close[0]["execFee"]), rel=1e-9, abs=1e-9)
    finally:
        ws.exit()


def test_inverse_margin_is_in_the_coin(inverse: str) -> None:
    """docs/v5/position/position.mdx (positionIM) and docs/v5/position/leverage.mdx for an inverse
    perpetual: the value of 1-USD contracts is contracts / price in BTC, the margin that over the
    leverage."""
    s = pybit_http(inverse)
    _leverage(s, "3", "inverse", "BTCUSD")
    set_position(s, "inverse", "BTCUSD", 300, "i-long")
    p = _position(s, "inverse", "BTCUSD")
    assert (p["leverage"], p["size"]) == ("3", "300")
    assert float(p["positionIM"]) == pytest.approx(300 / float(p["markPrice"]) / 3, rel=1e-12)
    assert p["breakEvenPrice"] == ""  # the documented formula is linear's (see docs/EMULATOR.md)
    set_position(s, "inverse", "BTCUSD", 0, "i-flat")
