"""The emulator's list endpoints against Bybit's v5 documentation, driven by unmodified pybit
against real emulator processes: cursor pagination, the documented filters and time windows, and
the parameters each endpoint requires. Each test names in its docstring the page of
github.com/bybit-exchange/docs it checks (docs/v5/...). Linear unless the name says otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.emulator.queries import MISSING_POSITION_SCOPE, MISSING_SCOPE
from tests.emulator.conformance_helpers import inverse, linear  # noqa: F401 - the emulators, module-scoped fixtures
from tests.emulator.conformance_helpers import PACED, SPOT, book, code, order_row, paced, set_position, wait
from tests.emulator.emulator_process import emulator, pybit_http

L = {"category": "linear", "symbol": "BTCUSDT"}
WEEK_MS = 7 * 24 * 3600 * 1000


@pytest.fixture(scope="module")
def spot() -> Iterator[str]:
    with emulator(SPOT, *PACED) as url:
        yield paced(url)


def _rest(s: Any, category: str, symbol: str, link: str, below: float = 300.0) -> str:
    """A resting limit buy well under the bid (inside the price band); its orderId."""
    bid, _, _ = book(s, category, symbol)
    qty = "0.010" if category != "inverse" else "100"
    s.place_order(category=category, symbol=symbol, side="Buy", orderType="Limit", qty=qty,
                  price=f"{bid - below:.1f}", timeInForce="PostOnly", orderLinkId=link)
    row = order_row(s, category, link, final=False)
    wait(lambda: order_row(s, category, link, final=False)["orderStatus"] == "New")
    return str(row["orderId"])


def _walk(call: Callable[..., dict[str, Any]], between: Callable[[], None] | None = None,
          **params: Any) -> list[dict[str, Any]]:
    """Every row a client gets by following nextPageCursor until it is ""; `between` runs after the first page."""
    rows, cursor = [], None
    while True:
        res = call(**params, **({"cursor": cursor} if cursor else {}))["result"]
        rows += res["list"]
        cursor = res["nextPageCursor"]
        if between is not None:
            between()
            between = None
        if not cursor:
            return rows


# -- pagination -------------------------------------------------------------------------------

def test_open_orders_page_by_cursor_newest_first_each_row_once_while_orders_are_added(linear: str) -> None:
    """docs/v5/order/open-order.mdx (limit, cursor, nextPageCursor; "sorted by the createdTime from
    newest to oldest"): following the cursor gives every open order once, newest first, and an
    order placed between pages does not shift the pages."""
    s = pybit_http(linear)
    ids = [_rest(s, "linear", "BTCUSDT", f"q-page-{i}") for i in range(5)]
    late: list[str] = []
    got = _walk(s.get_open_orders, lambda: late.append(_rest(s, "linear", "BTCUSDT", "q-page-late")), **L, limit=2)
    assert [r["orderId"] for r in got] == ids[::-1]
    created = [int(r["createdTime"]) for r in got]
    assert created == sorted(created, reverse=True)
    again = _walk(s.get_open_orders, **L, limit=50)
    assert [r["orderId"] for r in again] == late + ids[::-1]  # a new walk sees the late order first
    s.cancel_all_orders(**L)


def test_an_invalid_cursor_is_refused_with_10001(linear: str) -> None:
    """docs/v5/order/open-order.mdx, order-list.mdx, execution.mdx, position/position.mdx (cursor:
    "Use the nextPageCursor token from the response"): a token the venue did not give — made up,
    or another endpoint's — is a parameter error, 10001 (docs/DECISIONS.md ("Emulator queries"))."""
    s = pybit_http(linear)
    assert code(lambda: s.get_open_orders(**L, cursor="not-a-cursor"))[0] == 10001
    assert code(lambda: s.get_executions(**L, cursor="ord%3A1"))[0] == 10001
    assert code(lambda: s.get_order_history(**L, cursor="his%3A999999"))[0] == 10001
    assert code(lambda: s.get_positions(**L, cursor="pos%3A7"))[0] == 10001


def test_executions_page_by_cursor_newest_first_each_row_once_while_fills_are_added(linear: str) -> None:
    """docs/v5/order/execution.mdx ("sorted by execTime in descending order"; limit [1, 100],
    cursor): one walk with limit 2 gives every fill once, and a fill made between pages is not
    repeated nor does it push an old fill off."""
    s = pybit_http(linear)
    for i, side in enumerate(("Buy", "Sell", "Buy", "Sell")):
        s.place_order(**L, side=side, orderType="Market", qty="0.010", orderLinkId=f"q-fill-{i}")
        order_row(s, "linear", f"q-fill-{i}")
    before = s.get_executions(**L, limit=100)["result"]["list"]

    def trade_more() -> None:
        set_position(s, "linear", "BTCUSDT", 0.01, "q-fill-between")
        set_position(s, "linear", "BTCUSDT", 0.0, "q-fill-between-2")

    got = _walk(s.get_executions, trade_more, **L, limit=2)
    assert [e["execId"] for e in got] == [e["execId"] for e in before]
    times = [int(e["execTime"]) for e in got]
    assert times == sorted(times, reverse=True)
    assert len(s.get_executions(**L, limit=100)["result"]["list"]) == len(before) + 2


# -- required parameters ----------------------------------------------------------------------

def test_category_is_required_on_every_list(linear: str) -> None:
    """docs/v5/order/open-order.mdx, order-list.mdx, execution.mdx, position/position.mdx
    (category **true**): a query without it is 10001, and one with an unknown category too."""
    s = pybit_http(linear)
    for call in (s.get_open_orders, s.get_order_history, s.get_executions, s.get_positions):
        assert code(lambda c=call: c(symbol="BTCUSDT"))[0] == 10001
        assert code(lambda c=call: c(category="futures", symbol="BTCUSDT"))[0] == 10001


def test_linear_open_orders_need_symbol_base_coin_or_settle_coin(linear: str) -> None:
    """docs/v5/order/open-order.mdx ("For linear, either symbol, baseCoin, settleCoin is
    required"): without one, 10001 with Bybit's text; baseCoin and settleCoin select the
    instrument's orders, another coin none."""
    s = pybit_http(linear)
    oid = _rest(s, "linear", "BTCUSDT", "q-scope")
    assert code(lambda: s.get_open_orders(category="linear")) == (10001, MISSING_SCOPE)
    for scope in ({"baseCoin": "BTC"}, {"settleCoin": "USDT"}, {"symbol": "BTCUSDT"}):
        assert [r["orderId"] for r in s.get_open_orders(category="linear", **scope)["result"]["list"]] == [oid]
    assert s.get_open_orders(category="linear", baseCoin="ETH")["result"]["list"] == []
    s.cancel_all_orders(**L)


def test_cancel_all_on_linear_without_a_scope_is_refused_and_cancels_nothing(linear: str) -> None:
    """docs/v5/order/cancel-all.mdx ("for linear and inverse, you must specify one of those three
    params"): 10001 and the order stays; with settleCoin it is cancelled; baseCoin of another
    coin cancels nothing; orderFilter StopOrder finds no conditional order."""
    s = pybit_http(linear)
    oid = _rest(s, "linear", "BTCUSDT", "q-cancel-all")
    assert code(lambda: s.cancel_all_orders(category="linear")) == (10001, MISSING_SCOPE)
    assert s.cancel_all_orders(category="linear", baseCoin="ETH")["result"]["list"] == []
    assert s.cancel_all_orders(category="linear", settleCoin="USDT", orderFilter="StopOrder")["result"]["list"] == []
    assert order_row(s, "linear", "q-cancel-all", final=False)["orderStatus"] == "New"
    done = s.cancel_all_orders(category="linear", settleCoin="USDT")["result"]["list"]
    assert [d["orderId"] for d in done] == [oid]


def test_linear_position_list_needs_symbol_or_settle_coin(linear: str) -> None:
    """docs/v5/position/position.mdx (settleCoin: "linear: either symbol or settleCoin is
    required"; "If symbol passed, it returns data regardless of having position or not"; with
    settleCoin only, "position size greater than zero")."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.0, "q-pos-flat")
    assert code(lambda: s.get_positions(category="linear")) == (10001, MISSING_POSITION_SCOPE)
    assert s.get_positions(category="linear", settleCoin="USDT")["result"]["list"] == []
    assert len(s.get_positions(**L)["result"]["list"]) == 1
    set_position(s, "linear", "BTCUSDT", 0.01, "q-pos-long")
    [row] = s.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
    assert (row["side"], row["size"]) == ("Buy", "0.01")
    set_position(s, "linear", "BTCUSDT", 0.0, "q-pos-flat-2")


def test_inverse_lists_without_a_symbol_but_cancel_all_needs_one(inverse: str) -> None:
    """docs/v5/order/open-order.mdx (the scope is required "for linear" only),
    docs/v5/position/position.mdx (inverse: "query all open positions with
    /v5/position/list?category=inverse"), docs/v5/order/cancel-all.mdx (linear & inverse need a
    scope)."""
    s = pybit_http(inverse)
    oid = _rest(s, "inverse", "BTCUSD", "q-inv-open")
    assert [r["orderId"] for r in s.get_open_orders(category="inverse")["result"]["list"]] == [oid]
    assert s.get_positions(category="inverse")["result"]["list"] == []  # flat: no open position to list
    assert code(lambda: s.cancel_all_orders(category="inverse")) == (10001, MISSING_SCOPE)
    assert [d["orderId"] for d in s.cancel_all_orders(category="inverse", baseCoin="BTC")["result"]["list"]] == [oid]


def test_spot_cancel_all_needs_no_scope_and_has_no_settle_coin(spot: str) -> None:
    """docs/v5/order/cancel-all.mdx ("category=spot, you can cancel all spot open orders ...
    without passing other params"; settleCoin "Not support spot") and open-order.mdx (settleCoin:
    "spot: not supported")."""
    s = pybit_http(spot)
    oid = _rest(s, "spot", "BTCUSDT", "q-spot-open")
    assert [r["orderId"] for r in s.get_open_orders(category="spot")["result"]["list"]] == [oid]
    assert code(lambda: s.get_open_orders(category="spot", settleCoin="USDT"))[0] == 10001
    assert code(lambda: s.cancel_all_orders(category="spot", settleCoin="USDT"))[0] == 10001
    assert [d["orderId"] for d in s.cancel_all_orders(category="spot")["result"]["list"]] == [oid]


# -- filters ----------------------------------------------------------------------------------

def test_open_only_1_lists_recent_closed_orders_and_ids_ignore_it(linear: str) -> None:
    """docs/v5/order/open-order.mdx (openOnly: 0 open status only, 1 recent closed status;
    "ignored when query by orderId or orderLinkId"; orderFilter)."""
    s = pybit_http(linear)
    oid = _rest(s, "linear", "BTCUSDT", "q-open-only")
    assert oid in [r["orderId"] for r in s.get_open_orders(**L)["result"]["list"]]
    assert oid not in [r["orderId"] for r in s.get_open_orders(**L, openOnly=1, limit=50)["result"]["list"]]
    s.cancel_order(**L, orderId=oid)
    assert oid not in [r["orderId"] for r in s.get_open_orders(**L)["result"]["list"]]
    closed = s.get_open_orders(**L, openOnly=1, limit=50)["result"]["list"]
    assert closed[0]["orderId"] == oid
    assert all(r["orderStatus"] not in ("New", "PartiallyFilled") for r in closed)
    assert s.get_open_orders(category="linear", orderId=oid)["result"]["list"][0]["orderStatus"] == "Cancelled"
    assert s.get_open_orders(**L, openOnly=1, orderFilter="StopOrder")["result"]["list"] == []


def test_order_history_filters_by_status_and_order_filter(linear: str) -> None:
    """docs/v5/order/order-list.mdx (orderStatus, orderFilter; closed orders) and enum.mdx
    (orderStatus): an unknown status is 10001."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.01, "q-hist-filled")
    set_position(s, "linear", "BTCUSDT", 0.0, "q-hist-filled-2")
    s.cancel_order(**L, orderId=_rest(s, "linear", "BTCUSDT", "q-hist-cancelled"))
    _rest(s, "linear", "BTCUSDT", "q-hist-open")
    rows = s.get_order_history(**L, limit=50)["result"]["list"]
    assert "q-hist-open" not in [r["orderLinkId"] for r in rows]
    cancelled = s.get_order_history(**L, orderStatus="Cancelled", limit=50)["result"]["list"]
    filled = s.get_order_history(**L, orderStatus="Filled", limit=50)["result"]["list"]
    assert "q-hist-cancelled" in [r["orderLinkId"] for r in cancelled]
    assert "q-hist-filled" in [r["orderLinkId"] for r in filled]
    assert {r["orderStatus"] for r in cancelled} == {"Cancelled"} and {r["orderStatus"] for r in filled} == {"Filled"}
    assert s.get_order_history(**L, orderFilter="tpslOrder")["result"]["list"] == []
    assert code(lambda: s.get_order_history(**L, orderStatus="Done"))[0] == 10001
    s.cancel_all_orders(**L)


def test_history_and_executions_time_window_is_at_most_7_days(linear: str) -> None:
    """docs/v5/order/order-list.mdx and execution.mdx (startTime/endTime: both -> at most 7 days
    apart; only startTime -> [startTime, startTime + 7 days]; only endTime -> [endTime - 7 days,
    endTime]): rows are found by the times they were served with."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.01, "q-time-1")
    set_position(s, "linear", "BTCUSDT", 0.0, "q-time-2")
    [fill] = s.get_executions(**L, orderLinkId="q-time-1")["result"]["list"]
    t = int(fill["execTime"])
    for call in (s.get_executions, s.get_order_history):
        assert code(lambda c=call: c(**L, startTime=t - WEEK_MS - 1, endTime=t))[0] == 10001
        assert code(lambda c=call: c(**L, startTime=t + 1, endTime=t))[0] == 10001
    links = lambda rows: [r["orderLinkId"] for r in rows]  # noqa: E731
    assert "q-time-1" in links(s.get_executions(**L, startTime=t, endTime=t)["result"]["list"])
    assert "q-time-1" not in links(s.get_executions(**L, startTime=t + 1)["result"]["list"])
    assert "q-time-1" not in links(s.get_executions(**L, endTime=t - 1)["result"]["list"])
    assert "q-time-1" in links(s.get_executions(**L, endTime=t + WEEK_MS)["result"]["list"])
    order = s.get_order_history(**L, orderLinkId="q-time-1")["result"]["list"][0]
    created = int(order["createdTime"])
    assert "q-time-1" in links(s.get_order_history(**L, startTime=created, limit=50)["result"]["list"])
    assert "q-time-1" not in links(s.get_order_history(**L, startTime=created + 1, limit=50)["result"]["list"])


def test_executions_by_order_id_ignore_the_other_filters_and_exec_type_filters(linear: str) -> None:
    """docs/v5/order/execution.mdx ("as long as these two parameters [orderId, orderLinkId] are
    in the input parameters, other input parameters will be ignored"; execType) and enum.mdx
    (execType)."""
    s = pybit_http(linear)
    set_position(s, "linear", "BTCUSDT", 0.01, "q-exec-id")
    set_position(s, "linear", "BTCUSDT", 0.0, "q-exec-id-2")
    far = int(s.get_executions(**L, orderLinkId="q-exec-id")["result"]["list"][0]["execTime"]) + 10 * WEEK_MS
    assert len(s.get_executions(**L, orderLinkId="q-exec-id", startTime=far, execType="Funding")["result"]["list"]) == 1
    trades = s.get_executions(**L, execType="Trade", limit=100)["result"]["list"]
    assert trades and {e["execType"] for e in trades} == {"Trade"}
    assert s.get_executions(**L, execType="AdlTrade")["result"]["list"] == []
    assert code(lambda: s.get_executions(**L, execType="Fill"))[0] == 10001
