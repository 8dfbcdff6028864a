"""Bybit v5 messages -> frozen dataclasses: WebSocket pushes and replies, plus the shared parts.

Every number Bybit sends as a string (prices, sizes, fees, rates) becomes a `Decimal`; ints and
timestamps (milliseconds) become `int`. A JSON float is refused: it has already lost precision.
Parsing is strict: a required key that is missing or malformed raises `BybitMessageError` naming
the message kind, the list index and the key (`execution[2].execPrice: not a decimal: 'abc'`).
Keys Bybit documents as optional, or leaves out in some versions or in ticker deltas, become
None; a required key that is present but "" (Bybit's "no value") also becomes None where the
field is typed `| None`. Zero prices that mean "none yet" (avgPrice "0" on an unfilled order,
avgPrice "0" of a flat position) become None too: a price of 0 is never a real price.

REST responses are parsed in `rest_messages.py` (which builds on this module). The strict
accessor both are built on, the error types and the REST envelope are in `wire.py`.

Known differences of the shared fixtures (shared/fixtures/bybit/SOURCE.md) and what we do:
- `ws_public_trade.json` uses topic `trade.linear.BTCUSDT`, not a v5 topic: refused
  (`publicTrade.topic: unknown v5 topic ...`); the test replays it under `publicTrade.BTCUSDT`.
- `ws_orderbook_delta.json` is a raw delta; the top of book cannot be read from a delta, and
  pybit never hands one over (it merges and relabels them "snapshot"), so it is refused.
- `ws_auth_*.json` mix both auth reply styles (`success` and `retCode`/`retMsg`/`connId`):
  `parse_ws_ack` reads either style and, when both are present, requires them to agree.
- `ws_order_response.json` lacks `header`/`retExtInfo`: neither is needed, both optional.
- `ws_account_wallet.json` lacks `accountType` (not in SOURCE.md; Bybit's docs show it in every
  wallet item): required, so the sample is refused; the test parses it with the key put back.
- The REST quirks (fundingInterval 8, perps with a deliveryTime, null nextPageCursor, missing
  result.category) are listed in `rest_messages.py`.

Inverse contracts (BTCUSD, BTCUSDH25): every qty/size is a count of 1-USD contracts and every
fee, value, PnL and balance is in BTC. Parsing does not depend on that; the docstrings say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


# The errors and the envelope check are imported from here by the adapter and the REST parsers.
from .wire import BybitApiError, BybitMessageError, _envelope, _Obj, _show, check_envelope  # noqa: F401


# ---------------------------------------------------------------------------------------------
# Topics

_BOOK_DEPTHS = frozenset({"1", "50", "200", "1000"})
KLINE_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
_CATEGORIES = frozenset({"spot", "linear", "inverse", "option"})
_PRIVATE = frozenset({"order", "execution", "position", "wallet"})


def topic_kind(topic: str) -> tuple[str, str | None]:
    """("publicTrade"|"orderbook"|"tickers"|"kline", symbol) or (private kind, None).

    Private kinds: order, execution, position, wallet, each also with a category suffix
    (`order.linear`; not wallet), and "execution.fast" (a different, fee-less shape).
    Anything else raises: pybit routes by exact topic, so an unknown one is a bug, not data.
    """
    if not isinstance(topic, str):
        raise BybitMessageError(f"topic: not a string: {_show(topic)}")
    parts = topic.split(".")
    head, n = parts[0], len(parts)
    if head in ("publicTrade", "tickers") and n == 2 and parts[1]:
        return head, parts[1]
    if head == "orderbook" and n == 3 and parts[1] in _BOOK_DEPTHS and parts[2]:
        return head, parts[2]
    if head == "kline" and n == 3 and parts[1] in KLINE_INTERVALS and parts[2]:
        return head, parts[2]
    if head in _PRIVATE:
        if n == 1 or (n == 2 and head != "wallet" and parts[1] in _CATEGORIES):
            return head, None
        if head == "execution" and parts[1] == "fast" and (n == 2 or (n == 3 and parts[2] in _CATEGORIES)):
            return "execution.fast", None
    raise BybitMessageError(f"topic: unknown v5 topic {topic!r}")


def _topic(top: _Obj, kind: str) -> str:
    """Checks that the message's topic is of `kind`; returns its symbol ("" for private ones)."""
    topic = top.text("topic")
    try:
        got, symbol = topic_kind(topic)
    except BybitMessageError:
        raise BybitMessageError(f"{kind}.topic: unknown v5 topic {topic!r}") from None
    if got != kind:
        raise BybitMessageError(f"{kind}.topic: not a {kind} topic: {topic!r}")
    return symbol or ""


# ---------------------------------------------------------------------------------------------
# Market data


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One public trade. `side` is the taker's: +1 Buy, -1 Sell. Inverse: size in USD contracts."""

    ts_ms: int
    symbol: str
    side: int
    price: Decimal
    size: Decimal
    trade_id: str
    seq: int | None
    block_trade: bool | None = None


def parse_public_trades(msg: dict) -> list[PublicTrade]:
    """WS `publicTrade.{symbol}`. Only that topic is accepted (see the module docstring)."""
    top = _Obj(msg, "publicTrade")
    symbol = _topic(top, "publicTrade")
    out = []
    for it in top.items("data", "publicTrade"):
        if it.text("s") != symbol:
            raise it.err("s", f"symbol differs from the topic's {symbol!r}")
        out.append(PublicTrade(
            ts_ms=it.integer("T"), symbol=symbol, side=it.side("S"), price=it.dec("p"),
            size=it.dec("v"), trade_id=it.text("i"), seq=it.opt_int("seq"), block_trade=it.opt_flag("BT"),
        ))
    return out


@dataclass(frozen=True, slots=True)
class BookTop:
    """Best bid and ask; a side with no levels is None. Inverse: sizes in USD contracts."""

    ts_ms: int
    symbol: str
    bid_px: Decimal | None
    bid_sz: Decimal | None
    ask_px: Decimal | None
    ask_sz: Decimal | None
    update_id: int
    seq: int | None


def _best(book: _Obj, key: str, best: Any) -> tuple[Decimal | None, Decimal | None]:
    """Best level of one side. The lists may be unsorted (pybit appends new levels at the end)."""
    levels = book.raw(key)
    if not isinstance(levels, list):
        raise book.err(key, "not a list")
    top: tuple[Decimal, Decimal] | None = None
    for i, lv in enumerate(levels):
        if not isinstance(lv, list) or len(lv) != 2:
            raise BybitMessageError(f"{book.path}.{key}[{i}]: not a [price, size] pair: {_show(lv)}")
        pair = _Obj({"price": lv[0], "size": lv[1]}, f"{book.path}.{key}[{i}]")
        px, sz = pair.dec("price"), pair.dec("size")
        if sz <= 0:  # a merged book has no zero levels; a zero here means a raw delta leaked in
            raise pair.err("size", "not a positive size")
        if top is None or best(px, top[0]) != top[0]:
            top = (px, sz)
    return top if top is not None else (None, None)


def _book_top(book: _Obj, ts_ms: int, symbol: str) -> BookTop:
    bid_px, bid_sz = _best(book, "b", max)
    ask_px, ask_sz = _best(book, "a", min)
    return BookTop(ts_ms=ts_ms, symbol=symbol, bid_px=bid_px, bid_sz=bid_sz, ask_px=ask_px,
                   ask_sz=ask_sz, update_id=book.integer("u"), seq=book.opt_int("seq"))


def parse_orderbook_top(msg: dict) -> BookTop:
    """WS `orderbook.{depth}.{symbol}` as pybit hands it over: always type "snapshot", whole book.

    A raw "delta" is refused: it only lists changed levels, so its "best" level means nothing.
    """
    top = _Obj(msg, "orderbook")
    symbol = _topic(top, "orderbook")
    if top.raw("type") != "snapshot":
        raise top.err("type", "not a snapshot (a delta must be merged first, as pybit does)")
    book = top.obj("data")
    if book.text("s") != symbol:
        raise book.err("s", f"symbol differs from the topic's {symbol!r}")
    return _book_top(book, top.integer("ts"), symbol)


@dataclass(frozen=True, slots=True)
class Ticker:
    """WS/REST ticker. Every field but ts/symbol may be None: deltas carry changed fields only,
    spot has no mark/funding, futures have no funding ("" -> None)."""

    ts_ms: int
    symbol: str
    last_price: Decimal | None
    mark_price: Decimal | None
    index_price: Decimal | None
    bid1_price: Decimal | None
    bid1_size: Decimal | None
    ask1_price: Decimal | None
    ask1_size: Decimal | None
    funding_rate: Decimal | None
    next_funding_time_ms: int | None
    funding_interval_hour: int | None = None
    cross_seq: int | None = None


def _ticker(d: _Obj, ts_ms: int, cross_seq: int | None) -> Ticker:
    return Ticker(
        ts_ms=ts_ms, symbol=d.text("symbol"), last_price=d.opt_dec("lastPrice"),
        mark_price=d.opt_dec("markPrice"), index_price=d.opt_dec("indexPrice"),
        bid1_price=d.opt_dec("bid1Price"), bid1_size=d.opt_dec("bid1Size"),
        ask1_price=d.opt_dec("ask1Price"), ask1_size=d.opt_dec("ask1Size"),
        funding_rate=d.opt_dec("fundingRate"), next_funding_time_ms=d.opt_int("nextFundingTime"),
        funding_interval_hour=d.opt_int("fundingIntervalHour"), cross_seq=cross_seq,
    )


def parse_ticker(msg: dict) -> Ticker:
    """WS `tickers.{symbol}`, snapshot or delta (pybit merges deltas and relabels them snapshot)."""
    top = _Obj(msg, "tickers")
    symbol = _topic(top, "tickers")
    if top.raw("type") not in ("snapshot", "delta"):
        raise top.err("type", "not snapshot/delta")
    t = _ticker(top.obj("data"), top.integer("ts"), top.opt_int("cs"))
    if t.symbol != symbol:
        raise BybitMessageError(f"tickers.data.symbol: differs from the topic's {symbol!r}: {t.symbol!r}")
    return t


@dataclass(frozen=True, slots=True)
class Kline:
    """A candle [start_ms, end_ms] (end inclusive). confirm = closed. Inverse: volume in USD
    contracts, turnover in BTC; linear/spot: volume in BTC, turnover in USDT."""

    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal
    confirm: bool


def parse_ws_klines(msg: dict) -> list[Kline]:
    """WS `kline.{interval}.{symbol}`; the symbol comes from the topic."""
    top = _Obj(msg, "kline")
    symbol = _topic(top, "kline")
    interval = top.text("topic").split(".")[1]
    out = []
    for it in top.items("data", "kline"):
        if it.raw("interval") != interval:
            raise it.err("interval", f"differs from the topic's {interval!r}")
        out.append(Kline(
            symbol=symbol, interval=interval, start_ms=it.integer("start"), end_ms=it.integer("end"),
            open=it.dec("open"), high=it.dec("high"), low=it.dec("low"), close=it.dec("close"),
            volume=it.dec("volume"), turnover=it.dec("turnover"), confirm=it.flag("confirm"),
        ))
    return out


# ---------------------------------------------------------------------------------------------
# Private: orders, executions, positions, wallet (shared by the WS pushes and the REST lists)


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as Bybit reports it; `status` is Bybit's orderStatus verbatim.

    price/avg_price None when "" or "0" (market orders on spot, no fills yet). cum_exec_fee comes
    from cumExecFee (inverse, older linear), else the sum of cumFeeDetail (linear/spot), else
    None. Inverse: qty, leaves_qty, cum_exec_qty in USD contracts; cum_exec_value/fee in BTC.
    """

    category: str
    symbol: str
    order_id: str
    order_link_id: str
    side: int
    order_type: str
    price: Decimal | None
    qty: Decimal
    time_in_force: str
    status: str
    cancel_type: str
    reject_reason: str
    avg_price: Decimal | None
    leaves_qty: Decimal
    cum_exec_qty: Decimal
    cum_exec_value: Decimal
    cum_exec_fee: Decimal | None
    reduce_only: bool
    created_ms: int
    updated_ms: int
    position_idx: int | None = None


def _cum_fee(it: _Obj) -> Decimal | None:
    fee = it.opt_dec("cumExecFee")
    if fee is not None:
        return fee
    if it.d.get("cumFeeDetail") is None:
        return None
    detail = it.obj("cumFeeDetail")
    return sum((detail.dec(coin) for coin in detail.d), Decimal(0))


def _order_state(it: _Obj, category: str | None) -> OrderState:
    """One order object; `category` from the REST result when the item has none."""
    cat = it.text("category") if category is None else category
    return OrderState(
        category=cat, symbol=it.text("symbol"), order_id=it.text("orderId"),
        order_link_id=it.text("orderLinkId"), side=it.side("side"), order_type=it.text("orderType"),
        price=it.price_or_none("price"), qty=it.dec("qty"), time_in_force=it.text("timeInForce"),
        status=it.text("orderStatus"), cancel_type=it.text("cancelType"),
        reject_reason=it.text("rejectReason"), avg_price=it.price_or_none("avgPrice"),
        leaves_qty=it.dec("leavesQty"), cum_exec_qty=it.dec("cumExecQty"),
        cum_exec_value=it.dec("cumExecValue"), cum_exec_fee=_cum_fee(it),
        reduce_only=it.flag("reduceOnly"), created_ms=it.integer("createdTime"),
        updated_ms=it.integer("updatedTime"), position_idx=it.opt_int("positionIdx"),
    )


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill (execType Trade) or a Funding/Settle/Delivery row. exec_fee < 0 is a rebate
    (or funding received). Inverse: exec_qty in USD contracts, exec_value and exec_fee in BTC."""

    category: str
    symbol: str
    exec_id: str
    order_id: str
    order_link_id: str
    side: int
    exec_price: Decimal
    exec_qty: Decimal
    exec_value: Decimal
    exec_fee: Decimal
    fee_rate: Decimal | None
    exec_type: str
    exec_time_ms: int
    is_maker: bool
    mark_price: Decimal | None
    seq: int | None
    order_type: str | None = None
    leaves_qty: Decimal | None = None
    closed_size: Decimal | None = None
    fee_currency: str | None = None


def _execution(it: _Obj, category: str | None) -> Execution:
    cat = it.text("category") if category is None else category
    return Execution(
        category=cat, symbol=it.text("symbol"), exec_id=it.text("execId"), order_id=it.text("orderId"),
        order_link_id=it.text("orderLinkId"), side=it.side("side"), exec_price=it.dec("execPrice"),
        exec_qty=it.dec("execQty"), exec_value=it.dec("execValue"), exec_fee=it.dec("execFee"),
        fee_rate=it.opt_dec("feeRate"), exec_type=it.text("execType"),
        exec_time_ms=it.integer("execTime"), is_maker=it.flag("isMaker"),
        mark_price=it.opt_dec("markPrice"), seq=it.opt_int("seq"), order_type=it.opt_text("orderType"),
        leaves_qty=it.opt_dec("leavesQty"), closed_size=it.opt_dec("closedSize"),
        fee_currency=it.opt_text("feeCurrency"),
    )


@dataclass(frozen=True, slots=True)
class PositionState:
    """A position. side +1 Buy, -1 Sell, 0 flat (""); size >= 0. entry_price and liq_price None
    when flat ("0"/""). seq is -1 for a symbol never traded (Bybit's value, kept). Inverse: size
    in USD contracts; position_value and PnLs in BTC."""

    category: str
    symbol: str
    side: int
    size: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealised_pnl: Decimal | None
    cum_realised_pnl: Decimal | None
    position_idx: int
    updated_ms: int | None
    seq: int | None
    position_value: Decimal | None = None
    leverage: Decimal | None = None
    liq_price: Decimal | None = None
    cur_realised_pnl: Decimal | None = None

    @property
    def signed_size(self) -> Decimal:
        return self.side * self.size


def _position_state(it: _Obj, category: str | None, entry_key: str) -> PositionState:
    """`entry_key` is "entryPrice" in WS pushes and "avgPrice" in REST /v5/position/list."""
    cat = it.text("category") if category is None else category
    side, size = it.side("side", flat_ok=True), it.dec("size")
    if size < 0 or (side == 0 and size != 0):  # a flat hedge-mode leg may keep its Buy/Sell
        raise it.err("size", f"does not fit side {it.d.get('side')!r}")
    return PositionState(
        category=cat, symbol=it.text("symbol"), side=side, size=size,
        entry_price=it.price_or_none(entry_key), mark_price=it.price_or_none("markPrice"),
        unrealised_pnl=it.dec_or_none("unrealisedPnl"), cum_realised_pnl=it.dec_or_none("cumRealisedPnl"),
        position_idx=it.integer("positionIdx"), updated_ms=it.opt_int("updatedTime"),
        seq=it.opt_int("seq"), position_value=it.opt_dec("positionValue"),
        leverage=it.opt_dec("leverage"), liq_price=it.opt_dec("liqPrice") or None,  # "0" when flat
        cur_realised_pnl=it.opt_dec("curRealisedPnl"),
    )


@dataclass(frozen=True, slots=True)
class CoinBalance:
    """One coin of a wallet, in that coin ("" -> None; the WS push omits the PnL keys)."""

    coin: str
    equity: Decimal | None
    wallet_balance: Decimal | None
    unrealised_pnl: Decimal | None
    cum_realised_pnl: Decimal | None
    locked: Decimal | None = None
    usd_value: Decimal | None = None
    total_order_im: Decimal | None = None
    total_position_im: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WalletState:
    """A wallet (account type UNIFIED for trading); totals in USD."""

    account_type: str
    total_equity: Decimal | None
    total_wallet_balance: Decimal | None
    total_available_balance: Decimal | None
    coins: tuple[CoinBalance, ...]
    total_margin_balance: Decimal | None = None
    total_initial_margin: Decimal | None = None
    total_maintenance_margin: Decimal | None = None


def _wallet_state(it: _Obj) -> WalletState:
    coins = tuple(
        CoinBalance(
            coin=c.text("coin"), equity=c.dec_or_none("equity"), wallet_balance=c.dec_or_none("walletBalance"),
            unrealised_pnl=c.opt_dec("unrealisedPnl"), cum_realised_pnl=c.opt_dec("cumRealisedPnl"),
            locked=c.opt_dec("locked"), usd_value=c.opt_dec("usdValue"),
            total_order_im=c.opt_dec("totalOrderIM"), total_position_im=c.opt_dec("totalPositionIM"),
        )
        for c in it.items("coin")
    )
    return WalletState(
        account_type=it.text("accountType"), total_equity=it.dec_or_none("totalEquity"),
        total_wallet_balance=it.dec_or_none("totalWalletBalance"),
        total_available_balance=it.dec_or_none("totalAvailableBalance"), coins=coins,
        total_margin_balance=it.opt_dec("totalMarginBalance"),
        total_initial_margin=it.opt_dec("totalInitialMargin"),
        total_maintenance_margin=it.opt_dec("totalMaintenanceMargin"),
    )


def _private(msg: dict, kind: str) -> list[_Obj]:
    top = _Obj(msg, kind)
    _topic(top, kind)
    return top.items("data", kind)


def parse_order_push(msg: dict) -> list[OrderState]:
    """WS `order` / `order.{category}`."""
    return [_order_state(it, None) for it in _private(msg, "order")]


def parse_execution_push(msg: dict) -> list[Execution]:
    """WS `execution` / `execution.{category}` (not `execution.fast`: it carries no fee)."""
    return [_execution(it, None) for it in _private(msg, "execution")]


def parse_position_push(msg: dict) -> list[PositionState]:
    """WS `position` / `position.{category}`; entry price from `entryPrice`."""
    return [_position_state(it, None, "entryPrice") for it in _private(msg, "position")]


def parse_wallet_push(msg: dict) -> list[WalletState]:
    """WS `wallet`."""
    return [_wallet_state(it) for it in _private(msg, "wallet")]


# ---------------------------------------------------------------------------------------------
# Replies: subscribe/auth/ping acks and WS order-entry responses


@dataclass(frozen=True, slots=True)
class WsAck:
    """Reply to subscribe/unsubscribe/auth/ping. `message` is ret_msg/retMsg ("" for pongs)."""

    op: str
    success: bool
    req_id: str | None
    message: str
    conn_id: str | None
    ret_code: int | None = None


_ACK_OPS = frozenset({"subscribe", "unsubscribe", "auth", "ping", "pong"})


def _either(top: _Obj, a: str, b: str) -> str | None:
    """The string under snake-case key `a` or camel-case key `b` (the two reply styles)."""
    if top.has(a) and top.has(b) and top.d[a] != top.d[b]:
        raise top.err(b, f"disagrees with {a} {top.d[a]!r}")
    key = a if top.has(a) else b
    return top.opt_text(key)


def parse_ws_ack(msg: dict) -> WsAck:
    """Private/public style (`success`, `ret_msg`, `conn_id`, `req_id`) and trade style
    (`retCode`, `retMsg`, `connId`, `reqId`) alike; when a reply carries both `success` and
    `retCode` (the shared auth fixtures do), they must agree. Pongs without either count as
    success (private/trade/option pongs are `{"op":"pong","args":[ms],...}`)."""
    top = _Obj(msg, "ack")
    op = top.text("op")
    if op not in _ACK_OPS:
        raise top.err("op", "not an ack op (order replies go to parse_ws_order_response)")
    if top.has("topic"):
        raise top.err("topic", "a data push, not an ack")
    code = top.integer("retCode") if top.has("retCode") else None
    if top.has("success"):
        success = top.flag("success")
        if code is not None and success != (code == 0):
            raise top.err("success", f"disagrees with retCode {code}")
    elif code is not None:
        success = code == 0
    elif op == "pong":
        success = True
    else:
        raise BybitMessageError("ack.success: missing (and no retCode)")
    message = _either(top, "ret_msg", "retMsg")
    if message is None:
        if op != "pong":
            raise BybitMessageError("ack.ret_msg: missing (and no retMsg)")
        message = ""
    return WsAck(op=op, success=success, req_id=_either(top, "req_id", "reqId"), message=message,
                 conn_id=_either(top, "conn_id", "connId"), ret_code=code)


@dataclass(frozen=True, slots=True)
class WsOrderResponse:
    """Reply on the /v5/trade stream to order.create/amend/cancel (an ack, not the order's fate)."""

    op: str
    req_id: str
    ret_code: int
    ret_msg: str
    order_id: str | None
    order_link_id: str | None
    conn_id: str | None = None

    @property
    def success(self) -> bool:
        return self.ret_code == 0


_ORDER_OPS = frozenset({"order.create", "order.amend", "order.cancel"})


def parse_ws_order_response(msg: dict) -> WsOrderResponse:
    """Single-order ops only; batch replies (`order.*-batch`) have another shape and are refused.
    `header`/`retExtInfo` are not read (the shared fixture lacks them; nothing here needs them)."""
    top = _Obj(msg, "order-response")
    op = top.text("op")
    if op not in _ORDER_OPS:
        raise top.err("op", "not a single-order op")
    code = top.integer("retCode")
    data = top.obj("data")
    # on failure data is {}; on success orderId must be there, it is what the ack is for
    order_id = data.text("orderId") if code == 0 else data.opt_text("orderId")
    return WsOrderResponse(op=op, req_id=top.text("reqId"), ret_code=code, ret_msg=top.text("retMsg"),
                           order_id=order_id, order_link_id=data.opt_text("orderLinkId"),
                           conn_id=top.opt_text("connId"))
