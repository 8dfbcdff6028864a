"""The invariants every run keeps, whatever its strategy, and the observer that checks them (with the
strategy's own, from its plugin) after every event of a `sim.run.run`.

At every event: every order moved only along the transition table of `sim.execution.orders`
(checked on the orders an event touches, and on all of them at the end), and no fill is stamped
at or before the time its order was decided. At the end: the accounting identity of README
("final_equity − initial_equity = realized_pnl − fees − funding", from the metrics, which holds
only on a flat book) and the trade ledger agreeing with the account (positions.csv's realized PnL,
fees and funding sum to the position's), for strategies that use the pipeline's exports; and a
rerun is byte-identical (the same manifest and output hashes).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from sim.core.events import Fill, OrderUpdate
from sim.execution.orders import TRANSITIONS, OrderState
from sim.strategies.plugin import InvariantChecker, Violation

#: (state, next state) pairs some event of the table allows
LEGAL_STEPS = frozenset((a, b) for (a, _), b in TRANSITIONS.items())
GENERIC_AT_EVENTS = ("order_transitions", "fill_after_decision")
#: money is compared to a hundredth of a cent: sums of float terms, never rounding a real difference away
MONEY_TOL = 1e-4


@dataclass
class CaseResult:
    """What checking one scenario found."""

    violations: list[Violation] = field(default_factory=list)
    events: int = 0
    checks: int = 0

    @property
    def invariants(self) -> list[str]:
        """The invariants that failed, each once, in the order first seen."""
        return list(dict.fromkeys(v.invariant for v in self.violations))


class RunObserver:
    """The `observer` of `sim.run.run`: the generic checks and the strategy's checker, per event.

    A violation is reported once per invariant and subject (order, trade): a broken state usually
    persists for many events and one line says it."""

    def __init__(self, checker: InvariantChecker | None) -> None:
        self.checker = checker
        self.result = CaseResult()
        self.names = GENERIC_AT_EVENTS + (tuple(checker.names) if checker is not None else ())
        self._checked: dict[str, int] = {}  # order id -> history entries checked
        self._reported: set[tuple[str, str]] = set()
        self.last_ts = 0
        #: seen at the end, for the end checks (the run's context is gone once it returns)
        self.initial_equity = 0.0
        self.final_position: Any = None

    def add(self, v: Violation, subject: str = "") -> None:
        key = (v.invariant, subject or v.message)
        if key not in self._reported:
            self._reported.add(key)
            self.result.violations.append(v)

    def __call__(self, ev: Any, ctx: Any, strategy: Any) -> None:
        now = ctx.now_ns()
        self.last_ts = now
        self.result.events += 1
        self.result.checks += len(self.names)
        if isinstance(ev, Fill):
            order = ctx.orders[ev.order_id]
            if ev.ts_ns <= order.decision_ts_ns:
                self.add(Violation("fill_after_decision", ev.ts_ns,
                                   f"fill of {ev.order_id} at {ev.ts_ns} ns is not after its decision at "
                                   f"{order.decision_ts_ns} ns"), ev.order_id)
        if isinstance(ev, (Fill, OrderUpdate)):
            self._transitions(ctx.orders[ev.order_id], now)
        elif ev is None:
            for order in ctx.orders.values():
                self._transitions(order, now)
            self.initial_equity, self.final_position = ctx.config.initial_equity, ctx.position
        if self.checker is not None:
            for v in self.checker.check(ev, ctx, strategy):
                self.add(v)

    def _transitions(self, order: Any, now: int) -> None:
        start = self._checked.get(order.client_order_id, 0)
        prev = OrderState.NEW if start == 0 else order.history[start - 1][1]
        for ts, state in order.history[start:]:
            if (prev, state) not in LEGAL_STEPS:
                self.add(Violation("order_transitions", ts, f"order {order.client_order_id} went from {prev.value} "
                                   f"to {state.value}: not in the transition table"), order.client_order_id)
            prev = state
        self._checked[order.client_order_id] = len(order.history)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _num(x: str) -> float:
    return float(x) if x not in ("", "nan", "NaN") else 0.0


def accounting(exports: dict[str, str], initial_equity: float, position: Any, ts_ns: int) -> list[Violation]:
    """README's identity from the metrics, and the trade ledger (positions.csv) against the account."""
    out = []
    m = json.loads(exports["metrics.json"])
    lhs = m["final_equity"] - initial_equity
    rhs = m["realized_pnl"] - m["fees"] - m["funding"]
    if abs(lhs - rhs) > MONEY_TOL:
        out.append(Violation("accounting_identity", ts_ns,
                             f"final_equity - initial_equity = {lhs:.6f} but realized_pnl - fees - funding = {rhs:.6f} "
                             f"(unrealized {m['unrealized_pnl']:.6f}, final position {position.qty})"))
    rows = _rows(exports["positions.csv"])
    for col, total in (("realized_pnl", position.realized_pnl), ("fees_paid", position.fees),
                       ("funding_paid", position.funding)):
        ledger = math.fsum(_num(r[col]) for r in rows)
        if abs(ledger - total) > MONEY_TOL:
            out.append(Violation("accounting_identity", ts_ns,
                                 f"positions.csv {col} sums to {ledger:.6f}, the account's is {total:.6f}"))
    return out


def rerun_identical(first: dict[str, Any], second: dict[str, Any], ts_ns: int) -> list[Violation]:
    """Two runs of one scenario: the same manifest (wall time aside) and output hashes."""
    a = {k: v for k, v in first.items() if k != "wall_s"}
    b = {k: v for k, v in second.items() if k != "wall_s"}
    if a == b:
        return []
    outs_a, outs_b = a.pop("outputs", {}), b.pop("outputs", {})
    differ = [k for k in sorted({**outs_a, **outs_b}) if outs_a.get(k) != outs_b.get(k)]
    differ += [k for k in sorted({**a, **b}) if a.get(k) != b.get(k)]
    return [Violation("rerun_identical", ts_ns, f"a rerun differs in {', '.join(differ)}")]
