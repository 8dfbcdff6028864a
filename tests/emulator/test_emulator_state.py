"""`sim emulator ... --state FILE`: a restarted venue keeps the account it had. Real emulator
processes are stopped and started again on the same FILE and driven by unmodified pybit (and the
Bybit adapter's reconcile); what a client reads before the restart it reads after it, and an
open order is still in the matching engine. Bybit's documentation has no restart to cite: what is
checked is that every query page (docs/v5/order/open-order.mdx, order-list.mdx, execution.mdx,
position/position.mdx, account/wallet-balance.mdx) answers after a restart as before it
(docs/DECISIONS.md ("Emulator state across restarts"))."""

from __future__ import annotations

import gc
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from adapters.bybit.adapter import BybitAdapter, BybitSettings
from adapters.protocol import OrderRequest
from sim.market.live_feed import LiveFeed
from tests.emulator.conformance_helpers import INVERSE, PLAIN, SPOT, book, order_row, set_position, wait
from tests.emulator.emulator_process import KEY, REPO, SECRET, emulator, pybit_http, state

L = {"category": "linear", "symbol": "BTCUSDT"}
#: The probe market's bid stays above this for its first six minutes and is below it by minute
#: 7.5 (tests/fixtures/emulator/probe_plain.yaml, seed 12): a buy resting here fills after a
#: restart that fast-forwards past minute 8, and not before it.
LOW_BUY = "61982.0"
PAST_THE_DIP = "2024-03-01T00:08:00Z"


def _start(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(base + "/emulator/start", method="POST"), timeout=5).read()


def _port(base: str) -> str:
    return base.rsplit(":", 1)[1]


def _account(s: Any, category: str = "linear", symbol: str = "BTCUSDT") -> dict[str, Any]:
    """What a client reads of its account through the query pages (fields that move with the
    mark left out)."""
    q = {"category": category, "symbol": symbol}
    out: dict[str, Any] = {
        "open": s.get_open_orders(**q)["result"]["list"],
        "history": s.get_order_history(**q, limit=50)["result"]["list"],
        "executions": s.get_executions(**q, limit=100)["result"]["list"],
        "wallet": {c["coin"]: (c["walletBalance"], c["locked"])
                   for c in s.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]},
    }
    if category != "spot":
        p = s.get_positions(**q)["result"]["list"][0]
        out["position"] = {k: p[k] for k in ("side", "size", "avgPrice", "leverage", "curRealisedPnl",
                                              "cumRealisedPnl", "updatedTime", "seq")}
    return out


def test_a_restart_on_the_same_state_file_keeps_the_account_and_an_open_order_still_fills(tmp_path: Path) -> None:
    """Open orders, order history, executions, the position (with its leverage) and the wallet
    read the same after the venue restarts with the same --state FILE; market time resumes where
    it was; the resting order is back in the matching engine and fills when the market reaches it."""
    f = tmp_path / "venue.json"
    with emulator(PLAIN, "--start", "now", "--speed", "2", "--state", str(f)) as base:
        s = pybit_http(base)
        bid, _, _ = book(s, "linear", "BTCUSDT")
        s.set_leverage(**L, buyLeverage="5", sellLeverage="5")
        set_position(s, "linear", "BTCUSDT", 0.01, "st-open")
        s.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=f"{bid - 100:.1f}", orderLinkId="st-gone")
        s.cancel_order(**L, orderLinkId="st-gone")
        s.place_order(**L, side="Buy", orderType="Limit", qty="0.010", price=LOW_BUY, timeInForce="PostOnly",
                      orderLinkId="st-rest")
        assert order_row(s, "linear", "st-rest", final=False)["orderStatus"] == "New"
        before = _account(s)
        market_ns = state(base)["market_ns"]
    assert [o["orderLinkId"] for o in before["open"]] == ["st-rest"]
    assert json.loads(f.read_text())["market_ns"] >= market_ns  # saved on the clean stop
    with emulator(PLAIN, "--fast-until", PAST_THE_DIP, "--state", str(f)) as base:
        s = pybit_http(base)
        assert _account(s) == before
        assert state(base)["market_ns"] >= market_ns
        _start(base)
        filled = order_row(s, "linear", "st-rest")
        assert filled["orderStatus"] == "Filled"
        [fill] = s.get_executions(**L, orderLinkId="st-rest")["result"]["list"]
        assert int(fill["execTime"]) > max(int(e["execTime"]) for e in before["executions"])
        assert fill["isMaker"] is True
        p = s.get_positions(**L)["result"]["list"][0]
        assert (p["size"], p["leverage"]) == ("0.02", "5")


def test_a_spot_restart_keeps_the_coins_and_the_funds_an_open_order_holds(tmp_path: Path) -> None:
    """Spot has no position: the wallet's coins and what the open sell order locks
    (account/wallet-balance.mdx `locked`) survive the restart, with the orders and fills."""
    f = tmp_path / "spot.json"
    q = {"category": "spot", "symbol": "BTCUSDT"}
    with emulator(SPOT, "--start", "now", "--speed", "2", "--state", str(f)) as base:
        s = pybit_http(base)
        _, ask, _ = book(s, "spot", "BTCUSDT")
        s.place_order(**q, side="Buy", orderType="Market", qty="0.010", marketUnit="baseCoin", orderLinkId="sp-buy")
        order_row(s, "spot", "sp-buy")
        s.place_order(**q, side="Sell", orderType="Limit", qty="0.005", price=f"{ask + 200:.1f}",
                      orderLinkId="sp-rest")
        order_row(s, "spot", "sp-rest", final=False)
        before = _account(s, "spot")
    assert before["wallet"]["BTC"][1] == "0.005"
    with emulator(SPOT, "--state", str(f)) as base:
        assert _account(pybit_http(base), "spot") == before


def test_the_adapter_reconciles_against_the_restarted_venue_and_finds_its_state(tmp_path: Path) -> None:
    """The Bybit adapter's reconnect path (`BybitAdapter.reconcile`: executions, open orders,
    then the position check) against a venue restarted on the same port and FILE finds the
    position it traded and its resting order, does not halt, and takes that order's fill."""
    f = tmp_path / "venue.json"
    feed = LiveFeed(start_ns=0, tick_size=0.1, taker_fee_bps=5, maker_fee_bps=-1, features=None)
    with emulator(PLAIN, "--start", "now", "--speed", "2", "--state", str(f)) as base:
        port = _port(base)
        settings = BybitSettings(network="testnet", symbol="BTCUSDT", api_key=KEY, api_secret=SECRET,
                                 link_prefix="r", rest_base=base, ws_base=base.replace("http", "ws"))
        a = BybitAdapter(settings, feed, schedule=lambda e: None, now_ns=lambda: 1, alert=lambda k, m: None)
        a.connect()
        try:
            book(pybit_http(base), "linear", "BTCUSDT")
            a.submit(OrderRequest("open", 1, "market", 0.01), 1)
            wait(lambda: state(base)["position"]["size"] == "0.01")
            a.reconcile("the fill's push may come before the private stream is subscribed")
            assert a.our_position == 0.01
            a.submit(OrderRequest("rest", 1, "limit", 0.01, float(LOW_BUY), time_in_force="PostOnly"), 1)
            wait(lambda: order_row(pybit_http(base), "linear", "r-rest", final=False)["orderStatus"] == "New")
        except BaseException:
            a.close()
            raise
    # The same scenario, whose replay waits for /emulator/start: the adapter's streams reconnecting
    # on their own must not start it before the first reconcile has looked.
    held = tmp_path / "probe_plain.yaml"
    text = (REPO / PLAIN).read_text()
    assert "emulator: {speed: 60}" in text
    held.write_text(text.replace("emulator: {speed: 60}", "emulator: {speed: 60, start_on_subscribe: false}"))
    try:
        with emulator(held, "--port", port, "--fast-until", PAST_THE_DIP, "--state", str(f)) as base:
            a.reconcile("venue restarted")
            assert (a.halted, a.exchange_position, a.our_position) == (None, 0.01, 0.01)
            _start(base)
            order_row(pybit_http(base), "linear", "r-rest")
            time.sleep(0.2)  # the fill's push, if the private stream is back already
            a.reconcile("after the fill")
            assert (a.halted, a.exchange_position, a.our_position) == (None, 0.02, 0.02)
    finally:
        a.close()
        # The adapter's stream callbacks hold it in a cycle: collect it (and its feed's engine) here,
        # on the thread that made the engine, not in a later collection on another test's thread.
        del a, feed
        gc.collect()


def test_the_clock_offset_and_counters_come_back_from_the_file(tmp_path: Path) -> None:
    """The venue timeline is restored (VenueClock.restore): times served after the restart are
    on the saved offset, and new ids do not repeat old ones. In process: no server needed."""
    from adapters.emulator import queries
    from adapters.emulator.exchange import EmulatedExchange
    from adapters.emulator.state_file import attach
    from sim.scenario.manifest import load_scenario

    sc = load_scenario(PLAIN)
    f = tmp_path / "venue.json"
    ex = EmulatedExchange(sc)
    attach(ex, f)
    ex.advance(ex.start_ns + 60 * 10**9)
    first, _ = ex.create_order({**L, "side": "Buy", "orderType": "Market", "qty": "0.010"})
    ex.advance(ex.market_ns + 10**9)  # the next quote fills it
    saved = json.loads(f.read_text())
    saved["clock_offset_ms"] = 3 * 60_000  # as a wall-clock venue would have anchored it
    f.write_text(json.dumps(saved))
    again = EmulatedExchange(sc)
    attach(again, f)
    assert (again.clock.offset_ms, again.clock.fixed, again.market_ns) == (180_000, True, ex.market_ns)
    second, _ = again.create_order({**L, "side": "Sell", "orderType": "Market", "qty": "0.010"})
    again.advance(again.market_ns + 10**9)
    assert second["orderId"] != first["orderId"]
    rows = queries.order_history(again, {"category": "linear", "symbol": "BTCUSDT"})["list"]
    assert [r["orderId"] for r in rows] == [second["orderId"], first["orderId"]]
    assert int(rows[0]["createdTime"]) == (again.market_ns - 10**9) // 10**6 + 180_000
    assert [p.name for p in tmp_path.iterdir()] == ["venue.json"]  # no temporary file left behind


@pytest.mark.parametrize(("scenario", "category", "symbol", "balances", "qty", "rest_qty"), [
    (PLAIN, "linear", "BTCUSDT", {"USDT": 10_000.0}, "0.010", "0.010"),
    (INVERSE, "inverse", "BTCUSD", {"BTC": 1.0}, "600", "100"),
    (SPOT, "spot", "BTCUSDT", {"USDT": 100_000.0, "BTC": 0.0}, "0.010", "0.005"),
])
def test_each_category_reads_back_exactly_what_it_saved(tmp_path: Path, scenario: str, category: str, symbol: str,
                                                         balances: dict[str, float], qty: str, rest_qty: str) -> None:
    """The whole account a client can query (the control endpoint's view: every order row, the
    position row, the wallet row) is the same after a restore at the same market instant, for
    linear, inverse (coin-margined) and spot (coins and locked funds). In process."""
    from adapters.emulator.exchange import EmulatedExchange
    from adapters.emulator.state_file import attach
    from sim.scenario.manifest import load_scenario

    sc = load_scenario(scenario)
    f = tmp_path / "venue.json"
    ex = EmulatedExchange(sc, category=category, balances=balances)
    attach(ex, f)
    ex.advance(ex.start_ns + 60 * 10**9)
    q = {"category": category, "symbol": symbol}
    extra = {"marketUnit": "baseCoin"} if category == "spot" else {}
    ex.create_order({**q, "side": "Buy", "orderType": "Market", "qty": qty, **extra})
    ex.advance(ex.market_ns + 10**9)
    bid = float(ex.ticker()["bid1Price"])
    ex.create_order({**q, "side": "Sell", "orderType": "Limit", "qty": rest_qty, "price": f"{round(bid) + 100}.0"})
    ex.advance(ex.market_ns + 10**9)
    assert ex.keeper is not None
    ex.keeper.save()  # what a clean stop writes (market time alone is saved at most every 0.25 s)
    again = EmulatedExchange(sc, category=category, balances=balances)
    attach(again, f)
    assert again.state() == ex.state()
    assert [o["orderStatus"] for o in again.state()["orders"]] == ["Filled", "New"]
