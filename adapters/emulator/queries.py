"""Bybit's list endpoints over the emulated account: open orders (`/v5/order/realtime`), order
history (`/v5/order/history`), executions (`/v5/execution/list`) and positions
(`/v5/position/list`), with their documented parameters, filters, defaults and cursor pagination.

Pages are newest first. A cursor names the last row a page returned (each row has a fixed key:
its creation rank), and the next page starts below it, so a client that follows
`nextPageCursor` until it is "" gets every row exactly once even when rows are added between
pages (new rows rank above the cursor; they are on the first page of the next walk). A cursor
this emulator did not make, or one made by another endpoint, is refused: 10001 (docs/DECISIONS.md
("Emulator queries")).

Times a client sends (`startTime`/`endTime`) are compared with the venue-time milliseconds the
rows were served with (`EmOrder.created_ms`, `EmExecution.time_ms`, both from the exchange's
`VenueClock`), and "now" for the documented 7-day and 24-hour windows is the venue time of the
current market instant — one timeline for what is served and what is asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote

from .account import EmExecution, EmOrder, EmPosition
from .clock import VenueClock
from .contract import Contract
from .validation import ApiError, choice, integer, page_limit, params_error, text


class Venue(Protocol):
    """What the lists read of the exchange (`exchange.EmulatedExchange`, which imports this module)."""

    category: str
    symbol: str
    contract: Contract
    clock: VenueClock
    market_ns: int
    orders: dict[str, EmOrder]
    executions: list[EmExecution]
    position: EmPosition

    def position_row(self) -> dict[str, Any]: ...

#: enum.mdx (category): what Bybit knows; a known category the emulator does not serve lists nothing.
CATEGORIES = ("linear", "inverse", "spot", "option")
#: open-order.mdx / order-list.mdx orderFilter; the emulator has active orders only (`Order`).
ORDER_FILTERS = ("Order", "StopOrder", "tpslOrder", "OcoOrder", "BidirectionalTpslOrder")
#: enum.mdx orderStatus.
ORDER_STATUSES = ("New", "PartiallyFilled", "Untriggered", "Rejected", "PartiallyFilledCanceled", "Filled",
                  "Cancelled", "Triggered", "Deactivated")
#: enum.mdx execType ("UNKNOWN ... Cannot query by this type").
EXEC_TYPES = ("Trade", "AdlTrade", "Funding", "BustTrade", "Delivery", "Settle", "BlockTrade", "MovePosition",
              "FutureSpread", "CorporateAction")
DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS
#: open-order.mdx openOnly=1: "a maximum of recent 500 closed status records".
RECENT_CLOSED = 500
#: order-list.mdx: fully cancelled, rejected and deactivated orders are kept for 24 hours only.
SHORT_LIVED = ("Cancelled", "Rejected", "Deactivated")

#: The retMsg Bybit answers a linear list or cancel-all without its scope with (retCode 10001).
MISSING_SCOPE = "Missing some parameters that must be filled in, symbol or settleCoin or baseCoin"
MISSING_POSITION_SCOPE = "Missing some parameters that must be filled in, symbol or settleCoin"

_CURSOR = re.compile(r"(ord|his|exe|pos):([0-9]{1,12})")


def category(p: Mapping[str, Any]) -> str:
    """The required `category` (10001 when missing or not one of Bybit's)."""
    cat = text(p, "category", required=True)
    assert cat is not None
    if cat not in CATEGORIES:
        raise params_error(f"category invalid: {cat!r}")
    return cat


def _cursor(p: Mapping[str, Any], kind: str, top: int) -> int | None:
    """The row key a `cursor` points below; None for the first page."""
    raw = text(p, "cursor", max_len=128)
    if raw is None:
        return None
    m = _CURSOR.fullmatch(unquote(raw))
    if m is None or m.group(1) != kind or not 1 <= int(m.group(2)) <= top:
        raise params_error("cursor invalid")
    return int(m.group(2))


def _page(keyed: Iterable[tuple[int, Any]], limit: int, after: int | None, kind: str) -> tuple[list[Any], str]:
    """Rows (key, row) newest first: the page below `after` and the cursor of the next one."""
    rows = [(k, r) for k, r in keyed if after is None or k < after]
    page = rows[:limit]
    nxt = f"{kind}%3A{page[-1][0]}" if len(rows) > limit else ""
    return [r for _, r in page], nxt


def _time_window(p: Mapping[str, Any], now_ms: int) -> tuple[int, int]:
    """startTime / endTime as order-list.mdx and execution.mdx document them: neither -> the last
    7 days; one -> 7 days from / to it; both -> at most 7 days apart."""
    start, end = integer(p, "startTime"), integer(p, "endTime")
    if start is None and end is None:
        return now_ms - WEEK_MS, now_ms
    if start is None:
        assert end is not None
        return end - WEEK_MS, end
    if end is None:
        return start, start + WEEK_MS
    if start > end:
        raise params_error("startTime must be smaller than endTime")
    if end - start > WEEK_MS:
        raise params_error("The time range between startTime and endTime cannot exceed 7 days")
    return start, end


class Scope:
    """Which of the instrument's rows symbol / baseCoin / settleCoin select (priority in that order:
    open-order.mdx, cancel-all.mdx); the emulator serves one symbol, so a scope is all or nothing."""

    def __init__(self, ex: Venue, p: Mapping[str, Any]) -> None:
        self.symbol, self.base, self.settle = text(p, "symbol"), text(p, "baseCoin"), text(p, "settleCoin")
        self.given = any(v is not None for v in (self.symbol, self.base, self.settle))
        c = ex.contract
        if self.symbol is not None:
            self.matches = self.symbol == ex.symbol
        elif self.base is not None:
            self.matches = self.base == c.base
        elif self.settle is not None:
            self.matches = self.settle == c.settle
        else:
            self.matches = True


def _order_ids(p: Mapping[str, Any]) -> tuple[str | None, str | None]:
    return text(p, "orderId"), text(p, "orderLinkId")


def _by_id(o: EmOrder, oid: str | None, link: str | None) -> bool:
    """orderId > orderLinkId: the first one given decides (open-order.mdx, execution.mdx)."""
    return o.order_id == oid if oid is not None else o.link_id == link


def _ranked_orders(ex: Venue) -> list[tuple[int, EmOrder]]:
    """Orders with their creation rank (1 = first), newest first (`createdTime` descending)."""
    return list(reversed(list(enumerate(ex.orders.values(), start=1))))


def open_orders(ex: Venue, p: Mapping[str, Any]) -> dict[str, Any]:
    """GET /v5/order/realtime (order/open-order.mdx)."""
    cat = category(p)
    limit = page_limit(p, default=20, hi=50)
    open_only = integer(p, "openOnly", default=0, hi=1)
    flt = choice(p, "orderFilter", ORDER_FILTERS)
    oid, link = _order_ids(p)
    scope = Scope(ex, p)
    if cat == "linear" and not scope.given and oid is None and link is None:
        raise ApiError(10001, MISSING_SCOPE)
    if cat == "spot" and scope.settle is not None and scope.symbol is None and scope.base is None:
        raise params_error("settleCoin is not supported for spot")
    after = _cursor(p, "ord", len(ex.orders))
    if cat != ex.category or flt not in (None, "Order"):
        return {"category": cat, "list": [], "nextPageCursor": ""}
    ranked = _ranked_orders(ex)
    if oid is not None or link is not None:  # openOnly is ignored when querying by id
        keyed = [(k, o) for k, o in ranked if _by_id(o, oid, link)]
    elif not scope.matches:
        keyed = []
    elif open_only == 0:
        keyed = [(k, o) for k, o in ranked if o.is_open]
    else:
        keyed = [(k, o) for k, o in ranked if not o.is_open][:RECENT_CLOSED]
    rows, nxt = _page(keyed, limit, after, "ord")
    return {"category": cat, "list": [o.wire(ex.contract) for o in rows], "nextPageCursor": nxt}


def order_history(ex: Venue, p: Mapping[str, Any]) -> dict[str, Any]:
    """GET /v5/order/history (order/order-list.mdx): closed orders. Fully cancelled and rejected
    ones are kept 24 hours; beyond 7 days only orders with fills are kept. The time window
    applies to `createdTime`; a query by id ignores it (docs/DECISIONS.md ("Emulator queries"))."""
    cat = category(p)
    limit = page_limit(p, default=20, hi=50)
    flt = choice(p, "orderFilter", ORDER_FILTERS)
    status = choice(p, "orderStatus", ORDER_STATUSES)
    oid, link = _order_ids(p)
    scope = Scope(ex, p)
    now = ex.clock.venue_ms(ex.market_ns)
    start, end = _time_window(p, now)
    after = _cursor(p, "his", len(ex.orders))
    if cat != ex.category or flt not in (None, "Order") or not scope.matches:
        return {"category": cat, "list": [], "nextPageCursor": ""}

    def kept(o: EmOrder) -> bool:
        if o.is_open or (status is not None and o.status != status):
            return False
        if o.status in SHORT_LIVED and o.cum_qty == 0 and (o.updated_ms or o.created_ms) < now - DAY_MS:
            return False
        if o.created_ms < now - WEEK_MS and o.cum_qty == 0:
            return False
        if oid is not None or link is not None:
            return _by_id(o, oid, link)
        return start <= o.created_ms <= end

    rows, nxt = _page([(k, o) for k, o in _ranked_orders(ex) if kept(o)], limit, after, "his")
    return {"category": cat, "list": [o.wire(ex.contract) for o in rows], "nextPageCursor": nxt}


def executions(ex: Venue, p: Mapping[str, Any]) -> dict[str, Any]:
    """GET /v5/execution/list (order/execution.mdx): newest first by execTime. orderId and
    orderLinkId, when given, override every other filter ("other input parameters will be ignored")."""
    cat = category(p)
    limit = page_limit(p, default=50, hi=100)
    etype = choice(p, "execType", EXEC_TYPES)
    oid, link = _order_ids(p)
    scope = Scope(ex, p)
    if cat == "spot" and scope.settle is not None:
        raise params_error("settleCoin is not supported for spot")  # "Only for linear, inverse, option"
    start, end = _time_window(p, ex.clock.venue_ms(ex.market_ns))
    after = _cursor(p, "exe", len(ex.executions))
    if cat != ex.category:
        return {"category": cat, "list": [], "nextPageCursor": ""}

    def kept(e: EmExecution) -> bool:
        if oid is not None or link is not None:
            return e.order is not None and _by_id(e.order, oid, link)
        return scope.matches and (etype is None or e.exec_type == etype) and start <= e.time_ms <= end

    # Executions are recorded as market time reaches them: creation rank is execTime order.
    keyed = [(k, e) for k, e in reversed(list(enumerate(ex.executions, start=1))) if kept(e)]
    rows, nxt = _page(keyed, limit, after, "exe")
    return {"category": cat, "list": [e.wire(ex.contract) for e in rows], "nextPageCursor": nxt}


def positions(ex: Venue, p: Mapping[str, Any]) -> dict[str, Any]:
    """GET /v5/position/list (position/position.mdx): with `symbol` the row is listed even when
    flat; without it (settleCoin for linear, nothing or settleCoin for inverse) only a position
    with a size. Linear needs symbol or settleCoin; spot has no positions."""
    cat = category(p)
    page_limit(p, default=20, hi=200)
    symbol, settle = text(p, "symbol"), text(p, "settleCoin")
    if cat == "spot":
        raise params_error("category spot has no positions")
    if cat == "linear" and symbol is None and settle is None:
        raise ApiError(10001, MISSING_POSITION_SCOPE)
    _cursor(p, "pos", 1)
    if cat != ex.category or not ex.contract.has_positions:
        return {"category": cat, "list": [], "nextPageCursor": ""}
    if symbol is not None:
        shown = symbol == ex.symbol
    else:
        shown = (settle is None or settle == ex.contract.settle) and ex.position.size != 0.0
    return {"category": cat, "list": [ex.position_row()] if shown else [], "nextPageCursor": ""}
