"""The emulator's one clock: venue time, the timeline of every timestamp the emulator serves.

Venue time is the scenario's market time shifted by a fixed offset, `offset_ms`:
`venue_ms = market_ns // 1e6 + offset_ms`. Server time, response envelopes, orders, executions,
stream messages, klines, funding times and every `startTime`/`endTime` filter are on it, so a
client comparing any two of them (or asking for "executions since T") sees one timeline.

The offset is chosen once, when the replay's origin is known (`anchor`):
- `wall` (the default): a whole number of minutes, so that venue time at the replay's origin is
  the wall clock rounded down to the minute — minute boundaries stay minute boundaries, and at
  `--speed 1` venue time runs with the client's own clock (the pacing keeps it there);
- `scenario`: zero — venue time is the scenario's own time, for harnesses that compare a client's
  view with the scenario's files byte for byte.
See docs/DECISIONS.md ("Emulator clock").
"""

from __future__ import annotations

import time

from sim.core.events import NS_PER_MS

MINUTE_MS = 60_000
CLOCKS = ("wall", "scenario")


def wall_ms() -> int:
    return time.time_ns() // NS_PER_MS  # sim-determinism: allowed (the client's clock is the wall clock)


class VenueClock:
    """Converts between market time (ns, the engine's) and venue time (ms, what is served)."""

    def __init__(self, mode: str = "wall") -> None:
        if mode not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {mode!r}")
        self.mode = mode
        self.offset_ms = 0
        self.fixed = False  # once anchored (or restored from a saved state) the offset never moves

    def anchor(self, origin_ns: int, now_wall_ms: int) -> None:
        """Puts market time `origin_ns` at the wall clock's minute `now_wall_ms` (wall mode)."""
        if self.fixed:
            return
        if self.mode == "wall":
            self.offset_ms = (now_wall_ms - origin_ns // NS_PER_MS) // MINUTE_MS * MINUTE_MS
        self.fixed = True

    def restore(self, offset_ms: int) -> None:
        """A restarted venue keeps the timeline it served before (`--state`)."""
        self.offset_ms, self.fixed = int(offset_ms), True

    def venue_ms(self, market_ns: int) -> int:
        return market_ns // NS_PER_MS + self.offset_ms

    def market_ns(self, venue_ms: int) -> int:
        return (venue_ms - self.offset_ms) * NS_PER_MS
