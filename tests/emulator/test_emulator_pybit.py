"""Unmodified pybit against the loopback emulator (`sim emulator`, a real server process): REST
order calls and queries, public and private WebSocket subscriptions, and the documented retCodes
for a bad key, a bad signature, a stale timestamp and a duplicate orderLinkId."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pybit.exceptions import InvalidRequestError

from tests.emulator.emulator_process import KEY, SECRET, emulator, pybit_http, routed_websocket, state

SCENARIO = "amt/entry_breakout_long"


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with emulator(SCENARIO, "--speed", "30") as url:
        yield url


def _wait(pred, timeout: float = 10.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_public_queries(base: str) -> None:
    s = pybit_http(base, None, None)
    now_s = int(s.get_server_time()["result"]["timeSecond"])
    assert abs(now_s - time.time()) < 5
    info = s.get_instruments_info(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert info["priceFilter"]["tickSize"] == "0.1" and info["lotSizeFilter"]["qtyStep"] == "0.001"
    assert s.get_instruments_info(category="inverse")["result"]["list"] == []


def test_websockets_and_the_order_lifecycle(base: str) -> None:
    public = routed_websocket(base.replace("http", "ws"), testnet=True, channel_type="linear")
    private = routed_websocket(base.replace("http", "ws"), testnet=True, channel_type="private", api_key=KEY, api_secret=SECRET)
    books: list[dict] = []
    trades: list[dict] = []
    pushes: dict[str, list[dict]] = {"order": [], "execution": [], "position": [], "wallet": []}
    try:
        public.orderbook_stream(1, "BTCUSDT", lambda m: books.append(m))
        public.trade_stream("BTCUSDT", lambda m: trades.append(m))
        _wait(lambda: private.auth)
        private.order_stream(lambda m: pushes["order"].extend(m["data"]))
        private.execution_stream(lambda m: pushes["execution"].extend(m["data"]))
        private.position_stream(lambda m: pushes["position"].extend(m["data"]))
        private.wallet_stream(lambda m: pushes["wallet"].extend(m["data"]))
        _wait(lambda: len(trades) > 5 and len(books) > 5)
        assert trades[0]["topic"] == "publicTrade.BTCUSDT" and trades[0]["data"][0]["S"] in ("Buy", "Sell")
        assert books[-1]["data"]["b"] and books[-1]["data"]["a"]

        s = pybit_http(base)
        bid = float(books[-1]["data"]["b"][0][0])
        # A market buy fills; a far limit rests, is amended, then cancelled.
        s.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.010",
                      orderLinkId="t-mkt-1")
        _wait(lambda: any(e["orderLinkId"] == "t-mkt-1" for e in pushes["execution"]))
        far = f"{round(bid * 0.9, 1):.1f}"
        r = s.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.005",
                          price=far, orderLinkId="t-lim-1")
        oid = r["result"]["orderId"]
        open_orders = s.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"]
        assert [o["orderLinkId"] for o in open_orders] == ["t-lim-1"] and open_orders[0]["price"] == far
        lower = f"{round(bid * 0.8, 1):.1f}"
        s.amend_order(category="linear", symbol="BTCUSDT", orderLinkId="t-lim-1", price=lower)
        assert s.get_open_orders(category="linear", orderId=oid)["result"]["list"][0]["price"] == lower
        s.cancel_order(category="linear", symbol="BTCUSDT", orderId=oid)
        hist = s.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"]
        assert {o["orderLinkId"]: o["orderStatus"] for o in hist} == {"t-lim-1": "Cancelled", "t-mkt-1": "Filled"}
        with pytest.raises(InvalidRequestError) as gone:
            s.cancel_order(category="linear", symbol="BTCUSDT", orderId=oid)
        assert gone.value.status_code == 110001

        pos = s.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
        assert (pos["side"], pos["size"]) == ("Buy", "0.01")
        ex = s.get_executions(category="linear", symbol="BTCUSDT")["result"]["list"]
        assert [e["orderLinkId"] for e in ex] == ["t-mkt-1"] and ex[0]["execQty"] == "0.01"
        wallet = s.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
        assert float(wallet["totalWalletBalance"]) == pytest.approx(10_000 - float(ex[0]["execFee"]))
        fee = s.get_fee_rates(category="linear", symbol="BTCUSDT")["result"]["list"][0]
        assert (fee["takerFeeRate"], fee["makerFeeRate"]) == ("0.0005", "-0.0001")

        _wait(lambda: any(o["orderStatus"] == "Cancelled" for o in pushes["order"]))
        statuses = [(o["orderLinkId"], o["orderStatus"]) for o in pushes["order"]]
        assert ("t-mkt-1", "New") in statuses and ("t-mkt-1", "Filled") in statuses
        assert statuses.index(("t-lim-1", "New")) < statuses.index(("t-lim-1", "Cancelled"))
        assert pushes["position"][-1]["size"] == "0.01" and pushes["wallet"]
        assert state(base)["position"]["size"] == "0.01"
    finally:
        public.exit()
        private.exit()


def test_duplicate_order_link_id_is_110072(base: str) -> None:
    s = pybit_http(base)
    s.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.001",
                  orderLinkId="t-dup-1")
    with pytest.raises(InvalidRequestError) as e:
        s.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.001",
                      orderLinkId="t-dup-1")
    assert e.value.status_code == 110072


def test_unknown_key_is_10003_and_bad_signature_10004(base: str) -> None:
    with pytest.raises(InvalidRequestError) as unknown:
        pybit_http(base, "not-a-key", SECRET).get_positions(category="linear", symbol="BTCUSDT")
    assert unknown.value.status_code == 10003
    with pytest.raises(InvalidRequestError) as bad:
        pybit_http(base, KEY, "the-wrong-secret").get_positions(category="linear", symbol="BTCUSDT")
    assert bad.value.status_code == 10004


def test_a_stale_timestamp_is_10002(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import pybit._helpers as helpers

    real = helpers.generate_timestamp
    monkeypatch.setattr(helpers, "generate_timestamp", lambda: real() - 60_000)  # the client's clock is a minute slow
    with pytest.raises(InvalidRequestError) as e:
        pybit_http(base).get_wallet_balance(accountType="UNIFIED")
    assert e.value.status_code == 10002


def test_private_websocket_refuses_a_bad_signature(base: str) -> None:
    ws = routed_websocket(base.replace("http", "ws"), testnet=True, channel_type="private", api_key=KEY,
                 api_secret="the-wrong-secret")
    try:
        time.sleep(0.5)
        assert not ws.auth and ws.exited  # pybit closes the socket for good on a failed auth
    finally:
        ws.exit()
