"""The market engine fed live: small batches of ticks pushed as they arrive, advanced only as far
as the feed is known to be complete.

Live there is no file to read ahead in, so the engine is told how far each source is complete
— its *watermark*: the latest exchange time seen on the feed (every public message, level-1
book re-sends included, moves it), minus a grace for messages of different topics that overtake
each other. The engine then runs to just before the watermark: a minute closes once a message
stamped after its end has arrived, exactly as in replay where the next tick closes it. Exchange
timestamps, not arrival times, decide where a tick belongs.

`advance_to(t)` has the replay feed's meaning — the events up to `t`, or [] once the engine is at
`t` — but it waits for the feed, calling `pump` (which drains the collector's queue, pushes
ticks here and schedules the adapter's events on the loop). It returns None when `pump` reports
that something else (an order update, a fill) is now due, so the loop can look again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim import _core
from sim.core.errors import DataFileError
from sim.core.events import NS_PER_MS, Event, from_engine


class LiveFeed:
    TRADES, QUOTES = 0, 1
    KLINES = 0  # bars mode: the only source

    def __init__(self, *, start_ns: int, tick_size: float, taker_fee_bps: float, maker_fee_bps: float,
                 features: dict[str, Any] | None, grace_ms: int = 0, name: str = "live",
                 bars: bool = False) -> None:
        self.engine = _core.MarketEngine(tick_size=tick_size, taker_fee_bps=taker_fee_bps,
                                         maker_fee_bps=maker_fee_bps, start_ns=start_ns, on_bad_rows="drop",
                                         features=features)
        self.bars = bars
        if bars:
            assert self.engine.add_source("klines", 0) == self.KLINES
        else:
            assert self.engine.add_source("trades", 0) == self.TRADES
            assert self.engine.add_source("quotes", 0) == self.QUOTES
        self.name = name
        self.grace_ns = grace_ms * NS_PER_MS
        self.start_ns = start_ns
        self.watermark_ns = start_ns
        self._trades: list[tuple[int, float, float, int, int]] = []
        self._quotes: list[tuple[int, float, float, float, float]] = []
        self._klines: list[tuple[int, int, float, float, float, float, float]] = []
        self._rows = [0, 0]
        self.late_ticks = 0  # stamped before the watermark already applied: counted, reported
        self.before_start = 0  # stamped before the session's start time: not part of it
        self.pump: Callable[[float], bool] = lambda timeout: False
        self.stopped = False
        self._order_ids: dict[int, str] = {}  # paper orders in this engine: engine id -> client id
        #: Where ticks are written before the engine sees them (`write_batch(trades, quotes)`, the
        #: column arrays the engine gets; `sim.live.collector.RawCollector`): a write-ahead log a
        #: restarted session replays. None: not kept.
        self.journal: Any = None

    # -- paper orders (the simulated adapter matches them in this engine) ----------------------
    def register_order_id(self, client_order_id: str) -> int:
        n = len(self._order_ids) + 1
        self._order_ids[n] = client_order_id
        return n

    def instrument_index(self, symbol: str | None) -> int:
        return 0  # one instrument per live feed

    # -- what the collector pushes -----------------------------------------------------------
    def _late(self, ts_ns: int) -> bool:
        if ts_ns < self.start_ns:
            self.before_start += 1
            return True
        if ts_ns < self.watermark_ns - self.grace_ns:
            self.late_ticks += 1
            return True
        return False

    def trade(self, ts_ns: int, price: float, size: float, side: int, trade_id: int) -> None:
        if not self._late(ts_ns):
            self._trades.append((ts_ns, price, size, side, trade_id))
        self.seen(ts_ns)

    def quote(self, ts_ns: int, bid_px: float, bid_sz: float, ask_px: float, ask_sz: float) -> None:
        if not self._late(ts_ns):
            self._quotes.append((ts_ns, bid_px, bid_sz, ask_px, ask_sz))
        self.seen(ts_ns)

    def kline(self, open_ts_ns: int, interval_ns: int, o: float, h: float, low: float, c: float, volume: float) -> None:
        """A closed (confirmed) kline. Klines are stamped at their close and arrive one per
        interval, in order: once one has closed, none can close before the next interval ends,
        so the feed is complete up to there."""
        close = open_ts_ns + interval_ns
        if not self._late(close):
            self._klines.append((open_ts_ns, interval_ns, o, h, low, c, volume))
        self.seen(close + interval_ns)

    def seen(self, ts_ns: int) -> None:
        """A public message stamped `ts_ns` arrived (a book re-send carries only this)."""
        self.watermark_ns = max(self.watermark_ns, ts_ns)

    def preload(self, trades: list[tuple[int, float, float, int, int]],
                quotes: list[tuple[int, float, float, float, float]],
                klines: list[tuple[int, int, float, float, float, float, float]] | None = None) -> None:
        """A restarted session's journal: ticks (bars mode: klines) already accepted once, each
        list in its receipt order, given to the engine as they were (and not journaled again)."""
        self._trades.extend(trades)
        self._quotes.extend(quotes)
        for rows in (trades, quotes):
            if rows:
                self.seen(max(r[0] for r in rows))
        if klines:
            self._klines.extend(klines)
            self.seen(max(k[0] + 2 * k[1] for k in klines))  # as `kline` does: complete to the next close
        journal, self.journal = self.journal, None
        try:
            self._flush()
        finally:
            self.journal = journal

    def _flush(self) -> None:
        trades = quotes = None
        if self._trades:
            ts, px, sz, side, tid = (np.array(c) for c in zip(*self._trades))
            trades = (ts.astype(np.int64), px.astype(np.float64), sz.astype(np.float64), side.astype(np.int8),
                      tid.astype(np.int64))
        if self._quotes:
            ts, bp, bs, ap, az = (np.array(c) for c in zip(*self._quotes))
            quotes = (ts.astype(np.int64), bp.astype(np.float64), bs.astype(np.float64), ap.astype(np.float64),
                      az.astype(np.float64))
        if self.journal is not None and (trades is not None or quotes is not None):
            self.journal.write_batch(trades, quotes)  # on disk before the engine decides anything on them
        e = self.engine
        if self._klines:
            interval = self._klines[0][1]
            if any(k[1] != interval for k in self._klines):
                raise DataFileError(self.name, "klines of different intervals in one feed", row=self._rows[0] + 1)
            ts, _iv, o, h, lo, c, v = (np.array(col) for col in zip(*self._klines))
            if self.journal is not None:  # bars mode's write-ahead log, as the ticks'
                self.journal.write_klines(ts.astype(np.int64), int(interval), o, h, lo, c, v)
            e.push_klines(self.KLINES, self._rows[0] + 1, ts.astype(np.int64), int(interval), o.astype(np.float64),
                          h.astype(np.float64), lo.astype(np.float64), c.astype(np.float64), v.astype(np.float64))
            self._rows[0] += len(self._klines)
            self._klines.clear()
        if trades is not None:
            e.push_trades(self.TRADES, self._rows[0] + 1, *trades)
            self._rows[0] += len(self._trades)
            self._trades.clear()
        if quotes is not None:
            e.push_quotes(self.QUOTES, self._rows[1] + 1, *quotes)
            self._rows[1] += len(self._quotes)
            self._quotes.clear()
        horizon = self.watermark_ns - self.grace_ns
        for src in ((self.KLINES,) if self.bars else (self.TRADES, self.QUOTES)):
            e.mark_source_until(src, horizon)

    # -- what the event loop calls ------------------------------------------------------------
    def _step(self, t_ns: int) -> tuple[list[Event], bool]:
        """Engine events up to min(t, horizon − 1 ns); and whether the engine is at `t`."""
        self._flush()
        if t_ns <= self.engine.now_ns:
            # Already past `t` (an adapter event stamped at the loop's time, behind the feed):
            # every tick up to `t` is in, and anything the engine made is already with the loop.
            return [], True
        limit = min(t_ns, self.watermark_ns - self.grace_ns - 1)
        if limit <= self.engine.now_ns:
            return [], False
        try:
            status, value = self.engine.advance_to(limit)
        except _core.BadRowError as e:
            _source, row, kind, detail = e.args
            raise DataFileError(self.name, f"{kind.replace('_', ' ')} ({detail})", row=row) from None
        if status == "events":
            return [from_engine(raw, self._order_ids, None) for raw in value], False
        return [], status == "reached" and limit == t_ns

    def advance_to(self, t_ns: int) -> list[Event] | None:
        while True:
            events, reached = self._step(t_ns)
            if events:
                return events
            if reached or self.stopped:
                return []
            if self.pump(0.05):
                return None

    def close(self) -> None:
        """Frees the engine now, on this thread: it may only be dropped by the thread that made it,
        and a session object can outlive its thread (a control server still holding it)."""
        self._bad_rows_at_close = self.bad_rows()
        self.stopped = True
        del self.engine

    def bad_rows(self) -> dict[str, int]:
        if not hasattr(self, "engine"):
            return self._bad_rows_at_close
        return {kind: count for _s, kind, count, _row, _detail in self.engine.bad_rows()}
