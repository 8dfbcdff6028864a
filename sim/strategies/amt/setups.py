"""The three setups and their priority (spec §6.4–§6.7, DESIGN §8).

Evaluated at a minute close on the finished bar, the minute's features and what the minute did
to the acceptance sequences:

* A — break-in (mean reversion): the bar poked beyond a boundary of the minute's value area
  (strictly), closed back inside (strictly), printed within one spread of the boundary, with
  entry initiative towards the inside. Stop beyond the poke bar's extreme by the buffer;
  TP1 the POC, TP2 the opposite boundary.
* B — breakout (continuation): the close that completes acceptance (`accept_outside_k`
  closes beyond the locked boundary) is also beyond the minute's boundary, with breakout
  initiative outwards. Stop inside the area: the locked boundary minus the buffer, and the
  position also exits on a close back inside. No price targets: it is held by the stops and
  the time stop (which trails while profitable).
* C — failed breakout (reversal): a running acceptance sequence (≥ 1 close beyond the locked
  boundary, accepted or not, including a pending retest) ends on this bar: the bar traded
  beyond the locked boundary and closed strictly back inside, with failure initiative towards
  the inside. Stop beyond the sequence's extreme by the buffer; TP1 the POC, TP2 the opposite
  boundary. Requiring a prior close outside is what tells C from A, whose price conditions
  are otherwise the same one-bar poke.

A price target is only a target when it lies strictly beyond the signal bar's close (the limit
entry price) in the trade's direction; otherwise it is dropped (NaN: no such exit). The POC of a
moving value area can sit behind the entry — e.g. a failed breakout closing back just inside a
VAH that has risen past it — and a "TP1" there would fire on the next bar as an arbitrary
partial market exit.

Priority: break-in > failed breakout > breakout. When the winning level has both a long and a
short candidate the minute is a conflict and nothing is entered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.core.config import Config
from sim.core.events import Bar, Features
from sim.strategies.amt.acceptance import SideUpdate
from sim.strategies.amt.initiative import confirmed

#: signals_1m flag columns, in spec order.
FLAG_NAMES = ("breakin_long", "breakin_short", "breakout_long", "breakout_short", "failbreak_long",
              "failbreak_short")
#: Priority levels, highest first.
LEVELS = (("breakin_long", "breakin_short"), ("failbreak_long", "failbreak_short"),
          ("breakout_long", "breakout_short", "breakout_retest_long", "breakout_retest_short"))


@dataclass(frozen=True)
class Candidate:
    name: str  # one of FLAG_NAMES, or "breakout_retest_long/short"
    direction: int
    tag: str  # breakin | breakout | failbreak (positions.strategy_tag)
    stop: float
    tp1: float
    tp2: float
    level: float = math.nan  # breakouts: the locked boundary a close back inside exits on


def target(price: float, entry: float, direction: int) -> float:
    """`price` when it lies strictly beyond `entry` in `direction`, else NaN (no target)."""
    return price if (price - entry) * direction > 0 else math.nan


def evaluate(bar: Bar, f: Features, up: SideUpdate, down: SideUpdate, cfg: Config, tick: float) -> dict[str, Candidate]:
    """The setups that fire on this bar, by flag name."""
    out: dict[str, Candidate] = {}
    if not f.va_valid or math.isnan(bar.close):
        return out
    buf = cfg.stop_buffer_ticks * tick
    vah, val, poc, c = f.vah, f.val, f.poc, bar.close
    # A — break-in.
    if bar.low < val < c and f.near_val and confirmed(f, cfg, "entry", +1):
        out["breakin_long"] = Candidate("breakin_long", +1, "breakin", bar.low - buf, target(poc, c, +1),
                                        target(vah, c, +1))
    if bar.high > vah > c and f.near_vah and confirmed(f, cfg, "entry", -1):
        out["breakin_short"] = Candidate("breakin_short", -1, "breakin", bar.high + buf, target(poc, c, -1),
                                         target(val, c, -1))
    # C — failed breakout (above VAH → short) / failed breakdown (below VAL → long).
    if up.failed and bar.high > up.failed_level > c and confirmed(f, cfg, "fail", -1):
        out["failbreak_short"] = Candidate("failbreak_short", -1, "failbreak", up.failed_extreme + buf,
                                           target(poc, c, -1), target(val, c, -1))
    if down.failed and bar.low < down.failed_level < c and confirmed(f, cfg, "fail", +1):
        out["failbreak_long"] = Candidate("failbreak_long", +1, "failbreak", down.failed_extreme - buf,
                                          target(poc, c, +1), target(vah, c, +1))
    # B — breakout on the close that completes acceptance.
    if up.completed and bar.close > vah and confirmed(f, cfg, "breakout", +1):
        lvl = up.level
        out["breakout_long"] = Candidate("breakout_long", +1, "breakout", lvl - buf, math.nan, math.nan, lvl)
    if down.completed and bar.close < val and confirmed(f, cfg, "breakout", -1):
        lvl = down.level
        out["breakout_short"] = Candidate("breakout_short", -1, "breakout", lvl + buf, math.nan, math.nan, lvl)
    return out


def choose(cands: dict[str, Candidate]) -> tuple[Candidate | None, str]:
    """The candidate to act on by priority, and a reason code."""
    for names in LEVELS:
        hit = [cands[n] for n in names if n in cands]
        if len({c.direction for c in hit}) > 1:
            return None, "conflict"
        if hit:
            return hit[0], hit[0].name
    return None, ""
