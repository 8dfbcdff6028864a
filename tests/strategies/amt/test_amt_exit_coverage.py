"""The amt strategy's exit, risk and execution coverage ids, proved from the outputs of synthetic
scenario runs (scenarios/amt/exit_*.yaml), never from their goldens.

Each scenario is run once (module-scoped cache) and its CSV exports are parsed with the csv
module. A decision happens at a minute close `t` (signals.ts_min_ms, orders.decision_ts_ms) on
the bar that opened at `t − 1 min` (bars.ts_min_ms). The trade a test is about is found by what
it did (its closing order's reason, its size, …), so an unrelated extra trade does not break it,
while the behaviour disappearing does.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pytest

from sim.core.config import Config, load_config
from sim.run import run
from sim.scenario.manifest import load_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios" / "amt"
MIN = 60_000  # ms
DAY = 24 * 60 * MIN
FUNDING_EVERY = 8 * 60 * MIN
TICK = 0.1
STEP = 0.001
FLAGS = ("signal_breakin_long", "signal_breakin_short", "signal_breakout_long", "signal_breakout_short",
         "signal_failbreak_long", "signal_failbreak_short")

Row = dict[str, str]


class Out:
    """One scenario's run: its exports as rows, its config, and lookups the tests share."""

    def __init__(self, name: str) -> None:
        path = SCENARIOS / f"{name}.yaml"
        spec = load_scenario(path).spec
        self.cfg: Config = load_config(overrides=spec.config)
        exports = run(path).exports
        self.t: dict[str, list[Row]] = {
            k[:-4]: list(csv.DictReader(io.StringIO(v))) for k, v in exports.items() if k.endswith(".csv")}
        self.orders = {o["order_id"]: o for o in self.t["orders"]}
        self.bars = {int(b["ts_min_ms"]): b for b in self.t["bars"]}
        self.features = {int(f["ts_min_ms"]): f for f in self.t["features"]}
        self.signals = {int(s["ts_min_ms"]): s for s in self.t["signals"]}
        self.equity = {int(e["ts_ms"]): e for e in self.t["equity"]}

    # -- lookups ------------------------------------------------------------------------------
    def fills_of(self, order_id: str) -> list[Row]:
        return [f for f in self.t["fills"] if f["order_id"] == order_id]

    def closing_order(self, pos: Row) -> Row:
        (f,) = [f for f in self.t["fills"] if f["ts_ms"] == pos["ts_ms_close"]]
        return self.orders[f["order_id"]]

    def opening_order(self, pos: Row) -> Row:
        (f,) = [f for f in self.t["fills"] if f["ts_ms"] == pos["ts_ms_open"]]
        return self.orders[f["order_id"]]

    def trade_orders(self, pos: Row) -> list[Row]:
        """The orders with a fill inside the trade [open, close], in fill order."""
        lo, hi = int(pos["ts_ms_open"]), int(pos["ts_ms_close"])
        ids: list[str] = []
        for f in self.t["fills"]:
            if lo <= int(f["ts_ms"]) <= hi and f["order_id"] not in ids:
                ids.append(f["order_id"])
        return [self.orders[i] for i in ids]

    def closed_by(self, reason: str) -> list[Row]:
        return [p for p in self.t["positions"] if p["ts_ms_close"] and self.closing_order(p)["reason"] == reason]

    def bar_closing_at(self, t: int) -> Row:
        return self.bars[t - MIN]

    def bars_between(self, after_ms: int, until_ms: int) -> list[Row]:
        """Bars that closed in (after_ms, until_ms)."""
        return [b for ts, b in sorted(self.bars.items()) if after_ms < ts + MIN < until_ms]

    def fees_before(self, pos: Row, t: int) -> float:
        return sum(float(f["fee"]) for f in self.t["fills"] if int(pos["ts_ms_open"]) <= int(f["ts_ms"]) < t)

    def net_if_closed(self, pos: Row, t: int) -> float:
        """exits.profitable_net at the close `t`: unrealized PnL at the bar's close minus the fees paid so
        far and the taker fee to close now."""
        qty = float(self.equity[t]["position_qty"])
        close = float(self.bar_closing_at(t)["close"])
        unrealized = qty * (close - float(pos["entry_price"]))
        return unrealized - self.fees_before(pos, t) - abs(qty) * close * self.cfg.taker_fee_bps / 10_000


def direction(pos: Row) -> int:
    return 1 if pos["side"] == "LONG" else -1


def hold_start(pos: Row) -> int:
    """The first minute close after the entry fill (the time stop's start, §9.2)."""
    return (int(pos["ts_ms_open"]) // MIN + 1) * MIN


def flagged(sig: Row) -> bool:
    return any(sig[k] == "1" for k in FLAGS)


@pytest.fixture(scope="module")
def outs() -> Any:
    cache: dict[str, Out] = {}

    def get(name: str) -> Out:
        if name not in cache:
            cache[name] = Out(name)
        return cache[name]
    return get


# -- tp1-partial-then-breakeven-stop ---------------------------------------------------------

def test_tp1_partial_then_the_rest_at_the_breakeven_stop(outs: Any) -> None:
    o = outs("exit_tp1_breakeven")
    trades = [p for p in o.closed_by("stop_breakeven") if p["qty_at_tp1"]]
    assert trades, "no position took TP1 and then exited at the breakeven stop"
    p = trades[0]
    d, entry = direction(p), float(p["entry_price"])
    n, k = round(float(p["qty_contracts"]) / STEP), round(float(p["qty_at_tp1"]) / STEP)
    assert n > 1 and k == max(1, math.floor(n * o.cfg.tp1_pct + 0.5)) and k < n
    assert math.isclose(float(p["stop_price"]), entry, abs_tol=1e-6), "stop not moved to the entry price"
    assert p["status"] == "STOPPED"

    entry_order, tp1, be = o.trade_orders(p)
    assert (tp1["reason"], tp1["type"], tp1["state"]) == ("tp1", "market", "filled")
    assert math.isclose(float(tp1["qty"]), float(p["qty_at_tp1"]), abs_tol=1e-9)
    assert (be["reason"], be["state"]) == ("stop_breakeven", "filled")
    assert math.isclose(float(be["qty"]), float(p["qty_contracts"]) - float(p["qty_at_tp1"]), abs_tol=1e-9)
    assert o.signals[int(tp1["decision_ts_ms"])]["chosen_action"] == "EXIT"
    assert o.signals[int(tp1["decision_ts_ms"])]["reason_code"] == "tp1"
    assert o.signals[int(be["decision_ts_ms"])]["reason_code"] == "stop_breakeven"

    # TP1 was reached on its bar; the exit bar crossed the entry but not the original stop
    # (the poke bar's extreme beyond the entry by the stop buffer), so it is the moved stop that fired.
    tp1_bar = o.bar_closing_at(int(tp1["decision_ts_ms"]))
    assert (float(tp1_bar["high" if d > 0 else "low"]) - float(p["tp1_price"])) * d >= 0
    signal_bar = o.bar_closing_at(int(entry_order["decision_ts_ms"]))
    original_stop = float(signal_bar["low" if d > 0 else "high"]) - d * o.cfg.stop_buffer_ticks * TICK
    exit_bar = o.bar_closing_at(int(be["decision_ts_ms"]))
    adverse = float(exit_bar["low" if d > 0 else "high"])
    assert (adverse - entry) * d <= 0, "the exit bar did not reach the breakeven stop"
    assert (adverse - original_stop) * d > 0, "the original stop was hit too: not a breakeven exit"
    # No TP2 on the way: the remainder really rode to the stop.
    for b in o.bars_between(int(p["ts_ms_open"]), int(be["decision_ts_ms"]) + 1):
        assert (float(b["high" if d > 0 else "low"]) - float(p["tp2_price"])) * d < 0


# -- single-contract-no-partial --------------------------------------------------------------

def test_a_one_contract_position_takes_no_partial(outs: Any) -> None:
    o = outs("exit_single_contract")
    ones = [p for p in o.t["positions"] if round(float(p["qty_contracts"]) / STEP) == 1 and p["ts_ms_close"]]
    assert ones, "no one-contract position"
    p = ones[0]
    d = direction(p)
    assert p["qty_at_tp1"] == ""
    assert not any(x["reason"] == "tp1" for x in o.t["orders"]), "a tp1 order was sent"
    entry_order, exit_order = o.trade_orders(p)
    assert exit_order["reason"] == "tp2" and round(float(exit_order["qty"]) / STEP) == 1
    # The size is risk-based, not capped: available × risk_pct / stop distance is 1.x steps.
    raw = o.cfg.initial_equity * o.cfg.risk_pct / abs(float(entry_order["price"]) - float(p["stop_price"]))
    assert 1 <= raw / STEP < 2
    assert not any(a["kind"] == "leverage_cap" for a in o.t["alerts"])
    # The price went through TP1 while the position was open, and no partial was taken.
    passed = [b for b in o.bars_between(int(p["ts_ms_open"]), int(exit_order["decision_ts_ms"]))
              if (float(b["high" if d > 0 else "low"]) - float(p["tp1_price"])) * d >= 0]
    assert passed, "the price never reached TP1: the test would prove nothing"


# -- stop-and-target-same-bar ----------------------------------------------------------------

def test_stop_wins_when_one_bar_reaches_stop_and_target(outs: Any) -> None:
    o = outs("exit_stop_target_same_bar")
    found = []
    for p in o.closed_by("stop"):
        d = direction(p)
        t = int(o.closing_order(p)["decision_ts_ms"])
        bar = o.bar_closing_at(t)
        if int(bar["ts_min_ms"]) <= int(p["ts_ms_open"]):
            continue  # the fill's own bar checks targets on its close only
        fav, adverse = float(bar["high" if d > 0 else "low"]), float(bar["low" if d > 0 else "high"])
        hit_target = any(p[k] and (fav - float(p[k])) * d >= 0 for k in ("tp1_price", "tp2_price"))
        if hit_target and (adverse - float(p["stop_price"])) * d <= 0:
            found.append((p, t))
    assert found, "no stop exit on a bar that also reached a target"
    p, t = found[0]
    assert p["qty_at_tp1"] == "" and p["status"] == "STOPPED"
    assert [x["reason"] for x in o.trade_orders(p)][1:] == ["stop"], "a target order was sent too"
    assert (o.signals[t]["chosen_action"], o.signals[t]["reason_code"]) == ("EXIT", "stop")


# -- time-stop -------------------------------------------------------------------------------

def test_time_stop_after_max_hold_when_not_profitable(outs: Any) -> None:
    o = outs("exit_time_stop")
    trades = o.closed_by("time_stop")
    assert trades, "no time stop"
    p = trades[0]
    d = direction(p)
    t = int(o.closing_order(p)["decision_ts_ms"])
    assert t == hold_start(p) + o.cfg.max_hold_minutes * MIN, "the time stop did not fire at max_hold"
    assert o.net_if_closed(p, t) <= 0, "profitable net of fees: should have been extended"
    assert (o.signals[t]["chosen_action"], o.signals[t]["reason_code"]) == ("EXIT", "time_stop")
    for b in o.bars_between(int(p["ts_ms_open"]), t + 1):  # nothing else could have closed it
        assert (float(b["low" if d > 0 else "high"]) - float(p["stop_price"])) * d > 0
        for k in ("tp1_price", "tp2_price"):
            assert not p[k] or (float(b["high" if d > 0 else "low"]) - float(p[k])) * d < 0


# -- time-stop-extended-while-profitable -----------------------------------------------------

def test_time_stop_is_extended_while_profitable_net_of_fees(outs: Any) -> None:
    o = outs("exit_time_stop_extended")
    due = {id(p): hold_start(p) + o.cfg.max_hold_minutes * MIN for p in o.t["positions"]}
    trades = [p for p in o.closed_by("time_stop") if int(o.closing_order(p)["decision_ts_ms"]) > due[id(p)]]
    assert trades, "no time stop later than max_hold"
    p = trades[0]
    t_exit = int(o.closing_order(p)["decision_ts_ms"])
    held = range(due[id(p)], t_exit, MIN)
    assert len(held) >= 2, "not held on past max_hold"
    for t in held:  # past max_hold, profitable → held on, re-checked every minute
        assert o.net_if_closed(p, t) > 0, f"held at {t} while not profitable"
        assert o.signals[t]["chosen_action"] == "HOLD"
        assert float(o.equity[t]["position_qty"]) == float(p["qty_contracts"])
    assert o.net_if_closed(p, t_exit) <= 0, "exited while still profitable"
    assert o.signals[t_exit]["reason_code"] == "time_stop"
    assert p["qty_at_tp1"] == "", "a partial was taken: not a pure time-stop story"


# -- cooldown --------------------------------------------------------------------------------

def test_no_entry_within_cooldown_after_an_exit_then_entries_again(outs: Any) -> None:
    o = outs("exit_cooldown")
    cd = o.cfg.cooldown_minutes * MIN
    assert cd > 0
    for p in [p for p in o.t["positions"] if p["ts_ms_close"]]:
        exit_ms = int(p["ts_ms_close"])
        window = [s for ts, s in sorted(o.signals.items()) if exit_ms < ts < exit_ms + cd]
        refused = [s for s in window if flagged(s) and (s["chosen_action"], s["reason_code"]) == ("HOLD", "cooldown")]
        if not refused:
            continue
        assert not any(s["chosen_action"].startswith("ENTER") for s in window)
        later = [ts for ts, s in sorted(o.signals.items())
                 if ts >= exit_ms + cd and s["chosen_action"].startswith("ENTER")]
        assert later, "no entry after the cooldown"
        entry = [x for x in o.t["orders"] if x["intent"] == "entry" and int(x["decision_ts_ms"]) == later[0]]
        assert entry and entry[0]["state"] == "filled"
        return
    pytest.fail("no signal refused with reason cooldown right after an exit")


# -- kill-switch-daily-loss ------------------------------------------------------------------

def test_kill_switch_flattens_blocks_the_day_and_resets_at_midnight(outs: Any) -> None:
    o = outs("exit_kill_switch")
    kills = [int(a["ts_ms"]) for a in o.t["alerts"] if a["kind"] == "kill_switch"]
    assert kills, "no kill_switch alert"
    k = kills[0]
    # The UTC day's loss (equity marked at the close, fees included) reached max_daily_loss.
    day_start = min(ts for ts in o.equity if ts // DAY == k // DAY)
    loss = float(o.equity[day_start]["equity"]) - float(o.equity[k]["equity"])
    assert loss >= o.cfg.max_daily_loss
    assert (o.signals[k]["chosen_action"], o.signals[k]["reason_code"]) == ("EXIT", "kill_switch")
    (flatten,) = [x for x in o.t["orders"] if x["reason"] == "kill_switch"]
    assert int(flatten["decision_ts_ms"]) == k and flatten["state"] == "filled"
    (p,) = [p for p in o.t["positions"] if p["ts_ms_close"] and o.closing_order(p) is flatten]
    d = direction(p)
    bar = o.bar_closing_at(k)  # the same bar went through the stop: the kill switch came first
    assert (float(bar["low" if d > 0 else "high"]) - float(p["stop_price"])) * d <= 0

    midnight = (k // DAY + 1) * DAY
    rest_of_day = [s for ts, s in sorted(o.signals.items()) if k < ts < midnight]
    assert not any(s["chosen_action"].startswith("ENTER") for s in rest_of_day)
    refused = [s for s in rest_of_day
               if flagged(s) and (s["chosen_action"], s["reason_code"]) == ("HOLD", "kill_switch")]
    assert refused, "no signal refused with reason kill_switch"
    assert not any(k < int(x["decision_ts_ms"]) < midnight and x["intent"] == "entry" for x in o.t["orders"])

    resets = [int(a["ts_ms"]) for a in o.t["alerts"] if a["kind"] == "kill_switch_reset"]
    assert resets and midnight <= resets[0] < midnight + MIN
    after = [ts for ts, s in sorted(o.signals.items()) if ts >= midnight and s["chosen_action"].startswith("ENTER")]
    assert after, "no entry after the reset"
    assert any(int(x["decision_ts_ms"]) == after[0] and x["intent"] == "entry" for x in o.t["orders"])


# -- leverage-cap ----------------------------------------------------------------------------

def test_leverage_cap_reduces_the_risk_based_size(outs: Any) -> None:
    o = outs("exit_leverage_cap")
    caps = [int(a["ts_ms"]) for a in o.t["alerts"] if a["kind"] == "leverage_cap"]
    assert caps, "no leverage_cap alert"
    t = caps[0]
    (entry,) = [x for x in o.t["orders"] if x["intent"] == "entry" and int(x["decision_ts_ms"]) == t]
    assert float(o.equity[t]["position_qty"]) == 0.0, "flat at the decision: available margin = equity"
    available = float(o.equity[t]["equity"])
    price = float(entry["price"])
    (p,) = [p for p in o.t["positions"] if o.opening_order(p) is entry]
    risk_qty = available * o.cfg.risk_pct / abs(price - float(p["stop_price"]))
    cap_qty = math.floor(available * o.cfg.max_leverage / price / STEP + 1e-9) * STEP
    assert risk_qty > cap_qty, "the risk-based size was not above the cap"
    assert math.isclose(float(entry["qty"]), cap_qty, abs_tol=1e-9)
    assert math.isclose(float(p["qty_contracts"]), cap_qty, abs_tol=1e-9)
    assert float(p["leverage_used"]) <= o.cfg.max_leverage
    assert math.isclose(float(p["leverage_used"]), cap_qty * price / available, rel_tol=1e-5)


# -- limit-timeout-to-market -----------------------------------------------------------------

def test_an_unfilled_entry_limit_is_cancelled_then_sent_at_market(outs: Any) -> None:
    o = outs("exit_limit_timeout")
    timeout = o.cfg.limit_order_timeout_minutes * MIN
    markets = [x for x in o.t["orders"] if x["reason"] == "limit_timeout"]
    assert markets, "no limit_timeout market order"
    m = markets[0]
    assert (m["type"], m["intent"], m["state"]) == ("market", "entry", "filled")
    t_m = int(m["decision_ts_ms"])
    (lim,) = [x for x in o.t["orders"] if x["type"] == "limit" and x["intent"] == "entry"
              and int(x["decision_ts_ms"]) == t_m - timeout]
    assert lim["state"] == "cancelled" and not o.fills_of(lim["order_id"])
    assert (lim["side"], lim["qty"]) == (m["side"], m["qty"])
    d = 1 if lim["side"] == "buy" else -1
    # Nothing traded through the limit while it rested.
    waiting = o.bar_closing_at(t_m)
    assert (float(waiting["low" if d > 0 else "high"]) - float(lim["price"])) * d > 0
    (fill,) = o.fills_of(m["order_id"])
    assert int(fill["ts_ms"]) > t_m and fill["liquidity"] == "taker"
    # The position opened by the market order carries the limit's plan: the signal bar's stop.
    (p,) = [p for p in o.t["positions"] if p["ts_ms_open"] == fill["ts_ms"]]
    signal_bar = o.bar_closing_at(t_m - timeout)
    stop = float(signal_bar["low" if d > 0 else "high"]) - d * o.cfg.stop_buffer_ticks * TICK
    assert math.isclose(float(p["stop_price"]), stop, abs_tol=1e-6)
    assert p["strategy_tag"] and o.signals[t_m - timeout]["reason_code"] == lim["reason"]


# -- funding-charged -------------------------------------------------------------------------

def test_funding_is_charged_on_a_position_open_at_a_funding_time(outs: Any) -> None:
    o = outs("exit_funding")
    rate = o.cfg.funding_rate_8h_bps / 10_000
    charged = []
    for p in [p for p in o.t["positions"] if p["ts_ms_close"]]:
        lo, hi = int(p["ts_ms_open"]), int(p["ts_ms_close"])
        times = range((lo // FUNDING_EVERY + 1) * FUNDING_EVERY, hi, FUNDING_EVERY)
        if len(times) == 1:
            charged.append((p, times[0]))
    assert charged, "no position open across a funding time"
    p, f_t = charged[0]
    qty, paid = float(p["qty_contracts"]), float(p["funding_paid"])
    assert paid != 0.0 and paid * direction(p) > 0, "a long pays (a short receives) a positive rate"
    mark = abs(paid) / (qty * rate)
    mid = float(o.features[f_t - MIN]["mid_close"])  # the mid at the funding time
    assert abs(mark - mid) <= 2 * TICK + 1e-6, f"funding mark {mark} vs mid {mid}"
    before, at = o.equity[f_t - MIN], o.equity[f_t]
    assert math.isclose(float(at["funding"]) - float(before["funding"]), paid, abs_tol=1e-6)


# -- the fixes in exits.py, sizing.py and execution.py, at unit level ------------------------

def test_a_target_behind_the_fill_is_not_an_exit() -> None:
    """A limit that timed out is filled at market, possibly past TP1: that "target" would be a
    partial at a loss followed at once by the (already crossed) breakeven stop."""
    from sim.strategies.amt import exits
    from tests.strategies.amt.amt_builders import T0, bar

    cfg = load_config()
    plan = exits.Plan(+1, "breakin", stop=49_900.0, tp1=50_000.0, tp2=50_100.0, level=math.nan,
                      tp1_qty=0.3, entry_ns=T0 + 5 * 10**9, hold_start_ns=T0 + 60 * 10**9)
    b = bar(50_010, 50_030, 50_005, 50_020, minute=1)  # the bar after the fill bar
    t = T0 + 2 * 60 * 10**9
    tp1 = exits.check(plan, b, t, qty=1.0, avg_entry=49_990.0, fees_paid=0.0, cfg=cfg)
    assert tp1 == exits.ExitDecision("tp1", True)
    assert exits.check(plan, b, t, qty=1.0, avg_entry=50_010.0, fees_paid=0.0, cfg=cfg) is None
    plan.tp2 = 50_015.0  # behind the fill too: no tp2 either
    assert exits.check(plan, b, t, qty=1.0, avg_entry=50_016.0, fees_paid=0.0, cfg=cfg) is None


def test_tp1_rounds_half_up_despite_binary_fractions() -> None:
    from sim.strategies.amt.sizing import tp1_contracts

    assert (tp1_contracts(90, 0.35), tp1_contracts(45, 0.7), tp1_contracts(5, 0.3)) == (32, 32, 2)
    assert (tp1_contracts(1, 0.3), tp1_contracts(2, 0.3), tp1_contracts(3, 0.3)) == (0, 1, 1)


def test_a_partly_filled_entry_limit_still_times_out_to_market_for_its_rest() -> None:
    from sim.core.events import make_key
    from sim.core.events import Fill as FillEvent
    from tests.strategies.amt.test_amt_state_machine import Driver, at, break_in_long

    d = Driver()
    entry = break_in_long(d, fill=False)
    part = round(entry.qty / 2, 3)
    ts = at(1, 5)
    d.feed(FillEvent("fill", ts, make_key("fill", ts), ts, entry.client_order_id, entry.side, entry.price, part, 0.0,
                     "maker"))
    assert d.ctx.orders[entry.client_order_id].state.value == "partially_filled"
    d.minute(2, 49_960, 49_990, 49_955, 49_980)  # the timeout: the partly filled limit is cancelled
    assert d.adapter.cancels == [entry.client_order_id]
    d.ack(entry.client_order_id, at(2, 0), "cancelled")
    market = d.adapter.sent[-1]
    assert (market.order_type, market.reason) == ("market", "limit_timeout")
    assert math.isclose(market.qty, entry.qty - part, abs_tol=1e-9)
