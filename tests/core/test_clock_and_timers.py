"""Clocks and timers: simulated time never goes backwards, pacing slows it to `speed`× real
time, and timers fire at N-minute slots, UTC day ends and periodic instants."""

from __future__ import annotations

import time

import pytest

from sim.core.clock import ClockError, LiveClock, SimClock
from sim.core.events import NS_PER_MIN
from sim.core.timers import NS_PER_DAY, TimerQueue, day_end_timer, periodic_timer, slot_timer


def test_sim_clock_refuses_to_go_backwards() -> None:
    c = SimClock(100)
    c.advance(100)
    c.advance(200)
    with pytest.raises(ClockError):
        c.advance(150)
    assert c.now_ns() == 200


def test_paced_clock_takes_at_least_the_scaled_real_time() -> None:
    c = SimClock(0, speed=100.0)
    t0 = time.monotonic()
    c.advance(0)
    c.advance(5 * 1_000_000_000)  # 5 simulated seconds at 100x = 50 ms
    assert time.monotonic() - t0 >= 0.045


def test_live_clock_is_the_wall_clock() -> None:
    a = LiveClock().now_ns()
    assert abs(a - time.time_ns()) < 5_000_000_000


def test_timers_fire_in_order_with_ties_broken_by_registration() -> None:
    start = NS_PER_DAY - 30 * NS_PER_MIN  # 23:30 on day 0
    q = TimerQueue()
    q.add(slot_timer(15), start)
    q.add(day_end_timer(), start)
    q.add(periodic_timer("snapshot", 5 * NS_PER_MIN), start)
    fired = [q.pop() for _ in range(9)]
    got = [(t.ts_ns - start) // NS_PER_MIN for t in fired]
    names = [t.name for t in fired]
    assert got == [5, 10, 15, 15, 20, 25, 30, 30, 30]
    assert names[-3:] == ["slot_15m", "day_end", "snapshot"]
    keys = [t.key for t in fired]
    assert keys == sorted(keys)
