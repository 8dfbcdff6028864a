"""The Bybit adapter: the adapter protocol over Bybit v5 (testnet, mainnet or a loopback emulator).

- Market data: `publicTrade` and `orderbook.1` of the instrument (in bars mode, its confirmed
  `kline.1` instead) are pushed into the live market engine (`sim.market.live_feed.LiveFeed`) stamped
  with their exchange times, in small batches; `tickers` keeps the mark price and the funding
  rate and time current (`ticker`).
- Categories: linear (qty in BTC), inverse (qty in 1-USD contracts, money in BTC) and spot (qty
  in BTC; no position, so the base coin's balance is the position). Fees reach the pipeline in
  the quote currency: a fee paid in the base coin (inverse, spot buys) is converted at the fill's
  own price. Spot market orders are sent with `marketUnit=baseCoin` so a quantity always means
  the base coin.
- Orders go out over REST with decimal-string quantities and an `orderLinkId` that is the
  run's prefix plus the strategy's deterministic client order id, so a re-send is idempotent
  and every order can be found again by the id we chose.
- What happens to them comes back on the private `order` and `execution` streams and becomes
  the pipeline's `OrderUpdate` and `Fill` events (funding rows become `Funding`); executions are
  de-duplicated by `execId`, so the same fill seen live and again in a REST catch-up counts once.
- Instruments, fee rates, funding (perpetuals: the recent rate history and the next settlement)
  and the position are read from the API at start, never assumed.
- A `Supervisor` rebuilds dead or silent connections with backoff; after every rebuild the
  adapter reconciles over REST: executions missed while disconnected are recovered from the
  execution list, order states are re-read, and the exchange's position is compared with the
  one our fills add up to. Between those moments every position and execution push is checked
  too (`reconcile`: the rule that lets a fill's two pushes arrive in either order). A mismatch
  alerts and halts (spec §10.4): no new order leaves, and nothing is adjusted — an operator
  resolves it.
- Rate limits: see `rest`.

Adapter events are stamped, in the loop's total order, at the loop time they are handled
(`recv_ns`); `ts_ns` keeps the exchange's time (an execution's `execTime`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from adapters.protocol import OrderRequest
from sim.core.events import NS_PER_MS, PRIORITY, Event, Fill, Funding, OrderUpdate
from sim.market.live_feed import LiveFeed

from .messages import (
    BybitApiError,
    BybitMessageError,
    Execution,
    OrderState,
    Ticker,
    parse_execution_push,
    parse_order_push,
    parse_orderbook_top,
    parse_position_push,
    parse_public_trades,
    parse_ticker,
    parse_wallet_push,
    parse_ws_klines,
    topic_kind,
)
from .rest_messages import (
    Instrument,
    parse_executions,
    parse_fee_rates,
    parse_funding_history,
    parse_instruments,
    parse_orders,
    parse_positions,
    parse_rest_tickers,
    parse_wallet_balance,
)
from .reconcile import NON_POSITION_EXEC_TYPES, PushReconciler, disagrees, in_flight
from .rest import BybitRest, dec_str
from .streams import Stream, Supervisor

log = logging.getLogger("adapters.bybit")

ADAPTER_SOURCE = 1000  # the source index of adapter events in the total order
DUPLICATE_LINK_ID = (110072, 170141)  # derivatives, spot
ORDER_GONE = (110001, 110008, 170213)
FUNDING_HISTORY_ROWS = 24  # eight days of 8-hourly rates: what a session starts knowing
NS_PER_MIN = 60_000 * NS_PER_MS


@dataclass(frozen=True)
class BybitSettings:
    network: Literal["testnet", "mainnet"]
    symbol: str
    api_key: str
    api_secret: str
    link_prefix: str  # stable per session: orderLinkId = prefix + "-" + client order id
    category: Literal["linear", "spot", "inverse"] = "linear"
    bars: bool = False  # bars mode: the market is the instrument's confirmed 1-minute klines
    #: False: market data only (dry-run and paper sessions) — no keys, no private stream, no orders.
    trading: bool = True
    rest_base: str | None = None  # e.g. http://127.0.0.1:PORT for the emulator; None: Bybit
    ws_base: str | None = None  # e.g. ws://127.0.0.1:PORT
    stale_after_s: float = 10.0  # no public message for this long: the feed is stale
    backoff_base_s: float = 1.0
    position_tolerance: float = 1e-9


def link_prefix_for(*parts: str) -> str:
    """A short stable prefix for orderLinkIds (Bybit allows 36 characters in all)."""
    return "s" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:9]


@dataclass
class _Tracked:
    request: OrderRequest
    link_id: str
    order_id: str | None = None
    accepted: bool = False
    final: bool = False
    cancel_requested: bool = False
    filled: float = 0.0


@dataclass
class AdapterStats:
    fills: int = 0
    recovered_fills: int = 0
    duplicate_executions: int = 0
    reconnects: int = 0
    reconciliations: int = 0
    rejected: int = 0
    rate_limited: int = 0
    stale_alerts: int = 0
    parse_errors: int = 0
    alerts: list[tuple[str, str]] = field(default_factory=list)


class BybitAdapter:
    name = "bybit"

    def __init__(self, settings: BybitSettings, feed: LiveFeed, *, schedule: Callable[[Event], None],
                 now_ns: Callable[[], int], alert: Callable[[str, str], None]) -> None:
        self.s = settings
        self.feed = feed
        self._schedule = schedule
        self._now_ns = now_ns
        self._alert_sink = alert
        self.rest = BybitRest(network=settings.network, api_key=settings.api_key, api_secret=settings.api_secret,
                              base_url=settings.rest_base)
        self.inbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        market = ([("kline.1.{symbol}", settings.symbol)] if settings.bars else
                  [("orderbook.1.{symbol}", settings.symbol), ("publicTrade.{symbol}", settings.symbol)])
        # Klines come once a minute: in bars mode silence is judged over more than one of them.
        silence = max(settings.stale_after_s, 150.0) if settings.bars else settings.stale_after_s
        self.public = Stream(settings.category, market + [("tickers.{symbol}", settings.symbol)],
                             self.inbox, settings.network, settings.ws_base, silence_limit_s=silence)
        self.private = Stream("private", [("order", None), ("execution", None), ("position", None), ("wallet", None)],
                              self.inbox, settings.network, settings.ws_base, settings.api_key, settings.api_secret)
        streams = [self.public, self.private] if settings.trading else [self.public]
        self.supervisor = Supervisor(streams, self._rebuilt, self._down, settings.backoff_base_s)
        self.orders: dict[str, _Tracked] = {}  # by client order id
        self._by_link: dict[str, str] = {}
        self.seen_exec: set[str] = set()
        self.our_position = 0.0  # what our own fills add up to (plus the position found at start)
        self.exchange_position: float | None = None
        self.pushes = PushReconciler()
        self.wallet_equity: float | None = None
        self.instrument: Instrument | None = None
        self.ticker: Ticker | None = None
        self.funding_history: list[tuple[int, Decimal]] = []  # (settlement ms, rate), oldest first
        self.spot_inventory = Decimal(0)  # spot: base coin held apart from this session's trades
        self.tick = Decimal("0")
        self.qty_step = Decimal("0")
        self.taker_fee = self.maker_fee = Decimal("0")
        self.halted: str | None = None
        self.stats = AdapterStats()
        self._seq = 0
        self._last_supervise = 0.0
        self._stale = False
        self._last_book_u: int | None = None
        self._rest_seq: int | None = None
        self.session_start_ms = 0

    # -- start and stop -----------------------------------------------------------------------
    def connect(self, start_position: float = 0.0) -> None:
        """Reads the instrument, fees and position from the API, then opens the streams."""
        s = self.s
        instruments, _ = parse_instruments(self.rest.call("get_instruments_info", "instruments-info",
                                                          category=s.category, symbol=s.symbol), s.category)
        if len(instruments) != 1 or instruments[0].symbol != s.symbol:
            raise RuntimeError(f"bybit: instrument {s.symbol} not listed in category {s.category}")
        ins = instruments[0]
        self.instrument = ins
        self.tick, self.qty_step = ins.tick_size, ins.qty_step
        self._read_funding(ins)
        self.session_start_ms = self._now_ns() // NS_PER_MS
        if not s.trading:
            self.public.build()
            return
        fees = parse_fee_rates(self.rest.call("get_fee_rates", "fee-rate", category=s.category, symbol=s.symbol))
        fee = next(f for f in fees if f.symbol == s.symbol)
        self.taker_fee, self.maker_fee = fee.taker, fee.maker
        self.our_position = start_position
        if s.category == "spot":
            # Spot has no position: the base coin's balance is it. What the account holds beyond
            # the session's own position is the desk's inventory, not a mismatch.
            self.spot_inventory = self._base_balance() - Decimal(repr(start_position))
        self.exchange_position = self._fetch_position()
        self.pushes.exchange_seq = self._rest_seq
        self.public.build()
        self.private.build()
        self._check_position("start")

    def _read_funding(self, ins: Instrument) -> None:
        """Perpetuals: the latest settled rates and the current ticker (rate, next settlement)."""
        s = self.s
        tickers = parse_rest_tickers(self.rest.call("get_tickers", "tickers", category=s.category, symbol=s.symbol))
        self.ticker = next((t for t in tickers if t.symbol == s.symbol), None)
        if s.category == "spot" or not ins.is_perpetual:
            return
        rows = parse_funding_history(self.rest.call("get_funding_rate_history", "funding/history",
                                                    category=s.category, symbol=s.symbol,
                                                    endTime=self._now_ns() // NS_PER_MS, limit=FUNDING_HISTORY_ROWS))
        self.funding_history = sorted((r.ts_ms, r.rate) for r in rows if r.symbol == s.symbol)

    def close(self) -> None:
        self.public.close()
        self.private.close()
        self.rest.http.client.close()

    # -- the adapter protocol -----------------------------------------------------------------
    def submit(self, order: OrderRequest, now_ns: int) -> str:
        if not self.s.trading:
            raise RuntimeError("bybit: this session reads market data only; it sends no orders")
        cid = order.client_order_id
        if cid in self.orders:
            raise ValueError(f"client order id {cid} reused")
        link = f"{self.s.link_prefix}-{cid}"
        t = _Tracked(order, link)
        self.orders[cid] = t
        self._by_link[link] = cid
        if self.halted:
            self._update(t, "rejected", f"trading halted: {self.halted}")
            return cid
        params: dict[str, Any] = {"category": self.s.category, "symbol": self.s.symbol,
                                  "side": "Buy" if order.side > 0 else "Sell",
                                  "orderType": "Market" if order.order_type == "market" else "Limit",
                                  "qty": self._qty(order.qty), "orderLinkId": link}
        if order.order_type == "limit":
            assert order.price is not None
            params["price"] = self._price(order.price)
            params["timeInForce"] = order.time_in_force
        elif self.s.category == "spot":
            params["marketUnit"] = "baseCoin"  # else a market buy's qty would be in USDT
        if order.order_type == "market" and order.time_in_force == "PostOnly":
            params["timeInForce"] = "PostOnly"  # sent as asked: the exchange refuses it
        if order.reduce_only and self.s.category != "spot":  # spot has no reduceOnly (create-order)
            params["reduceOnly"] = True
        try:
            res = self.rest.call("place_order", "order/create", **params)
            t.order_id = res["result"].get("orderId")
        except BybitApiError as e:
            if e.ret_code in DUPLICATE_LINK_ID:
                # Already there (a re-send after an unknown outcome): the streams and the next
                # reconciliation report it; it must not be placed twice.
                log.warning("bybit: %s already placed", link)
            else:
                self.stats.rejected += 1
                self._update(t, "rejected", f"retCode {e.ret_code}: {e.ret_msg}")
        self.stats.rate_limited = self.rest.rate_limited
        return cid

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        t = self.orders[client_order_id]
        t.cancel_requested = True
        try:
            self.rest.call("cancel_order", "order/cancel", category=self.s.category, symbol=self.s.symbol,
                           orderLinkId=t.link_id)
        except BybitApiError as e:
            if e.ret_code in ORDER_GONE:
                if not t.final:
                    # Filled (or gone) before the cancel arrived; its fills are on their way.
                    self._update(t, "cancel_rejected", f"retCode {e.ret_code}: {e.ret_msg}")
            else:
                self._update(t, "cancel_rejected", f"retCode {e.ret_code}: {e.ret_msg}")

    # -- numbers ----------------------------------------------------------------------------
    def _on_grid(self, x: float, step: Decimal, what: str) -> str:
        d = Decimal(repr(x))
        q = (d / step).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * step
        if abs(d - q) > step * Decimal("1e-6"):  # float noise only; a real off-grid value is a bug
            raise ValueError(f"{what} {x} is not a multiple of {step}")
        return dec_str(q)

    def _qty(self, qty: float) -> str:
        return self._on_grid(qty, self.qty_step, "quantity")

    def _price(self, px: float) -> str:
        return self._on_grid(px, self.tick, "price")

    # -- events -----------------------------------------------------------------------------
    def _event_key(self, kind: str) -> tuple[int, int, int, int]:
        self._seq += 1
        return (self._now_ns(), PRIORITY[kind], ADAPTER_SOURCE, self._seq)

    def _update(self, t: _Tracked, status: str, reason: str = "", ts_ns: int | None = None) -> None:
        key = self._event_key("order_update")
        if status in ("rejected", "cancelled"):
            t.final = True
        if status == "accepted":
            t.accepted = True
        self._schedule(OrderUpdate("order_update", ts_ns or key[0], key, key[0], t.request.client_order_id,
                                   status, reason))  # type: ignore[arg-type]

    def _alert(self, kind: str, message: str) -> None:
        self.stats.alerts.append((kind, message))
        self._alert_sink(kind, message)

    def _mid(self) -> float:
        q = self.feed.engine.last_quote()
        return (q[1] + q[3]) / 2 if q is not None else math.nan

    def _on_execution(self, e: Execution, recovered: bool) -> None:
        if e.exec_id in self.seen_exec:
            self.stats.duplicate_executions += 1
            return
        if e.symbol != self.s.symbol:
            return
        if e.exec_type == "Funding":
            self.seen_exec.add(e.exec_id)
            key = self._event_key("funding")
            mark = float(e.mark_price) if e.mark_price is not None else math.nan
            self._schedule(Funding("funding", e.exec_time_ms * NS_PER_MS, key, key[0],
                                   float(e.fee_rate or 0), mark))
            return
        cid = self._by_link.get(e.order_link_id)
        if cid is None or e.exec_type != "Trade":
            if not recovered and e.exec_type not in NON_POSITION_EXEC_TYPES \
                    and not e.order_link_id.startswith(self.s.link_prefix + "-"):
                # Live, after the connect: the position moved behind the session's back. (A link
                # with our prefix is an order of this session from before a restart: the position
                # check judges it.) Read back over REST at a reconnect, it is judged there too.
                self._halt(f"execution {e.exec_id} ({e.exec_type}, seq {e.seq}, orderLinkId "
                           f"{e.order_link_id or '-'}) is not this session's: the exchange position moved by "
                           f"{e.side * float(e.exec_qty):+g}", "position_mismatch")
            return
        self.seen_exec.add(e.exec_id)
        t = self.orders[cid]
        if not t.accepted:
            self._update(t, "accepted")
        qty = float(e.exec_qty)
        t.filled += qty
        fee_in_base = self._fee_in_base(e)
        # Spot's position is the coin balance, which the fee paid in that coin reduces.
        moved = e.side * qty - (float(e.exec_fee) if fee_in_base and self.s.category == "spot" else 0.0)
        self.our_position += moved
        self.pushes.fill(e.seq, moved)
        if t.filled >= t.request.qty - 1e-12:
            t.final = True
        fee = float(e.exec_fee) * float(e.exec_price) if fee_in_base else float(e.exec_fee)
        key = self._event_key("fill")
        self._schedule(Fill("fill", e.exec_time_ms * NS_PER_MS, key, key[0], cid, e.side, float(e.exec_price), qty,
                            fee, "maker" if e.is_maker else "taker", self._mid()))
        self.stats.fills += 1
        if recovered:
            self.stats.recovered_fills += 1

    def _fee_in_base(self, e: Execution) -> bool:
        """Whether an execution's fee is paid in the base coin: always for inverse (money is BTC),
        for spot when Bybit says so (buys, with a positive rate)."""
        if self.s.category == "inverse":
            return True
        base = self.instrument.base_coin if self.instrument else "BTC"
        return self.s.category == "spot" and e.fee_currency == base

    def _on_order(self, o: OrderState) -> None:
        cid = self._by_link.get(o.order_link_id)
        if cid is None:
            return
        t = self.orders[cid]
        t.order_id = o.order_id
        if float(o.cum_exec_qty) > t.filled + 1e-12:
            # The exchange reports more filled than the executions we saw: one was lost on the
            # way (a dropped push). The execution list has it.
            self._recover_executions(order_link_id=t.link_id)
        if o.status in ("New", "PartiallyFilled", "Filled") and not t.accepted:
            self._update(t, "accepted")
        elif o.status == "Rejected" and not t.final:
            self._update(t, "rejected", o.reject_reason)
        elif o.status in ("Cancelled", "PartiallyFilledCanceled", "Deactivated") and not t.final:
            if not t.accepted:
                self._update(t, "accepted")
            if t.cancel_requested:
                self._update(t, "cancelled", o.cancel_type)
            elif _asked_for(t.request, o):
                # What the order's own timeInForce / reduceOnly asked for (docs/ORDER_SEMANTICS.md):
                # the reason begins with Bybit's code, as the simulated exchange's does.
                code = o.cancel_type if o.cancel_type == "CancelByReduceOnly" else o.reject_reason
                self._update(t, "cancelled", f"{code}: cancelled by the exchange")
            else:
                # Our lifecycle has no exchange-initiated cancel: never guess, halt and say so.
                self._halt(f"order {cid} cancelled by the exchange ({o.cancel_type})", "order_cancelled_by_exchange")
                t.final = True

    # -- the collector ----------------------------------------------------------------------
    def pump(self, timeout: float) -> bool:
        """Handles what the streams delivered (waiting up to `timeout` for the first message)
        and keeps the connections up. True when it scheduled adapter events."""
        before = self._seq
        try:
            first = self.inbox.get(timeout=timeout)
        except queue.Empty:
            first = None
        batch = [first] if first is not None else []
        while len(batch) < 5000:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        for channel, msg in batch:
            try:
                self._dispatch(channel, msg)
            except BybitMessageError as e:
                self.stats.parse_errors += 1
                self._alert("bad_message", f"bybit {channel}: {e}")
        now = time.monotonic()  # sim-determinism: allowed (connection supervision)
        if now - self._last_supervise > 0.2:
            self._last_supervise = now
            self.supervisor.check()
        return self._seq != before

    def _dispatch(self, channel: str, msg: dict[str, Any]) -> None:
        topic = msg.get("topic")
        if not topic:
            return  # acks and pongs
        kind, _symbol = topic_kind(str(topic))
        if channel != "private":
            if self._stale:
                self._stale = False
                log.warning("bybit: market data resumed")
            if kind == "publicTrade":
                for tr in parse_public_trades(msg):
                    tid = int(tr.trade_id) if tr.trade_id.isdigit() else int(hashlib.sha1(tr.trade_id.encode()).hexdigest()[:15], 16)
                    self.feed.trade(tr.ts_ms * NS_PER_MS, float(tr.price), float(tr.size), tr.side, tid)
            elif kind == "kline":
                for k in parse_ws_klines(msg):
                    if k.confirm and k.interval == "1":
                        self.feed.kline(k.start_ms * NS_PER_MS, NS_PER_MIN, float(k.open), float(k.high), float(k.low),
                                        float(k.close), float(k.volume))
            elif kind == "tickers":
                self.ticker = parse_ticker(msg)
            elif kind == "orderbook":
                top = parse_orderbook_top(msg)
                if top.update_id == self._last_book_u:
                    self.feed.seen(top.ts_ms * NS_PER_MS)  # Bybit's unchanged re-send: time only
                elif None not in (top.bid_px, top.ask_px, top.bid_sz, top.ask_sz):
                    self._last_book_u = top.update_id
                    self.feed.quote(top.ts_ms * NS_PER_MS, float(top.bid_px), float(top.bid_sz),  # type: ignore[arg-type]
                                    float(top.ask_px), float(top.ask_sz))  # type: ignore[arg-type]
            return
        if kind == "execution":
            for e in parse_execution_push(msg):
                self._on_execution(e, recovered=False)
                if e.symbol == self.s.symbol and e.exec_type not in NON_POSITION_EXEC_TYPES:
                    self._check_push(f"execution push, seq {e.seq}")
        elif kind == "order":
            for o in parse_order_push(msg):
                self._on_order(o)
        elif kind == "position":
            for p in parse_position_push(msg):
                if p.symbol == self.s.symbol and self.pushes.position(p.seq):
                    self.exchange_position = float(p.signed_size)
                    self._check_push(f"position push, seq {p.seq}")
        elif kind == "wallet":
            for w in parse_wallet_push(msg):
                if w.total_equity is not None:
                    self.wallet_equity = float(w.total_equity)
                if self.s.category == "spot" and self.instrument is not None:
                    for c in w.coins:
                        if c.coin == self.instrument.base_coin and c.wallet_balance is not None:
                            self.exchange_position = float(c.wallet_balance - self.spot_inventory)

    # -- supervision and reconciliation -------------------------------------------------------
    def _down(self, stream: Stream, reason: str) -> None:
        if stream is self.public and reason == "silent":
            if not self._stale:
                self._stale = True
                self.stats.stale_alerts += 1
                self._alert("data_stale", f"no market data from bybit for more than {self.s.stale_after_s:g} s")
        log.warning("bybit %s stream %s; rebuilding", stream.channel, reason)

    def _rebuilt(self, stream: Stream) -> None:
        self.stats.reconnects += 1
        self.reconcile(f"{stream.channel} stream rebuilt")

    def _base_balance(self) -> Decimal:
        base = self.instrument.base_coin if self.instrument else "BTC"
        wallets = parse_wallet_balance(self.rest.call("get_wallet_balance", "wallet-balance", accountType="UNIFIED",
                                                      coin=base))
        return sum((c.wallet_balance or Decimal(0) for w in wallets for c in w.coins if c.coin == base), Decimal(0))

    def _fetch_position(self) -> float:
        if self.s.category == "spot":
            return float(self._base_balance() - self.spot_inventory)
        rows, _ = parse_positions(self.rest.call("get_positions", "position/list", category=self.s.category,
                                                 symbol=self.s.symbol))
        mine = [p for p in rows if p.symbol == self.s.symbol]
        seqs = [p.seq for p in mine if p.seq is not None]
        self._rest_seq = max(seqs) if seqs else None
        return float(sum((p.signed_size for p in mine), Decimal(0)))

    def reconcile(self, why: str) -> None:
        """REST catch-up: missed executions, order states, then the position check."""
        if not self.s.trading:
            return
        self.stats.reconciliations += 1
        # Drain what already arrived first, so live and REST copies meet in `seen_exec`.
        self.pump(0.0)
        for _ in range(3):
            before = self._fetch_position()
            self._recover_executions()
            after = self._fetch_position()
            if before == after:
                break
        self.exchange_position = after
        self.pushes.exchange_seq = self._rest_seq
        self._recover_orders()
        self._check_position(why)

    def _recover_executions(self, order_link_id: str | None = None) -> None:
        found: list[Execution] = []
        cursor = ""
        while True:
            res = self.rest.call("get_executions", "execution/list", category=self.s.category, symbol=self.s.symbol,
                                 orderLinkId=order_link_id, limit=100, cursor=cursor or None)
            rows, cursor = parse_executions(res)
            found += rows
            if not cursor or not rows:
                break
        for e in sorted(found, key=lambda x: (x.exec_time_ms, x.seq or 0, x.exec_id)):
            self._on_execution(e, recovered=True)

    def _recover_orders(self) -> None:
        for t in self.orders.values():
            if t.final:
                continue
            res = self.rest.call("get_open_orders", "order/realtime", category=self.s.category, symbol=self.s.symbol,
                                 orderLinkId=t.link_id)
            rows, _ = parse_orders(res)
            for o in rows:
                self._on_order(o)

    def _tolerance(self) -> float:
        # Positions live on the quantity step's grid: less than half a step apart is float noise.
        return max(self.s.position_tolerance, float(self.qty_step) / 2)

    def _check_position(self, why: str) -> None:
        ex = self.exchange_position
        if ex is None:
            return
        if abs(ex - self.our_position) > self._tolerance():
            self._halt(f"exchange position {ex:g} != ours {self.our_position:g} ({why})", "position_mismatch")

    def _check_push(self, what: str) -> None:
        """The continuous check at a position or execution push (rule: `reconcile`)."""
        ex = self.exchange_position
        if ex is None or self.halted or self.s.category == "spot" or not self.s.trading:
            return
        ours = self.our_position - self.pushes.unreflected()
        band = in_flight((t.request.side, t.request.qty - t.filled) for t in self.orders.values() if not t.final)
        if disagrees(ex, ours, band, self._tolerance()):
            ahead = f"; own fills in flight {band[0]:g}..{band[1]:+g}" if band != (0.0, 0.0) else ""
            self._halt(f"exchange position {ex:g} != ours {ours:g} ({what}{ahead})", "position_mismatch")

    def _halt(self, reason: str, kind: str) -> None:
        if self.halted is None:
            self.halted = reason
            self._alert(kind, f"{reason}; trading halted until an operator resolves it")


def _asked_for(order: OrderRequest, o: OrderState) -> bool:
    """True when an exchange-made cancel is the one the order's timeInForce or reduceOnly implies
    (IOC / FOK / PostOnly not taken as asked, reduce-only with nothing left to reduce)."""
    if o.cancel_type == "CancelByReduceOnly":
        return order.reduce_only
    return o.reject_reason in ("EC_NoImmediateQtyToFill", "EC_CancelForNoFullFill", "EC_PostOnlyWillTakeLiquidity") \
        and (order.time_in_force != "GTC" or order.order_type == "market")
