"""The emulator serving its instrument as spot and as an inverse perpetual, driven by unmodified
pybit against real emulator processes (tests/fixtures/emulator/probe_spot.yaml and
probe_inverse.yaml): the instruments-info shape, fills, fee currencies, wallet moves and the
category-specific retCodes (170131, 170141, 10001, 110007), inverse PnL in BTC, the inverse
public WebSocket; plus the emulator block's validation through the CLI and a property test of
the inverse arithmetic in `adapters.emulator.contract`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pybit.unified_trading as ut
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pybit.exceptions import InvalidRequestError

from adapters.emulator.contract import contract_for
from tests.emulator.emulator_process import KEY, REPO, SECRET, emulator, pybit_http, routed_websocket

SPOT = "tests/fixtures/emulator/probe_spot.yaml"
INVERSE = "tests/fixtures/emulator/probe_inverse.yaml"
TAKER = 0.0005  # the probe scenarios' taker fee: 5 bps (the config default)


def _wait(pred: Callable[[], object], timeout: float = 20.0, every: float = 0.1) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(every)  # REST polls stay well inside the 50/s query limits


def _fills(s: ut.HTTP, category: str, link: str) -> list[dict]:
    """The executions of the order `link`, once it is no longer open."""
    def done() -> bool:
        rows = s.get_open_orders(category=category, orderLinkId=link)["result"]["list"]
        return bool(rows) and rows[0]["orderStatus"] in ("Filled", "Cancelled", "PartiallyFilledCanceled")
    _wait(done)
    return s.get_executions(category=category, orderLinkId=link)["result"]["list"]


def _coins(s: ut.HTTP) -> dict[str, float]:
    wallet = s.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
    return {c["coin"]: float(c["walletBalance"]) for c in wallet["coin"]}


def _code(call: Callable[[], object]) -> int:
    with pytest.raises(InvalidRequestError) as e:
        call()
    return e.value.status_code


# -- spot -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spot() -> Iterator[str]:
    # 2x: the 16 data minutes last 8 wall minutes, and the book moves every ~0.1 s of wall time.
    with emulator(SPOT, "--start", "now", "--speed", "2") as url:
        yield url


def test_spot_instruments_info_has_the_spot_shape(spot: str) -> None:
    s = pybit_http(spot)
    info = s.get_instruments_info(category="spot", symbol="BTCUSDT")["result"]["list"][0]
    lot = info["lotSizeFilter"]
    assert (info["baseCoin"], info["quoteCoin"], info["status"]) == ("BTC", "USDT", "Trading")
    assert (lot["basePrecision"], lot["minOrderAmt"]) == ("0.001", "5")
    assert {"quotePrecision", "maxLimitOrderQty", "maxMarketOrderQty"} <= set(lot)
    assert "qtyStep" not in lot and info["priceFilter"] == {"tickSize": "0.1"}
    assert not {"contractType", "settleCoin", "fundingInterval", "leverageFilter"} & set(info)
    assert s.get_instruments_info(category="linear")["result"]["list"] == []
    assert s.get_fee_rates(category="spot", symbol="BTCUSDT")["result"]["list"][0]["takerFeeRate"] == "0.0005"


def test_spot_market_buy_in_base_coin_pays_its_fee_in_btc(spot: str) -> None:
    s = pybit_http(spot)
    _wait(lambda: s.get_tickers(category="spot", symbol="BTCUSDT")["result"]["list"][0]["ask1Price"])
    before = _coins(s)
    assert before == {"BTC": 0.0, "USDT": 100_000.0}
    s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.01",
                  marketUnit="baseCoin", orderLinkId="spot-base-1")
    [fill] = _fills(s, "spot", "spot-base-1")
    assert (fill["execQty"], fill["feeCurrency"], fill["feeRate"]) == ("0.01", "BTC", "0.0005")
    assert Decimal(fill["execFee"]) == Decimal("0.000005")  # 0.01 BTC x 0.0005
    price = float(fill["execPrice"])
    after = _coins(s)
    assert after["BTC"] == pytest.approx(0.009995, rel=1e-12)  # 0.01 - 0.000005
    assert after["USDT"] == pytest.approx(100_000 - price * 0.01, rel=1e-12)
    order = s.get_order_history(category="spot", orderLinkId="spot-base-1")["result"]["list"][0]
    assert (order["orderStatus"], order["marketUnit"], order["cumFeeDetail"]) == (
        "Filled", "baseCoin", {"BTC": "0.000005"})


def test_spot_market_buy_in_quote_coin_buys_floor_of_qty_over_ask(spot: str) -> None:
    s = pybit_http(spot)
    for attempt in range(20):
        link = f"spot-quote-{attempt}"
        ask = s.get_tickers(category="spot", symbol="BTCUSDT")["result"]["list"][0]["ask1Price"]
        s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Market", qty="1000",
                      orderLinkId=link)
        ask_after = s.get_tickers(category="spot", symbol="BTCUSDT")["result"]["list"][0]["ask1Price"]
        fills = _fills(s, "spot", link)
        if ask == ask_after:  # the book did not move while the order arrived: its ask is known
            break
    else:
        pytest.fail("the book moved during every attempt")
    expected = (Decimal(1000) / Decimal(ask) / Decimal("0.001")).to_integral_value(ROUND_FLOOR) * Decimal("0.001")
    assert expected == Decimal("0.016")  # 1000 USDT at an ask near 62000
    assert sum(Decimal(f["execQty"]) for f in fills) == expected
    order = s.get_order_history(category="spot", orderLinkId=link)["result"]["list"][0]
    assert (order["qty"], order["marketUnit"], Decimal(order["cumExecQty"])) == ("1000", "quoteCoin", expected)


def test_spot_sell_pays_its_fee_in_usdt(spot: str) -> None:
    s = pybit_http(spot)
    _wait(lambda: _coins(s)["BTC"] >= 0.005)
    before = _coins(s)
    s.place_order(category="spot", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.005",
                  orderLinkId="spot-sell-1")
    [fill] = _fills(s, "spot", "spot-sell-1")
    price = float(fill["execPrice"])
    assert fill["feeCurrency"] == "USDT"
    assert float(fill["execFee"]) == pytest.approx(price * 0.005 * TAKER, rel=1e-12)
    after = _coins(s)
    assert after["BTC"] == pytest.approx(before["BTC"] - 0.005, rel=1e-12)
    assert after["USDT"] == pytest.approx(before["USDT"] + price * 0.005 - float(fill["execFee"]), rel=1e-12)


def test_spot_websockets(spot: str) -> None:
    ws_base = spot.replace("http", "ws")
    public = routed_websocket(ws_base, testnet=True, channel_type="spot")
    private = routed_websocket(ws_base, testnet=True, channel_type="private", api_key=KEY, api_secret=SECRET)
    books: list[dict] = []
    pushes: dict[str, list[dict]] = {"order": [], "execution": [], "position": [], "wallet": []}
    try:
        public.orderbook_stream(1, "BTCUSDT", lambda m: books.append(m))
        _wait(lambda: private.auth, every=0.02)
        # The session handles one subscribe at a time: once `order` (the last) pushes, all are live.
        for topic, stream in (("wallet", private.wallet_stream), ("position", private.position_stream),
                              ("execution", private.execution_stream), ("order", private.order_stream)):
            stream(lambda m, t=topic: pushes[t].extend(m["data"]))
        _wait(lambda: books, every=0.02)
        assert books[-1]["topic"] == "orderbook.1.BTCUSDT" and books[-1]["data"]["a"]
        s = pybit_http(spot)
        for _ in range(50):  # a resting probe order, until its acknowledgement is pushed
            r = s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001",
                              price="50000")
            s.cancel_order(category="spot", symbol="BTCUSDT", orderId=r["result"]["orderId"])
            time.sleep(0.05)
            if pushes["order"]:
                break
        s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.002",
                      marketUnit="baseCoin", orderLinkId="spot-ws-1")
        _wait(lambda: any(e["orderLinkId"] == "spot-ws-1" for e in pushes["execution"]) and pushes["wallet"],
              every=0.02)
        [fill] = [e for e in pushes["execution"] if e["orderLinkId"] == "spot-ws-1"]
        assert (fill["category"], fill["feeCurrency"], fill["execFee"]) == ("spot", "BTC", "0.000001")
        assert ("spot-ws-1", "Filled") in [(o["orderLinkId"], o["orderStatus"]) for o in pushes["order"]]
        assert [c["coin"] for c in pushes["wallet"][-1]["coin"]] == ["BTC", "USDT"]
        assert pushes["position"] == []  # subscribed, but spot has no positions to push
    finally:
        public.exit()
        private.exit()


def test_spot_refusals(spot: str) -> None:
    s = pybit_http(spot)
    sell_too_much = lambda: s.place_order(category="spot", symbol="BTCUSDT", side="Sell",  # noqa: E731
                                          orderType="Market", qty="1", marketUnit="baseCoin")
    assert _code(sell_too_much) == 170131
    buy_too_much = lambda: s.place_order(category="spot", symbol="BTCUSDT", side="Buy",  # noqa: E731
                                         orderType="Limit", qty="2", price="60000")  # 120000 > 100000 USDT
    assert _code(buy_too_much) == 170131
    s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001", price="50000",
                  orderLinkId="spot-dup-1")
    duplicate = lambda: s.place_order(category="spot", symbol="BTCUSDT", side="Buy",  # noqa: E731
                                      orderType="Limit", qty="0.001", price="50000", orderLinkId="spot-dup-1")
    assert _code(duplicate) == 170141
    too_small = lambda: s.place_order(category="spot", symbol="BTCUSDT", side="Buy",  # noqa: E731
                                      orderType="Market", qty="4")  # 4 USDT < minOrderAmt 5
    assert _code(too_small) == 170140
    assert _code(lambda: s.get_positions(category="spot", symbol="BTCUSDT")) == 10001
    s.cancel_order(category="spot", symbol="BTCUSDT", orderLinkId="spot-dup-1")
    assert _code(lambda: s.cancel_order(category="spot", symbol="BTCUSDT", orderLinkId="spot-dup-1")) == 170213


# -- inverse ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def inverse() -> Iterator[str]:
    with emulator(INVERSE, "--start", "now", "--speed", "5") as url:
        yield url


def test_inverse_instruments_info(inverse: str) -> None:
    s = pybit_http(inverse)
    info = s.get_instruments_info(category="inverse", symbol="BTCUSD")["result"]["list"][0]
    assert (info["contractType"], info["settleCoin"], info["baseCoin"], info["quoteCoin"]) == (
        "InversePerpetual", "BTC", "BTC", "USD")
    assert (info["lotSizeFilter"]["qtyStep"], info["lotSizeFilter"]["minOrderQty"]) == ("1", "1")
    assert info["priceFilter"]["tickSize"] == "0.5"
    assert s.get_instruments_info(category="linear")["result"]["list"] == []
    assert s.get_instruments_info(category="spot")["result"]["list"] == []


def test_inverse_round_trip_counts_in_btc(inverse: str) -> None:
    s = pybit_http(inverse)
    _wait(lambda: s.get_tickers(category="inverse", symbol="BTCUSD")["result"]["list"][0]["ask1Price"])
    start = _coins(s)["BTC"]
    assert start == 1.0
    s.place_order(category="inverse", symbol="BTCUSD", side="Buy", orderType="Market", qty="100", orderLinkId="inv-b")
    [buy] = _fills(s, "inverse", "inv-b")
    pos = s.get_positions(category="inverse", symbol="BTCUSD")["result"]["list"][0]
    assert (pos["side"], float(pos["size"]), pos["avgPrice"]) == ("Buy", 100.0, buy["execPrice"])
    assert float(pos["positionValue"]) == pytest.approx(100 / float(pos["avgPrice"]), rel=1e-12)
    s.place_order(category="inverse", symbol="BTCUSD", side="Sell", orderType="Market", qty="100", orderLinkId="inv-s")
    [sell] = _fills(s, "inverse", "inv-s")

    entry, exit_ = float(buy["execPrice"]), float(sell["execPrice"])
    fees = []
    for fill, price in ((buy, entry), (sell, exit_)):
        assert (fill["feeCurrency"], fill["execQty"]) == ("BTC", "100")
        assert float(fill["execFee"]) == pytest.approx(100 / price * TAKER, rel=1e-12)  # contracts / price x rate
        assert float(fill["execValue"]) == pytest.approx(100 / price, rel=1e-12)
        fees.append(float(fill["execFee"]))
    pnl = 100 * (1 / entry - 1 / exit_)
    flat = s.get_positions(category="inverse", symbol="BTCUSD")["result"]["list"][0]
    assert (flat["side"], float(flat["size"])) == ("", 0.0)
    assert float(flat["cumRealisedPnl"]) == pytest.approx(pnl, rel=1e-9, abs=1e-15)
    assert _coins(s)["BTC"] - start == pytest.approx(pnl - fees[0] - fees[1], rel=1e-9, abs=1e-15)
    order = s.get_order_history(category="inverse", orderLinkId="inv-s")["result"]["list"][0]
    assert order["feeCurrency"] == "BTC" and "cumFeeDetail" not in order
    assert float(order["cumExecFee"]) == pytest.approx(fees[1], rel=1e-12)


def test_inverse_public_websocket_delivers_trades(inverse: str) -> None:
    ws = routed_websocket(inverse.replace("http", "ws"), testnet=True, channel_type="inverse")
    trades: list[dict] = []
    try:
        ws.trade_stream("BTCUSD", lambda m: trades.append(m))
        _wait(lambda: len(trades) >= 2, every=0.02)
        assert trades[0]["topic"] == "publicTrade.BTCUSD"
        assert trades[0]["data"][0]["s"] == "BTCUSD" and trades[0]["data"][0]["S"] in ("Buy", "Sell")
    finally:
        ws.exit()


def test_inverse_order_without_btc_is_110007(tmp_path: Path) -> None:
    text = (REPO / INVERSE).read_text().replace("balances: {BTC: 1.0}", "balances: {USDT: 10000, BTC: 0}")
    unfunded = tmp_path / "probe_inverse.yaml"
    unfunded.write_text(text)
    with emulator(unfunded, "--start", "now", "--speed", "5") as url:
        s = pybit_http(url)
        buy = lambda: s.place_order(category="inverse", symbol="BTCUSD", side="Buy",  # noqa: E731
                                    orderType="Limit", qty="100", price="50000")
        assert _code(buy) == 110007


# -- the emulator block, through the CLI ------------------------------------------------------

def _bad_block(tmp_path: Path, block: str) -> str:
    text = (REPO / SPOT).read_text().replace("emulator: {category: spot, balances: {USDT: 100000, BTC: 0}}", block)
    path = tmp_path / "probe_spot.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "sim", "emulator", str(path), "--port", "0"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(path) in lines[0]
    return lines[0]


def test_a_bad_category_is_exit_2_naming_the_key(tmp_path: Path) -> None:
    assert "emulator.category" in _bad_block(tmp_path, "emulator: {category: options}")


def test_the_category_flag_overrides_the_block_with_default_balances() -> None:
    with emulator("tests/fixtures/emulator/probe_plain.yaml", "--category", "spot", "--start", "now") as url:
        s = pybit_http(url)
        assert s.get_instruments_info(category="spot")["result"]["list"][0]["symbol"] == "BTCUSDT"
        assert s.get_instruments_info(category="linear")["result"]["list"] == []
        assert _coins(s) == {"USDT": 10_000.0}  # the config's initial_equity
    # An inverse instrument counts whole contracts: probe_plain's 0.001 step cannot be one.
    proc = subprocess.run([sys.executable, "-m", "sim", "emulator", "tests/fixtures/emulator/probe_plain.yaml",
                           "--port", "0", "--category", "inverse"], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 2 and "instrument.qty_step" in proc.stderr, proc.stderr


@pytest.mark.parametrize("balances", ["{BTC: -1}", "{BTC: lots}", "{USDT: .nan}", "[100]"])
def test_bad_balances_are_exit_2_naming_the_key(tmp_path: Path, balances: str) -> None:
    line = _bad_block(tmp_path, f"emulator: {{category: spot, balances: {balances}}}")
    assert "emulator.balances" in line


# -- the inverse arithmetic -------------------------------------------------------------------

INV = contract_for("inverse", "BTCUSD", Decimal("0.5"), Decimal(1))
prices = st.integers(20_000, 200_000).map(lambda n: n / 2)  # multiples of the 0.5 tick
contracts = st.integers(1, 100_000).map(float)


@given(side=st.sampled_from([1, -1]), entry=prices, exit_=prices, qty=contracts)
def test_inverse_round_trip_pnl_is_contracts_times_inverse_price_difference(
        side: int, entry: float, exit_: float, qty: float) -> None:
    opened = INV.fill(0.0, 0.0, side, entry, qty)
    assert (opened.size, opened.entry, opened.closed, opened.pnl) == (side * qty, entry, 0.0, 0.0)
    closed = INV.fill(opened.size, opened.entry, -side, exit_, qty)
    assert (closed.size, closed.closed) == (0.0, qty)
    assert closed.pnl == pytest.approx(side * qty * (1 / entry - 1 / exit_), rel=1e-12, abs=1e-18)


@given(p1=prices, p2=prices, p3=prices, p4=prices, q1=contracts, q2=contracts, cut=st.floats(0.01, 0.99),
       extra=contracts)
def test_inverse_entry_is_inverse_averaged_and_kept_by_a_partial_close(
        p1: float, p2: float, p3: float, p4: float, q1: float, q2: float, cut: float, extra: float) -> None:
    a = INV.fill(0.0, 0.0, 1, p1, q1)
    b = INV.fill(a.size, a.entry, 1, p2, q2)
    assert b.size == q1 + q2
    assert b.entry == pytest.approx((q1 + q2) / (q1 / p1 + q2 / p2), rel=1e-12)
    part = max(1.0, min(b.size - 1, float(int(b.size * cut))))
    if part < b.size:  # a partial close keeps the entry and realises at it
        c = INV.fill(b.size, b.entry, -1, p3, part)
        assert (c.size, c.entry, c.closed) == (b.size - part, b.entry, part)
        assert c.pnl == pytest.approx(part * (1 / b.entry - 1 / p3), rel=1e-12, abs=1e-18)
        b = c
    flip = INV.fill(b.size, b.entry, -1, p4, b.size + extra)  # past flat: short `extra` opened at p4
    assert (flip.size, flip.entry, flip.closed) == (-extra, p4, b.size)
    assert flip.pnl == pytest.approx(b.size * (1 / b.entry - 1 / p4), rel=1e-12, abs=1e-18)
    assert INV.position_value(abs(flip.size), flip.entry) == pytest.approx(extra / p4, rel=1e-12)


def test_inverse_funding_and_kline_turnover_are_in_btc() -> None:
    assert INV.funding(100.0, 50_000.0, 0.0001) == pytest.approx(100 / 50_000 * 0.0001, rel=1e-15)
    assert INV.funding(-100.0, 50_000.0, 0.0001) < 0  # a short receives a positive rate
    # Bar data: turnover = volume / ohlc4, the BTC value of the bar's contracts at its typical price.
    assert INV.kline_turnover(60_000.0, 62_000.0, 58_000.0, 60_000.0, 1_200_000.0) == "20.0"
    linear = contract_for("linear", "BTCUSDT", Decimal("0.1"), Decimal("0.001"))
    assert linear.kline_turnover(60_000.0, 62_000.0, 58_000.0, 60_000.0, 20.0) == "0"  # as before


# -- a spot order cancelled after a partial fill (in process) ---------------------------------

def test_a_partly_filled_spot_order_cancelled_ends_partially_filled_canceled() -> None:
    from adapters.emulator import queries
    from adapters.emulator.exchange import EmulatedExchange
    from sim.core.events import from_engine
    from sim.scenario.manifest import load_scenario

    ex = EmulatedExchange(load_scenario(str(REPO / SPOT)), category="spot", balances={"USDT": 1000.0})
    ex.advance(ex.start_ns + 60 * 10**9)
    r, _ = ex.create_order({"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                            "qty": "0.01", "price": "50000"})
    o = ex.orders[r["orderId"]]
    assert ex.wallet_balance()["coin"][0]["locked"] == "500.0"  # 0.01 x 50000 USDT held by the open buy
    # The touch fill model fills whole orders; a thinner book would fill part: 0.004 as maker.
    # The probe's maker rate is -1 bp, so by Bybit's spot rule a maker buy's rebate is in USDT.
    rebate = 50_000.0 * 0.004 * -0.0001
    raw = ("fill", ex.market_ns, 0, 0, (o.engine_id, 1, 50_000.0, 0.004, rebate, True, 50_001.0))
    ex._on_engine_event(from_engine(raw, ex.feed._order_ids))
    assert o.status == "PartiallyFilled"
    ex.cancel_order({"category": "spot", "symbol": "BTCUSDT", "orderId": o.order_id})
    row = queries.order_history(ex, {"category": "spot", "orderId": o.order_id})["list"][0]
    assert (row["orderStatus"], row["cumExecQty"], row["feeCurrency"]) == ("PartiallyFilledCanceled", "0.004", "USDT")
    assert (row["cumFeeDetail"], row["cumExecFee"]) == ({"USDT": "-0.02"}, "-0.02")
    fill = queries.executions(ex, {"category": "spot"})["list"][0]
    assert (fill["feeCurrency"], fill["execFee"], fill["isMaker"]) == ("USDT", "-0.02", True)
    coins = {c["coin"]: c for c in ex.wallet_balance()["coin"]}
    assert (coins["BTC"]["walletBalance"], coins["USDT"]["walletBalance"]) == ("0.004", "800.02")
    assert coins["USDT"]["locked"] == "0"  # the cancel released the rest
