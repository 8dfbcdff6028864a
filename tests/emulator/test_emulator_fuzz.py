"""Property tests of the emulator's input handling against a real emulator process: for every
REST endpoint it serves, random parameters and bodies (random types; numbers with NaN, infinities
and huge values; strings; arrays; invalid UTF-8) are answered HTTP 200 with a Bybit retCode and
never through the catch-all (10016), and a valid signed request is answered afterwards; random
WebSocket frames get a reply on a connection that stays usable.

Budget: a few hundred requests over loopback; the file runs in well under 60 s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.emulator.emulator_process import emulator
from tests.emulator.emulator_raw import call, healthy

SCENARIO = "amt/entry_breakout_long"

GET_PATHS = ["/v5/market/time", "/v5/market/instruments-info", "/v5/market/tickers", "/v5/market/orderbook",
             "/v5/market/recent-trade", "/v5/market/kline", "/v5/market/funding/history", "/v5/order/realtime",
             "/v5/order/history", "/v5/execution/list", "/v5/position/list", "/v5/account/wallet-balance",
             "/v5/account/fee-rate", "/v5/account/info"]
POST_PATHS = ["/v5/order/create", "/v5/order/amend", "/v5/order/cancel", "/v5/order/cancel-all",
              "/v5/position/set-leverage"]

#: Every parameter name an endpoint reads, plus a few it does not.
KEYS = ["category", "symbol", "side", "orderType", "qty", "price", "orderId", "orderLinkId", "timeInForce",
        "reduceOnly", "positionIdx", "marketUnit", "limit", "startTime", "endTime", "execType", "openOnly",
        "interval", "coin", "accountType", "cursor", "x"]

NUMBER_TEXT = st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "-0", "0",
                               "0.001", "0.01", "1000", "1000.05", "62000.1", "1190.001", "500.001", "83.001",
                               "9" * 70, "0x10", "1_000", " 1", "", "1e", "--1"])
CATEGORY = st.sampled_from(["linear", "spot", "inverse", "option", "LINEAR", ""])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**18, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), NUMBER_TEXT, CATEGORY,
    st.sampled_from(["BTCUSDT", "Buy", "Sell", "Limit", "Market", "GTC", "PostOnly", "baseCoin", "quoteCoin", "1"]),
    st.text(max_size=40),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
params = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), json_values, max_size=8)
#: Mostly well-formed orders with one or two fields swapped for random values, so the checks past
#: the first (bounds, link ids, amend targets) are reached too.
near_orders = st.fixed_dictionaries(
    {"category": st.just("linear"), "symbol": st.just("BTCUSDT"), "side": st.sampled_from(["Buy", "Sell"]),
     "orderType": st.sampled_from(["Limit", "Market"]), "qty": NUMBER_TEXT, "price": NUMBER_TEXT},
    optional={"orderLinkId": st.one_of(st.text(max_size=40), json_values), "reduceOnly": json_values,
              "timeInForce": json_values, "positionIdx": json_values, "orderId": json_values},
)


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity become the JSON tokens Python accepts


bodies = st.one_of(
    params.map(_body), near_orders.map(_body), json_values.map(_body),
    st.binary(max_size=64),  # mostly invalid UTF-8, sometimes not JSON
    st.builds(lambda d, junk: _body(d)[:-1] + junk, near_orders, st.binary(min_size=1, max_size=4)),
)


def _query(p: dict[str, Any]) -> str:
    # Values travel as text; everything is percent-escaped, so the bytes signed are the bytes sent.
    return "&".join(f"{quote(str(k), safe='')}={quote(v if isinstance(v, str) else json.dumps(v), safe='')}"
                    for k, v in p.items())


queries = st.one_of(
    params.map(_query),
    st.fixed_dictionaries({"category": CATEGORY}, optional={
        "symbol": st.just("BTCUSDT"), "limit": NUMBER_TEXT | st.integers().map(str), "interval": NUMBER_TEXT,
        "startTime": NUMBER_TEXT, "endTime": NUMBER_TEXT, "openOnly": NUMBER_TEXT}).map(_query),
)

FUZZ = settings(max_examples=250, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with emulator(SCENARIO, "--start", "now", "--rate-limit-scale", "1000") as url:
        yield url


def _answered(status: int, answer: Any) -> None:
    assert status == 200, (status, answer)
    assert isinstance(answer, dict) and isinstance(answer["retCode"], int), answer
    assert answer["retCode"] != 10016, answer  # validation, not the catch-all, must have answered


@FUZZ
@given(path=st.sampled_from(GET_PATHS), query=queries)
def test_random_queries_never_reach_the_catch_all(base: str, path: str, query: str) -> None:
    _answered(*call(base, "GET", path, query))


@FUZZ
@given(path=st.sampled_from(POST_PATHS), body=bodies)
def test_random_bodies_never_reach_the_catch_all(base: str, path: str, body: bytes) -> None:
    _answered(*call(base, "POST", path, body=body))


def test_the_server_answers_valid_requests_after_the_fuzzing(base: str) -> None:
    # Module order runs this after the property tests above; healthy() also asserts that the
    # emulator logged no internal error during any of them.
    healthy(base)


ws_frames = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries({"op": st.sampled_from(["subscribe", "unsubscribe", "ping", "auth"]) | json_values},
                          optional={"args": json_values, "req_id": json_values}).map(json.dumps),
    st.text(max_size=40),
    st.binary(max_size=40),
)


@settings(max_examples=120, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(ws_frames, min_size=1, max_size=5), path=st.sampled_from(["/v5/public/linear", "/v5/private"]))
def test_random_websocket_frames_are_answered_and_the_connection_lives_on(base: str, frames: list, path: str) -> None:
    ws = websocket.create_connection(base.replace("http", "ws") + path, timeout=10)
    try:
        for frame in frames:
            if isinstance(frame, bytes):
                ws.send_binary(frame)
            else:
                ws.send(frame)
        ws.send('{"op": "ping", "req_id": "fuzz-end-7f3a"}')
        replies = []
        while True:
            msg = json.loads(ws.recv())
            if "topic" in msg:
                continue  # market data of a subscription a random frame made
            replies.append(msg)
            if msg.get("req_id") == "fuzz-end-7f3a" and (msg.get("op") == "pong" or msg.get("ret_msg") == "pong"):
                break
        assert len(replies) == len(frames) + 1, replies  # one reply per frame, then the pong
        assert all(r.get("ret_msg") != "error:internal error" for r in replies), replies
    finally:
        ws.close()
