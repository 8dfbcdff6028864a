"""Timers: N-minute slots, UTC day ends and periodic ticks, as events in the total order.

Minute closes come from the market engine (it knows when a minute's data is complete); every
other timer is scheduled here and fires as a `Timer` event at its instant, after the market
data and minute close of that instant.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.events import NS_PER_MIN, Timer, make_key

NS_PER_DAY = 24 * 60 * NS_PER_MIN


@dataclass(frozen=True)
class TimerSpec:
    """A recurring timer: fires at every multiple of `every_ns` (offset by `offset_ns`)."""

    name: str
    every_ns: int
    offset_ns: int = 0

    def next_after(self, ts_ns: int) -> int:
        """The first firing instant strictly after `ts_ns`."""
        k = (ts_ns - self.offset_ns) // self.every_ns + 1
        return k * self.every_ns + self.offset_ns


def slot_timer(minutes: int, name: str | None = None) -> TimerSpec:
    return TimerSpec(name or f"slot_{minutes}m", minutes * NS_PER_MIN)


def day_end_timer() -> TimerSpec:
    return TimerSpec("day_end", NS_PER_DAY)


def periodic_timer(name: str, every_ns: int, offset_ns: int = 0) -> TimerSpec:
    return TimerSpec(name, every_ns, offset_ns)


class TimerQueue:
    """The next firing of each registered timer. Source index = registration order + 1."""

    def __init__(self) -> None:
        self._specs: list[TimerSpec] = []
        self._next: list[int] = []
        self._seq = 0

    def add(self, spec: TimerSpec, after_ns: int) -> None:
        """Registers a timer whose first firing is strictly after `after_ns`."""
        self._specs.append(spec)
        self._next.append(spec.next_after(after_ns))

    def peek(self) -> Timer | None:
        if not self._specs:
            return None
        i = min(range(len(self._specs)), key=lambda j: (self._next[j], j))
        ts = self._next[i]
        return Timer("timer", ts, make_key("timer", ts, i + 1, 0), ts, self._specs[i].name)

    def pop(self) -> Timer:
        t = self.peek()
        assert t is not None
        i = t.key[2] - 1
        self._seq += 1
        self._next[i] = self._specs[i].next_after(t.ts_ns)
        return t
