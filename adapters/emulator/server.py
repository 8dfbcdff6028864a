"""The emulator's server: Bybit v5 REST and WebSockets on 127.0.0.1 over an `EmulatedExchange`.

One asyncio loop runs everything — the REST handlers, the WebSocket sessions and the replay
task — so the exchange is only ever touched by one piece of code at a time. Paths, envelopes,
signatures, timestamp windows, retCodes and rate-limit headers are Bybit's (see
shared/reference/bybit-v5.md), so unmodified pybit talks to it once its base URL points here.
The instrument is served in one category (linear, spot or inverse): that category's public
channel and REST `category` list it; the others list nothing, as for an unknown category.

The replay starts `START_AFTER_SUBSCRIBE_S` after the first public subscription is acknowledged
(or on `POST /emulator/start`): a recording has a beginning, and a client that connects late —
or is still subscribing to its other topics, one request per topic with pybit — would miss it.
Before `fast_until` (market time) — and, on the wall timeline, until it has caught up with the
wall clock — it runs as fast as the subscribers read; after that, at `speed`× real time. Every
time served is venue time (`clock`): server time, envelopes, orders, executions and streams.
Market time keeps running past the end of the data, with the level-1 book re-sent every 3 s as
Bybit does, so a client's clock keeps moving.

Control endpoints (not part of Bybit, unsigned, loopback only): `GET /emulator/state`,
`POST /emulator/start`, `POST /emulator/faults` (a fault to fire now, see `faults`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from sim.core.events import NS_PER_MS

from . import queries
from .auth import TIMESTAMP_ERROR, AuthResult, KeyStore, check_rest, check_ws_auth
from .clock import wall_ms
from .exchange import ApiError, EmulatedExchange
from .faults import FaultPlan, FaultSpec
from .market_routes import kline_rows, orderbook_limit, public_topics
from .ratelimit import RATE_LIMIT_CODE, RateLimiter
from .tape import Published
from .tickers import PUSH_MS, TickerStream
from .validation import body_params, page_limit, query_params, text
from .ws_messages import WsRefusal, WsRequest, parse_ws_frame, topic_args, ws_error

log = logging.getLogger("adapters.emulator")

BOOK_REPUSH_MS = 3000
START_AFTER_SUBSCRIBE_S = 1.0
SUBSCRIBE_ACK_DELAY_S = 0.05  # pybit registers a subscription only after sending it (see pybit notes)
FAST_FORWARD_STEP_NS = 5 * 1_000_000_000
FAST_FORWARD_BACKLOG = 500  # messages a subscriber may have queued before the fast-forward waits

PUBLIC_CHANNELS = ("linear", "spot", "inverse")
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
#: What an unexpected exception is answered with (Error Codes, UTA: 10016 "Server error.").
SERVER_ERROR = 10016


@dataclass(frozen=True)
class EmulatorSettings:
    speed: float = 60.0
    fast_until_ns: int | None = None
    start_on_subscribe: bool = True
    rate_limit_scale: float = 1.0
    #: Market time stands still while no public subscriber is connected (a test harness that
    #: restarts its client loses no market in between).
    pause_without_clients: bool = False


@dataclass
class Session:
    ws: WebSocket
    channel: str  # linear | spot | inverse | private
    topics: set[str] = field(default_factory=set)
    authed: bool = False
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    conn_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: `u` of the deep-book snapshot last sent: it holds the book as the tape has it, so deltas
    #: up to that `u` (a batch not yet published) are already in it and are not sent.
    book_u: int = 0


class Emulator:
    def __init__(self, exchange: EmulatedExchange, keys: KeyStore, settings: EmulatorSettings,
                 faults: FaultPlan) -> None:
        self.ex, self.keys, self.settings, self.faults = exchange, keys, settings, faults
        # Venue time starts at the wall clock's minute at the replay's origin (a no-op when the
        # clock is `scenario`, or was restored from a saved state).
        exchange.clock.anchor(settings.fast_until_ns or exchange.start_ns, wall_ms())
        if exchange.keeper is not None:
            exchange.keeper.save()  # the file holds the offset from the start (`--state`)
        self.limiter = RateLimiter(scale=settings.rate_limit_scale)
        self.sessions: list[Session] = []
        self.started = asyncio.Event()
        self._replay_task: asyncio.Task[None] | None = None
        self.paced = False  # the replay has caught up and runs at `speed`
        self._last_repush_ms = 0
        self._last_ticker_ms = 0
        self.tickers = TickerStream(exchange.symbol, exchange.category)
        self._book_gap = False  # deep-book messages were withheld: subscribers need a new snapshot
        self.log: list[str] = []
        exchange.tape.wanted = set()  # no subscriber yet

    # -- REST -------------------------------------------------------------------------------
    def envelope(self, result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
        return {"retCode": code, "retMsg": msg, "result": result if result is not None else {},
                "retExtInfo": {}, "time": self.venue_now_ms()}

    def venue_now_ms(self) -> int:
        """The venue's time: market time on the one timeline everything served is stamped on.
        On the wall timeline, until the replay has caught up with the wall clock (before the
        first subscriber, or while the replay runs the minute before the origin) the venue's
        time is the wall clock: market data stamped so far lies behind it, never ahead."""
        venue = self.ex.clock.venue_ms(self.ex.market_ns)
        if self.ex.clock.mode == "wall" and not self.paced:
            return max(venue, wall_ms())
        return venue

    def authenticate(self, check: Any) -> AuthResult:
        """Runs an auth check against the client's own clock (the wall clock: what pybit signs
        with), then — only where they differ, at a speed other than 1 — against venue time, which
        a client that synchronises with `/v5/market/time` signs with (docs/DECISIONS.md ("Emulator
        clock"))."""
        res = check(wall_ms())
        if not res.ok and res.ret_code in (TIMESTAMP_ERROR, 10001):
            venue = check(self.venue_now_ms())
            if venue.ok:
                return venue
        return res

    async def rest(self, request: Request) -> JSONResponse:
        try:
            return await self._rest(request)
        except Exception as e:
            # The last line only: every input the emulator knows to be bad is refused by the
            # validation in `_rest`/`route` with its own retCode; reaching here is a bug, logged.
            log.exception("emulator: unexpected error on %s %s", request.method, request.url.path)
            self.log.append(f"internal error on {request.method} {request.url.path}: {type(e).__name__}")
            return JSONResponse(self.envelope({}, SERVER_ERROR, "Server error."))

    async def _rest(self, request: Request) -> JSONResponse:
        path = request.url.path
        raw_query = request.url.query
        raw_body = await request.body()
        private = not path.startswith("/v5/market/")
        who = request.client.host if request.client else "?"
        now = wall_ms()
        try:
            params = query_params(raw_query) if request.method == "GET" else body_params(raw_body)
        except ApiError as e:
            return JSONResponse(self.envelope({}, e.ret_code, e.ret_msg))
        if private:
            # body_params has decoded every non-blank body as UTF-8 already.
            payload = raw_query if request.method == "GET" else raw_body.decode("utf-8")
            auth = self.authenticate(lambda at: check_rest(request.headers, payload, at, self.keys))
            if not auth.ok:
                return JSONResponse(self.envelope({}, auth.ret_code, auth.ret_msg))
            who = auth.api_key or who
        decision = self.limiter.check(who, path, now)
        headers = decision.headers()
        if not decision.allowed:
            return JSONResponse(self.envelope({}, RATE_LIMIT_CODE, "Too many visits. Exceeded the API Rate Limit."),
                                headers=headers)
        try:
            result, msgs = self.route(request.method, path, params)
        except ApiError as e:
            return JSONResponse(self.envelope({}, e.ret_code, e.ret_msg), headers=headers)
        if msgs:
            self.publish(msgs)
        return JSONResponse(self.envelope(result), headers=headers)

    def route(self, method: str, path: str, p: dict[str, Any]) -> tuple[Any, list[Published]]:
        ex = self.ex
        cat = text(p, "category") or "linear"
        served = cat == ex.category  # another category lists nothing here, as for an unknown one
        symbol = text(p, "symbol")

        def listing(rows: list[Any]) -> tuple[Any, list[Published]]:
            return {"category": cat, "list": rows if served else [], "nextPageCursor": ""}, []

        if path.startswith("/v5/market/") and path != "/v5/market/time":
            # A symbol the emulator does not serve (in this category) is an unknown symbol: Bybit
            # answers 10001, never another symbol's data (docs/DECISIONS.md ("Emulator conformance")).
            if symbol is not None and not (served and symbol == ex.symbol):
                raise ApiError(10001, f"params error: symbol invalid: {symbol!r}")
        if method == "GET":
            if path == "/v5/market/time":
                ns = self.venue_now_ms() * NS_PER_MS
                return {"timeSecond": str(ns // 10**9), "timeNano": str(ns)}, []
            if path == "/v5/market/instruments-info":
                page_limit(p, default=500, hi=1000)
                return listing([ex.instrument()] if symbol in (None, ex.symbol) else [])
            if path == "/v5/market/tickers":
                return listing([ex.ticker()])
            if path == "/v5/market/orderbook":
                limit = orderbook_limit(p, cat)
                if not served:
                    raise ApiError(10001, f"params error: category {cat!r} has no instrument here")
                return ex.tape.book.rest(limit, ex.clock.venue_ms(ex.market_ns)), []
            if path == "/v5/market/recent-trade":
                # market/recent-trade: spot [1, 60] default 60; the others [1, 1000] default 500.
                top = 60 if cat == "spot" else 1000
                limit = page_limit(p, default=min(top, 500), hi=top)
                rows = [{"execId": t["i"], "symbol": t["s"], "price": t["p"], "size": t["v"], "side": t["S"],
                         "time": str(t["T"]), "isBlockTrade": False, "isRPITrade": False, "seq": str(t["seq"])}
                        for t in reversed(ex.tape.recent_trades[-limit:])]
                return listing(rows)
            if path == "/v5/market/kline":
                return {"category": cat, "symbol": ex.symbol, "list": kline_rows(ex, p) if served else []}, []
            if path == "/v5/market/funding/history":
                return listing(ex.funding_history(p))
            # order/open-order, order/order-list, order/execution, position/position: their
            # parameters, filters and cursors are in `queries`.
            if path == "/v5/order/realtime":
                return queries.open_orders(ex, p), []
            if path == "/v5/order/history":
                return queries.order_history(ex, p), []
            if path == "/v5/execution/list":
                return queries.executions(ex, p), []
            if path == "/v5/position/list":
                return queries.positions(ex, p), []
            if path == "/v5/account/wallet-balance":
                coin = unquote(text(p, "coin", max_len=256) or "")
                return {"list": [ex.wallet_balance(tuple(coin.split(",")) if coin else None)]}, []
            if path == "/v5/account/fee-rate":
                return {"list": [ex.fee_rate()] if served and symbol in (None, ex.symbol) else []}, []
            if path == "/v5/account/user-setting-config":
                return ex.user_setting_config(), []
            if path == "/v5/account/info":
                return {"unifiedMarginStatus": 5, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False,
                        "spotHedgingStatus": "OFF", "updatedTime": "0", "dcpStatus": "OFF", "timeWindow": 0,
                        "smpGroup": 0}, []
        else:
            if path == "/v5/order/create":
                return ex.create_order(p, self.faults.next_order_rejection())
            if path == "/v5/order/amend":
                return ex.amend_order(p)
            if path == "/v5/order/cancel":
                return ex.cancel_order(p)
            if path == "/v5/order/cancel-all":
                return ex.cancel_all(p)
            if path == "/v5/position/set-leverage":
                return ex.set_leverage(p)
            if path == "/v5/account/set-limit-px-action":
                return ex.set_limit_px_action(p)
        raise ApiError(10017, f"route not found: {method} {path}")

    # -- WebSockets -------------------------------------------------------------------------
    async def session(self, ws: WebSocket, channel: str) -> None:
        await ws.accept()
        s = Session(ws, channel)
        self.sessions.append(s)
        sender = asyncio.create_task(self._sender(s))
        try:
            while True:
                frame = await ws.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                await self._on_frame(s, frame)
        except (WebSocketDisconnect, RuntimeError):  # the peer went away mid-receive
            pass
        finally:
            if s in self.sessions:
                self.sessions.remove(s)
            self._refresh_wanted()
            s.queue.put_nowait(None)
            await asyncio.gather(sender, return_exceptions=True)

    async def _sender(self, s: Session) -> None:
        while True:
            text = await s.queue.get()
            if text is None:
                return
            try:
                await s.ws.send_text(text)
            except Exception:  # the peer went away; the session loop cleans up
                return

    def _send(self, s: Session, body: dict[str, Any]) -> None:
        s.queue.put_nowait(json.dumps(body, separators=(",", ":")))

    async def _on_frame(self, s: Session, frame: dict[str, Any]) -> None:
        """One received frame: a malformed request is refused on its connection, which stays open."""
        req: WsRequest | None = None
        try:
            req = parse_ws_frame(frame)
            await self._on_ws_message(s, req)
        except WsRefusal as r:
            self._send(s, ws_error(s.conn_id, r.ret_msg, r.op, r.req_id))
        except Exception as e:
            # The last line, as for REST: a bug, logged; the connection and the server live on.
            log.exception("emulator: unexpected error on a %s WebSocket request", s.channel)
            self.log.append(f"internal error on the {s.channel} WebSocket: {type(e).__name__}")
            self._send(s, ws_error(s.conn_id, "error:internal error", req.op if req else "", req.req_id if req else ""))

    async def _on_ws_message(self, s: Session, req: WsRequest) -> None:
        op, req_id = req.op, req.req_id
        private = s.channel == "private"
        if op == "ping":
            if private:
                self._send(s, {"req_id": req_id or "", "op": "pong", "args": [str(self.venue_now_ms())],
                               "conn_id": s.conn_id})
            elif s.channel == "spot":  # public spot answers without a req_id
                self._send(s, {"success": True, "ret_msg": "pong", "conn_id": s.conn_id, "op": "ping"})
            else:
                self._send(s, {"success": True, "ret_msg": "pong", "conn_id": s.conn_id, "req_id": req_id or "",
                               "op": "ping"})
        elif op == "auth" and private:
            res = self.authenticate(lambda at: check_ws_auth(req.args if req.args is not None else [], at, self.keys))
            s.authed = res.ok
            self._send(s, {"success": res.ok, "ret_msg": "" if res.ok else res.ret_msg, "op": "auth",
                           "conn_id": s.conn_id})
        elif op in ("subscribe", "unsubscribe"):
            topics = topic_args(req, s.channel)
            bad = [t for t in topics if not self._valid_topic(s, t)]
            await asyncio.sleep(SUBSCRIBE_ACK_DELAY_S)
            if bad:
                # The refusal Bybit sends for a topic it does not serve (docs/DECISIONS.md ("Emulator input validation")).
                why = f"error:handler not found,topic:{bad[0]}" if not private or s.authed else "Request not authorized"
                self._send(s, ws_error(s.conn_id, why, op, req_id))
                return
            if op == "subscribe":
                s.topics.update(topics)
            else:
                s.topics.difference_update(topics)
            self._refresh_wanted()
            ack = op if s.channel == "spot" else ""  # public spot puts the op into ret_msg
            self._send(s, {"success": True, "ret_msg": ack, "conn_id": s.conn_id, "req_id": req_id or "", "op": op})
            if op == "subscribe" and not private:
                self._first_messages(s, topics)
                if self.settings.start_on_subscribe and not self.started.is_set():
                    asyncio.get_running_loop().call_later(START_AFTER_SUBSCRIBE_S, self.start)
        else:
            self._send(s, ws_error(s.conn_id, f"error:unsupported op: {op[:64]}", op[:64], req_id))

    def _refresh_wanted(self) -> None:
        self.ex.tape.wanted = set().union(*(s.topics for s in self.sessions if s.channel != "private"))

    def _first_messages(self, s: Session, topics: list[str]) -> None:
        """What a subscription starts with: the book's snapshot (orderbook.mdx: "Once you have
        subscribed successfully, you will receive a snapshot") and the ticker's."""
        ex = self.ex
        now_ms = ex.clock.venue_ms(ex.market_ns)
        stale = self.faults.is_stale(ex.market_ns // NS_PER_MS)
        for topic in topics:
            kind, _, rest = topic.partition(".")
            if kind == "orderbook" and not stale:
                depth = int(rest.split(".")[0])
                if depth > 1:
                    self._send(s, ex.tape.book.snapshot(depth, now_ms))
                    s.book_u = ex.tape.book.u
                elif ex.tape.last_top is not None:
                    self._send(s, ex.tape.book_message(now_ms).body)
            elif kind == "tickers" and self._has_market():
                self._send(s, self.tickers.snapshot(ex, now_ms))

    def _valid_topic(self, s: Session, topic: str) -> bool:
        if s.channel == "private":
            # All-in-one topics and the served category's variants; spot accepts `position` but
            # has none to push.
            return s.authed and topic in PRIVATE_TOPICS + tuple(f"{t}.{self.ex.category}" for t in PRIVATE_TOPICS)
        if s.channel != self.ex.category:
            return False  # this emulator lists no instrument in that category
        return topic in public_topics(self.ex.symbol)

    def publish(self, msgs: list[Published]) -> None:
        stale = self.faults.is_stale(self.ex.market_ns // NS_PER_MS)
        if stale:
            self._book_gap = self._book_gap or any(m.topic.startswith("orderbook.") for m in msgs)
        elif self._book_gap:
            # orderbook.mdx: after a problem on Bybit's side a fresh snapshot is sent.
            self._book_gap = False
            for s in self.sessions:
                deep = [t for t in s.topics if t.startswith("orderbook.") and not t.startswith("orderbook.1.")]
                self._first_messages(s, deep)
        for m in msgs:
            public = m.channel != "private"
            if public and stale:
                continue
            stream = "private" if not public else "public"
            if self.faults.should_drop(stream, m.topic):
                self.log.append(f"dropped {m.topic} at {m.ts_ms}")
                continue
            base = m.topic.split(".")[0]
            delay = self.faults.delay_for(stream, m.topic, self.ex.market_ns // NS_PER_MS)  # faults run on market time
            for s in list(self.sessions):
                if s.channel != m.channel:
                    continue
                if not (m.topic in s.topics or (m.channel == "private" and f"{base}.{self.ex.category}" in s.topics)):
                    continue
                if base == "orderbook" and m.body.get("type") == "delta" and m.body["data"]["u"] <= s.book_u:
                    continue
                if delay:
                    asyncio.get_running_loop().call_later(delay / 1000, self._send, s, m.body)
                else:
                    self._send(s, m.body)

    def _ticker_wanted(self) -> bool:
        topic = f"tickers.{self.ex.symbol}"
        return self._has_market() and any(topic in s.topics for s in self.sessions)

    def _has_market(self) -> bool:
        """A quote or a print (a bars scenario has only bars) has been published."""
        return self.ex.tape.last_top is not None or self.ex.tape.candles.last_price is not None

    # -- replay -----------------------------------------------------------------------------
    def start(self) -> None:
        if not self.started.is_set():
            self.started.set()

    async def replay(self) -> None:
        await self.started.wait()
        loop = asyncio.get_running_loop()
        ex, st = self.ex, self.settings
        anchor: tuple[float, int] | None = None
        catching_up = True
        while True:
            if st.pause_without_clients and not any(s.topics for s in self.sessions if s.channel != "private"):
                anchor = None  # paced time restarts from here when a client is back
                await asyncio.sleep(0.01)
                continue
            catch_up = self._catch_up_ns() if catching_up else None
            if catch_up is not None and ex.market_ns < catch_up:
                target = min(ex.market_ns + FAST_FORWARD_STEP_NS, catch_up)
                while any(s.queue.qsize() > FAST_FORWARD_BACKLOG for s in self.sessions if s.channel != "private"):
                    await asyncio.sleep(0.002)
            else:
                catching_up, self.paced = False, True
                if anchor is None:
                    anchor = (loop.time(), ex.market_ns)
                target = anchor[1] + int((loop.time() - anchor[0]) * st.speed * 1e9)
            msgs = ex.advance(target)
            for f in self.faults.due(ex.market_ns // NS_PER_MS, ex.orders_accepted):
                await self.apply_fault(f)
            now_ms = ex.clock.venue_ms(ex.market_ns)
            if ex.tape.last_top is not None and now_ms - max(ex.tape.last_book_ms, self._last_repush_ms) >= BOOK_REPUSH_MS:
                msgs.append(ex.tape.book_message(now_ms))
                self._last_repush_ms = now_ms
            if now_ms - self._last_ticker_ms >= PUSH_MS[ex.category] and self._ticker_wanted():
                self._last_ticker_ms = now_ms
                body = self.tickers.step(ex, now_ms)
                if body is not None:
                    msgs.append(Published(ex.category, self.tickers.topic, body, now_ms))
            self.publish(msgs)
            await asyncio.sleep(0 if anchor is None else 0.005)

    def _catch_up_ns(self) -> int | None:
        """Market time the replay runs to as fast as its clients read before it is paced: the
        scenario's `fast_until` and, on the wall timeline, the market the venue's clock has
        already reached (so that paced venue time starts at the wall clock, whatever the wait
        for the first subscriber)."""
        targets = [t for t in (self.settings.fast_until_ns,) if t is not None]
        if self.ex.clock.mode == "wall":
            targets.append(self.ex.clock.market_ns(wall_ms()))
        return max(targets) if targets else None

    async def apply_fault(self, f: FaultSpec) -> None:
        """Faults that act on the server (the rest act per message through the plan)."""
        self.log.append(f"fault {f.kind} at market {self.ex.market_ns // NS_PER_MS}")
        if f.kind == "disconnect":
            stream = getattr(f, "stream", "all")
            for s in list(self.sessions):
                if stream == "all" or (stream == "private") == (s.channel == "private"):
                    try:
                        await s.ws.close(code=1000)
                    except Exception:
                        pass
        elif f.kind == "rate_limit":
            # The plan runs on market time; a rate limit is felt in the client's (wall) time.
            self.limiter.force(f.who, f.path, wall_ms() + int(f.duration_ms))


def create_app(emulator: Emulator) -> FastAPI:
    app = FastAPI(title="Bybit v5 emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Outermost net for the control endpoints (the Bybit routes catch their own): Bybit's
        # answer to a fault of its own is 10016 "Server error." with HTTP 200.
        emulator.log.append(f"internal error on {request.method} {request.url.path}: {type(exc).__name__}")
        return JSONResponse(emulator.envelope({}, SERVER_ERROR, "Server error."))

    @app.on_event("startup")
    async def _startup() -> None:  # pragma: no cover - exercised through the server
        emulator._replay_task = asyncio.create_task(emulator.replay())

    @app.get("/emulator/state")
    async def state() -> dict[str, Any]:
        return {**emulator.ex.state(), "faults_fired": [f"{ts}:{f.kind}" for ts, f in emulator.faults.fired],
                "log": emulator.log[-200:], "started": emulator.started.is_set(),
                "paced": emulator.paced}

    @app.post("/emulator/start")
    async def start() -> dict[str, Any]:
        emulator.start()
        return {"started": True}

    @app.post("/emulator/faults", response_model=None)
    async def fault(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            body = body_params(await request.body())
        except ApiError as e:
            return JSONResponse({"error": e.ret_msg}, status_code=400)
        try:
            spec = emulator.faults.inject_now(body, emulator.ex.market_ns // NS_PER_MS)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        if spec.kind in ("disconnect", "rate_limit"):
            await emulator.apply_fault(spec)
        return {"injected": spec.kind}

    @app.websocket("/v5/public/{channel}")
    async def public(ws: WebSocket, channel: str) -> None:
        await emulator.session(ws, channel)

    @app.websocket("/v5/private")
    async def private(ws: WebSocket) -> None:
        await emulator.session(ws, "private")

    @app.api_route("/v5/{path:path}", methods=["GET", "POST"])
    async def rest(request: Request) -> JSONResponse:
        return await emulator.rest(request)

    return app
