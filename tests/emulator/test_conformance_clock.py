"""One clock: every timestamp the emulator serves — server time, response envelopes, orders,
executions, stream messages, the ticker's next funding time, klines — lies on one timeline, venue
time, that a client signing with its own clock lives with (docs/DECISIONS.md ("Emulator clock")).

- `--speed 1` (wall timeline, the default): venue time is the client's own clock, so "executions
  since T" with T read from the client's clock finds the fills, and nothing is stamped in its future.
- `--speed 30`: venue time starts at the client's clock and runs 30x; requests signed with the
  client's clock and requests signed with the server's time are both accepted.
- `--clock scenario`: the timeline is the scenario's own time.

Bybit's rules checked: docs/v5/market/time.mdx (server time), docs/v5/intro.mdx (the
`time` of every response; the signing window `timestamp - recv_window <= server_time <
timestamp + 1000`), docs/v5/order/execution.mdx (startTime/endTime filter execTime),
docs/v5/market/tickers.mdx (nextFundingTime), docs/v5/websocket/private/order.mdx (creationTime)."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import time
import urllib.request
from typing import Any

import pytest

from adapters.emulator.clock import MINUTE_MS
from tests.emulator.conformance_helpers import INVERSE, PLAIN, SPOT, await_order_pushes, order_row, wait
from tests.emulator.emulator_process import KEY, SECRET, emulator, pybit_http, routed_websocket, state

L = {"category": "linear", "symbol": "BTCUSDT"}
SCENARIO_START_MS = 1_709_251_200_000  # probe_plain's window start, 2024-03-01T00:00:00Z
#: Scheduling slack between the emulator's replay task and this process (the suite shares 2 cores).
SLACK_MS = 1_500


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _server_ms(s: Any) -> int:
    return int(s.get_server_time()["result"]["timeNano"]) // 1_000_000


def _private_pushes(s: Any, base: str) -> tuple[Any, list[dict[str, Any]]]:
    """A private WebSocket subscribed to execution and order pushes, live, with the pushes kept."""
    got: list[dict[str, Any]] = []
    ws = routed_websocket(base.replace("http", "ws"), testnet=True, channel_type="private", api_key=KEY,
                          api_secret=SECRET)
    wait(lambda: ws.auth)
    ws.execution_stream(callback=got.append)
    ws.order_stream(callback=got.append)
    await_order_pushes(s, lambda: any(m["topic"] == "order" for m in got), "clk")
    return ws, got


def _trade_once(s: Any, link: str) -> dict[str, Any]:
    s.place_order(**L, side="Buy", orderType="Market", qty="0.01", orderLinkId=link)
    return order_row(s, "linear", link)


def _close(s: Any, link: str) -> None:
    s.place_order(**L, side="Sell", orderType="Market", qty="0.01", orderLinkId=link, reduceOnly=True)
    order_row(s, "linear", link)


@pytest.fixture(scope="module")
def at_speed_one() -> Any:
    with emulator(PLAIN, "--start", "now", "--speed", "1") as base:
        wait(lambda: state(base)["venue_ms"] >= _now_ms() - SLACK_MS)  # caught up with the wall clock
        yield base


def test_at_speed_one_server_time_is_the_clients_clock(at_speed_one: str) -> None:
    """market/time.mdx: timeSecond/timeNano; intro.mdx: every response's `time`. Venue time at
    speed 1 is the client's clock to within scheduling slack, and it runs with it."""
    s = pybit_http(at_speed_one)
    before = _now_ms()
    server = _server_ms(s)
    after = _now_ms()
    assert before - SLACK_MS <= server <= after + 50
    resp = s.get_tickers(**L)
    assert before - SLACK_MS <= resp["time"] <= _now_ms() + 50
    time.sleep(1.0)
    assert _server_ms(s) - server == pytest.approx(1000, abs=SLACK_MS)


def test_at_speed_one_orders_executions_and_pushes_are_on_the_clients_clock(at_speed_one: str) -> None:
    """order/execution.mdx: startTime filters execTime — "executions since T" with T from the
    client's own clock returns the fill; order/open-order.mdx createdTime/updatedTime and the
    private pushes' creationTime are on the same timeline, never after the server's time."""
    s = pybit_http(at_speed_one)
    ws, pushes = _private_pushes(s, at_speed_one)
    try:
        t0 = _now_ms()
        row = _trade_once(s, "clk-1")
        server = _server_ms(s)
        assert t0 - SLACK_MS <= int(row["createdTime"]) <= int(row["updatedTime"]) <= server
        fills = s.get_executions(**L, startTime=t0)["result"]["list"]
        assert [f["orderLinkId"] for f in fills] == ["clk-1"]
        assert t0 - SLACK_MS <= int(fills[0]["execTime"]) <= server
        assert s.get_executions(**L, startTime=server + 1)["result"]["list"] == []
        mine = wait(lambda: [m for m in pushes if m["topic"] == "execution"
                             and any(d.get("orderLinkId") == "clk-1" for d in m["data"])])
        for m in mine + [m for m in pushes if m["topic"] == "order" and m["data"][0]["orderLinkId"] == "clk-1"]:
            assert t0 - SLACK_MS <= m["creationTime"] <= server, m
    finally:
        ws.exit()
        _close(s, "clk-1-close")


def test_at_speed_one_market_data_and_funding_share_the_timeline(at_speed_one: str) -> None:
    """market/recent-trade.mdx (time), market/kline.mdx (start), market/tickers.mdx
    (nextFundingTime in the future), market/history-fund-rate.mdx (fundingRateTimestamp in the
    past): all on venue time; the offset from the scenario's time is whole minutes, so a
    one-minute kline starts on a minute."""
    s = pybit_http(at_speed_one)
    server = _server_ms(s)
    trades = s.get_public_trade_history(**L, limit=5)["result"]["list"]
    assert trades and all(server - 120_000 <= int(t["time"]) <= server for t in trades)
    klines = s.get_kline(**L, interval="1", limit=3)["result"]["list"]
    for k in klines:
        assert int(k[0]) % MINUTE_MS == 0 and int(k[0]) <= server
    ticker = s.get_tickers(**L)["result"]["list"][0]
    assert int(ticker["nextFundingTime"]) > server
    history = s.get_funding_rate_history(**L, limit=3)["result"]["list"]
    assert history and all(int(h["fundingRateTimestamp"]) <= server for h in history)
    clock = state(at_speed_one)["clock"]
    assert clock["mode"] == "wall" and clock["offset_ms"] % MINUTE_MS == 0 and clock["offset_ms"] > 0


def test_at_speed_one_public_stream_messages_are_on_the_clients_clock(at_speed_one: str) -> None:
    """websocket/public/trade.mdx (`ts`, `T`), websocket/public/orderbook.mdx (`ts`)."""
    got: queue.Queue[dict[str, Any]] = queue.Queue()
    ws = routed_websocket(at_speed_one.replace("http", "ws"), testnet=True, channel_type="linear")
    try:
        ws.orderbook_stream(1, "BTCUSDT", got.put)
        msg = got.get(timeout=10)
        now = _now_ms()
        assert now - 3_000 - SLACK_MS <= msg["ts"] <= now + 50
    finally:
        ws.exit()


def _signed_get(base: str, path: str, query: str, timestamp_ms: int) -> dict[str, Any]:
    """A private GET signed with the timestamp given (what a client syncing to server time sends)."""
    ts, window = str(timestamp_ms), "5000"
    sign = hmac.new(SECRET.encode(), f"{ts}{KEY}{window}{query}".encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{base}{path}?{query}", headers={
        "X-BAPI-API-KEY": KEY, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": window, "X-BAPI-SIGN": sign})
    return json.loads(urllib.request.urlopen(req, timeout=5).read())


def test_at_speed_thirty_venue_time_runs_faster_and_both_clocks_sign() -> None:
    """At 30x, venue time starts at the client's clock and runs 30 times as fast; every served
    timestamp follows it (executions since T, with T read from server time, find the fill;
    nextFundingTime stays ahead of server time). A request signed with the client's own clock is
    accepted (pybit), and so is one signed with the server's time; one signed an hour off is
    refused with 10002 (intro.mdx, error.mdx)."""
    with emulator(PLAIN, "--start", "now", "--speed", "30") as base:
        s = pybit_http(base)
        wait(lambda: state(base)["venue_ms"] >= _now_ms() - SLACK_MS)
        w0, v0 = _now_ms(), _server_ms(s)
        time.sleep(1.0)
        w1, v1 = _now_ms(), _server_ms(s)
        assert (v1 - v0) / (w1 - w0) == pytest.approx(30, rel=0.35)
        t = _server_ms(s)
        row = _trade_once(s, "fast-1")
        assert int(row["createdTime"]) >= t
        fills = s.get_executions(**L, startTime=t)["result"]["list"]
        assert [f["orderLinkId"] for f in fills] == ["fast-1"]
        assert int(fills[0]["execTime"]) <= _server_ms(s)
        assert int(s.get_tickers(**L)["result"]["list"][0]["nextFundingTime"]) > _server_ms(s)
        query = "category=linear&symbol=BTCUSDT"
        assert _signed_get(base, "/v5/position/list", query, _now_ms())["retCode"] == 0
        assert _signed_get(base, "/v5/position/list", query, _server_ms(s))["retCode"] == 0
        assert _signed_get(base, "/v5/position/list", query, _now_ms() - 3_600_000)["retCode"] == 10002


def test_the_scenario_clock_serves_the_scenarios_own_times() -> None:
    """`--clock scenario`: server time, orders and executions are the scenario's times (2024),
    while requests are still signed with the client's own clock."""
    with emulator(PLAIN, "--start", "now", "--speed", "2", "--clock", "scenario") as base:
        s = pybit_http(base)
        wait(lambda: state(base)["market_ms"] > SCENARIO_START_MS)
        server = _server_ms(s)
        assert SCENARIO_START_MS <= server < SCENARIO_START_MS + 16 * MINUTE_MS
        row = _trade_once(s, "scn-1")
        assert SCENARIO_START_MS <= int(row["createdTime"]) <= _server_ms(s)
        fills = s.get_executions(**L, startTime=server)["result"]["list"]
        assert [f["orderLinkId"] for f in fills] == ["scn-1"]
        assert state(base)["clock"] == {"mode": "scenario", "offset_ms": 0}


#: One order per category, and the symbol it trades (probe fixtures: linear BTCUSDT, inverse BTCUSD
#: in 1-USD contracts, spot BTCUSDT with a market Buy sized in BTC by `marketUnit`).
CATEGORIES = {
    "linear": (PLAIN, "BTCUSDT", {"qty": "0.01"}),
    "inverse": (INVERSE, "BTCUSD", {"qty": "100"}),
    "spot": (SPOT, "BTCUSDT", {"qty": "0.01", "marketUnit": "baseCoin"}),
}


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_category_serves_one_timeline_at_speed_one(category: str) -> None:
    """market/time.mdx, order/open-order.mdx (createdTime), order/execution.mdx (startTime filters
    execTime), market/recent-trade.mdx (time), for linear, inverse and spot: at `--speed 1`
    server time is the client's clock, and an order's times, its execution and the market's last
    prints lie between the client's T and server time."""
    scenario, symbol, size = CATEGORIES[category]
    with emulator(scenario, "--start", "now", "--speed", "1") as base:
        s = pybit_http(base)
        wait(lambda: state(base)["venue_ms"] >= _now_ms() - SLACK_MS)
        t0 = _now_ms()
        assert t0 - SLACK_MS <= _server_ms(s) <= _now_ms() + 50
        s.place_order(category=category, symbol=symbol, side="Buy", orderType="Market", orderLinkId="cat-1", **size)
        row = order_row(s, category, "cat-1")
        server = _server_ms(s)
        assert row["orderStatus"] == "Filled" and t0 - SLACK_MS <= int(row["createdTime"]) <= server
        fills = s.get_executions(category=category, symbol=symbol, startTime=t0)["result"]["list"]
        assert [f["orderLinkId"] for f in fills] == ["cat-1"] and t0 - SLACK_MS <= int(fills[0]["execTime"]) <= server
        prints = s.get_public_trade_history(category=category, symbol=symbol, limit=5)["result"]["list"]
        assert prints and all(server - 120_000 <= int(p["time"]) <= server for p in prints)
