"""The emulated exchange: a scenario's market replayed through the same Rust matching engine the
simulated adapter uses, with Bybit's order API on top.

Market time is the scenario's time: the engine and the replay run on it (`advance`). Everything
served — market data, orders' lives, executions — is stamped in venue time, market time shifted
by the emulator's one `clock` (`_ms`); the signing window and rate limits are the client's own
clock (see `server`).

Order calls are answered at the current market time: the order goes into the engine, the engine
is advanced to that same instant, and what it decided (accepted, rejected, cancelled) is known
before the REST reply leaves, as at Bybit. Fills come later, when the replay reaches the quote or
print that fills them. Everything that happens is returned as private messages for the server to
push (`order`, `execution`, `position`, `wallet`).

The instrument is served in one category — linear, spot or inverse (`contract`) — whose rules the
order API applies: spot takes a market Buy's qty in the quote coin unless `marketUnit` says
baseCoin, checks the free balance of the coin an order spends (170131), the minimum order value
(170140) and answers a duplicate orderLinkId with 170141; inverse refuses any order while the
BTC wallet is empty (110007). Before an order reaches the engine it passes Bybit's pre-trade
checks (`risk`): the price band, reduce-only against the position (110017), the one-way position
mode, and for derivatives the unified account's margin (110007 when its initial margin does not fit).
The engine is given the order's timeInForce and reduceOnly, and the cancels it makes on its own
come back with Bybit's `cancelType` / `rejectReason` (see `_on_update`).

The list endpoints (open orders, history, executions, positions) read this account in `queries`;
`--state FILE` keeps it across restarts (`state_file`, told of every change through `keeper`).
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from adapters.simulated import SlippageModel
from sim.core.config import Config, load_config
from sim.core.events import Fill, Funding, OrderUpdate
from sim.market.feed import MarketFeed
from sim.scenario.manifest import LoadedScenario
from sim.scenario.sources import build_sources

from .account import EmExecution, EmOrder, EmPosition, Wallet, bybit_code, cancel_fields, num
from .clock import VenueClock
from .contract import SpotContract, contract_for
from .queries import MISSING_SCOPE, Scope
from .risk import Margin, PreTradeChecks, PriceBand, check_position_idx, check_reduce_only
from .tape import Published, Tape, TeeSource
from .tickers import rest_ticker
from .validation import (
    ApiError,
    Bounds,
    choice,
    decimal,
    flag,
    integer,
    page_limit,
    params_error,
    text,
)

LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")


__all__ = ["ApiError", "EmulatedExchange"]  # ApiError lives in validation; the server takes it from here


#: retCode and retMsg per rule, where spot's differ from the derivatives' (bybit-v5.md §5, §8).
DUPLICATE_LINK = {"spot": (170141, "Duplicate clientOrderId."), "": (110072, "OrderLinkedID is duplicate")}
NO_SUCH_ORDER = {"spot": (170213, "Order does not exist."), "": (110001, "order not exists or too late to cancel")}
#: An amend to no more than the filled quantity (Error Codes: UTA 110064, Spot Trade 170313).
AMEND_BELOW_FILLED = {"spot": (170313, "The modified contract quantity cannot be less than to the filled quantity"),
                      "": (110064, "The modified contract quantity cannot be less than or equal to the filled quantity.")}
FINAL_CANCELLED = ("Cancelled", "PartiallyFilledCanceled")
#: order/cancel-all.mdx orderFilter per category.
SPOT_CANCEL_FILTERS = ("Order", "tpslOrder", "StopOrder", "OcoOrder", "BidirectionalTpslOrder")
FUTURES_CANCEL_FILTERS = ("Order", "StopOrder", "OpenOrder")


class StateKeeper(Protocol):
    """`--state FILE` (state_file.StateKeeper): told after market time moved or the account changed."""

    def changed(self, account: bool) -> None: ...


def _by_category(table: dict[str, tuple[int, str]], category: str) -> ApiError:
    return ApiError(*table.get(category, table[""]))


class EmulatedExchange(PreTradeChecks):
    """One account on one instrument of a scenario, served as `category` (linear by default)."""

    category = "linear"

    def __init__(self, sc: LoadedScenario, overrides: dict[str, Any] | None = None, *,
                 category: str = "linear", balances: dict[str, float] | None = None,
                 clock: VenueClock | None = None) -> None:
        spec = sc.spec
        self.scenario = sc
        self.config: Config = load_config(overrides={**spec.config, **(overrides or {})}, origin=sc.path)
        self.symbol = spec.instrument.symbol
        self.tick = Decimal(repr(spec.instrument.tick_size))
        self.qty_step = Decimal(repr(spec.instrument.qty_step))
        self.start_ns, self.end_ns = spec.window.start_ns, spec.window.end_ns
        self.tees = [TeeSource(s, self.start_ns, self.end_ns) for s in build_sources(sc)]
        self.feed = MarketFeed(
            self.tees, start_ns=self.start_ns, end_ns=self.end_ns, tick_size=spec.instrument.tick_size,
            taker_fee_bps=self.config.taker_fee_bps, maker_fee_bps=self.config.maker_fee_bps,
            on_bad_rows=spec.on_bad_rows, features=self.config.feature_params(),
            funding=sc.funding_schedule(self.config.funding_rate_8h_bps),
        )
        self.funding_times, self.funding_rates = _funding_book(sc, self.config.funding_rate_8h_bps)
        # The exchange cannot know an order's intent; the config's entry and exit slippage are
        # equal by default, and the entry figure is used for every market order.
        self.slippage = SlippageModel(self.config.slippage_ticks_entry).ticks("entry")
        self.category = category
        self.contract = contract_for(category, self.symbol, self.tick, self.qty_step)
        row = self.contract.instrument_row()
        self.bounds = Bounds.from_instrument(category, row)
        x, y = (Decimal(row["riskParameters"][k]) for k in ("priceLimitRatioX", "priceLimitRatioY"))
        self.band = PriceBand(x, y, self.tick)
        # Limit price action (account/get-user-setting-config.mdx): by default futures move a
        # price outside the band to its edge and spot rejects it.
        self.adjust_out_of_band = {"spot": False, "futures": True}
        self.margin = Margin(self.contract, Decimal(row["leverageFilter"]["maxLeverage"])) \
            if self.contract.has_positions else None
        self.clock = clock if clock is not None else VenueClock("scenario")
        self.tape = Tape(self.tees, self.symbol, self.category, self.contract, self.clock)
        self.market_ns = self.start_ns
        self.orders: dict[str, EmOrder] = {}  # by orderId, in creation order
        self._by_link: dict[str, EmOrder] = {}
        self._by_engine: dict[str, EmOrder] = {}  # engine order key -> order (amends add keys)
        self._superseded: set[str] = set()  # engine keys an amend replaced
        self._current_key: dict[str, str] = {}  # orderId -> its live engine key
        self.executions: list[EmExecution] = []
        self.position = EmPosition(self.contract)
        start = balances if balances is not None else {"USDT": self.config.initial_equity}
        self.wallet = Wallet(self.contract, {coin: float(v) for coin, v in start.items()},
                             [self.position] if self.contract.has_positions else [])
        self.orders_accepted = 0
        self._n_orders = 0
        self._n_engine = 0
        self._seq = 0
        self.mark = float("nan")
        self.keeper: StateKeeper | None = None  # `--state FILE` (state_file.attach)

    # -- instruments ------------------------------------------------------------------------
    def instrument(self) -> dict[str, Any]:
        return self.contract.instrument_row()

    def fee_rate(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "baseCoin": "", "takerFeeRate": num(self.config.taker_fee_bps / 10_000),
                "makerFeeRate": num(self.config.maker_fee_bps / 10_000)}

    # -- the replay -------------------------------------------------------------------------
    def advance(self, to_ns: int) -> list[Published]:
        """Moves market time to `to_ns`: the engine's events and the tape up to then, as messages."""
        to_ns = max(to_ns, self.market_ns)
        out: list[Published] = []
        while True:
            events = self.feed.advance_to(to_ns)
            if not events:
                break
            for ev in events:
                out += self._on_engine_event(ev)
        self.market_ns = to_ns
        q = self.feed.engine.last_quote()
        if q is not None:
            self.mark = (q[1] + q[3]) / 2
        self._changed(account=bool(out))
        return self.tape.take_until(to_ns) + out

    def _changed(self, *, account: bool) -> None:
        """Market time moved, and with `account` the account changed: the state file follows."""
        if self.keeper is not None:
            self.keeper.changed(account)

    def _on_engine_event(self, ev: Any) -> list[Published]:
        if isinstance(ev, OrderUpdate):
            return self._on_update(ev)
        if isinstance(ev, Fill):
            return self._on_fill(ev)
        if isinstance(ev, Funding):
            return self._on_funding(ev)
        return []  # minute closes and klines: the tape publishes the market itself

    def _ms(self, ts_ns: int) -> int:
        return self.clock.venue_ms(ts_ns)

    def _on_update(self, ev: OrderUpdate) -> list[Published]:
        o = self._by_engine[ev.order_id]
        if ev.order_id in self._superseded:
            return []  # the cancel half of an amend: the order lives on under its new engine key
        o.updated_ms = self._ms(ev.ts_ns)
        if ev.status == "accepted":
            if o.status == "Created":
                o.status = "New"
                self.orders_accepted += 1
        elif ev.status == "rejected":
            code = bybit_code(ev.reason)
            o.status, o.reject_reason = "Rejected", code if code.startswith("EC_") else "EC_Others"
        elif ev.status == "cancelled":
            partly = self.category == "spot" and o.cum_qty > 0
            o.status = "PartiallyFilledCanceled" if partly else "Cancelled"
            o.cancel_type, o.reject_reason = cancel_fields(ev.reason)
        else:
            return []  # cancel_rejected: the REST reply carries it
        return [self._order_msg(o)]

    def _on_fill(self, ev: Fill) -> list[Published]:
        o = self._by_engine[ev.order_id]
        c = self.contract
        ms = self._ms(ev.ts_ns)
        maker = ev.liquidity == "maker"
        fee_bps = self.config.maker_fee_bps if maker else self.config.taker_fee_bps
        fee, fee_coin = c.fee(ev.side, ev.price, ev.qty, fee_bps / 10_000, is_maker=maker,
                              maker_rate=self.config.maker_fee_bps / 10_000, engine_fee=ev.fee)
        o.cum_qty += ev.qty
        o.cum_value += c.exec_value(ev.price, ev.qty)
        o.cum_fee += fee
        o.fees[fee_coin] = o.fees.get(fee_coin, 0.0) + fee
        if o.status not in FINAL_CANCELLED:
            o.status = "Filled" if o.cum_qty >= float(o.match_qty) - 1e-12 else "PartiallyFilled"
        # else: the engine cancelled the rest just before this fill (a reduce-only order capped at
        # the position): the order stays Cancelled, with its executed part in cumExecQty.
        o.updated_ms = ms
        closed, pnl = 0.0, 0.0
        if c.has_positions:
            before = self.position.realised
            closed = self.position.apply(ev.side, ev.price, ev.qty)
            pnl = self.position.realised - before
            self.position.cur_realised -= fee
            # closedPnl: the order's closing PnL after the fee of the part that closed.
            o.closed_pnl += pnl - fee * (closed / ev.qty)
        else:  # spot: the fill swaps one coin for the other
            self.wallet.credit(c.base, ev.side * ev.qty)
            self.wallet.credit(c.quote, -ev.side * (ev.price * ev.qty))
        self.wallet.credit(fee_coin, -fee)
        self._seq += 1
        self.position.updated_ms, self.position.seq = ms, self._seq
        ex = EmExecution(self._exec_id(), o, self.category, self.symbol, ev.side, ev.price, ev.qty, fee,
                         fee_bps / 10_000, maker, "Trade", ms, self.mark, self._seq, closed, fee_coin, pnl)
        self.executions.append(ex)
        self._settle_realised()
        msgs = [self._exec_msg([ex]), self._order_msg(o)]
        if c.has_positions:
            msgs.append(self._position_msg())
        return msgs + [self._wallet_msg()]

    def _settle_realised(self) -> None:
        # Realised PnL moves into the wallet as it is made, as in a unified account.
        if self.position.realised:
            self.wallet.credit(self.contract.settle, self.position.realised)
        self.position.realised = 0.0

    def _on_funding(self, ev: Funding) -> list[Published]:
        if not self.contract.has_positions or self.position.size == 0.0:
            return []
        mark = ev.mark if ev.mark == ev.mark else self.mark
        paid = self.contract.funding(self.position.size, mark, ev.rate)
        settle = self.contract.settle
        self.wallet.credit(settle, -paid)
        self.position.cur_realised -= paid
        self._seq += 1
        side = 1 if self.position.size > 0 else -1
        ex = EmExecution(self._exec_id(), None, self.category, self.symbol, side, mark, abs(self.position.size),
                         paid, ev.rate, False, "Funding", self._ms(ev.ts_ns), mark, self._seq, 0.0, settle)
        self.executions.append(ex)
        return [self._exec_msg([ex]), self._wallet_msg()]

    def _exec_id(self) -> str:
        return str(uuid.UUID(int=(1 << 127) | (len(self.executions) + 1)))

    # -- private messages -------------------------------------------------------------------
    def _private(self, topic: str, data: list[dict[str, Any]]) -> Published:
        self._seq += 1
        ms = self._ms(self.market_ns)
        return Published("private", topic, {"id": f"{topic}-{self._seq}", "topic": topic, "creationTime": ms,
                                            "data": data}, ms)

    def _order_msg(self, o: EmOrder) -> Published:
        return self._private("order", [o.wire(self.contract)])

    def _exec_msg(self, exs: list[EmExecution]) -> Published:
        return self._private("execution", [e.wire(self.contract) for e in exs])

    def _position_msg(self) -> Published:
        return self._private("position", [self.position_row()])

    def _wallet_msg(self) -> Published:
        return self._private("wallet", [self.wallet_balance()])

    # -- the order API ----------------------------------------------------------------------
    def _check_symbol(self, params: dict[str, Any]) -> None:
        category, symbol = text(params, "category", required=True), text(params, "symbol", required=True)
        if category != self.category:
            raise params_error(f"category {category!r} has no instrument here")
        if symbol != self.symbol:
            raise params_error(f"symbol invalid: {symbol!r}")

    def _find(self, params: dict[str, Any]) -> EmOrder:
        oid, link = text(params, "orderId"), text(params, "orderLinkId")
        o = self.orders.get(oid) if oid else self._by_link.get(link) if link else None
        if oid is None and link is None:
            raise ApiError(10001, "params error: orderId or orderLinkId is required")
        if o is None or not o.is_open:
            raise _by_category(NO_SUCH_ORDER, self.category)
        return o

    def _engine_key(self, o: EmOrder) -> tuple[str, int]:
        self._n_engine += 1
        key = f"{o.order_id}#{self._n_engine}"
        n = self.feed.register_order_id(key)
        self._by_engine[key] = o
        self._current_key[o.order_id] = key
        return key, n

    def _settle(self) -> list[Published]:
        """Runs the engine to the current market instant (acks, cancels) and reports it."""
        return self.advance(self.market_ns)

    # -- what spot orders hold and need -----------------------------------------------------
    def locked(self, *, besides: EmOrder | None = None) -> dict[str, float]:
        """Funds the open spot orders hold: a buy its unfilled part's cost in the quote coin, a
        sell its unfilled quantity in the base coin. Derivatives hold margin instead (`order_im`)."""
        c = self.contract
        out: dict[str, float] = {}
        if not isinstance(c, SpotContract):
            return out
        for o in self.orders.values():
            if o.is_open and o is not besides and o.lock_price is not None:
                coin, amount = (c.quote, o.leaves() * o.lock_price) if o.side > 0 else (c.base, o.leaves())
                out[coin] = out.get(coin, 0.0) + amount
        return out

    def _best(self, side: int) -> Decimal:
        """The price a market order of `side` meets now: the best ask for a buy, bid for a sell."""
        q = self.feed.engine.last_quote()
        if q is None:
            raise ApiError(10001, "params error: no market price yet for a spot market order")
        return Decimal(repr(q[3] if side > 0 else q[1]))

    def _spot_quantity(self, params: dict[str, Any], side: int, otype: str, qty: Decimal,
                       price: Decimal | None) -> tuple[str, Decimal | None, Decimal]:
        """(marketUnit, base qty if `qty` is in the quote coin, the price funds are held at);
        checks the quantity and value bounds (`Bounds`) and the free balance (170131)."""
        c = self.contract
        assert isinstance(c, SpotContract)
        unit = ""
        if otype == "Market":
            unit = choice(params, "marketUnit", ("baseCoin", "quoteCoin"),
                          default="quoteCoin" if side > 0 else "baseCoin") or ""
        px = price if price is not None else self._best(side)
        base_qty = None
        if unit == "quoteCoin":
            self.bounds.check_quote_amount(qty)
            base_qty = c.base_from_quote(qty, px)
            if base_qty <= 0:
                raise ApiError(170136, "Order quantity lower than the minimum.")
            if base_qty > self.bounds.max_market_qty:
                raise ApiError(170381, "Order quantity too large.")
        else:
            self.bounds.check_qty(qty, otype)
            self.bounds.check_value(qty, px, reduce_only=False)
        base = base_qty if base_qty is not None else qty
        self._check_spot_funds(side, float(base), float(px))
        return unit, base_qty, px

    def _check_spot_funds(self, side: int, base: float, px: float, besides: EmOrder | None = None) -> None:
        c = self.contract
        coin, need = (c.quote, base * px) if side > 0 else (c.base, base)
        free = self.wallet.balance(coin) - self.locked(besides=besides).get(coin, 0.0)
        if need - free > 1e-12:
            raise ApiError(170131, "Insufficient balance.")

    # -- the order API ----------------------------------------------------------------------
    def create_order(self, params: dict[str, Any], rejection: tuple[int, str] | None = None) -> tuple[dict[str, Any], list[Published]]:
        self._check_symbol(params)
        spot = self.category == "spot"
        side = 1 if choice(params, "side", ("Buy", "Sell"), required=True) == "Buy" else -1
        otype = choice(params, "orderType", ("Limit", "Market"), required=True)
        qty = decimal(params, "qty")
        assert qty is not None
        # A market order ignores `price` (create-order: "Market order will ignore this field").
        price = decimal(params, "price") if otype == "Limit" else None
        if price is not None:
            self.bounds.check_price(price)
        tif = self._time_in_force(params, otype)
        # reduceOnly does not exist on spot (bybit-v5.md §5): it is ignored there.
        reduce_only = flag(params, "reduceOnly") and not spot
        idx = integer(params, "positionIdx", hi=2)
        if not spot:
            check_position_idx(idx)
        link = text(params, "orderLinkId") or ""
        if link:
            if not LINK_ID.fullmatch(link):
                raise ApiError(10001, f"params error: orderLinkId invalid: {link!r}")
            if link in self._by_link:
                raise _by_category(DUPLICATE_LINK, self.category)
        if price is not None:
            price = self._in_band(side, price)
        if reduce_only:
            check_reduce_only(self.position.size, side)
        unit, base_qty, lock_px = "", None, None
        if spot:
            unit, base_qty, px = self._spot_quantity(params, side, otype, qty, price)
            lock_px = float(px)
        else:
            self.bounds.check_qty(qty, otype)
            no_quote = price is None and self.feed.engine.last_quote() is None
            if not no_quote:  # a market order before the first quote has no value to check yet
                self.bounds.check_value(qty, price if price is not None else self._best(side), reduce_only=reduce_only)
        if self.category == "inverse" and self.wallet.balance(self.contract.settle) <= 0:
            raise ApiError(110007, "ab not enough for new order")
        if self.margin is not None:
            self._check_margin(side, qty, price, reduce_only)
        if rejection is not None:
            raise ApiError(*rejection)
        self._n_orders += 1
        order_id = str(uuid.UUID(int=self._n_orders))
        o = EmOrder(order_id, link, self.category, self.symbol, side, otype, price, qty, tif,
                    reduce_only, self._ms(self.market_ns), 0,
                    market_unit=unit, base_qty=base_qty, lock_price=lock_px)
        self.orders[order_id] = o
        if link:
            self._by_link[link] = o
        key, n = self._engine_key(o)
        o.engine_id = n
        self.feed.engine.submit_order(n, side, "limit" if otype == "Limit" else "market", float(o.match_qty),
                                      self.market_ns, limit_px=float(price) if price is not None else float("nan"),
                                      slippage_ticks=self.slippage, time_in_force=tif, reduce_only=reduce_only)
        msgs = self._settle()
        return {"orderId": order_id, "orderLinkId": link}, msgs

    def cancel_order(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[Published]]:
        self._check_symbol(params)
        o = self._find(params)
        self.feed.engine.cancel_order(o.engine_id, self.market_ns)
        msgs = self._settle()
        if o.status not in FINAL_CANCELLED:
            raise _by_category(NO_SUCH_ORDER, self.category)
        return {"orderId": o.order_id, "orderLinkId": o.link_id}, msgs

    def cancel_all(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[Published]]:
        """order/cancel-all.mdx: linear and inverse need symbol, baseCoin or settleCoin (priority in
        that order); spot cancels every active order without them and has no settleCoin."""
        category = text(params, "category", required=True)
        scope = Scope(self, params)
        spot = category == "spot"
        flt = choice(params, "orderFilter", SPOT_CANCEL_FILTERS if spot else FUTURES_CANCEL_FILTERS)
        if category != self.category:
            raise params_error(f"category {category!r} has no instrument here")
        if scope.symbol not in (None, self.symbol):
            raise params_error(f"symbol invalid: {scope.symbol!r}")
        if not spot and not scope.given:
            raise ApiError(10001, MISSING_SCOPE)
        if spot and scope.settle is not None and scope.symbol is None and scope.base is None:
            raise params_error("settleCoin is not supported for spot")
        done, msgs = [], []
        # Only active orders exist here: a filter for conditional or TP/SL orders finds none.
        if scope.matches and flt in (None, "Order", "OpenOrder"):
            for o in list(self.orders.values()):
                if o.is_open:
                    self.feed.engine.cancel_order(o.engine_id, self.market_ns)
                    msgs += self._settle()
                    if o.status in FINAL_CANCELLED:
                        done.append({"orderId": o.order_id, "orderLinkId": o.link_id})
        return {"list": done, "success": "1"}, msgs

    def amend_order(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[Published]]:
        """Price and quantity changes: the engine order is replaced (losing its queue place, as
        at Bybit for a price change); the Bybit order keeps its ids and its fills."""
        self._check_symbol(params)
        o = self._find(params)
        if o.order_type != "Limit":
            raise ApiError(10001, "params error: only a resting limit order can be amended")
        qty = decimal(params, "qty", required=False)
        price = decimal(params, "price", required=False)
        if qty is None and price is None:
            raise params_error("nothing to amend")
        if qty is not None:
            self.bounds.check_qty(qty, "Limit")
        if price is not None:
            self.bounds.check_price(price)
            price = self._in_band(o.side, price)
        new_qty = qty if qty is not None else o.qty
        new_price = price if price is not None else o.price
        assert new_price is not None
        if new_qty <= Decimal(repr(o.cum_qty)):
            raise _by_category(AMEND_BELOW_FILLED, self.category)
        self.bounds.check_value(new_qty, new_price, reduce_only=o.reduce_only)
        if self.category == "spot":
            self._check_spot_funds(o.side, float(new_qty) - o.cum_qty, float(new_price), besides=o)
            o.lock_price = float(new_price)
        self._superseded.add(self._current_key[o.order_id])
        self.feed.engine.cancel_order(o.engine_id, self.market_ns)
        o.qty, o.price = new_qty, new_price
        key, n = self._engine_key(o)
        o.engine_id = n
        self.feed.engine.submit_order(n, o.side, "limit", float(new_qty) - o.cum_qty, self.market_ns,
                                      limit_px=float(new_price), slippage_ticks=self.slippage,
                                      time_in_force=o.time_in_force, reduce_only=o.reduce_only)
        o.updated_ms = self._ms(self.market_ns)  # before _settle, which writes the state file
        msgs = self._settle()
        return {"orderId": o.order_id, "orderLinkId": o.link_id}, msgs + [self._order_msg(o)]

    def wallet_balance(self, coins: tuple[str, ...] | None = None) -> dict[str, Any]:
        im, mm = self.position_im_mm()
        return self.wallet.wire(self.mark, self.locked(), coins, (self.order_im(), im, mm))

    def _next_funding(self) -> tuple[str, str]:
        """(rate, time ms) of the next settlement, as the ticker gives them; "" when there is none."""
        if not self.contract.has_positions:
            return "", ""
        i = int(np.searchsorted(self.funding_times, self.market_ns, side="right"))
        if i >= len(self.funding_times):
            return "", ""
        return num(float(self.funding_rates[i])), str(self._ms(int(self.funding_times[i])))

    def funding_history(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Settled rates (market time has passed them), newest first, as /v5/market/funding/history."""
        end_ms = integer(params, "endTime", default=self._ms(self.market_ns))
        start_ms = integer(params, "startTime", default=0)
        limit = page_limit(params, default=200, hi=200)
        if not self.contract.has_positions or text(params, "symbol") not in (None, self.symbol):
            return []
        rows = []
        for t, r in zip(self.funding_times[::-1], self.funding_rates[::-1]):
            ms = self._ms(int(t))
            if t <= self.market_ns and start_ms <= ms <= end_ms:
                rows.append({"symbol": self.symbol, "fundingRate": num(float(r)), "fundingRateTimestamp": str(ms)})
        return rows[:limit]

    def ticker(self) -> dict[str, Any]:
        """market/tickers' entry for the instrument (see `tickers`)."""
        return rest_ticker(self)

    def state(self) -> dict[str, Any]:
        """What the control endpoint reports: the truth tests compare a client's view with."""
        position = self.position_row() if self.contract.has_positions else None
        return {"market_ms": self.market_ns // 1_000_000, "venue_ms": self._ms(self.market_ns),
                "clock": {"mode": self.clock.mode, "offset_ms": self.clock.offset_ms},
                "market_ns": self.market_ns, "category": self.category,
                "position": position,
                "wallet": self.wallet_balance(),
                "orders": [o.wire(self.contract) for o in self.orders.values()],
                "executions": len(self.executions), "orders_accepted": self.orders_accepted}


FUNDING_BOOK_BEFORE_NS = 8 * 24 * 3600 * 1_000_000_000


def _funding_book(sc: LoadedScenario, config_rate_8h_bps: float) -> tuple[np.ndarray, np.ndarray]:
    """The settlements the API knows of: the window's, eight days of history before it (what a
    client reads at start) and the next one after it (the ticker's `nextFundingTime`). A recorded
    file without that history gives the window's only."""
    from sim.core.errors import DataFileError
    from sim.data.funding import FUNDING_EVERY_NS, file_schedule, fixed_schedule

    w, f = sc.spec.window, sc.spec.funding
    lo, hi = w.start_ns - FUNDING_BOOK_BEFORE_NS, w.end_ns + FUNDING_EVERY_NS
    path = sc.funding_file()
    if path is not None:
        try:
            return file_schedule(path, lo, hi)
        except DataFileError:
            return sc.funding_schedule(config_rate_8h_bps)
    bps = config_rate_8h_bps if f is None or f.rate_8h_bps is None else f.rate_8h_bps
    return fixed_schedule(lo, hi, bps / 10_000)
