"""A live session in one of the spec's modes (§11): the replay's pipeline on a live market, with
observation, warm-up, manual activation, mode switches, alerts and a status.

- The market always comes from the Bybit adapter's public streams (`sim.market.live_feed`), so every
  mode decides from the same data. Orders go through a `ModeGate`: closed in observation (and
  for good in `dry_run`); once activated, to the paper engine (`paper`), to the shadow pair
  (`shadow`: paper fills drive the pipeline, the venue gets a mirror), or to the exchange (`live`).
- Activation (§11.4, §16.1) needs a complete warm-up — `warmup_minutes` of market time since the
  session's start — and a trading mode. With `require_manual_activation: false` a paper session
  activates itself at the first minute close after the warm-up (no order reaches a venue in
  paper); a shadow or live session refuses to start with it: only an operator activates those. A mode switch (§11.2) needs a flat book: no position and
  no open order. Both are commands: the control server or the CLI queues them, and the session
  applies them between events (never inside a handler) and answers.
- The session's clock is the exchange's time as the feed delivered it; the wall clock only
  supervises connections and the session's give-up time.
- Alerts go to the run's alerts.csv and, for the kinds of §15.2 and the adapter's, to the webhook.
- Funding: a live session's position is charged by the venue (its funding executions); a paper or
  shadow session's by the session itself, at each settlement, with the rate the live ticker
  announced for it (`paper_funding`), recorded as a command so a recovery replays it.
- Durable sessions keep the spec's four stores in the data directory (`store`, `collector`,
  `minute_stores`).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import math
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.bybit.adapter import BybitAdapter, BybitSettings, link_prefix_for
from adapters.protocol import ExchangeAdapter
from adapters.simulated import SimulatedAdapter, SlippageModel
from sim.live.alerts import AlertKind
from sim.live.venue_clock import venue_offset_ns
from sim.core.clock import SimClock
from sim.core.config import Config, load_config
from sim.core.events import NS_PER_MS, PRIORITY, Event, Fill, Funding, MinuteClose, OrderUpdate
from sim.core.errors import UserInputError
from sim.outputs.exports import json_text
from sim.live.gate import ModeGate
from sim.live.settings import LiveSettings, Mode
from sim.live.shadow import ShadowAdapter
from sim.live.minute_stores import MinuteStores
from sim.live.paper_funding import PaperFunding
from sim.live.store import Command, SessionStore
from sim.market.live_feed import LiveFeed
from sim.core.loop import EventLoop
from sim.outputs.recorder import LateJournal, Recorder
from sim.run import check_instrument, pipeline_exports
from sim.scenario.manifest import LoadedScenario
from sim.strategies import registry
from sim.strategies.api import InstrumentSpec, StrategyContext
from sim.strategies.plugin import RunInfo
from sim.core.timers import TimerQueue

log = logging.getLogger("sim.live")

NS_PER_MIN = 60_000 * NS_PER_MS
PAPER_FUNDING_SOURCE = 1002  # the source index of paper funding events in the total order
#: Strategy alert kinds that are a §15.2 type under another name.
ALERT_ALIASES = {"reconciliation": "position_mismatch"}


class WallTimeout(RuntimeError):
    pass


@dataclass(frozen=True)
class Answer:
    ok: bool
    message: str


class LiveSession:
    def __init__(self, scenario: LoadedScenario, settings: LiveSettings, *, api_key: str = "", api_secret: str = "",
                 overrides: dict[str, Any] | None = None, send_alert: Callable[[str, str], None] | None = None,
                 grace_ms: int | None = None, durable: bool = False) -> None:
        spec = scenario.spec
        self.scenario, self.settings = scenario, settings
        plugin = registry.plugin(spec.strategy, scenario.path)
        if not plugin.single_instrument:
            raise UserInputError(f"{scenario.path}: live sessions run single-instrument strategies; "
                                 f"{spec.strategy} is not one")
        config_over, param_over = plugin.split_overrides(overrides or {})
        params = plugin.params(spec.strategy_params, param_over, scenario.path)
        self.config: Config = load_config(overrides={**plugin.config_layers(spec.config, scenario.path), **config_over},
                                          origin=scenario.path)
        check_instrument(self.config, spec.instrument.symbol, scenario.path)
        if not self.config.require_manual_activation and settings.mode in ("shadow", "live"):
            raise UserInputError(f"{scenario.path}: require_manual_activation: false is for paper sessions only; "
                                 f"a {settings.mode} session sends orders to {settings.network} and needs an operator's "
                                 "activation")
        # The emulator replays the scenario's window on its venue clock; the session covers it there.
        offset_ns = venue_offset_ns(settings.endpoint)
        self.start_ns, self.end_ns = spec.window.start_ns + offset_ns, spec.window.end_ns + offset_ns
        bars = self.config.feature_input == "bars"
        self.feed = LiveFeed(start_ns=self.start_ns, tick_size=spec.instrument.tick_size,
                             taker_fee_bps=self.config.taker_fee_bps, maker_fee_bps=self.config.maker_fee_bps,
                             features=self.config.feature_params(),
                             grace_ms=settings.effective_grace_ms if grace_ms is None else grace_ms,
                             name=f"bybit:{spec.instrument.symbol}", bars=bars)
        self.clock = SimClock(self.start_ns)
        self.timers = TimerQueue()
        self.loop = EventLoop(self.clock, self.feed, self.timers, self.end_ns)  # type: ignore[arg-type]
        self._send_alert = send_alert
        self.mode: Mode = settings.mode
        self.shadow: ShadowAdapter | None = None
        endpoint = settings.endpoint
        ws_base = "ws://" + endpoint.split("://", 1)[1].rstrip("/") if endpoint else None
        self.bybit_settings = BybitSettings(
            network=settings.network, symbol=spec.instrument.symbol, api_key=api_key, api_secret=api_secret,
            link_prefix=link_prefix_for(scenario.id, str(self.start_ns)), category=settings.category,
            rest_base=endpoint, ws_base=ws_base, stale_after_s=settings.stale_after_s, bars=bars,
            trading=settings.trades)
        self.exchange = BybitAdapter(self.bybit_settings, self.feed, schedule=self._exchange_event,
                                     now_ns=self.clock.now_ns, alert=self.alert)
        self.gate = ModeGate(self.loop.schedule, self.clock.now_ns)
        if self.mode == "dry_run":
            self.gate.close("dry_run: signals only, no execution")
        info = RunInfo(origin=scenario.path, scenario_id=scenario.id, start_ns=self.start_ns, end_ns=self.end_ns,
                       seed=spec.seed, symbol=spec.instrument.symbol, tick_size=spec.instrument.tick_size,
                       qty_step=spec.instrument.qty_step, symbols=(spec.instrument.symbol,))
        self.strategy = plugin.build(info, self.config, params)
        self.journal = _SessionJournal(self)
        self.ctx = StrategyContext(
            clock=self.clock, adapter=self.gate, config=self.config, seed=spec.seed, strategy_name=self.strategy.name,
            add_timer=lambda t: self.timers.add(t, self.clock.now_ns()), on_order=lambda o: self.recorder.on_order(o),
            instrument=InstrumentSpec(spec.instrument.symbol, spec.instrument.tick_size, spec.instrument.qty_step),
            journal=self.journal, end_ns=self.end_ns,
        )
        self.recorder = Recorder(self.ctx.orders, self.ctx.position, self.ctx.ledger, self.config.initial_equity)
        self.journal.recorder = self.recorder
        self._paper = SimulatedAdapter(self.feed, SlippageModel(  # type: ignore[arg-type]
            self.config.slippage_ticks_entry, self.config.slippage_ticks_exit, self.config.slippage_ticks_entry))
        self.commands: queue.Queue[tuple[str, dict[str, Any], queue.Queue[Answer]]] = queue.Queue()
        self.activated_at_ns: int | None = None
        self.halted: str | None = None
        self.alerts: list[tuple[int, str, str]] = []
        self._mark = math.nan
        self._day_start: tuple[int, float] | None = None  # (UTC day, equity at its first minute)
        self._status: dict[str, Any] = {}
        self._status_lock = threading.Lock()
        self._deadline: float | None = None
        self.feed.pump = self._pump
        # Durable sessions (sim live) keep their record in the data directory and resume it.
        self.durable = durable
        self.store: SessionStore | None = None
        self.collector: Any = None
        self.minute_stores: MinuteStores | None = None
        self.paper_funding = PaperFunding()
        self.recovering = False
        self.resumed = False
        self._replay_commands: collections.deque[Command] = collections.deque()
        self._stored_snapshots: collections.deque[tuple[int, str, dict[str, Any]]] = collections.deque()
        self._live_submits = 0
        self._connected = False
        self._failpoint = _failpoint()
        self.gate.after_submit = self._after_submit

    # -- alerts -------------------------------------------------------------------------------
    def alert(self, kind: str, message: str) -> None:
        now = self.clock.now_ns()
        log.warning("alert %s: %s", kind, message)
        self.alerts.append((now, kind, message))
        self.recorder.alert(now, kind, message)
        self._forward_alert(kind, message)
        if self.exchange.halted and self.gate.active:
            # Spec §10.4: the venue disagrees with the system, so the system stops trading (paper
            # and shadow included: their book is no longer the one the operator must resolve).
            self.gate.close("halted: " + self.exchange.halted)

    def _forward_alert(self, kind: str, message: str) -> None:
        if self.recovering:
            return  # raised and sent before the restart: the replay only re-creates it
        kind = ALERT_ALIASES.get(kind, kind)
        if self._send_alert is not None and kind in AlertKind.__members__.values():
            self._send_alert(kind, message)

    # -- adapters by mode ---------------------------------------------------------------------
    def _adapter_for(self, mode: Mode) -> ExchangeAdapter | None:
        if mode == "paper":
            return self._paper  # type: ignore[return-value]
        if mode == "live":
            return self.exchange
        if mode == "shadow":
            if self.shadow is None:
                self.shadow = ShadowAdapter(
                    self._paper, self.exchange, tick=self.scenario.spec.instrument.tick_size,  # type: ignore[arg-type]
                    price_tolerance_ticks=self.settings.shadow_price_tolerance_ticks,
                    time_tolerance_ms=self.settings.shadow_time_tolerance_ms, alert=self.alert)
            return self.shadow
        return None

    def _exchange_event(self, ev: Event) -> None:
        """The Bybit adapter's order updates and fills: the pipeline's in live mode, the shadow
        comparison's in shadow mode."""
        if self.mode == "shadow" and self.shadow is not None and isinstance(ev, (Fill, OrderUpdate)):
            self.shadow.on_live(ev)
            return
        if self.mode != "live" and isinstance(ev, Funding):
            return  # the venue's funding of a mirror position: the pipeline's is paper funding
        self.loop.schedule(ev)

    # -- commands (from the control server or the CLI, applied between events) -----------------
    def request(self, command: str, timeout: float = 10.0, **args: Any) -> Answer:
        """Thread-safe: queues a command for the session's loop and waits for its answer."""
        reply: queue.Queue[Answer] = queue.Queue(maxsize=1)
        self.commands.put((command, args, reply))
        try:
            return reply.get(timeout=timeout)
        except queue.Empty:
            return Answer(False, f"{command}: the session did not answer within {timeout:g} s")

    def _apply(self, command: str, args: dict[str, Any], record: bool = True) -> Answer:
        if command == "activate":
            answer = self.activate()
        elif command == "mode":
            answer = self.switch_mode(args.get("mode", ""))
        elif command == "funding":
            answer = self._charge_funding(int(args["ts_ms"]), float(args["rate"]), float(args["mark"]))
        else:
            return Answer(False, f"unknown command {command!r}")
        if answer.ok and record and self.store is not None:
            self.store.record_command(self.loop.dispatched, self.clock.now_ns(), command, args)
        return answer

    def _charge_funding(self, ts_ms: int, rate: float, mark: float) -> Answer:
        """A paper settlement (`paper_funding`), through the pipeline as a replay's funding event."""
        self.paper_funding.settled(ts_ms)
        ts = ts_ms * NS_PER_MS
        ev = Funding("funding", ts, (ts, PRIORITY["funding"], PAPER_FUNDING_SOURCE, 0), ts, rate, mark)
        self.recorder.on_event(ev)
        self.strategy.on_event(ev, self.ctx)
        if not self.recovering:
            log.info("paper funding at %d: rate %r, mark %r, position %r", ts_ms, rate, mark, self.ctx.position.qty)
        if self.minute_stores is not None:
            self._write_stores(ev)
        return Answer(True, f"funding {rate!r} at {ts_ms}")

    def warmup_done_minutes(self) -> float:
        return max(self.clock.now_ns() - self.start_ns, 0) / NS_PER_MIN

    def activate(self) -> Answer:
        if self.halted:
            return Answer(False, f"refused: {self.halted}")
        if self.mode == "dry_run":
            return Answer(False, "refused: a dry_run session never trades")
        if self.gate.active:
            return Answer(True, f"already active ({self.mode})")
        if self.exchange.halted:
            return Answer(False, f"refused: trading is halted ({self.exchange.halted})")
        done, need = self.warmup_done_minutes(), self.settings.warmup_minutes
        if done < need:
            return Answer(False, f"refused: warm-up incomplete ({done:.0f} of {need} minutes)")
        adapter = self._adapter_for(self.mode)
        assert adapter is not None
        self.gate.open(adapter)
        self.activated_at_ns = self.clock.now_ns()
        log.info("session activated in %s mode", self.mode)
        return Answer(True, f"activated: {self.mode}")

    def _activate_itself(self) -> None:
        """`require_manual_activation: false`: a paper session, still in observation, activates at
        the first minute close with the warm-up complete (once; a replay after a crash does the
        same at the same minute, so it is not a recorded command)."""
        if (self.config.require_manual_activation or self.mode != "paper" or self.gate.active
                or self.activated_at_ns is not None or self.halted or self.exchange.halted
                or self.warmup_done_minutes() < self.settings.warmup_minutes):
            return
        answer = self.activate()
        if not self.recovering:
            log.info("require_manual_activation is false: %s", answer.message)

    def _open_orders(self) -> int:
        return sum(1 for o in self.ctx.orders.values() if o.is_open)

    def switch_mode(self, mode: str) -> Answer:
        if mode not in ("dry_run", "paper", "shadow", "live"):
            return Answer(False, f"refused: unknown mode {mode!r}")
        if mode == self.mode:
            return Answer(True, f"already in {mode}")
        if self.ctx.position.qty != 0.0 or self._open_orders():
            return Answer(False, f"refused: switching from {self.mode} to {mode} needs a flat book "
                                 f"(position {self.ctx.position.qty:g}, {self._open_orders()} open orders)")
        if mode in ("shadow", "live") and not self.settings.trades:
            return Answer(False, f"refused: {mode} needs a session started with API keys in shadow or live mode")
        self.mode = mode  # type: ignore[assignment]
        if mode == "dry_run":
            self.gate.close("dry_run: signals only, no execution")
        elif self.gate.active:
            adapter = self._adapter_for(mode)  # type: ignore[arg-type]
            assert adapter is not None
            self.gate.open(adapter)
        if mode == "dry_run":
            return Answer(True, "mode: dry_run (signals only, no execution)")
        return Answer(True, f"mode: {mode}" + ("" if self.gate.active else " (in observation until activated)"))

    # -- status -------------------------------------------------------------------------------
    def _update_status(self) -> None:
        pos = self.ctx.position
        equity = self.ctx.equity(self._mark) if not math.isnan(self._mark) else self.config.initial_equity
        snap = self.recorder.snapshots[-1][2] if self.recorder.snapshots else {}
        account = snap.get("account_state", {})
        day_pnl = equity - self._day_start[1] if self._day_start else 0.0
        status = {
            "mode": self.mode, "network": self.settings.network, "symbol": self.scenario.spec.instrument.symbol,
            "state": "halted" if self.exchange.halted or self.halted else ("active" if self.gate.active else "observation"),
            "market_time_ms": self.clock.now_ns() // NS_PER_MS,
            "warmup": {"done_minutes": round(self.warmup_done_minutes(), 3),
                       "required_minutes": self.settings.warmup_minutes,
                       "complete": self.warmup_done_minutes() >= self.settings.warmup_minutes},
            "position": {"qty": pos.qty, "avg_entry": pos.avg_entry if pos.qty else None},
            "heat": account.get("heat"), "equity": equity, "today_pnl": day_pnl,
            "kill_switch": bool(account.get("killed", False)), "halted": self.exchange.halted or self.halted,
            "orders": len(self.ctx.orders), "alerts": len(self.alerts),
            "resumed": self.resumed, "recovering": self.recovering,
        }
        with self._status_lock:
            self._status = status

    def status(self) -> dict[str, Any]:
        with self._status_lock:
            return dict(self._status)

    # -- the loop -----------------------------------------------------------------------------
    def _pump(self, timeout: float) -> bool:
        if self._deadline is not None and time.monotonic() > self._deadline:  # sim-determinism: allowed (give-up time)
            raise WallTimeout(f"live session over {self.scenario.id}: stopped after {self.settings.max_wall_s:g} s "
                              f"(market at {self.feed.watermark_ns})")
        if self.recovering:
            self._end_recovery()
        while True:
            try:
                command, args, reply = self.commands.get_nowait()
            except queue.Empty:
                break
            answer = self._apply(command, args)
            self._update_status()
            reply.put(answer)
        got = self.exchange.pump(timeout)
        self.paper_funding.observe(self.exchange.ticker)
        self._update_status()
        return got

    def _handle(self, ev: Event) -> None:
        while self._replay_commands and self._replay_commands[0].dispatched <= self.loop.dispatched:
            self._replay_command(self._replay_commands.popleft())
        if isinstance(ev, MinuteClose) and self.mode in ("paper", "shadow") and not self.recovering:
            # A settlement comes before the minute closing at its time, as in a replay; its mark
            # is that minute's closing mid. A recorded command, so a recovery replays it.
            mark = ev.features.mid_close if ev.features.mid_close == ev.features.mid_close else ev.bar.close
            for t_ms, rate in self.paper_funding.due(ev.ts_ns // NS_PER_MS):
                self._apply("funding", {"ts_ms": t_ms, "rate": rate, "mark": mark})
        self.recorder.on_event(ev)
        if isinstance(ev, MinuteClose):
            self._on_minute(ev)
            self._activate_itself()
        if self.shadow is not None:
            self.shadow.on_paper(ev)
        self.strategy.on_event(ev, self.ctx)
        if not self.recovering:
            self._log_event(ev)
        if self.minute_stores is not None:
            self._write_stores(ev)
        if isinstance(ev, Fill):
            self._session_snapshot(ev.ts_ns, "FILL")
        elif isinstance(ev, MinuteClose) and (ev.ts_ns // NS_PER_MIN) % self.settings.snapshot_interval_minutes == 0:
            self._session_snapshot(ev.ts_ns, "SESSION_PERIODIC")

    def _log_event(self, ev: Event) -> None:
        """Spec §15.3: the full feature snapshot every minute (unless `log_features_every_minute`
        is false); the order lifecycle with submit time, fill time, price, fee and slippage (risk
        events are the alerts, logged as raised)."""
        if isinstance(ev, MinuteClose):
            if not self.config.log_features_every_minute:
                return
            row = {"bar": dataclasses.asdict(ev.bar), "features": dataclasses.asdict(ev.features)}
            log.info("minute %d features %s", ev.ts_ns // NS_PER_MS, _canon(row))
        elif isinstance(ev, Fill):
            order = self.ctx.orders.get(ev.order_id)
            decided = order.decision_ts_ns // NS_PER_MS if order is not None else None
            slip = ev.side * (ev.price - ev.mid) if ev.mid == ev.mid else float("nan")
            log.info("fill order=%s side=%+d qty=%r price=%r fee=%r liquidity=%s submitted_ms=%s filled_ms=%d "
                     "slippage=%r (%s ticks)", ev.order_id, ev.side, ev.qty, ev.price, ev.fee, ev.liquidity, decided,
                     ev.ts_ns // NS_PER_MS, slip, f"{slip / self.scenario.spec.instrument.tick_size:.1f}")
        elif isinstance(ev, OrderUpdate):
            log.info("order %s %s%s at %d", ev.order_id, ev.status, f" ({ev.reason})" if ev.reason else "",
                     ev.ts_ns // NS_PER_MS)

    # -- durability: the record in the data directory, and recovery from it -------------------
    def _open_store(self) -> None:
        from sim.live.collector import RawCollector

        d = self.settings.data_dir
        self.store = SessionStore(d)
        row = self.store.open_session(self.scenario.id, self.mode, self.settings.network, self.start_ns)
        self.collector = RawCollector(d, clock=self.clock.now_ns)
        start_ms = self.start_ns // NS_PER_MS
        if row.resumed:
            self._load_journal(start_ms)
        else:
            n = self.collector.query("SELECT (SELECT count(*) FROM raw_trades WHERE ts_ms >= ?) + "
                                     "(SELECT count(*) FROM raw_quotes WHERE ts_ms >= ?) + "
                                     "(SELECT count(*) FROM raw_klines WHERE ts_ms >= ?)", [start_ms] * 3)[0][0]
            if n:
                raise UserInputError(f"{d}/raw.duckdb: already holds market data at or after this session's start; "
                                     "a new session needs a fresh data directory")
        self.feed.journal = self.collector
        self.minute_stores = MinuteStores(d)

    def _write_stores(self, ev: Event | None) -> None:
        """The data directory's analysis stores: the minute, the strategy's signals, and the
        positions (after every event that can change them; `None`: the end)."""
        assert self.minute_stores is not None and self.store is not None
        if isinstance(ev, MinuteClose):
            self.minute_stores.minute(ev)
            self.minute_stores.signals(self.recorder)
        if ev is None or isinstance(ev, (MinuteClose, Fill, Funding)):
            self.store.write_positions(self.ctx.ledger.rows())

    def _load_journal(self, start_ms: int) -> None:
        """The dead process's ticks, commands and snapshots: the replay rebuilds its state."""
        assert self.store is not None
        trades = [(ts * NS_PER_MS, px, sz, side, tid) for ts, px, sz, side, tid in self.collector.query(
            "SELECT ts_ms, price, size, COALESCE(exchange_side, 0), COALESCE(trade_id, -1) FROM raw_trades "
            "WHERE ts_ms >= ? ORDER BY rowid", [start_ms])]
        quotes = [(ts * NS_PER_MS, bp, bs, ap, az) for ts, bp, bs, ap, az in self.collector.query(
            "SELECT ts_ms, bid_px, bid_sz, ask_px, ask_sz FROM raw_quotes WHERE ts_ms >= ? ORDER BY rowid",
            [start_ms])]
        klines = [(ts * NS_PER_MS, iv * NS_PER_MS, o, h, lo, c, v) for ts, iv, o, h, lo, c, v in self.collector.query(
            "SELECT ts_ms, interval_ms, open, high, low, close, volume FROM raw_klines WHERE ts_ms >= ? ORDER BY rowid",
            [start_ms])]
        self.feed.preload(trades, quotes, klines)
        self._replay_commands = collections.deque(self.store.commands())
        self._stored_snapshots = collections.deque(self.store.snapshots_since(start_ms))
        self.recovering = self.resumed = True
        log.warning("resuming session %s: replaying %d trades, %d quotes, %d klines, %d commands", self.scenario.id,
                    len(trades), len(quotes), len(klines), len(self._replay_commands))

    def _connect(self) -> None:
        self.exchange.connect()
        self._connected = True

    def _replay_command(self, c: Command) -> None:
        answer = self._apply(c.command, c.args, record=False)
        if not answer.ok:
            self._recovery_mismatch(f"recorded command {c.command} {c.args} now answers: {answer.message}")

    def _end_recovery(self) -> None:
        """The journal is consumed: from here on the session is live again."""
        self.recovering = False
        while self._replay_commands:
            self._replay_command(self._replay_commands.popleft())
        if not self._connected:
            self._connect()
        log.warning("session %s resumed at market time %d ms", self.scenario.id, self.clock.now_ns() // NS_PER_MS)

    def _recovery_mismatch(self, what: str) -> None:
        if self.halted is None:
            self.halted = f"recovery: {what}"
            self.gate.close("halted: " + self.halted)
            self.alert("position_mismatch", f"{self.halted}; trading halted until an operator resolves it")

    def _snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None:
        """Every snapshot, the strategy's and the session's: checked against the record while
        recovering, appended to it after."""
        ts_ms = ts_ns // NS_PER_MS
        if self._stored_snapshots:
            exp_ts, exp_kind, exp = self._stored_snapshots.popleft()
            if (exp_ts, exp_kind, _canon(exp)) != (ts_ms, kind, _canon(state)):
                self._recovery_mismatch(f"snapshot {kind} at {ts_ms} differs from the one on record "
                                        f"({exp_kind} at {exp_ts})")
            return
        if self.store is not None:
            self.store.append_snapshot(ts_ms, kind, state)

    def _session_snapshot(self, ts_ns: int, kind: str) -> None:
        pos = self.ctx.position
        strategy_state = self.recorder.snapshots[-1][2] if self.recorder.snapshots else {}
        pending = [[o.client_order_id, o.side, o.order_type, o.qty, o.price, o.state]
                   for o in self.ctx.orders.values() if o.is_open]
        self._snapshot(ts_ns, kind, {
            "position_state": {"qty": pos.qty, "avg_entry": pos.avg_entry, "realized_pnl": pos.realized_pnl, "fees": pos.fees, "funding": pos.funding},
            "acceptance_state": strategy_state.get("acceptance_state", {}),
            "pending_orders": pending,
            "account_state": {"equity": self.ctx.equity(self._mark) if self._mark == self._mark else None,
                              "mode": self.mode, "active": self.gate.active},
        })

    def _after_submit(self) -> None:
        if self.recovering:
            return
        self._live_submits += 1
        if self._failpoint is not None and self._live_submits == self._failpoint:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash right after an order left, for recovery tests

    def _on_minute(self, ev: MinuteClose) -> None:
        mid = ev.features.mid_close
        self._mark = mid if mid == mid else ev.bar.close
        day = ev.ts_ns // (24 * 60 * NS_PER_MIN)
        if self._day_start is None or self._day_start[0] != day:
            self._day_start = (day, self.ctx.equity(self._mark))

    def run(self) -> dict[str, str]:
        """Runs to the end of the window (or the give-up time); returns the run's exports."""
        if self.settings.max_wall_s is not None:
            self._deadline = time.monotonic() + self.settings.max_wall_s  # sim-determinism: allowed (give-up time)
        try:
            if self.durable:
                self._open_store()
            try:
                # A resumed paper or dry-run session replays its record before it connects, so the
                # market (an emulator holding time while no client is there) waits for it; one that
                # sends orders needs the exchange during the replay.
                if not (self.recovering and not self.settings.trades):
                    self._connect()
                self._update_status()
                self.strategy.on_start(self.ctx)
                self.ctx.drain()
                self.loop.run(self._handle, self.ctx.drain)
                self.exchange.reconcile("end of session")
            finally:
                self.exchange.close()
            self._update_status()
            exports = pipeline_exports(self.recorder, self.ctx)
            exports["status.json"] = json_text(self.status())
            if self.store is not None:
                self._write_stores(None)
                self.store.finish()
            return exports
        finally:
            self.feed.close()
            if self.collector is not None:
                self.collector.close()
            if self.minute_stores is not None:
                self.minute_stores.close()
            if self.store is not None:
                self.store.close()


class _SessionJournal(LateJournal):
    """The strategy's journal in a live session: its alerts also go to the webhook, its snapshots
    also to the session's record."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session

    def alert(self, ts_ns: int, kind: str, message: str) -> None:
        super().alert(ts_ns, kind, message)
        if not self.session.recovering:
            log.warning("alert %s: %s", kind, message)
        self.session.alerts.append((ts_ns, kind, message))
        self.session._forward_alert(kind, message)

    def snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None:
        super().snapshot(ts_ns, kind, state)
        self.session._snapshot(ts_ns, kind, state)


def _canon(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def _failpoint() -> int | None:
    """`SIM_FAILPOINT=submit:N`: the process kills itself right after its N-th order leaves
    (recovery tests use it to crash between an order's submission and its fill)."""
    value = os.environ.get("SIM_FAILPOINT", "")
    if value.startswith("submit:"):
        return int(value.split(":", 1)[1])
    return None
