"""The amt strategy's minute-close cycle: it ties acceptance tracking, setups, sizing, exits,
the risk guards and the execution engine together, and journals every decision.

At each minute close, in this order: the UTC day rolls (kill-switch reset); the acceptance
sequences take the bar; timed-out limit entries start turning into market orders; then one of
the kill switch (the day's loss, fees and funding included, reached `max_daily_loss`: flatten,
no entries until 00:00 UTC), the end-of-run flatten (backtests only), or the open position's
exit rules; after the warm-up, the "High ambiguous fraction" alert (§15.2: once per episode of
minutes above `ambiguous_trade_frac_max`); then the setups (none before `warmup_minutes` closes or
on an invalid value area),
a pending breakout retest, priority, and the entry guards (cooldown after the last exit, one
position at a time, flip on an opposite signal, no entry while an order is working). The
minute's flags, action and reason go to `signals_1m`; state snapshots go out every
`state_snapshot_interval_minutes` and whenever the state changes.

A position has at most one working exit. Every path that closes (the kill switch's and the end
of run's flatten, the plan's stop, targets and time stop, a flip) looks for a working exit first:
a flatten waits for it (and closes what it leaves at the next minute), the plan's exits are not
checked while it works, and a flip decided while it works is not made (`exit_working`) — the
position is already on its way out by its own exit, and re-entering is the cooldown's business.
Exits are reduce-only, so a flip is sequenced as a desk does it: the exit goes at once, and the
new entry (sized and planned at the decision) is sent when the exit's fill has made the book flat
— never before, or an entry filling first would turn the reduce-only exit into an opening.

States: FLAT, LONG, SHORT, PENDING_RETEST (flat, waiting for the pullback of an accepted
breakout, `enable_retest_mode`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sim.core.events import NS_PER_MIN, NS_PER_MS, Event, Fill, MinuteClose, OrderUpdate
from sim.strategies.amt import exits, setups
from sim.strategies.amt.acceptance import AcceptanceTracker, SideUpdate
from sim.strategies.amt.execution import ExecutionEngine
from sim.strategies.amt.exits import Plan
from sim.strategies.amt.initiative import high_ambiguity, qimb_value
from sim.strategies.amt.setups import FLAG_NAMES, Candidate
from sim.strategies.amt.sizing import contracts, qty_of, size_position, tp1_contracts, tp2_contracts
from sim.strategies.api import StrategyContext

NS_PER_DAY = 24 * 60 * NS_PER_MIN


@dataclass
class PendingRetest:
    direction: int
    level: float
    since_ns: int


class AmtStrategy:
    name = "amt"

    def __init__(self) -> None:
        self.ctx: StrategyContext | None = None

    def on_end(self, ctx: StrategyContext) -> None:
        pass  # the end-of-run flatten happens at a minute close, `flatten_at_end_minutes` before the end

    def on_start(self, ctx: StrategyContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.tick = ctx.instrument.tick_size
        self.step = ctx.instrument.qty_step
        self.acc = AcceptanceTracker(self.cfg.accept_outside_k)
        self.exec = ExecutionEngine(ctx)
        self.plan: Plan | None = None
        self.next_plan: Plan | None = None
        # the flip's entry (side, qty, price, plan, reason, decision time), sent once flat
        self.flip_entry: tuple[int, float, float, dict[str, Any], str, int] | None = None
        self.pending: PendingRetest | None = None
        self.last_close = math.nan  # the last minute's close
        self.minutes = 0
        self.mark = math.nan
        self.day = -1
        self.day_start_equity = math.nan
        self.killed = False
        self.last_exit_ns: int | None = None
        self.va_alerted = False
        self.ambiguity_alerted = False
        self.state = "FLAT"
        self._acc_key: tuple[Any, ...] | None = None
        self._acc_json = ""

    # -- events -----------------------------------------------------------------------------
    def on_event(self, ev: Event, ctx: StrategyContext) -> None:
        if isinstance(ev, MinuteClose):
            self._minute(ev, ctx)
        elif isinstance(ev, Fill):
            self._fill(ev, ctx)
        elif isinstance(ev, OrderUpdate):
            self.exec.on_update(ev)

    def _fill(self, ev: Fill, ctx: StrategyContext) -> None:
        self.exec.on_fill(ev)
        pos = ctx.position
        if self.plan is not None and pos.qty * self.plan.direction <= 0:
            self.plan = None  # the position it planned is gone (closed, or flipped through zero)
        nxt = self.next_plan
        if nxt is not None and self.plan is not nxt and pos.qty * nxt.direction > 0:
            # In a flip the new entry may fill before the exit; the position then crosses zero on
            # the exit's fill, and only now is it the planned one.
            self.plan = nxt
            self.plan.entry_ns = ev.ts_ns
            self.plan.hold_start_ns = (ev.ts_ns // NS_PER_MIN + 1) * NS_PER_MIN
            trade = ctx.ledger.open_trade
            if trade is not None and not trade.strategy_tag:
                ctx.ledger.annotate(**nxt.meta)
        if pos.qty == 0.0:
            self.plan = None
            self.last_exit_ns = ev.ts_ns
            if self.flip_entry is not None and not self.exec.has("exit"):
                self._send_flip_entry(ctx)  # the flip's exit is done: now its entry
                self.flip_entry = None
        self._maybe_snapshot(ev.ts_ns, periodic=False)

    def _minute(self, ev: MinuteClose, ctx: StrategyContext) -> None:
        cfg, bar, f, t = self.cfg, ev.bar, ev.features, ev.ts_ns
        self.minutes += 1
        if not math.isnan(bar.close):
            self.last_close = bar.close
        for m in (f.mid_close, bar.close):
            if not math.isnan(m):
                self.mark = m
                break
        equity = ctx.equity(self.mark) if not math.isnan(self.mark) else cfg.initial_equity
        if t // NS_PER_DAY != self.day:
            self.day, self.day_start_equity = t // NS_PER_DAY, equity
            if self.killed:
                ctx.alert("kill_switch_reset", "new UTC day: entries allowed again")
            self.killed = False
        up, down = self.acc.update(bar, f)
        self.exec.on_minute(t)
        if self.flip_entry is not None and not self.exec.has("exit") and ctx.position.qty != 0.0:
            self.flip_entry = None  # the flip's exit ended without closing (rejected): no entry

        pos = ctx.position
        action, reason = "HOLD", ""
        exiting = self.exec.has("exit")
        end_phase = ctx.end_ns is not None and t >= ctx.end_ns - cfg.flatten_at_end_minutes * NS_PER_MIN
        if not self.killed and self.day_start_equity - equity >= cfg.max_daily_loss:
            self.killed = True
            ctx.alert("kill_switch", f"daily loss {self.day_start_equity - equity:.2f} >= max_daily_loss "
                                     f"{cfg.max_daily_loss}: flatten, no entries until 00:00 UTC")
            action, reason = self._flatten("kill_switch", exiting)
        elif self.killed and pos.qty != 0.0:
            # What the first flatten could not close: a partial exit was working then, or an
            # entry already on its way filled after it.
            action, reason = self._flatten("kill_switch", exiting)
        elif end_phase:
            action, reason = self._flatten("end_of_run", exiting)
        self._watch_ambiguity(f)
        cands = self._setups(bar, f, up, down, t)
        flip_first = False
        if not reason and self.plan is not None and pos.qty != 0.0 and not exiting:
            chosen, _ = setups.choose(cands)
            # An opposite signal flips the position instead of the plan's own exit.
            flip_first = chosen is not None and cfg.enable_flip_on_signal and chosen.direction != self.plan.direction
            if not flip_first:
                action, reason = self._plan_exit(bar, t)
        if not reason:
            action, reason = self._decide(cands, bar, f, t, equity, reason)
            if flip_first and action == "HOLD":  # the flip was refused: the plan's exits still apply
                action, reason = self._plan_exit(bar, t) if self._plan_exit_allowed() else (action, reason)
        flags = tuple(int(n in cands) for n in FLAG_NAMES)
        key = (self.acc.up.count, self.acc.up.level, self.acc.down.count, self.acc.down.level,
               None if self.pending is None else (self.pending.direction, self.pending.level))
        if key != self._acc_key:  # the JSON only changes with the sequences: build it then
            acceptance = self.acc.state()
            acceptance["pending_retest"] = None if self.pending is None else {
                "direction": self.pending.direction, "level": self.pending.level}
            self._acc_key, self._acc_json = key, _json(acceptance)
        snapshot = (f.poc, f.vah, f.val, f.of_1m, f.of_norm_1m, qimb_value(f, cfg), f.ambiguous_trade_frac_1m)
        ctx.journal.signal((t // NS_PER_MS, *flags, action, reason or "none", self._acc_json), snapshot)
        self._maybe_snapshot(t, periodic=t % (cfg.state_snapshot_interval_minutes * NS_PER_MIN) == 0)

    # -- decisions --------------------------------------------------------------------------
    def _plan_exit_allowed(self) -> bool:
        return self.plan is not None and self.ctx is not None and self.ctx.position.qty != 0.0 \
            and not self.exec.has("exit")

    def _plan_exit(self, bar: Any, t: int) -> tuple[str, str]:
        ctx, cfg, plan = self.ctx, self.cfg, self.plan
        assert ctx is not None and plan is not None
        pos = ctx.position
        trade = ctx.ledger.open_trade
        dec = exits.check(plan, bar, t, qty=pos.qty, avg_entry=pos.avg_entry,
                          fees_paid=trade.fees_paid if trade else 0.0, cfg=cfg)
        if dec is None:
            return "HOLD", ""
        part = plan.tp1_qty if dec.reason == "tp1" else plan.tp2_qty
        # A partial is never more than the position holds (an entry limit may have filled only
        # in part): then it is the whole exit.
        if dec.partial and part < abs(pos.qty) - 1e-12:
            self.exec.exit(-plan.direction, part, dec.reason, self.mark)
            if dec.reason == "tp1":
                plan.tp1_done = True
                ctx.ledger.annotate(qty_at_tp1=part)
            else:
                plan.tp2_done = True
            if cfg.move_stop_to_breakeven_after_tp1:
                plan.stop = pos.avg_entry
                ctx.ledger.annotate(stop_price=pos.avg_entry)
        else:
            self.exec.exit(-plan.direction, abs(pos.qty), dec.reason, self.mark)
        return "EXIT", dec.reason

    def _watch_ambiguity(self, f: Any) -> None:
        """Spec §15.2 "High ambiguous fraction": one alert per episode of minutes whose
        `ambiguous_trade_frac_1m` is above `ambiguous_trade_frac_max` (NaN, no trades, is not
        high). Watched from the end of the warm-up, like the other signal alerts: only then does
        the fraction change a decision (dual confirmation), and a warm-up episode that is still
        going on when it ends is alerted at its first minute after it."""
        cfg = self.cfg
        if self.minutes < cfg.warmup_minutes:
            return
        high = high_ambiguity(f, cfg)
        if high and not self.ambiguity_alerted:
            need = "both order-flow and qimb confirmation" if cfg.use_qimb else \
                "both confirmation legs, and use_qimb is off: no setup can be confirmed"
            self.ctx.alert("high_ambiguous_fraction",  # type: ignore[union-attr]
                           f"High ambiguous fraction: ambiguous_trade_frac_1m {f.ambiguous_trade_frac_1m:.3f} > "
                           f"ambiguous_trade_frac_max {cfg.ambiguous_trade_frac_max}; setups need {need}")
        self.ambiguity_alerted = high

    def _setups(self, bar: Any, f: Any, up: SideUpdate, down: SideUpdate, t: int) -> dict[str, Candidate]:
        if self.minutes < self.cfg.warmup_minutes:
            return {}
        if not f.va_valid:
            if not self.va_alerted:
                self.ctx.alert("va_invalid", f"value area invalid: {f.va_bin_count} bins < min_va_bins "
                                             f"{self.cfg.min_va_bins}; no signals")  # type: ignore[union-attr]
                self.va_alerted = True
            return {}
        self.va_alerted = False
        cands = setups.evaluate(bar, f, up, down, self.cfg, self.tick)
        p = self.pending
        if p is not None:
            u = up if p.direction > 0 else down
            seq = self.acc.up if p.direction > 0 else self.acc.down
            if p.since_ns < t and (u.failed or not seq.active):
                self.pending = None  # closed back inside: the breakout failed (setup C may fire)
            elif p.since_ns < t and _pulled_back(bar, p, _typical_spread(f.spread_avg_60m, self.tick)):
                buf = self.cfg.stop_buffer_ticks * self.tick
                wick = bar.low if p.direction > 0 else bar.high
                name = "breakout_retest_long" if p.direction > 0 else "breakout_retest_short"
                cands[name] = Candidate(name, p.direction, "breakout", wick - p.direction * buf, math.nan,
                                        math.nan, p.level)
        return cands

    def _decide(self, cands: dict[str, Candidate], bar: Any, f: Any, t: int, equity: float,
                reason: str) -> tuple[str, str]:
        ctx, cfg, pos = self.ctx, self.cfg, self.ctx.position  # type: ignore[union-attr]
        assert ctx is not None
        if self.minutes < cfg.warmup_minutes:
            return "HOLD", "warmup"
        if not f.va_valid:
            return "HOLD", "va_invalid"
        chosen, why = setups.choose(cands)
        if chosen is None:
            return "HOLD", why or ("pending_retest" if self.pending else reason)
        if self.killed:
            return "HOLD", "kill_switch"
        if self.exec.halted:
            return "HOLD", "halted"
        if self.exec.has("entry"):
            return "HOLD", "entry_working"
        flip = pos.qty != 0.0 and (pos.qty > 0) != (chosen.direction > 0)
        if pos.qty != 0.0 and not flip:
            return "HOLD", "in_position"
        if flip and not cfg.enable_flip_on_signal:
            return "HOLD", "no_flip"
        if self.exec.has("exit"):
            # A flip too: the working exit already closes the position (a second full exit would
            # open an unplanned one), and a new entry after it waits for the cooldown.
            return "HOLD", "exit_working"
        if not flip and self.last_exit_ns is not None and t < self.last_exit_ns + cfg.cooldown_minutes * NS_PER_MIN:
            return "HOLD", "cooldown"
        if flip:
            self.exec.exit(1 if pos.qty < 0 else -1, abs(pos.qty), "flip", self.mark)
        if chosen.name.startswith("breakout_") and not chosen.name.startswith("breakout_retest") \
                and cfg.enable_retest_mode:
            self.pending = PendingRetest(chosen.direction, chosen.level, t)
            return ("EXIT", "flip:pending_retest") if flip else ("HOLD", "pending_retest")
        return self._enter(chosen, bar, equity, flip)

    def _enter(self, c: Candidate, bar: Any, equity: float, flip: bool) -> tuple[str, str]:
        ctx, cfg = self.ctx, self.cfg
        assert ctx is not None
        pos = ctx.position
        reserved = 0.0 if flip or pos.qty == 0.0 else abs(pos.qty) * self.mark / cfg.max_leverage
        available = equity - reserved
        entry = bar.close
        sz = size_position(available, cfg.risk_pct, entry, c.stop, cfg.max_leverage, self.step)
        prefix = "flip:" if flip else ""
        if sz.qty <= 0.0:
            ctx.alert("size_zero", f"{c.name}: risk-based size rounds to zero; not entered")
            return ("EXIT", prefix + "size_zero") if flip else ("HOLD", "size_zero")
        if sz.capped:
            ctx.alert("leverage_cap", f"Leverage cap hit, position reduced: {sz.risk_qty:.6f} -> {sz.qty} BTC "
                                      f"(max_leverage {cfg.max_leverage})")
        n = contracts(sz.qty, self.step)
        plan = Plan(c.direction, c.tag, c.stop, c.tp1, c.tp2, c.level, qty_of(tp1_contracts(n, cfg.tp1_pct), self.step),
                    qty_of(tp2_contracts(n, cfg.tp1_pct, cfg.tp2_pct), self.step))
        meta = {"strategy_tag": c.tag, "stop_price": c.stop, "tp1_price": c.tp1, "tp2_price": c.tp2,
                "leverage_used": round(sz.leverage, 6), "risk_pct_used": cfg.risk_pct}
        plan.meta = meta
        self.next_plan = plan
        self.pending = None
        if flip:
            self.flip_entry = (c.direction, sz.qty, entry, meta, c.name, ctx.now_ns())
        else:
            self.exec.enter(c.direction, sz.qty, entry, meta, c.name)
        return ("ENTER_LONG" if c.direction > 0 else "ENTER_SHORT"), prefix + c.name

    def _send_flip_entry(self, ctx: StrategyContext) -> None:
        """Sends the flip's entry, sized at the decision, once its exit has left the book flat. The
        exit's fill may have cost margin since the decision (its loss and fees), so the size is capped
        again at the margin the account has now, as the exchange's margin check would: never more
        than `max_leverage` × equity at the entry price."""
        assert self.flip_entry is not None and self.next_plan is not None
        side, qty, price, meta, reason, decided = self.flip_entry
        equity = ctx.equity(self.mark) if not math.isnan(self.mark) else self.cfg.initial_equity
        # a limit entry is valued at its price, a market one at the last close (as at the decision)
        limit = self.cfg.use_limit_for_entry and self.cfg.limit_order_timeout_minutes > 0
        at = price if limit or math.isnan(self.last_close) else self.last_close
        cap = contracts(max(equity, 0.0) * self.cfg.max_leverage / at, self.step) if at > 0 else 0
        n = contracts(qty, self.step)
        if n > cap:
            ctx.alert("leverage_cap", f"Leverage cap hit, position reduced: {qty} -> {qty_of(cap, self.step)} BTC "
                                      f"(max_leverage {self.cfg.max_leverage}; the flip's exit cost margin)")
            if cap <= 0:
                self.next_plan = None
                return
            n, qty = cap, qty_of(cap, self.step)
            meta = {**meta, "leverage_used": round(qty * at / equity, 6)}
            plan = self.next_plan
            plan.tp1_qty = qty_of(tp1_contracts(n, self.cfg.tp1_pct), self.step)
            plan.tp2_qty = qty_of(tp2_contracts(n, self.cfg.tp1_pct, self.cfg.tp2_pct), self.step)
            plan.meta = meta
        self.exec.enter(side, qty, price, meta, reason, decided)

    def _flatten(self, why: str, exiting: bool) -> tuple[str, str]:
        assert self.ctx is not None
        self.exec.cancel_entries()
        self.pending = None
        self.flip_entry = None
        pos = self.ctx.position
        if pos.qty != 0.0 and not exiting:
            self.exec.exit(1 if pos.qty < 0 else -1, abs(pos.qty), why, self.mark)
            return "EXIT", why
        return "HOLD", why

    # -- journal ----------------------------------------------------------------------------
    def _state(self) -> str:
        q = self.ctx.position.qty  # type: ignore[union-attr]
        if q > 0:
            return "LONG"
        if q < 0:
            return "SHORT"
        return "PENDING_RETEST" if self.pending is not None else "FLAT"

    def _maybe_snapshot(self, ts_ns: int, periodic: bool) -> None:
        ctx = self.ctx
        assert ctx is not None
        state = self._state()
        changed = state != self.state
        self.state = state
        if not (changed or periodic):
            return
        pos = ctx.position
        equity = ctx.equity(self.mark) if not math.isnan(self.mark) else self.cfg.initial_equity
        reserved = abs(pos.qty) * self.mark / self.cfg.max_leverage if pos.qty else 0.0
        available = equity - reserved
        risk = abs(pos.qty) * abs(pos.avg_entry - self.plan.stop) if self.plan is not None and pos.qty else 0.0
        ctx.journal.snapshot(ts_ns, "STATE_CHANGE" if changed else "PERIODIC", {
            "position_state": {"state": state, "qty": pos.qty, "avg_entry": pos.avg_entry,
                               "plan": None if self.plan is None else self.plan.state()},
            "acceptance_state": self.acc.state(),
            "pending_orders": self.exec.pending(),
            "account_state": {"equity": equity, "available_margin": available,
                              "heat": risk / available if available > 0 else None,
                              "killed": self.killed, "halted": self.exec.halted},
        })


def _typical_spread(spread_avg: float, tick: float) -> float:
    """The rolling average spread; without quotes (bars mode) one tick, as the crossing check uses."""
    return tick if math.isnan(spread_avg) else spread_avg


def _pulled_back(bar: Any, p: PendingRetest, spread: float) -> bool:
    """The bar came back to within one typical spread of the broken boundary and closed beyond it."""
    if math.isnan(spread):
        return False
    if p.direction > 0:
        return bar.low <= p.level + spread and bar.close > p.level
    return bar.high >= p.level - spread and bar.close < p.level


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
