"""The one event loop: merges engine events with Python-side events in the total order,
dispatches each to the handler, then drains the commands the handler raised.

Commands raised inside a handler (orders, cancels, new timers) are queued and sent after the
handler returns, never re-entered; what they cause comes back as later events.

The loop orders and clocks events by their key, whose first element is the event's time in the
loop: the exchange time in replay; for a live adapter's event, the loop time it was handled at
(its `ts_ns` keeps the exchange's time). A live feed's `advance_to` may return None: it stopped
waiting because an adapter event was scheduled, and the loop looks again.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Protocol

from sim.core.clock import SimClock
from sim.core.events import Event
from sim.core.timers import TimerQueue


class EngineFeed(Protocol):
    """The market engine as the loop drives it: the replay's feed or the live one (`sim.market`)."""

    def advance_to(self, t_ns: int) -> list[Event] | None: ...


class EventLoop:
    def __init__(self, clock: SimClock, market: EngineFeed, timers: TimerQueue, end_ns: int) -> None:
        self.clock = clock
        self.market = market
        self.timers = timers
        self.end_ns = end_ns
        self._extra: list[tuple[Any, int, Event]] = []  # one-off Python events (funding, live adapter)
        self._pending: list[tuple[Any, int, Event]] = []  # engine events not yet dispatched
        self._n = 0
        self.dispatched = 0

    def schedule(self, event: Event) -> None:
        """Adds a one-off event (e.g. funding) to the Python-side queue."""
        self._n += 1
        heapq.heappush(self._extra, (event.key, self._n, event))

    def _push_engine(self, events: list[Event] | None) -> None:
        for ev in events or ():
            self._n += 1
            heapq.heappush(self._pending, (ev.key, self._n, ev))

    def _next_python(self) -> Event | None:
        t = self.timers.peek()
        x = self._extra[0][2] if self._extra else None
        if t is None or (x is not None and x.key < t.key):
            return x
        return t

    def _pop_python(self, ev: Event) -> None:
        if self._extra and self._extra[0][2] is ev:
            heapq.heappop(self._extra)
        else:
            self.timers.pop()

    def run(self, handle: Callable[[Event], None], drain: Callable[[], bool]) -> None:
        """`handle` processes one event; `drain` sends queued commands and says whether any
        reached the engine (whose acknowledgements must then be collected at once)."""
        while True:
            py = self._next_python()
            if py is not None and py.key[0] > self.end_ns:
                py = None
            target = py.key[0] if py is not None else self.end_ns
            if not self._pending:
                events = self.market.advance_to(target)
                if events is None:
                    continue
                self._push_engine(events)
            if self._pending and (py is None or self._pending[0][0] < py.key):
                ev = heapq.heappop(self._pending)[2]
            elif py is not None:
                # The engine has consumed every tick up to py's instant: either it reached
                # `target`, or it handed back events stamped at that instant (which it does only
                # after the last tick of the instant) that sort after py.
                self._pop_python(py)
                ev = py
            else:
                return
            self.clock.advance(ev.key[0])
            handle(ev)
            self.dispatched += 1
            if drain():
                self._push_engine(self.market.advance_to(self.clock.now_ns()))
