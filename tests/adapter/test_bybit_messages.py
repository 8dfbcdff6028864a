"""Parsing of Bybit v5 messages (adapters/bybit/messages.py, rest_messages.py) over every sample.

Shared samples are read in place from shared/fixtures/bybit (NautilusTrader's test data; its
SOURCE.md lists where they differ from the live API). Inverse samples are ours, hand-written in
tests/fixtures/bybit_inverse. Every *.json in both folders needs a case in CASES; a new sample
without one fails `test_every_sample_has_a_case` instead of being skipped silently.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.bybit import messages as m
from adapters.bybit import rest_messages as rm
from adapters.bybit.messages import BybitApiError, BybitMessageError, PublicTrade

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "bybit"
INVERSE = Path(__file__).resolve().parents[1] / "fixtures" / "bybit_inverse"
FOLDERS = {"shared": SHARED, "inverse": INVERSE}

D = Decimal
CASES: dict[str, Callable[[dict], None]] = {}


def case(*names: str) -> Callable:
    def register(fn: Callable[[dict], None]) -> Callable[[dict], None]:
        for n in names:
            assert n not in CASES, f"two cases for {n}"
            CASES[n] = fn
        return fn

    return register


def load(name: str) -> dict:
    folder, file = name.split("/")
    return json.loads((FOLDERS[folder] / file).read_text())


def raises(pattern: str):
    """The error must name the kind, index and key: match the whole message."""
    return pytest.raises(BybitMessageError, match="^" + pattern + "$")


# ---------------------------------------------------------------------------------------------
# WebSocket market data


@case("shared/ws_public_trade.json")
def _public_trade(msg: dict) -> None:
    # "trade.linear.BTCUSDT" is no v5 topic (SOURCE.md); pybit would route nothing to it
    with raises(r"publicTrade\.topic: unknown v5 topic 'trade\.linear\.BTCUSDT'"):
        m.parse_public_trades(msg)
    [t] = m.parse_public_trades({**msg, "topic": "publicTrade.BTCUSDT"})
    assert t == PublicTrade(ts_ms=1709891679000, symbol="BTCUSDT", side=1, price=D("27451.00"),
                            size=D("0.010"), trade_id="9dc75fca-4bdd-4773-9f78-6f5d7ab2a110",
                            seq=None, block_trade=False)
    assert str(t.size) == "0.010"  # the string's precision is kept


@case("shared/ws_orderbook_snapshot.json")
def _book_snapshot(msg: dict) -> None:
    top = m.parse_orderbook_top(msg)
    assert (top.bid_px, top.bid_sz, top.ask_px, top.ask_sz) == (D("27450.00"), D("0.500"), D("27451.00"), D("0.750"))
    assert (top.ts_ms, top.symbol, top.update_id, top.seq) == (1709891679000, "BTCUSDT", 123456789, 987654321)
    # pybit appends new levels at the end: lists come unsorted; best = max bid / min ask
    shuffled = copy.deepcopy(msg)
    shuffled["data"]["b"].reverse()
    shuffled["data"]["a"].reverse()
    assert m.parse_orderbook_top(shuffled) == top
    empty = copy.deepcopy(msg)
    empty["data"]["a"] = []
    assert m.parse_orderbook_top(empty).ask_px is None and m.parse_orderbook_top(empty).ask_sz is None


@case("shared/ws_orderbook_delta.json")
def _book_delta(msg: dict) -> None:
    # a raw delta lists changed levels only (and a size "0" = delete); its "top" means nothing
    with raises(r"orderbook\.type: not a snapshot \(a delta must be merged first, as pybit does\): 'delta'"):
        m.parse_orderbook_top(msg)
    # merged into the snapshot the way pybit does it, and relabelled "snapshot", it parses
    book = copy.deepcopy(load("shared/ws_orderbook_snapshot.json"))
    for side in ("b", "a"):
        levels = {px: sz for px, sz in book["data"][side]}
        for px, sz in msg["data"][side]:
            if D(sz) == 0:
                del levels[px]
            else:
                levels[px] = sz
        book["data"][side] = [[px, sz] for px, sz in levels.items()]
    book["data"]["u"], book["ts"] = msg["data"]["u"], msg["ts"]
    top = m.parse_orderbook_top(book)
    assert (top.bid_px, top.bid_sz, top.ask_px, top.ask_sz) == (D("27450.00"), D("0.400"), D("27451.50"), D("0.900"))
    assert top.update_id == 123456790
    book["data"]["b"].append(["27440.00", "0"])  # a zero level means a raw delta leaked in
    with raises(r"orderbook\.data\.b\[2\]\.size: not a positive size: '0'"):
        m.parse_orderbook_top(book)


@case("shared/ws_ticker_linear.json")
def _ticker(msg: dict) -> None:
    t = m.parse_ticker(msg)
    assert (t.ts_ms, t.symbol, t.cross_seq) == (1673272861686, "BTCUSDT", 24987956059)
    assert (t.last_price, t.mark_price, t.index_price) == (D("17216.00"), D("17217.33"), D("17227.36"))
    assert (t.bid1_price, t.bid1_size, t.ask1_price, t.ask1_size) == (D("17215.50"), D("84.489"), D("17216.00"), D("83.020"))
    assert (t.funding_rate, t.next_funding_time_ms, t.funding_interval_hour) == (D("-0.000212"), 1673280000000, 8)


def test_ticker_delta_and_futures_blanks() -> None:
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 1, "ts": 2,
             "data": {"symbol": "BTCUSDT", "markPrice": "17217.40"}}
    t = m.parse_ticker(delta)
    assert t.mark_price == D("17217.40") and t.last_price is None and t.funding_rate is None
    fut = {"topic": "tickers.BTCUSDH25", "type": "snapshot", "ts": 3,
           "data": {"symbol": "BTCUSDH25", "lastPrice": "99000.5", "fundingRate": "", "nextFundingTime": ""}}
    t = m.parse_ticker(fut)
    assert (t.last_price, t.funding_rate, t.next_funding_time_ms) == (D("99000.5"), None, None)
    with raises(r"tickers\.data\.symbol: differs from the topic's 'BTCUSDT': 'ETHUSDT'"):
        m.parse_ticker({**delta, "data": {"symbol": "ETHUSDT"}})


@case("shared/ws_kline.json")
def _ws_kline(msg: dict) -> None:
    [k] = m.parse_ws_klines(msg)
    assert (k.symbol, k.interval, k.start_ms, k.end_ms, k.confirm) == ("BTCUSDT", "5", 1672324800000, 1672325099999, False)
    assert (k.open, k.high, k.low, k.close) == (D("16649.5"), D("16677"), D("16608"), D("16677"))
    assert (k.volume, k.turnover) == (D("2.081"), D("34666.4005"))
    assert k.end_ms == rm.kline_end_ms(k.start_ms, "5")


# ---------------------------------------------------------------------------------------------
# WebSocket private pushes


@case("shared/ws_account_order.json")
def _order_cancelled(msg: dict) -> None:
    [o] = m.parse_order_push(msg)
    assert (o.category, o.symbol, o.order_id, o.order_link_id) == ("linear", "BTCUSDT", "abcdef123456", "client-1")
    assert (o.side, o.order_type, o.price, o.qty, o.time_in_force) == (1, "Limit", D("30000"), D("0.010"), "GTC")
    assert (o.status, o.cancel_type, o.reject_reason) == ("Cancelled", "CancelByUser", "")
    assert o.avg_price is None  # avgPrice "0": no fills, not a price of zero
    assert (o.leaves_qty, o.cum_exec_qty, o.cum_exec_value, o.cum_exec_fee) == (D("0.010"), 0, 0, 0)
    assert (o.reduce_only, o.created_ms, o.updated_ms, o.position_idx) == (False, 1700000000000, 1700000005000, 0)


@case("shared/ws_account_order_filled.json")
def _order_filled(msg: dict) -> None:
    [o] = m.parse_order_push(msg)
    assert (o.status, o.order_link_id, o.side) == ("Filled", "test-client-order-001", 1)
    assert (o.price, o.avg_price, o.qty, o.leaves_qty) == (D("30000.50"), D("30000.50"), D("0.100"), 0)
    assert (o.cum_exec_qty, o.cum_exec_value, o.cum_exec_fee) == (D("0.100"), D("3000.05"), D("1.650028"))
    assert (o.created_ms, o.updated_ms) == (1672364262444, 1672364262457)


@case("shared/ws_account_execution.json")
def _execution_push(msg: dict) -> None:
    [e] = m.parse_execution_push(msg)
    assert (e.category, e.symbol, e.exec_id) == ("linear", "BTCUSDT", "0ab1bdf7-4219-438b-b30a-32ec863018f7")
    assert (e.order_id, e.order_link_id) == ("9aac161b-8ed6-450d-9cab-c5cc67c21784", "test-order-link-001")
    assert (e.side, e.exec_price, e.exec_qty, e.exec_value) == (-1, D("95900.1"), D("0.5"), D("47950.05"))
    assert (e.exec_fee, e.fee_rate, e.is_maker) == (D("26.3725275"), D("0.00055"), False)
    assert e.exec_fee == e.exec_value * e.fee_rate  # exact in Decimal, as it should be
    assert (e.exec_type, e.exec_time_ms, e.mark_price, e.seq) == ("Trade", 1746270400353, D("95901.48"), 140612148849382)
    assert (e.order_type, e.leaves_qty, e.closed_size) == ("Market", 0, D("0.5"))


@case("shared/ws_account_position.json", "shared/ws_account_position_short.json")
def _position_push(msg: dict) -> None:
    [p] = m.parse_position_push(msg)
    assert (p.category, p.symbol, p.side, p.size, p.signed_size) == ("linear", "ETHUSDT", -1, D("0.01"), D("-0.01"))
    assert (p.entry_price, p.mark_price, p.unrealised_pnl) == (D("3641.075"), D("3641.33"), D("-0.00255"))
    assert (p.cum_realised_pnl, p.cur_realised_pnl, p.leverage) == (D("-25.06579337"), D("0.0094814"), D("30"))
    assert (p.position_idx, p.updated_ms, p.seq) == (0, 1762199125472, 325852190774)


@case("shared/ws_account_wallet.json")
def _wallet_push(msg: dict) -> None:
    # The sample lacks accountType, which Bybit's docs show in every wallet item (not listed in
    # SOURCE.md). It is required: a wallet we cannot attribute to an account is refused.
    with raises(r"wallet\[0\]\.accountType: missing"):
        m.parse_wallet_push(msg)
    fixed = copy.deepcopy(msg)
    fixed["data"][0]["accountType"] = "UNIFIED"
    [w] = m.parse_wallet_push(fixed)
    assert (w.account_type, w.total_equity, w.total_wallet_balance) == ("UNIFIED", D("10262.91335023"), D("9684.46297164"))
    assert (w.total_available_balance, w.total_initial_margin) == (D("9556.6056555"), D("127.8573161"))
    btc, usdt = w.coins
    assert (btc.coin, btc.equity, btc.wallet_balance, btc.total_order_im) == ("BTC", D("0.00102964"), D("0.00102964"), D("0.0001"))
    assert (usdt.coin, usdt.wallet_balance, usdt.total_position_im) == ("USDT", D("9647.75537647"), D("127.8573161"))
    assert usdt.unrealised_pnl is None and usdt.cum_realised_pnl is None  # absent in this push


# ---------------------------------------------------------------------------------------------
# WebSocket replies


@case("shared/ws_auth_success.json")
def _auth_success(msg: dict) -> None:
    # the sample mixes both styles (success + retCode/retMsg/connId); they agree, so it parses
    ack = m.parse_ws_ack(msg)
    assert ack == m.WsAck(op="auth", success=True, req_id=None, message="", conn_id="cejreaspqfm9se7usbrg-2xh", ret_code=0)
    private = {"success": True, "ret_msg": "", "op": "auth", "conn_id": "c1"}
    trade = {"retCode": 0, "retMsg": "OK", "op": "auth", "connId": "c2"}
    assert m.parse_ws_ack(private).success and m.parse_ws_ack(private).conn_id == "c1"
    assert m.parse_ws_ack(trade).success and m.parse_ws_ack(trade).conn_id == "c2"
    with raises(r"ack\.success: disagrees with retCode 10004: True"):
        m.parse_ws_ack({**msg, "retCode": 10004})


@case("shared/ws_auth_failure.json")
def _auth_failure(msg: dict) -> None:
    ack = m.parse_ws_ack(msg)
    assert (ack.op, ack.success, ack.ret_code, ack.message) == ("auth", False, 10003, "Invalid apikey")
    assert not m.parse_ws_ack({"retCode": 10004, "retMsg": "Invalid sign", "op": "auth", "connId": "x"}).success


@case("shared/ws_subscription_ack.json")
def _subscribe_ack(msg: dict) -> None:
    ack = m.parse_ws_ack(msg)
    assert (ack.op, ack.success, ack.req_id, ack.message, ack.ret_code) == ("subscribe", True, "sub-orderbook-1", "", None)


@case("shared/ws_subscription_failure.json")
def _subscribe_failure(msg: dict) -> None:
    ack = m.parse_ws_ack(msg)
    assert (ack.success, ack.req_id, ack.message) == (False, None, "Invalid topic: invalid.topic.BTCUSDT")


def test_pong_replies_of_every_stream() -> None:
    spot = m.parse_ws_ack({"success": True, "ret_msg": "pong", "conn_id": "a", "op": "ping"})
    linear = m.parse_ws_ack({"success": True, "ret_msg": "pong", "conn_id": "b", "req_id": "", "op": "ping"})
    private = m.parse_ws_ack({"req_id": "7", "op": "pong", "args": ["1700000000000"], "conn_id": "c"})
    option = m.parse_ws_ack({"op": "pong", "args": ["1700000000000"]})
    assert [a.success for a in (spot, linear, private, option)] == [True] * 4
    assert (spot.message, linear.req_id, private.req_id, private.message, option.conn_id) == ("pong", "", "7", "", None)
    with raises(r"ack\.success: missing \(and no retCode\)"):
        m.parse_ws_ack({"op": "subscribe", "ret_msg": ""})
    with raises(r"ack\.op: not an ack op \(order replies go to parse_ws_order_response\): 'order\.create'"):
        m.parse_ws_ack(load("shared/ws_order_response.json"))


@case("shared/ws_order_response.json")
def _order_response(msg: dict) -> None:
    # no header/retExtInfo in the sample (SOURCE.md); neither is read
    r = m.parse_ws_order_response(msg)
    assert (r.op, r.req_id, r.ret_code, r.ret_msg, r.success) == ("order.create", "order-req-001", 0, "OK", True)
    assert (r.order_id, r.order_link_id, r.conn_id) == ("1726025498520715008", "client-order-1", "cejreaspqfm9se7usbrg-4cd")
    dup = {**msg, "retCode": 110072, "retMsg": "OrderLinkedID is duplicate", "data": {}}
    r = m.parse_ws_order_response(dup)
    assert (r.success, r.order_id, r.ret_code) == (False, None, 110072)
    with raises(r"order-response\.data\.orderId: missing"):
        m.parse_ws_order_response({**msg, "data": {}})


# ---------------------------------------------------------------------------------------------
# REST


@case("shared/http_get_account_info.json")
def _account_info(resp: dict) -> None:
    assert rm.parse_account_info(resp) == rm.AccountInfo(unified_margin_status=4, margin_mode="REGULAR_MARGIN")


@case("shared/http_get_executions.json")
def _executions(resp: dict) -> None:
    (a, b), cursor = rm.parse_executions(resp)
    assert cursor == "132766%3A2%2C132766%3A2"
    assert (a.category, a.symbol, a.side, a.exec_price, a.exec_qty) == ("linear", "BTCUSDT", 1, D("50000.00"), D("0.100"))
    assert (a.exec_fee, a.fee_rate, a.is_maker, a.fee_currency) == (D("0.0150"), D("0.0003"), True, "USDT")
    assert (b.symbol, b.side, b.is_maker, b.leaves_qty, b.exec_time_ms) == ("ETHUSDT", -1, False, D("0.500"), 1672282822529)


@case("shared/http_get_fee_rate.json")
def _fee_rates(resp: dict) -> None:
    rates = rm.parse_fee_rates(resp)
    assert [r.symbol for r in rates] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert rates[2] == rm.FeeRate(symbol="SOLUSDT", taker=D("0.00075"), maker=D("0.00025"))


@case("shared/http_get_funding_history.json")
def _funding(resp: dict) -> None:
    assert rm.parse_funding_history(resp) == [  # Bybit sends newest first; we return oldest first
        rm.FundingRate(symbol="BTCUSDT", rate=D("0.00015"), ts_ms=1709856000000),
        rm.FundingRate(symbol="BTCUSDT", rate=D("0.0001"), ts_ms=1709884800000),
    ]


def _fixed_cursor(resp: dict, name: str) -> dict:
    """The sample's nextPageCursor is null (v5 documents a string): refused, then patched."""
    with raises(r"instruments-info\.result\.nextPageCursor: not a string: None"):
        rm.parse_instruments(resp, name)
    fixed = copy.deepcopy(resp)
    fixed["result"]["nextPageCursor"] = ""
    with raises(r"instruments-info\.result\.category: missing \(and no category argument\)"):
        rm.parse_instruments(fixed)  # and result.category is missing: the caller must say it
    return fixed


@case("shared/http_get_instruments_linear.json")
def _instruments_linear(resp: dict) -> None:
    (btc, eth), cursor = rm.parse_instruments(_fixed_cursor(resp, "linear"), "linear")
    assert (cursor, btc.category, btc.symbol, btc.contract_type, btc.status) == ("", "linear", "BTCUSDT", "LinearPerpetual", "Trading")
    assert (btc.base_coin, btc.quote_coin, btc.settle_coin) == ("BTC", "USDT", "USDT")
    assert (btc.tick_size, btc.qty_step, btc.min_qty, btc.max_qty) == (D("0.5"), D("0.001"), D("0.001"), D("100.0"))
    assert (btc.min_notional, btc.max_market_qty) == (D("5"), D("50.0"))
    # Known deviations, kept as given: fundingInterval is in minutes (real BTCUSDT: 480), so 8
    # is the sample's error, not rescaled; a perpetual's deliveryTime is its delisting time.
    assert btc.funding_interval_min == 8
    assert btc.delivery_time_ms is None and btc.delist_time_ms == 1702592000000 and btc.is_perpetual
    assert (eth.symbol, eth.tick_size, eth.qty_step) == ("ETHUSDT", D("0.05"), D("0.01"))
    with raises(r"instruments-info\[0\]\.contractType: not a inverse contract type: 'LinearPerpetual'"):
        rm.parse_instruments(_fixed_cursor(resp, "linear"), "inverse")


@case("shared/http_get_instruments_inverse.json")
def _instruments_inverse(resp: dict) -> None:
    [i], _ = rm.parse_instruments(_fixed_cursor(resp, "inverse"), "inverse")
    assert (i.symbol, i.contract_type, i.settle_coin, i.quote_coin) == ("BTCUSD", "InversePerpetual", "BTC", "USD")
    assert (i.tick_size, i.qty_step, i.min_qty, i.min_notional) == (D("0.5"), D("1"), D("1"), None)
    assert (i.funding_interval_min, i.delivery_time_ms, i.delist_time_ms) == (8, None, 1702582000000)  # deviations


@case("shared/http_get_instruments_linear_symbol_type.json", "shared/http_get_instruments_inverse_symbol_type.json")
def _instruments_symbol_type(resp: dict) -> None:
    [i], cursor = rm.parse_instruments(resp)  # these carry result.category
    assert cursor == "" and i.symbol in ("TSLAUSDT", "BRENTUSD")
    assert i.category == ("linear" if i.symbol == "TSLAUSDT" else "inverse")
    assert (i.funding_interval_min, i.delivery_time_ms, i.delist_time_ms) == (480, None, None)
    assert (i.tick_size, i.qty_step, i.min_notional, i.delivery_fee_rate) == (D("0.01"), D("0.001"), D("1"), None)
    with raises(r"instruments-info\.result\.category: differs from the requested 'spot': '" + i.category + "'"):
        rm.parse_instruments(resp, "spot")


@case("shared/http_get_instruments_spot.json")
def _instruments_spot(resp: dict) -> None:
    with raises(r"instruments-info\.result\.category: missing \(and no category argument\)"):
        rm.parse_instruments(resp)
    (btc, eth), cursor = rm.parse_instruments(resp, "spot")
    assert (cursor, btc.symbol, btc.contract_type, btc.settle_coin) == ("", "BTCUSDT", None, None)
    assert (btc.tick_size, btc.qty_step, btc.min_qty, btc.max_qty) == (D("0.1"), D("0.0001"), D("0.001"), D("100.0"))
    assert (btc.min_notional, btc.delivery_time_ms, btc.funding_interval_min) == (D("10"), None, None)
    assert (eth.qty_step, eth.tick_size) == (D("0.00001"), D("0.01"))


@case("shared/http_get_klines_linear.json")
def _rest_klines(resp: dict) -> None:
    [k] = rm.parse_rest_klines(resp, "BTCUSDT", "1")
    assert (k.symbol, k.interval, k.start_ms, k.end_ms) == ("BTCUSDT", "1", 1709891679000, 1709891738999)
    assert (k.open, k.high, k.low, k.close, k.volume, k.turnover) == (D("27450"), D("27460"), D("27440"), D("27455"), D("123.45"), D("3390000"))
    assert k.confirm is False  # ends after the reply's time: still open
    two = copy.deepcopy(resp)
    two["result"]["list"].append(["1709891619000", "1", "2", "0.5", "1.5", "3", "4"])  # older, after
    old, new = rm.parse_rest_klines(two, "BTCUSDT", "1")
    assert (old.start_ms, old.confirm, new.start_ms, new.confirm) == (1709891619000, True, 1709891679000, False)
    two["result"]["list"].reverse()
    with raises(r"kline\[1\]\.start: rows are not newest first: '1709891679000'"):
        rm.parse_rest_klines(two, "BTCUSDT", "1")
    with raises(r"kline\.result\.symbol: differs from the requested 'ETHUSDT': 'BTCUSDT'"):
        rm.parse_rest_klines(resp, "ETHUSDT", "1")


@case("shared/http_get_orderbook.json")
def _rest_book(resp: dict) -> None:
    assert rm.parse_rest_orderbook(resp) == m.BookTop(
        ts_ms=1709891679000, symbol="BTCUSDT", bid_px=D("27450.50"), bid_sz=D("1.500"),
        ask_px=D("27451.00"), ask_sz=D("1.200"), update_id=1234567, seq=9876543)


@case("shared/http_get_orders_history.json")
def _orders_history(resp: dict) -> None:
    [o], cursor = rm.parse_orders(resp, "linear")  # the sample has no result.category
    assert (cursor, o.category, o.status, o.cancel_type, o.avg_price) == ("", "linear", "Cancelled", "CancelByUser", None)
    assert (o.price, o.qty, o.leaves_qty, o.cum_exec_fee, o.updated_ms) == (D("30000"), D("0.010"), D("0.010"), 0, 1700000005000)


@case("shared/http_get_orders_realtime.json")
def _orders_realtime(resp: dict) -> None:
    with raises(r"orders\.result\.category: missing \(and no category argument\)"):
        rm.parse_orders(resp)
    (a, b), cursor = rm.parse_orders(resp, "linear")
    assert (a.order_id, a.side, a.price, a.status) == ("open-order-1", 1, D("3930.41"), "New")
    assert (b.order_link_id, b.side, b.price, b.leaves_qty) == ("client-open-2", -1, D("3940.42"), D("0.010"))


@case("shared/http_get_positions.json")
def _positions(resp: dict) -> None:
    (btc, eth, sol), cursor = rm.parse_positions(resp)
    assert (cursor, btc.category, btc.side, btc.size, btc.entry_price) == ("", "linear", 1, D("0.5"), D("50000.00"))
    assert (btc.mark_price, btc.unrealised_pnl, btc.cum_realised_pnl, btc.seq) == (D("50500.00"), D("250.00"), D("500.00"), 5723621632)
    assert (eth.side, eth.signed_size, eth.liq_price) == (-1, D("-5.0"), D("3500.00"))
    assert (sol.side, sol.size, sol.signed_size, sol.entry_price, sol.liq_price) == (0, 0, 0, None, None)  # flat


@case("shared/http_get_trades_recent.json")
def _recent_trades(resp: dict) -> None:
    [t] = rm.parse_recent_trades(resp)
    assert t == PublicTrade(ts_ms=1709891679000, symbol="BTCUSDT", side=1, price=D("27450.50"), size=D("0.005"),
                            trade_id="a905d5c3-1ed0-4f37-83e4-9c73a2fe2f01", seq=None, block_trade=False)


@case("shared/http_get_wallet_balance.json")
def _wallet_balance(resp: dict) -> None:
    [w] = rm.parse_wallet_balance(resp)
    assert (w.account_type, w.total_equity, w.total_available_balance) == ("UNIFIED", D("3.31216591"), D("3.00326056"))
    btc, usdt, eth = w.coins
    assert (btc.coin, btc.equity, btc.total_order_im) == ("BTC", 0, 0)
    assert (usdt.wallet_balance, usdt.cum_realised_pnl, usdt.total_order_im) == (D("1000.50"), D("50.25"), None)
    assert (eth.usd_value, eth.unrealised_pnl) == (D("-191.31"), 0)


# ---------------------------------------------------------------------------------------------
# Inverse (hand-written; USD contracts, BTC fees)

Q8 = D("0.00000001")


@case("inverse/ws_order_inverse.json")
def _inverse_order(msg: dict) -> None:
    [o] = m.parse_order_push(msg)
    assert (o.category, o.symbol, o.side, o.order_type, o.status) == ("inverse", "BTCUSD", -1, "Market", "Filled")
    assert (o.qty, o.cum_exec_qty, o.leaves_qty) == (D("300"), D("300"), 0)  # USD contracts
    assert (o.cum_exec_value, o.cum_exec_fee) == (D("0.00309279"), D("0.0000017"))  # BTC, from cumExecFee
    assert abs(o.cum_exec_qty / o.cum_exec_value - o.avg_price) < D("0.01")  # avg = contracts / BTC value
    assert (o.time_in_force, o.reject_reason, o.position_idx) == ("IOC", "EC_NoError", 0)


@case("inverse/ws_execution_inverse.json")
def _inverse_fills(msg: dict) -> None:
    a, b = m.parse_execution_push(msg)
    assert (a.exec_qty, a.exec_price, a.exec_fee, a.leaves_qty) == (D("200"), D("97000.0"), D("0.00000113"), D("100"))
    assert (b.exec_qty, b.exec_price, b.exec_fee, b.leaves_qty) == (D("100"), D("96999.5"), D("0.00000057"), 0)
    for e in (a, b):
        assert (e.category, e.side, e.is_maker, e.exec_type) == ("inverse", -1, False, "Trade")
        assert e.exec_value == (e.exec_qty / e.exec_price).quantize(Q8)  # BTC = contracts / price
        assert e.exec_fee == (e.exec_value * e.fee_rate).quantize(Q8)  # fee in BTC
    [o] = m.parse_order_push(load("inverse/ws_order_inverse.json"))
    assert a.exec_fee + b.exec_fee == o.cum_exec_fee and a.exec_qty + b.exec_qty == o.cum_exec_qty


@case("inverse/ws_execution_inverse_funding.json")
def _inverse_funding(msg: dict) -> None:
    [f] = m.parse_execution_push(msg)
    assert (f.exec_type, f.order_id, f.order_link_id, f.order_type) == ("Funding", "", "", "UNKNOWN")
    assert (f.exec_qty, f.fee_rate, f.exec_fee) == (D("300"), D("0.0001"), D("-0.00000031"))  # short receives
    assert f.exec_time_ms == int(datetime(2025, 1, 15, 16, tzinfo=timezone.utc).timestamp() * 1000)


@case("inverse/ws_position_inverse.json")
def _inverse_position(msg: dict) -> None:
    [p] = m.parse_position_push(msg)
    assert (p.category, p.symbol, p.side, p.size, p.signed_size) == ("inverse", "BTCUSD", -1, D("300"), D("-300"))
    assert (p.entry_price, p.mark_price, p.cum_realised_pnl) == (D("96999.80"), D("97010.0"), D("-0.0000017"))
    assert p.position_value == (p.size / p.entry_price).quantize(Q8)
    # short PnL in BTC = contracts * (1/mark - 1/entry)
    assert p.unrealised_pnl == (p.size * (1 / p.mark_price - 1 / p.entry_price)).quantize(Q8) == D("-0.00000033")


@case("inverse/http_get_instruments_inverse_futures.json")
def _inverse_futures(resp: dict) -> None:
    (perp, fut), cursor = rm.parse_instruments(resp)
    assert (cursor, perp.symbol, perp.delivery_time_ms, perp.delist_time_ms, perp.funding_interval_min) == ("", "BTCUSD", None, None, 480)
    assert (fut.symbol, fut.contract_type, fut.is_perpetual, fut.funding_interval_min) == ("BTCUSDH25", "InverseFutures", False, None)
    expiry = datetime(2025, 3, 28, 8, tzinfo=timezone.utc)  # last Friday of March 2025, 08:00 UTC
    assert fut.delivery_time_ms == int(expiry.timestamp() * 1000) and expiry.weekday() == 4
    assert (fut.tick_size, fut.qty_step, fut.min_qty, fut.settle_coin, fut.delivery_fee_rate) == (D("0.50"), 1, 1, "BTC", D("0.0005"))
    bad = copy.deepcopy(resp)
    bad["result"]["list"][1]["deliveryTime"] = "0"
    with raises(r"instruments-info\[1\]\.deliveryTime: a future without a delivery time: '0'"):
        rm.parse_instruments(bad)


# ---------------------------------------------------------------------------------------------
# Every sample, and the errors


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample(name: str) -> None:
    if not FOLDERS[name.split("/")[0]].is_dir():
        pytest.skip(f"{FOLDERS[name.split('/')[0]]} is not present")
    CASES[name](load(name))


def test_every_sample_has_a_case() -> None:
    for prefix, folder in FOLDERS.items():
        if not folder.is_dir():
            continue
        on_disk = {f"{prefix}/{p.name}" for p in folder.glob("*.json")}
        assert on_disk, f"no samples found in {folder}"
        assert not on_disk - CASES.keys(), f"samples without a test case: {sorted(on_disk - CASES.keys())}"
        known = {n for n in CASES if n.startswith(prefix + "/")}
        assert not known - on_disk, f"cases for missing samples: {sorted(known - on_disk)}"


def _three_fills() -> dict:
    msg = load("shared/ws_account_execution.json")
    msg["data"] = [copy.deepcopy(msg["data"][0]) for _ in range(3)]
    return msg


@pytest.mark.parametrize(("key", "value", "error"), [
    ("execPrice", "abc", "execution[2].execPrice: not a decimal: 'abc'"),
    ("execPrice", 95900.1, "execution[2].execPrice: not a decimal: 95900.1"),  # float: precision lost
    ("execPrice", "NaN", "execution[2].execPrice: not a decimal: 'NaN'"),
    ("execQty", " 0.5", "execution[2].execQty: not a decimal: ' 0.5'"),
    ("execFee", "", "execution[2].execFee: not a decimal: ''"),  # required: "" is not a fee
    ("side", "BUY", "execution[2].side: not a side: 'BUY'"),
    ("side", "", "execution[2].side: not a side: ''"),  # "" is flat, for positions only
    ("isMaker", "true", "execution[2].isMaker: not a bool: 'true'"),
    ("execTime", "17e11", "execution[2].execTime: not an int: '17e11'"),
    ("seq", True, "execution[2].seq: not an int: True"),
])
def test_bad_values_name_kind_index_and_key(key: str, value: object, error: str) -> None:
    msg = _three_fills()
    msg["data"][2][key] = value
    with pytest.raises(BybitMessageError) as e:
        m.parse_execution_push(msg)
    assert str(e.value) == error


def test_missing_keys_are_errors_not_defaults() -> None:
    msg = _three_fills()
    del msg["data"][1]["execFee"]
    with raises(r"execution\[1\]\.execFee: missing"):
        m.parse_execution_push(msg)
    resp = load("shared/http_get_executions.json")
    del resp["result"]["list"][1]["isMaker"]
    with raises(r"executions\[1\]\.isMaker: missing"):
        rm.parse_executions(resp)
    with raises(r"execution\.data: missing"):
        m.parse_execution_push({"topic": "execution"})
    with raises(r"execution\.topic: not a execution topic: 'order'"):
        m.parse_execution_push(load("shared/ws_account_order.json"))
    with raises(r"execution\.topic: not a execution topic: 'execution\.fast'"):
        m.parse_execution_push({"topic": "execution.fast", "data": []})
    pos = load("shared/ws_account_position.json")
    pos["data"][0]["side"] = ""
    with raises(r"position\[0\]\.size: does not fit side '': '0\.01'"):
        m.parse_position_push(pos)


def test_flat_positions() -> None:
    msg = load("shared/ws_account_position.json")  # made flat as in Bybit's docs example
    msg["data"][0].update(side="", size="0", entryPrice="0", liqPrice="0", positionIdx=2, seq=-1)
    [p] = m.parse_position_push(msg)
    assert (p.side, p.size, p.signed_size, p.entry_price, p.liq_price, p.position_idx, p.seq) == (0, 0, 0, None, None, 2, -1)
    msg["data"][0]["side"] = "Buy"  # a flat hedge-mode leg may keep its side
    assert m.parse_position_push(msg)[0].signed_size == 0


def test_fee_of_spot_and_linear_orders_from_cum_fee_detail() -> None:
    msg = load("shared/ws_account_order_filled.json")
    item = msg["data"][0]
    del item["cumExecFee"]
    item["cumFeeDetail"] = {"USDT": "1.650028"}
    assert m.parse_order_push(msg)[0].cum_exec_fee == D("1.650028")
    item["cumExecFee"] = ""  # empty cumExecFee: the detail still counts
    assert m.parse_order_push(msg)[0].cum_exec_fee == D("1.650028")
    del item["cumExecFee"], item["cumFeeDetail"]
    assert m.parse_order_push(msg)[0].cum_exec_fee is None
    item["cumFeeDetail"] = {"USDT": "x"}
    with raises(r"order\[0\]\.cumFeeDetail\.USDT: not a decimal: 'x'"):
        m.parse_order_push(msg)


def test_envelope_errors() -> None:
    dup = {"retCode": 110072, "retMsg": "OrderLinkedID is duplicate", "result": {}, "retExtInfo": {}, "time": 1}
    with pytest.raises(BybitApiError) as e:
        m.check_envelope(dup, "order/create")
    assert str(e.value) == "bybit order/create: retCode 110072: OrderLinkedID is duplicate"
    assert (e.value.ret_code, e.value.ret_msg) == (110072, "OrderLinkedID is duplicate")
    with pytest.raises(BybitApiError, match="^bybit orders: retCode 110072"):
        rm.parse_orders(dup, "linear")
    assert m.check_envelope({"retCode": 0, "retMsg": "OK", "result": {"a": 1}}, "x") == {"a": 1}
    with raises(r"x\.retCode: missing"):
        m.check_envelope({"result": {}}, "x")
    with raises(r"x\.result: not an object: None"):
        m.check_envelope({"retCode": 0, "retMsg": "", "result": None}, "x")


@pytest.mark.parametrize(("topic", "kind"), [
    ("publicTrade.BTCUSDT", ("publicTrade", "BTCUSDT")), ("orderbook.1.BTCUSDT", ("orderbook", "BTCUSDT")),
    ("orderbook.1000.BTCUSD", ("orderbook", "BTCUSD")), ("tickers.BTCUSDH25", ("tickers", "BTCUSDH25")),
    ("kline.D.BTCUSDT", ("kline", "BTCUSDT")), ("order", ("order", None)), ("order.linear", ("order", None)),
    ("execution.inverse", ("execution", None)), ("position", ("position", None)), ("wallet", ("wallet", None)),
    ("execution.fast", ("execution.fast", None)), ("execution.fast.linear", ("execution.fast", None)),
])
def test_topic_kind(topic: str, kind: tuple) -> None:
    assert m.topic_kind(topic) == kind


@pytest.mark.parametrize("topic", ["trade.linear.BTCUSDT", "orderbook.7.BTCUSDT", "orderbook.BTCUSDT",
                                   "kline.2.BTCUSDT", "publicTrade.", "wallet.linear", "order.futures", "Order"])
def test_topic_kind_refuses_unknown_topics(topic: str) -> None:
    with raises(r"topic: unknown v5 topic " + repr(topic).replace(".", r"\.")):
        m.topic_kind(topic)


def test_kline_end_of_month_and_week() -> None:
    feb = int(datetime(2024, 2, 1, tzinfo=timezone.utc).timestamp() * 1000)
    mar = int(datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
    assert rm.kline_end_ms(feb, "M") == mar - 1  # leap February
    assert rm.kline_end_ms(feb, "W") == feb + 7 * 86_400_000 - 1
    with raises(r"kline\.interval: not a v5 interval: '2'"):
        rm.kline_end_ms(feb, "2")


def test_server_time_and_rest_tickers() -> None:
    t = {"retCode": 0, "retMsg": "OK", "result": {"timeSecond": "1688639403", "timeNano": "1688639403423213947"},
         "retExtInfo": {}, "time": 1688639403423}
    assert rm.parse_server_time(t) == 1688639403423213947
    tickers = {"retCode": 0, "retMsg": "OK", "time": 1700000000000, "result": {"category": "inverse", "list": [
        {"symbol": "BTCUSD", "lastPrice": "97000.5", "markPrice": "97001", "fundingRate": "0.0001",
         "nextFundingTime": "1700006400000", "fundingIntervalHour": "8"},
        {"symbol": "BTCUSDH25", "lastPrice": "99000.5", "fundingRate": "", "nextFundingTime": ""}]}}
    perp, fut = rm.parse_rest_tickers(tickers)
    assert (perp.ts_ms, perp.mark_price, perp.funding_rate, perp.next_funding_time_ms) == (1700000000000, 97001, D("0.0001"), 1700006400000)
    assert (fut.symbol, fut.funding_rate, fut.next_funding_time_ms) == ("BTCUSDH25", None, None)


def test_public_names_and_frozen_dataclasses() -> None:
    """The WebSocket parsers and the message types in messages.py, the REST parsers in rest_messages.py
    (which builds on messages.py, so messages.py does not import it back)."""
    names = ["BybitMessageError", "BybitApiError", "PublicTrade", "parse_public_trades", "BookTop",
             "parse_orderbook_top", "Ticker", "parse_ticker", "Kline", "parse_ws_klines", "OrderState",
             "parse_order_push", "Execution", "parse_execution_push", "PositionState", "parse_position_push",
             "CoinBalance", "WalletState", "parse_wallet_push", "check_envelope", "WsAck", "parse_ws_ack",
             "parse_ws_order_response", "topic_kind"]
    rest_names = ["parse_rest_orderbook", "parse_rest_klines", "parse_orders", "parse_executions", "parse_positions",
                  "parse_wallet_balance", "Instrument", "parse_instruments", "FeeRate", "parse_fee_rates",
                  "FundingRate", "parse_funding_history", "parse_recent_trades", "parse_server_time", "AccountInfo",
                  "parse_account_info", "parse_rest_tickers", "kline_end_ms"]
    assert [n for n in names if not hasattr(m, n)] == []
    assert [n for n in rest_names if not hasattr(rm, n)] == []
    assert issubclass(BybitMessageError, ValueError) and issubclass(BybitApiError, RuntimeError)
    with pytest.raises(AttributeError):
        m.no_such_name  # noqa: B018
    [e] = m.parse_execution_push(load("shared/ws_account_execution.json"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.exec_fee = D(0)  # type: ignore[misc]
    assert not hasattr(e, "__dict__")  # slotted
