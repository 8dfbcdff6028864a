"""The amt state machine (spec §6.1, §21.1 "State machine transitions") driven by hand-made
events: FLAT → LONG → FLAT, FLAT → PENDING_RETEST → LONG, a flip, and a limit that times out.

The strategy is driven exactly as a run drives it — the recorder sees each event first, then the
strategy, then the queued commands are drained to the adapter — but the adapter here only
records requests, and acknowledgements and fills are injected by the test at chosen times."""

from __future__ import annotations

import math
from typing import Any

from adapters.protocol import OrderRequest
from sim.core.clock import SimClock
from sim.core.config import load_config
from sim.core.events import NS_PER_MIN, Event, Fill, OrderUpdate, make_key
from sim.outputs.recorder import Recorder
from sim.strategies.amt import AmtStrategy
from sim.strategies.api import InstrumentSpec, StrategyContext
from tests.strategies.amt.amt_builders import T0, bar, features, minute_close


class RecordingAdapter:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[OrderRequest] = []
        self.cancels: list[str] = []

    def submit(self, order: OrderRequest, now_ns: int) -> str:
        self.sent.append(order)
        return order.client_order_id

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.cancels.append(client_order_id)


class Driver:
    def __init__(self, **overrides: Any) -> None:
        cfg = load_config(overrides={"warmup_minutes": 2, "cooldown_minutes": 0, **overrides})
        self.clock = SimClock(T0)
        self.adapter = RecordingAdapter()
        self.recorder: Recorder
        self.ctx = StrategyContext(clock=self.clock, adapter=self.adapter, config=cfg, seed=1, strategy_name="amt",
                                   add_timer=lambda t: None, on_order=lambda o: self.recorder.on_order(o),
                                   instrument=InstrumentSpec("BTCUSDT", 1.0, 0.001), journal=self, end_ns=None)
        self.recorder = Recorder(self.ctx.orders, self.ctx.position, self.ctx.ledger, cfg.initial_equity)
        self.strategy = AmtStrategy()
        self.strategy.on_start(self.ctx)
        self.signals: list[tuple[Any, ...]] = []
        self.states: list[str] = []
        self.alerts: list[tuple[int, str, str]] = []

    # journal
    def signal(self, row: tuple[Any, ...], feature_snapshot: tuple[float, ...]) -> None:
        self.signals.append(row)

    def alert(self, ts_ns: int, kind: str, message: str) -> None:
        self.alerts.append((ts_ns, kind, message))

    def snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None:
        if kind == "STATE_CHANGE":
            self.states.append(state["position_state"]["state"])

    def feed(self, ev: Event) -> None:
        self.clock.advance(ev.ts_ns)
        self.recorder.on_event(ev)
        self.strategy.on_event(ev, self.ctx)
        self.ctx.drain()

    def minute(self, m: int, o: float, h: float, lo: float, c: float, **f: Any) -> tuple[Any, ...]:
        self.feed(minute_close(bar(o, h, lo, c, minute=m), features(minute=m, **f)))
        return self.signals[-1]

    def ack(self, cid: str, ts: int, status: str = "accepted") -> None:
        self.feed(OrderUpdate("order_update", ts, make_key("order_update", ts), ts, cid, status))  # type: ignore[arg-type]

    def fill(self, req: OrderRequest, ts: int, price: float) -> None:
        self.feed(Fill("fill", ts, make_key("fill", ts), ts, req.client_order_id, req.side, price, req.qty, 0.0, "taker"))


INSIDE = dict(o=50_000, h=50_010, lo=49_990, c=50_000)
BUYERS = dict(of=1.0, of_norm=0.5, qimb=0.5)
SELLERS = dict(of=-1.0, of_norm=-0.5, qimb=-0.5)


def at(m: int, s: int = 1) -> int:
    """s seconds into minute m+1 (after minute m's close)."""
    return T0 + (m + 1) * NS_PER_MIN + s * 1_000_000_000


def break_in_long(d: Driver, *, fill: bool) -> OrderRequest:
    """Warm-up minute, then the spec §20.5 break-in: the entry limit, accepted (and filled)."""
    d.minute(0, **INSIDE)
    d.minute(1, 49_850, 49_920, 49_820, 49_950, **BUYERS)
    entry = d.adapter.sent[-1]
    d.ack(entry.client_order_id, at(1, 0))
    if fill:
        d.fill(entry, at(1, 5), 49_950)
    return entry


def test_flat_long_flat() -> None:
    d = Driver()
    assert d.minute(0, **INSIDE)[7:9] == ("HOLD", "warmup")
    row = d.minute(1, 49_850, 49_920, 49_820, 49_950, **BUYERS)
    assert row[7:9] == ("ENTER_LONG", "breakin_long")
    entry = d.adapter.sent[-1]
    assert (entry.side, entry.order_type, entry.price, entry.intent) == (1, "limit", 49_950, "entry")
    d.ack(entry.client_order_id, at(1, 0))
    d.fill(entry, at(1, 5), 49_950)
    assert d.strategy.state == "LONG"
    row = d.minute(2, 49_960, 50_120, 49_955, 50_110)  # reaches TP2 (VAH 50 100) in full
    assert row[7:9] == ("EXIT", "tp2")
    exit_ = d.adapter.sent[-1]
    assert (exit_.side, exit_.order_type, exit_.qty, exit_.intent) == (-1, "market", entry.qty, "exit")
    d.ack(exit_.client_order_id, at(2, 0))
    d.fill(exit_, at(2, 1), 50_100)
    assert d.states == ["LONG", "FLAT"]
    assert d.ctx.ledger.rows()[0][12] == "CLOSED"


def test_tp1_partial_moves_the_stop_to_breakeven() -> None:
    d = Driver()
    entry = break_in_long(d, fill=True)
    row = d.minute(2, 49_960, 50_010, 49_955, 50_005)  # TP1 = POC 50 000
    assert row[7:9] == ("EXIT", "tp1")
    tp1 = d.adapter.sent[-1]
    n = round(entry.qty / 0.001)
    assert round(tp1.qty / 0.001) == max(1, int(n * 0.3 + 0.5))
    d.ack(tp1.client_order_id, at(2, 0))
    d.fill(tp1, at(2, 1), 50_000)
    assert d.strategy.plan is not None and d.strategy.plan.stop == 49_950
    row = d.minute(3, 50_000, 50_010, 49_940, 49_960)
    assert row[7:9] == ("EXIT", "stop_breakeven")


def test_breakout_waits_for_the_retest_then_enters() -> None:
    d = Driver(accept_outside_k=1)
    d.minute(0, **INSIDE)
    row = d.minute(1, 50_090, 50_130, 50_085, 50_120, **BUYERS)
    assert row[3] == 1 and row[7:9] == ("HOLD", "pending_retest")
    assert d.states == ["PENDING_RETEST"]
    row = d.minute(2, 50_120, 50_125, 50_100.5, 50_115)  # low within one spread (1.0) of the locked VAH
    assert row[7:9] == ("ENTER_LONG", "breakout_retest_long")
    entry = d.adapter.sent[-1]
    d.ack(entry.client_order_id, at(2, 0))
    d.fill(entry, at(2, 3), 50_115)
    assert d.strategy.state == "LONG"
    assert d.strategy.plan is not None and d.strategy.plan.stop == 50_098.5  # pullback low − 2 ticks
    row = d.minute(3, 50_115, 50_118, 50_099, 50_099.5)  # closes back inside the area
    assert row[7] == "EXIT"


def test_opposite_signal_flips_as_two_trades() -> None:
    d = Driver()
    entry = break_in_long(d, fill=True)
    row = d.minute(2, 50_050, 50_130, 50_040, 50_060, **SELLERS)  # break-in short
    assert row[7:9] == ("ENTER_SHORT", "flip:breakin_short")
    # The exit goes first, reduce-only; the entry waits for the book to be flat.
    exit_ = d.adapter.sent[-1]
    assert (exit_.reason, exit_.side, exit_.qty, exit_.reduce_only) == ("flip", -1, entry.qty, True)
    d.ack(exit_.client_order_id, at(2, 0))
    d.fill(exit_, at(2, 1), 50_055)
    new = d.adapter.sent[-1]
    assert (new.intent, new.side, new.order_type, new.price, new.reduce_only) == ("entry", -1, "limit", 50_060, False)
    assert d.ctx.orders[new.client_order_id].decision_ts_ns == T0 + 3 * NS_PER_MIN  # decided at minute 2's close
    d.ack(new.client_order_id, at(2, 1))
    d.fill(new, at(2, 2), 50_060)
    trades = d.ctx.ledger.rows()
    assert [(t[3], t[12], t[11]) for t in trades] == [("LONG", "CLOSED", "breakin"), ("SHORT", "OPEN", "breakin")]


def test_a_limit_that_times_out_is_cancelled_then_sent_as_market() -> None:
    d = Driver()
    entry = break_in_long(d, fill=False)
    d.minute(2, 49_960, 49_990, 49_955, 49_980)  # one minute later, not filled
    assert d.adapter.cancels == [entry.client_order_id]
    assert len(d.adapter.sent) == 1, "no market order before the cancel is confirmed"
    d.ack(entry.client_order_id, at(2, 0), "cancelled")
    market = d.adapter.sent[-1]
    assert (market.order_type, market.qty, market.reason) == ("market", entry.qty, "limit_timeout")


def test_a_limit_filled_while_its_cancel_travels_is_not_doubled() -> None:
    d = Driver()
    entry = break_in_long(d, fill=False)
    d.minute(2, 49_960, 49_990, 49_955, 49_980)
    d.ack(entry.client_order_id, at(2, 0), "cancel_rejected")
    d.fill(entry, at(2, 0), 49_950)
    assert len(d.adapter.sent) == 1
    assert d.ctx.position.qty == entry.qty


def test_reconciliation_mismatch_halts_and_alerts() -> None:
    d = Driver()
    assert d.strategy.exec.reconcile(0.0)
    assert not d.strategy.exec.reconcile(0.5)
    assert d.strategy.exec.halted
    d.minute(0, **INSIDE)
    row = d.minute(1, 49_850, 49_920, 49_820, 49_950, **BUYERS)
    assert row[7:9] == ("HOLD", "halted")


def test_high_ambiguous_fraction_alerts_once_per_episode_after_the_warm_up() -> None:
    """Spec §15.2: one alert when the minute's fraction goes above 0.35 after not being above it;
    NaN (no trades) is not high and ends an episode; warm-up minutes are not watched."""
    d = Driver(warmup_minutes=3)
    fracs = [0.9, 0.9,  # warm-up (closes 1, 2): high but not watched
             0.9,  # close 3, the first watched minute: an episode already under way is alerted now
             0.5, 0.36,  # the same episode: no repeat
             0.35,  # not above the limit (strictly greater is high): the episode ends
             0.4,  # a new episode
             math.nan,  # no trades: not high, ends it
             0.8, 0.8]  # another
    for m, amb in enumerate(fracs):
        d.minute(m, **INSIDE, amb=amb)
    kinds = [(ts, kind) for ts, kind, _ in d.alerts]
    assert kinds == [(T0 + 3 * NS_PER_MIN, "high_ambiguous_fraction"), (T0 + 7 * NS_PER_MIN, "high_ambiguous_fraction"),
                     (T0 + 9 * NS_PER_MIN, "high_ambiguous_fraction")]
    assert d.alerts[0][2] == ("High ambiguous fraction: ambiguous_trade_frac_1m 0.900 > ambiguous_trade_frac_max 0.35; "
                              "setups need both order-flow and qimb confirmation")
    assert "0.400 > ambiguous_trade_frac_max 0.35" in d.alerts[1][2]


def test_high_ambiguous_fraction_without_qimb_says_no_setup_can_be_confirmed() -> None:
    d = Driver(warmup_minutes=1, use_qimb=False, ambiguous_trade_frac_max=0.5)
    d.minute(0, **INSIDE, amb=0.6)
    assert [m for _, _, m in d.alerts] == [
        "High ambiguous fraction: ambiguous_trade_frac_1m 0.600 > ambiguous_trade_frac_max 0.5; "
        "setups need both confirmation legs, and use_qimb is off: no setup can be confirmed"]
