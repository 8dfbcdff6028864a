"""Bybit v5 REST responses -> the dataclasses of `messages.py` (plus instruments, fees, funding).

Each parser takes the whole decoded reply (what pybit's HTTP methods return), checks the
envelope (`retCode != 0` -> `BybitApiError`) and parses `result`. Errors name the endpoint and
the list index: `executions[1].execFee: missing`. Lists that carry a cursor return
`(items, nextPageCursor)`; "" means there is no further page.

Decisions on the shared fixtures' deviations (shared/fixtures/bybit/SOURCE.md):
- `result.category` is missing in some samples (instruments linear/inverse/spot, orders): the
  list parsers take a `category` argument (the caller always knows it: it is a required query
  parameter) and raise when neither is there, or when both are and differ.
- `nextPageCursor: null` (instruments linear/inverse): refused, v5 documents a string. The
  tests show the error and then parse the sample with "" put in.
- `fundingInterval: 8` (instruments linear/inverse): kept as given. The unit is minutes (real
  BTCUSDT: 480), so 8 is a fixture error; rescaling would hide a real change of unit.
- Perpetuals with a non-zero `deliveryTime`: `delivery_time_ms` stays None for perpetuals
  (it means expiry); a non-zero value is kept as `delist_time_ms`, which is what it means on a
  real perpetual (the delisting time). Futures must have one ("0" raises).
- Klines come newest first and are returned oldest first; REST has no `confirm`, so a row is
  confirmed when its end is before the reply's `time` (only the newest can be open).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from adapters.bybit.messages import (
    KLINE_INTERVALS,
    BookTop,
    BybitMessageError,
    Execution,
    Kline,
    OrderState,
    PositionState,
    PublicTrade,
    Ticker,
    WalletState,
    _book_top,
    _envelope,
    _execution,
    _Obj,
    _order_state,
    _position_state,
    _ticker,
    _wallet_state,
)


def _category(res: _Obj, category: str | None) -> str:
    got = res.d.get("category") or None
    if got is None and category is None:
        raise BybitMessageError(f"{res.path}.category: missing (and no category argument)")
    if got is not None and category is not None and got != category:
        raise res.err("category", f"differs from the requested {category!r}")
    return res.text("category") if got is not None else category  # type: ignore[return-value]


def _listed(resp: dict, what: str) -> tuple[_Obj, list[_Obj]]:
    _, res = _envelope(resp, what)
    return res, res.items("list", what)


def parse_orders(resp: dict, category: str | None = None) -> tuple[list[OrderState], str]:
    """/v5/order/realtime and /v5/order/history (newest first, as Bybit sends them)."""
    res, items = _listed(resp, "orders")
    cat = _category(res, category)
    return [_order_state(it, cat) for it in items], res.text("nextPageCursor")


def parse_executions(resp: dict, category: str | None = None) -> tuple[list[Execution], str]:
    """/v5/execution/list."""
    res, items = _listed(resp, "executions")
    cat = _category(res, category)
    return [_execution(it, cat) for it in items], res.text("nextPageCursor")


def parse_positions(resp: dict, category: str | None = None) -> tuple[list[PositionState], str]:
    """/v5/position/list; the entry price is `avgPrice` here (`entryPrice` in WS pushes)."""
    res, items = _listed(resp, "positions")
    cat = _category(res, category)
    return [_position_state(it, cat, "avgPrice") for it in items], res.text("nextPageCursor")


def parse_wallet_balance(resp: dict) -> list[WalletState]:
    """/v5/account/wallet-balance."""
    return [_wallet_state(it) for it in _listed(resp, "wallet-balance")[1]]


def parse_rest_orderbook(resp: dict) -> BookTop:
    """/v5/market/orderbook: `{s, b, a, ts, u, seq, cts}` (sorted, but not relied upon)."""
    _, res = _envelope(resp, "orderbook")
    return _book_top(res, res.integer("ts"), res.text("s"))


def parse_rest_tickers(resp: dict) -> list[Ticker]:
    """/v5/market/tickers; REST rows have no own timestamp, so ts_ms is the reply's `time`."""
    top, res = _envelope(resp, "tickers")
    ts = top.integer("time")
    return [_ticker(it, ts, None) for it in res.items("list", "tickers")]


_MINUTE_MS = 60_000
_FIXED_MS = {i: int(i) * _MINUTE_MS for i in KLINE_INTERVALS if i.isdigit()}
_FIXED_MS |= {"D": 1440 * _MINUTE_MS, "W": 7 * 1440 * _MINUTE_MS}


def kline_end_ms(start_ms: int, interval: str) -> int:
    """Last millisecond of the candle starting at `start_ms` ("M": to the end of that month)."""
    if interval == "M":
        t = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)
        days = calendar.monthrange(t.year, t.month)[1]
        month_start = datetime(t.year, t.month, 1, tzinfo=timezone.utc)
        return int(month_start.timestamp() * 1000) + days * 1440 * _MINUTE_MS - 1
    if interval not in _FIXED_MS:
        raise BybitMessageError(f"kline.interval: not a v5 interval: {interval!r}")
    return start_ms + _FIXED_MS[interval] - 1


def parse_rest_klines(resp: dict, symbol: str, interval: str) -> list[Kline]:
    """/v5/market/kline rows `[start, open, high, low, close, volume, turnover]`, newest first
    -> oldest first. confirm = the candle ended before the reply's `time`."""
    top, res = _envelope(resp, "kline")
    if res.has("symbol") and res.text("symbol") != symbol:
        raise res.err("symbol", f"differs from the requested {symbol!r}")
    now_ms = top.integer("time")
    rows = res.raw("list")
    if not isinstance(rows, list):
        raise res.err("list", "not a list")
    names = ("start", "open", "high", "low", "close", "volume", "turnover")
    out: list[Kline] = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise BybitMessageError(f"kline[{i}]: not a 7-field row: {row!r}")
        r = _Obj(dict(zip(names, row)), f"kline[{i}]")
        start = r.integer("start")
        if out and start >= out[-1].start_ms:
            raise r.err("start", "rows are not newest first")
        end = kline_end_ms(start, interval)
        out.append(Kline(
            symbol=symbol, interval=interval, start_ms=start, end_ms=end, open=r.dec("open"),
            high=r.dec("high"), low=r.dec("low"), close=r.dec("close"), volume=r.dec("volume"),
            turnover=r.dec("turnover"), confirm=end < now_ms,
        ))
    out.reverse()
    return out


def parse_recent_trades(resp: dict) -> list[PublicTrade]:
    """/v5/market/recent-trade, in Bybit's order; `side` is the taker's."""
    return [
        PublicTrade(ts_ms=it.integer("time"), symbol=it.text("symbol"), side=it.side("side"),
                    price=it.dec("price"), size=it.dec("size"), trade_id=it.text("execId"),
                    seq=it.opt_int("seq"), block_trade=it.opt_flag("isBlockTrade"))
        for it in _listed(resp, "recent-trade")[1]
    ]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One row of /v5/market/instruments-info (spot, linear, inverse).

    qty_step: lotSizeFilter.qtyStep (spot: basePrecision). min_notional: linear
    minNotionalValue, spot minOrderAmt (inverse usually has none). delivery_time_ms: expiry of
    a future; None for perpetuals and spot. funding_interval_min: minutes, as given (None for
    spot and for futures, which have no funding). Inverse: quantities in USD contracts.
    """

    category: str
    symbol: str
    contract_type: str | None
    status: str
    base_coin: str
    quote_coin: str
    settle_coin: str | None
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    min_notional: Decimal | None
    delivery_time_ms: int | None
    funding_interval_min: int | None
    max_market_qty: Decimal | None = None
    delist_time_ms: int | None = None
    delivery_fee_rate: Decimal | None = None

    @property
    def is_perpetual(self) -> bool:
        return self.contract_type is not None and self.contract_type.endswith("Perpetual")


_CONTRACT_TYPES = {
    "linear": ("LinearPerpetual", "LinearFutures"),
    "inverse": ("InversePerpetual", "InverseFutures"),
}


def _instrument(it: _Obj, category: str) -> Instrument:
    pf, lot = it.obj("priceFilter"), it.obj("lotSizeFilter")
    common = dict(category=category, symbol=it.text("symbol"), status=it.text("status"),
                  base_coin=it.text("baseCoin"), quote_coin=it.text("quoteCoin"),
                  tick_size=pf.dec("tickSize"))
    if category == "spot":
        # maxLimitOrderQty replaced maxOrderQty (deprecated; the shared sample has only that)
        max_key = "maxLimitOrderQty" if lot.has("maxLimitOrderQty") else "maxOrderQty"
        return Instrument(
            **common, contract_type=None, settle_coin=None, qty_step=lot.dec("basePrecision"),
            min_qty=lot.dec("minOrderQty"), max_qty=lot.opt_dec(max_key),
            min_notional=lot.dec("minOrderAmt"), delivery_time_ms=None, funding_interval_min=None,
            max_market_qty=lot.opt_dec("maxMarketOrderQty"),
        )
    ct = it.text("contractType")
    if ct not in _CONTRACT_TYPES[category]:
        raise it.err("contractType", f"not a {category} contract type")
    delivery = it.integer("deliveryTime")
    if ct.endswith("Perpetual"):
        funding = it.integer("fundingInterval")
        if funding <= 0:
            raise it.err("fundingInterval", "not a positive number of minutes")
        delivery_ms, delist_ms = None, (delivery or None)
    else:
        if delivery <= 0:
            raise it.err("deliveryTime", "a future without a delivery time")
        funding = it.opt_int("fundingInterval") or None  # futures have no funding: 0 or absent
        delivery_ms, delist_ms = delivery, None
    return Instrument(
        **common, contract_type=ct, settle_coin=it.text("settleCoin"), qty_step=lot.dec("qtyStep"),
        min_qty=lot.dec("minOrderQty"), max_qty=lot.opt_dec("maxOrderQty"),
        min_notional=lot.opt_dec("minNotionalValue"), delivery_time_ms=delivery_ms,
        funding_interval_min=funding, max_market_qty=lot.opt_dec("maxMktOrderQty"),
        delist_time_ms=delist_ms, delivery_fee_rate=it.opt_dec("deliveryFeeRate"),
    )


def parse_instruments(resp: dict, category: str | None = None) -> tuple[list[Instrument], str]:
    """/v5/market/instruments-info for spot, linear, inverse (options are not supported)."""
    res, items = _listed(resp, "instruments-info")
    cat = _category(res, category)
    if cat not in ("spot", "linear", "inverse"):
        raise BybitMessageError(f"instruments-info.result.category: not supported: {cat!r}")
    return [_instrument(it, cat) for it in items], res.text("nextPageCursor")


@dataclass(frozen=True, slots=True)
class FeeRate:
    symbol: str
    taker: Decimal
    maker: Decimal


def parse_fee_rates(resp: dict) -> list[FeeRate]:
    """/v5/account/fee-rate."""
    return [FeeRate(symbol=it.text("symbol"), taker=it.dec("takerFeeRate"), maker=it.dec("makerFeeRate"))
            for it in _listed(resp, "fee-rate")[1]]


@dataclass(frozen=True, slots=True)
class FundingRate:
    symbol: str
    rate: Decimal
    ts_ms: int


def parse_funding_history(resp: dict) -> list[FundingRate]:
    """/v5/market/funding/history (Bybit sends newest first) -> oldest first."""
    rows = [FundingRate(symbol=it.text("symbol"), rate=it.dec("fundingRate"),
                        ts_ms=it.integer("fundingRateTimestamp"))
            for it in _listed(resp, "funding/history")[1]]
    return sorted(rows, key=lambda r: r.ts_ms)


def parse_server_time(resp: dict) -> int:
    """/v5/market/time -> nanoseconds (`timeNano`)."""
    return _envelope(resp, "time")[1].integer("timeNano")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """unified_margin_status 5/6 = UTA 2.0; margin_mode REGULAR_MARGIN (cross), ISOLATED_MARGIN,
    PORTFOLIO_MARGIN."""

    unified_margin_status: int
    margin_mode: str


def parse_account_info(resp: dict) -> AccountInfo:
    """/v5/account/info."""
    _, res = _envelope(resp, "account/info")
    return AccountInfo(unified_margin_status=res.integer("unifiedMarginStatus"),
                       margin_mode=res.text("marginMode"))
