"""Acceptance sequences outside the value area (spec §6.2, §6.3).

Each side is tracked on its own, whatever the position: above VAH (up) and below VAL (down).
A sequence starts on a close beyond the minute's boundary *that crossed it* — the minute printed
within one typical spread of the boundary (`near_vah`/`near_val`), so a gap straight through
does not start one (§6.3). From then on the boundary is locked at its value at the start, each
further close beyond it counts, and any close back at or inside it resets the count to zero
(hard reset). Closes only matter: a minute without trades changes nothing. The sequence is
accepted when the count reaches `accept_outside_k`; it stays locked until it resets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.core.events import Bar, Features


@dataclass
class SideSequence:
    direction: int  # +1 above VAH, -1 below VAL
    level: float = math.nan  # the locked boundary; NaN when no sequence is running
    count: int = 0
    start_ns: int = 0
    extreme: float = math.nan  # highest high (up) / lowest low (down) since the start

    @property
    def active(self) -> bool:
        return self.count > 0

    def state(self) -> dict[str, Any]:
        return {"count": self.count, "level": None if math.isnan(self.level) else self.level}


@dataclass(frozen=True)
class SideUpdate:
    """What one minute did to one side's sequence."""

    started: bool = False
    counted: bool = False  # the close counted towards acceptance
    completed: bool = False  # the count reached k on this minute
    gap: bool = False  # a close beyond the boundary that did not cross it: not counted
    level: float = math.nan  # the locked boundary of a running sequence
    failed: bool = False  # a running sequence was reset by this minute's close
    failed_level: float = math.nan
    failed_count: int = 0
    failed_extreme: float = math.nan


@dataclass
class AcceptanceTracker:
    k: int
    up: SideSequence = field(default_factory=lambda: SideSequence(+1))
    down: SideSequence = field(default_factory=lambda: SideSequence(-1))

    def update(self, bar: Bar, f: Features) -> tuple[SideUpdate, SideUpdate]:
        return (self._side(self.up, bar, f.vah, f.va_valid and f.near_vah, f.va_valid),
                self._side(self.down, bar, f.val, f.va_valid and f.near_val, f.va_valid))

    def _side(self, s: SideSequence, bar: Bar, boundary: float, crossed: bool, va_valid: bool) -> SideUpdate:
        close = bar.close
        if math.isnan(close):
            return SideUpdate()
        d = s.direction
        wick = bar.high if d > 0 else bar.low
        if s.active:
            if (close - s.level) * d > 0:
                s.count += 1
                s.extreme = max(s.extreme, wick) if d > 0 else min(s.extreme, wick)
                return SideUpdate(counted=True, completed=s.count == self.k, level=s.level)
            extreme = max(s.extreme, wick) if d > 0 else min(s.extreme, wick)
            update = SideUpdate(failed=True, failed_level=s.level, failed_count=s.count, failed_extreme=extreme)
            s.level, s.count, s.extreme = math.nan, 0, math.nan
            return update
        if not va_valid or (close - boundary) * d <= 0:
            return SideUpdate()
        if not crossed:
            return SideUpdate(gap=True)
        s.level, s.count, s.start_ns, s.extreme = boundary, 1, bar.ts_min_ns, wick
        return SideUpdate(started=True, counted=True, completed=self.k == 1, level=boundary)

    def state(self) -> dict[str, Any]:
        return {"up": self.up.state(), "down": self.down.state()}
