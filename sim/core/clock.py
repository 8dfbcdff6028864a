"""Clocks. Pipeline code gets the time only from an injected clock, never from the OS.

`SimClock` moves only when the event loop advances it (as fast as possible, or paced at
`speed`× real time), and refuses to go backwards. `LiveClock` reads the wall clock: it is the
one place in the package allowed to, and only live mode constructs it.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...


class ClockError(RuntimeError):
    pass


class SimClock:
    """Simulated time. `speed=None` jumps from event to event; `speed=60` paces 60× real time."""

    def __init__(self, start_ns: int, speed: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self._now = start_ns
        self.speed = speed
        self._pace_origin: tuple[int, float] | None = None

    def now_ns(self) -> int:
        return self._now

    def advance(self, ts_ns: int) -> None:
        if ts_ns < self._now:
            raise ClockError(f"time went backwards: {ts_ns} < {self._now}")
        if self.speed is not None:
            self._pace(ts_ns)
        self._now = ts_ns

    def _pace(self, ts_ns: int) -> None:
        # Pacing sleeps so that simulated time passes `speed` times faster than real time; it
        # changes when results arrive, never what they are.
        real = time.monotonic()  # sim-determinism: allowed (pacing only)
        if self._pace_origin is None:
            self._pace_origin = (self._now, real)
        sim0, real0 = self._pace_origin
        due = real0 + (ts_ns - sim0) / 1e9 / self.speed
        if due > real:
            time.sleep(due - real)  # sim-determinism: allowed (pacing only)


class LiveClock:
    """Wall-clock time in Unix nanoseconds. Only live mode uses it."""

    def now_ns(self) -> int:
        return time.time_ns()  # sim-determinism: allowed (the live clock)
