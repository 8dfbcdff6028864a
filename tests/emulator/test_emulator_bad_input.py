"""A corpus of malformed input against real emulator processes (linear and spot) and a real live
control server: every case is answered with Bybit's HTTP status and retCode (or the control
server's 4xx), never HTTP 500, and the server still answers a valid request afterwards.

Classes: non-finite and huge numbers, bodies that are not a UTF-8 JSON object, wrong parameter
types, bad query parameters, the instrument's quantity and price bounds on create and amend
(Bybit's Error Codes page: UTA and Spot Trade tables), malformed WebSocket frames on the public
and private streams, and wrong-typed control-server bodies and headers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from sim.live.control import TOKEN_HEADER, ControlServer
from sim.live.session import Answer
from tests.emulator.emulator_process import KEY, SECRET, emulator
from tests.emulator.emulator_raw import call, get, healthy, post

LINEAR = "amt/entry_breakout_long"
SPOT = "tests/fixtures/emulator/probe_spot.yaml"
CREATE, AMEND, CANCEL = "/v5/order/create", "/v5/order/amend", "/v5/order/cancel"
RESTING = "bad-input-resting"  # a far limit buy every amend case addresses


@pytest.fixture(scope="module")
def linear() -> Iterator[str]:
    with emulator(LINEAR, "--start", "now", "--rate-limit-scale", "100") as base:
        status, answer = post(base, CREATE, _order(qty="0.01", price="1000", orderLinkId=RESTING))
        assert (status, answer["retCode"]) == (200, 0), answer
        yield base


@pytest.fixture(scope="module")
def spot() -> Iterator[str]:
    with emulator(SPOT, "--start", "now", "--rate-limit-scale", "100") as base:
        # Spot market orders are valued at the best quote: wait for the first one.
        deadline = time.monotonic() + 20
        while not get(base, "/v5/market/orderbook", "category=spot&symbol=BTCUSDT")[1]["result"]["b"]:
            assert time.monotonic() < deadline, "no quote"
            time.sleep(0.05)
        yield base


def _order(category: str = "linear", **over: Any) -> dict[str, Any]:
    base = {"category": category, "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
            "price": "1000"}
    return {k: v for k, v in {**base, **over}.items() if v is not _DROP}


_DROP = object()


def _amend(**over: Any) -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": RESTING, **over}


def _raw(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


# (id, method, path, query or body, retCode, a fragment of retMsg)
REST_CASES: list[tuple[str, str, str, Any, int, str]] = [
    # -- non-finite and huge numbers -----------------------------------------------------
    ("qty-1e400", "POST", CREATE, _order(qty="1e400"), 10001, "exceeds maximum limit"),
    ("qty-nan", "POST", CREATE, _order(qty="nan"), 10001, "qty invalid"),
    ("qty-inf", "POST", CREATE, _order(qty="inf"), 10001, "qty invalid"),
    ("qty-minus-inf", "POST", CREATE, _order(qty="-Infinity"), 10001, "qty invalid"),
    ("qty-json-nan", "POST", CREATE, _raw('{"category":"linear","symbol":"BTCUSDT","side":"Buy",'
                                          '"orderType":"Limit","qty":NaN,"price":"1000"}'), 10001, "qty invalid"),
    ("qty-json-float-huge", "POST", CREATE, _order(qty=1e308), 10001, "exceeds maximum limit"),
    ("qty-json-int-400-digits", "POST", CREATE, _order(qty=10**400), 10001, "more than 64 characters"),
    ("qty-1e-400", "POST", CREATE, _order(qty="1e-400"), 10001, "exceeds minimum limit"),
    ("qty-hex", "POST", CREATE, _order(qty="0x10"), 10001, "qty invalid"),
    ("price-minus-zero", "POST", CREATE, _order(price="-0"), 10001, "must be positive"),
    ("price-nan", "POST", CREATE, _order(price="nan"), 10001, "price invalid"),
    ("price-1e400", "POST", CREATE, _order(price="1e400"), 110003, "allowable range"),
    ("qty-int-5000-digits", "POST", CREATE, _raw('{"category":"linear","qty":' + "9" * 5000 + "}"), 10001,
     "body is not JSON"),
    # -- bodies that are not a UTF-8 JSON object -----------------------------------------
    ("body-array", "POST", CREATE, _raw("[1, 2, 3]"), 10001, "not list"),
    ("body-string", "POST", CREATE, _raw('"category=linear"'), 10001, "not str"),
    ("body-null", "POST", CANCEL, _raw("null"), 10001, "not NoneType"),
    ("body-invalid-utf8", "POST", CREATE, b'{"category":"linear","symbol":"\xff\xfe"}', 10001, "not valid UTF-8"),
    ("body-truncated", "POST", CREATE, _raw('{"category": "linear",'), 10001, "body is not JSON"),
    ("body-nested-deep", "POST", CREATE, _raw("[" * 100_000), 10001, "body is not JSON"),
    # -- wrong parameter types -----------------------------------------------------------
    ("qty-list", "POST", CREATE, _order(qty=["0.01"]), 10001, "qty must be a decimal string"),
    ("qty-object", "POST", CREATE, _order(qty={"v": 1}), 10001, "qty must be a decimal string"),
    ("qty-bool", "POST", CREATE, _order(qty=True), 10001, "qty must be a decimal string"),
    ("qty-null", "POST", CREATE, _order(qty=None), 10001, "qty is required"),
    ("side-list", "POST", CREATE, _order(side=["Buy"]), 10001, "side must be a string"),
    ("side-lowercase", "POST", CREATE, _order(side="buy"), 10001, "side invalid"),
    ("side-missing", "POST", CREATE, _order(side=_DROP), 10001, "side is required"),
    ("order-type-int", "POST", CREATE, _order(orderType=5), 10001, "orderType must be a string"),
    ("category-list", "POST", CREATE, _order(category=["linear"]), 10001, "category must be a string"),
    ("symbol-object", "POST", CREATE, _order(symbol={}), 10001, "symbol must be a string"),
    ("link-id-list", "POST", CREATE, _order(orderLinkId=["a"]), 10001, "orderLinkId must be a string"),
    ("link-id-bad-chars", "POST", CREATE, _order(orderLinkId="bad id!"), 10001, "orderLinkId invalid"),
    ("link-id-newline", "POST", CREATE, _order(orderLinkId="abc\n"), 10001, "orderLinkId invalid"),
    ("link-id-37-chars", "POST", CREATE, _order(orderLinkId="a" * 37), 10001, "orderLinkId invalid"),
    ("reduce-only-text", "POST", CREATE, _order(reduceOnly="yes"), 10001, "reduceOnly must be a boolean"),
    ("time-in-force-unknown", "POST", CREATE, _order(timeInForce="GTD"), 10001, "timeInForce invalid"),
    ("position-idx-7", "POST", CREATE, _order(positionIdx=7), 10001, "positionIdx 7 is out of range"),
    ("cancel-order-id-list", "POST", CANCEL, {"category": "linear", "symbol": "BTCUSDT", "orderId": [1]}, 10001,
     "orderId must be a string"),
    ("cancel-all-category-number", "POST", "/v5/order/cancel-all", {"category": 1}, 10001,
     "category must be a string"),
    # -- instrument bounds on create (linear: qtyStep 0.001, min 0.001, max 1190 / market 500,
    #    tick 0.1, price [0.1, 1999999.80], minNotionalValue 5) -----------------------------
    ("qty-above-max", "POST", CREATE, _order(qty="1190.001"), 10001, "exceeds maximum limit"),
    ("market-qty-above-max", "POST", CREATE, _order(orderType="Market", qty="500.001", price=_DROP), 10001,
     "exceeds maximum limit"),
    ("qty-below-min", "POST", CREATE, _order(qty="0.0005"), 10001, "exceeds minimum limit"),
    ("qty-off-step", "POST", CREATE, _order(qty="0.0105"), 10001, "not a positive multiple of 0.001"),
    ("qty-zero", "POST", CREATE, _order(qty="0"), 10001, "must be positive"),
    ("price-above-max", "POST", CREATE, _order(price="1999999.9"), 110003, "allowable range"),
    ("price-off-tick", "POST", CREATE, _order(price="1000.05"), 10001, "not a positive multiple of 0.1"),
    ("price-missing", "POST", CREATE, _order(price=_DROP), 10001, "price is required"),
    ("notional-below-min", "POST", CREATE, _order(qty="0.001", price="1000"), 110094, "notional value below"),
    # -- instrument bounds and types on amend --------------------------------------------
    ("amend-qty-1e400", "POST", AMEND, _amend(qty="1e400"), 10001, "exceeds maximum limit"),
    ("amend-price-minus-zero", "POST", AMEND, _amend(price="-0"), 10001, "must be positive"),
    ("amend-price-above-max", "POST", AMEND, _amend(price="2000000"), 110003, "allowable range"),
    ("amend-qty-below-min", "POST", AMEND, _amend(qty="0.0001"), 10001, "exceeds minimum limit"),
    ("amend-qty-list", "POST", AMEND, _amend(qty=[1]), 10001, "qty must be a decimal string"),
    ("amend-nothing", "POST", AMEND, _amend(), 10001, "nothing to amend"),
    ("amend-notional-below-min", "POST", AMEND, _amend(qty="0.001"), 110094, "notional value below"),
    # -- bad query parameters --------------------------------------------------------------
    ("limit-abc", "GET", "/v5/order/realtime", "category=linear&limit=abc", 10001, "limit must be an integer"),
    ("limit-negative", "GET", "/v5/order/realtime", "category=linear&limit=-1", 10001, "out of range [1, 50]"),
    ("limit-huge", "GET", "/v5/order/history", "category=linear&limit=100000", 10001, "out of range [1, 50]"),
    ("limit-zero", "GET", "/v5/execution/list", "category=linear&limit=0", 10001, "out of range [1, 100]"),
    ("limit-20-digits", "GET", "/v5/execution/list", "category=linear&limit=" + "9" * 20, 10001,
     "limit must be an integer"),
    ("start-time-text", "GET", "/v5/execution/list", "category=linear&startTime=yesterday", 10001,
     "startTime must be an integer"),
    ("open-only-x", "GET", "/v5/order/realtime", "category=linear&openOnly=x", 10001, "openOnly must be an integer"),
    ("kline-no-interval", "GET", "/v5/market/kline", "category=linear&symbol=BTCUSDT", 10001,
     "interval is required"),
    ("kline-interval-2", "GET", "/v5/market/kline", "category=linear&symbol=BTCUSDT&interval=2", 10001,
     "interval invalid"),
    ("recent-trade-limit-1001", "GET", "/v5/market/recent-trade", "category=linear&limit=1001", 10001,
     "out of range [1, 1000]"),
    ("funding-limit-201", "GET", "/v5/market/funding/history", "category=linear&symbol=BTCUSDT&limit=201", 10001,
     "out of range [1, 200]"),
    ("funding-end-time-float", "GET", "/v5/market/funding/history", "category=linear&endTime=1e3", 10001,
     "endTime must be an integer"),
    ("orderbook-limit-abc", "GET", "/v5/market/orderbook", "category=linear&symbol=BTCUSDT&limit=abc", 10001,
     "limit must be an integer"),
    ("position-limit-201", "GET", "/v5/position/list", "category=linear&limit=201", 10001, "out of range [1, 200]"),
    ("cursor-made-up", "GET", "/v5/order/realtime", "category=linear&symbol=BTCUSDT&cursor=xyz", 10001,
     "cursor invalid"),
    ("cursor-1e3-chars", "GET", "/v5/execution/list", "category=linear&cursor=" + "a" * 1000, 10001,
     "cursor is longer than"),
    ("list-no-category", "GET", "/v5/order/history", "symbol=BTCUSDT", 10001, "category is required"),
    ("list-category-unknown", "GET", "/v5/execution/list", "category=futures", 10001, "category invalid"),
    ("history-8-days", "GET", "/v5/order/history", "category=linear&startTime=0&endTime=604800001", 10001,
     "cannot exceed 7 days"),
    ("exec-start-after-end", "GET", "/v5/execution/list", "category=linear&startTime=2&endTime=1", 10001,
     "startTime must be smaller than endTime"),
    ("open-only-2", "GET", "/v5/order/realtime", "category=linear&symbol=BTCUSDT&openOnly=2", 10001,
     "out of range [0, 1]"),
]

SPOT_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    # Spot BTCUSDT as served: basePrecision 0.001, maxLimitOrderQty 83, maxMarketOrderQty 41.5,
    # tick 0.1, quotePrecision 0.0001, minOrderAmt 5, maxOrderAmt 8000000.
    ("spot-limit-qty-above-max", _order("spot", qty="83.001", price="1000"), 170381, "Order quantity too large."),
    ("spot-market-qty-above-max", _order("spot", orderType="Market", qty="41.501", price=_DROP,
                                         marketUnit="baseCoin"), 170381, "Order quantity too large."),
    ("spot-qty-below-min", _order("spot", qty="0.0005"), 170136, "Order quantity lower than the minimum."),
    ("spot-qty-decimals", _order("spot", qty="0.0105"), 170137, "Order volume decimal too long"),
    ("spot-price-decimals", _order("spot", price="1000.05"), 170134, "Order price decimal too long."),
    ("spot-price-too-high", _order("spot", price="2000000"), 170132, "Order price too high."),
    ("spot-price-1e400", _order("spot", price="1e400"), 170132, "Order price too high."),
    ("spot-value-below-min", _order("spot", qty="0.001", price="1000"), 170140, "Order value exceeded lower limit."),
    ("spot-quote-amount-decimals", _order("spot", orderType="Market", qty="5.00001", price=_DROP), 170148,
     "Market order amount decimal too long"),
    ("spot-quote-amount-too-large", _order("spot", orderType="Market", qty="8000001", price=_DROP), 170124,
     "Order amount too large."),
    ("spot-market-unit-unknown", _order("spot", orderType="Market", qty="10", price=_DROP, marketUnit="btc"), 10001,
     "params error: marketUnit invalid: 'btc' is not one of baseCoin, quoteCoin"),
]


def _send(base: str, method: str, path: str, payload: Any) -> tuple[int, Any]:
    if method == "GET":
        return get(base, path, payload)
    if isinstance(payload, bytes):
        return call(base, "POST", path, body=payload)
    return post(base, path, payload)


@pytest.mark.parametrize(("method", "path", "payload", "code", "fragment"),
                         [pytest.param(*c[1:], id=c[0]) for c in REST_CASES])
def test_a_malformed_rest_request_is_a_bybit_error(linear: str, method: str, path: str, payload: Any, code: int,
                                                   fragment: str) -> None:
    status, answer = _send(linear, method, path, payload)
    assert status == 200, answer
    assert (answer["retCode"], answer["result"]) == (code, {}), answer
    assert fragment in answer["retMsg"]
    healthy(linear)


@pytest.mark.parametrize(("order", "code", "message"), [pytest.param(*c[1:], id=c[0]) for c in SPOT_CASES])
def test_a_spot_order_outside_the_instrument_bounds_is_refused(spot: str, order: dict, code: int,
                                                               message: str) -> None:
    status, answer = post(spot, CREATE, order)
    assert status == 200
    assert (answer["retCode"], answer["retMsg"]) == (code, message), answer
    healthy(spot, "spot")


def test_the_corpus_cases_differ_from_a_valid_order(linear: str) -> None:
    """The corpus' base order is valid, so each case fails for the one change it makes."""
    status, answer = post(linear, CREATE, _order(qty="0.01", price="1000.1"))
    assert (status, answer["retCode"]) == (200, 0), answer
    status, answer = post(linear, AMEND, _amend(price="1000.2"))
    assert (status, answer["retCode"]) == (200, 0), answer


def test_the_fault_control_endpoint_answers_400_to_a_body_that_is_not_an_object(linear: str) -> None:
    for body in (b"[1]", b"\xff", b'"drop"', b'{"kind": ["drop"]}'):
        status, answer = call(linear, "POST", "/emulator/faults", body=body, signed=False)
        assert status == 400 and "error" in answer, (body, answer)
    healthy(linear)


# -- WebSockets -----------------------------------------------------------------------------

WS_CASES: list[tuple[str, str | bytes, str, str, str]] = [
    # (id, frame, ret_msg fragment, op echoed, req_id echoed)
    ("not-json", "hello", "error:request is not valid JSON", "", ""),
    ("json-array", "[1, 2]", "error:request must be a JSON object, not list", "", ""),
    ("json-number", "42", "error:request must be a JSON object, not int", "", ""),
    ("op-missing", '{"req_id": "r1"}', "error:op is required", "", "r1"),
    ("op-number", '{"op": 5, "req_id": "r2"}', "error:op must be a string", "", "r2"),
    ("op-unknown", '{"op": "frobnicate", "req_id": "r3"}', "error:unsupported op: frobnicate", "frobnicate", "r3"),
    ("req-id-object", '{"op": "ping", "req_id": {"a": 1}}', "error:req_id must be a string", "ping", ""),
    ("args-missing", '{"op": "subscribe", "req_id": "r4"}', "error:args is required", "subscribe", "r4"),
    ("args-string", '{"op": "subscribe", "args": "orderbook.1.BTCUSDT"}', "error:args must be a list", "subscribe",
     ""),
    ("args-number-topic", '{"op": "subscribe", "args": [1]}', "error:every topic in args must be a string",
     "subscribe", ""),
    ("binary-not-utf8", b"\xff\xfe\x00", "error:request is not UTF-8 text", "", ""),
    ("nested-deep", "[" * 100_000, "error:request is not valid JSON", "", ""),
    ("int-5000-digits", '{"op": "ping", "n": ' + "9" * 5000 + "}", "error:request is not valid JSON", "", ""),
]
PUBLIC_WS_CASES = [
    ("topic-unknown", '{"op": "unsubscribe", "args": ["nope.BTCUSDT"], "req_id": "r5"}',
     "error:handler not found,topic:nope.BTCUSDT", "unsubscribe", "r5"),
    ("args-too-long", json.dumps({"op": "subscribe", "args": ["x" * 21_001]}), "error:args longer than 21000",
     "subscribe", ""),
]


def _ws(base: str, path: str) -> websocket.WebSocket:
    return websocket.create_connection(base.replace("http", "ws") + path, timeout=10)


def _reply(ws: websocket.WebSocket, frame: str | bytes) -> dict:
    if isinstance(frame, bytes):
        ws.send_binary(frame)
    else:
        ws.send(frame)
    while True:
        msg = json.loads(ws.recv())
        if "topic" not in msg:  # market data may be interleaved with the reply
            return msg


def _still_answers(ws: websocket.WebSocket) -> None:
    pong = _reply(ws, '{"op": "ping", "req_id": "alive"}')
    assert pong.get("ret_msg") == "pong" or pong.get("op") == "pong", pong


@pytest.mark.parametrize(("path", "frame", "fragment", "op", "req_id"),
                         [pytest.param(path, *c[1:], id=f"{path.rsplit('/', 1)[1]}-{c[0]}")
                          for path in ("/v5/public/linear", "/v5/private") for c in WS_CASES]
                         + [pytest.param("/v5/public/linear", *c[1:], id=f"linear-{c[0]}") for c in PUBLIC_WS_CASES])
def test_a_malformed_websocket_request_is_refused_and_the_connection_lives_on(
        linear: str, path: str, frame: str | bytes, fragment: str, op: str, req_id: str) -> None:
    ws = _ws(linear, path)
    try:
        answer = _reply(ws, frame)
        assert answer["success"] is False and answer["ret_msg"].startswith(fragment), answer
        assert (answer["op"], answer["req_id"]) == (op, req_id) and answer["conn_id"]
        _still_answers(ws)
    finally:
        ws.close()
    healthy(linear)


def test_websocket_refusals_of_auth_and_of_unauthorised_and_oversized_subscriptions(linear: str, spot: str) -> None:
    ws = _ws(linear, "/v5/private")
    try:
        for args in ('"key"', "[1, 2]", '[null, null, null]', '["k", true, "s"]'):
            answer = _reply(ws, '{"op": "auth", "args": %s}' % args)
            assert (answer["op"], answer["success"]) == ("auth", False) and answer["ret_msg"], answer
        answer = _reply(ws, '{"op": "subscribe", "args": ["order"]}')
        assert (answer["success"], answer["ret_msg"]) == (False, "Request not authorized")
        _still_answers(ws)
    finally:
        ws.close()
    ws = _ws(spot, "/v5/public/spot")
    try:
        answer = _reply(ws, json.dumps({"op": "subscribe", "args": ["publicTrade.BTCUSDT"] * 11}))
        assert (answer["success"], answer["ret_msg"], answer["op"]) == (False, "args size >10", "subscribe")
        answer = _reply(ws, json.dumps({"op": "subscribe", "args": ["publicTrade.BTCUSDT"]}))
        assert (answer["success"], answer["ret_msg"]) == (True, "subscribe")
    finally:
        ws.close()
    healthy(spot, "spot")


def test_a_valid_private_session_works_after_malformed_frames(linear: str) -> None:
    """Malformed frames leave the connection usable: auth and subscribe succeed on it."""
    import time

    from adapters.emulator.auth import sign_ws

    ws = _ws(linear, "/v5/private")
    try:
        for frame in ("{", "[]", '{"op": 1}'):
            assert _reply(ws, frame)["success"] is False
        expires = int(time.time() * 1000) + 10_000
        answer = _reply(ws, json.dumps({"op": "auth", "args": [KEY, expires, sign_ws(SECRET, expires)]}))
        assert (answer["op"], answer["success"]) == ("auth", True), answer
        answer = _reply(ws, '{"op": "subscribe", "args": ["order"], "req_id": "ok"}')
        assert (answer["success"], answer["req_id"]) == (True, "ok"), answer
    finally:
        ws.close()


# -- the live session's control server ------------------------------------------------------

TOKEN = "control-token-for-bad-input"


class RecordingSession:
    """The two calls the control server makes of a LiveSession (`status`, `request`), answering
    as the session does and recording every command that reaches it."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def status(self) -> dict:
        return {"mode": "paper", "state": "observing"}

    def request(self, command: str, timeout: float = 10.0, **args: Any) -> Answer:
        with self._lock:
            self.commands.append((command, args))
        return Answer(True, f"{command}: {args}")


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RecordingSession]]:
    session = RecordingSession()
    server = ControlServer(session, TOKEN, "127.0.0.1", 0, Path(tmp_path_factory.mktemp("control")))  # type: ignore[arg-type]
    server.start()
    try:
        yield server.url, session
    finally:
        server.stop()


CONTROL_CASES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    # (id, body, extra headers, status, message fragment)
    ("body-invalid-utf8", b'{"mode": "\xff"}', {}, 400, "body is not UTF-8 JSON"),
    ("body-array", b'["paper"]', {}, 400, "body must be a JSON object, not list"),
    ("body-string", b'"paper"', {}, 400, "body must be a JSON object, not str"),
    ("body-truncated", b'{"mode": ', {}, 400, "body is not UTF-8 JSON"),
    ("body-nested-deep", b"[" * 100_000, {}, 400, "body is not UTF-8 JSON"),
    ("mode-number", b'{"mode": 5}', {}, 422, "mode is required and must be a string"),
    ("mode-list", b'{"mode": ["paper"]}', {}, 422, "mode is required and must be a string"),
    ("mode-null", b'{"mode": null}', {}, 422, "mode is required and must be a string"),
    ("mode-missing", b"{}", {}, 422, "mode is required and must be a string"),
    ("mode-unknown", b'{"mode": "warp"}', {}, 422, "unknown mode 'warp'"),
    ("token-not-ascii", b'{"mode": "paper"}', {TOKEN_HEADER: "t\xe9ken"}, 401, "missing or wrong activation token"),
    ("token-empty", b'{"mode": "paper"}', {TOKEN_HEADER: ""}, 401, "missing or wrong activation token"),
]


@pytest.mark.parametrize(("body", "headers", "status", "fragment"),
                         [pytest.param(*c[1:], id=c[0]) for c in CONTROL_CASES])
def test_the_control_server_answers_a_malformed_mode_request_4xx(control: tuple[str, RecordingSession], body: bytes,
                                                                 headers: dict[str, str], status: int,
                                                                 fragment: str) -> None:
    url, session = control
    before = len(session.commands)
    got, answer = call(url, "POST", "/mode", body=body, signed=False, headers={TOKEN_HEADER: TOKEN, **headers})
    assert got == status and answer["ok"] is False and fragment in answer["message"], answer
    assert len(session.commands) == before  # refused before it reached the session
    got, answer = call(url, "POST", "/mode", body=b'{"mode": "paper"}', signed=False, headers={TOKEN_HEADER: TOKEN})
    assert (got, answer["ok"]) == (200, True)
    assert session.commands[-1] == ("mode", {"mode": "paper"})
    assert call(url, "GET", "/status", signed=False)[0] == 200
