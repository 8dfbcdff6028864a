"""Klines of every Bybit interval (market/kline.mdx, websocket/public/kline.mdx), built from the
scenario's market as the tape publishes it.

Everything is kept as one-minute candles: a tick scenario's trades build the open minute (O(1)
per trade); a bars scenario's one-minute klines arrive closed. Every longer interval (3 ... 720
minutes, D, W, M) is the fold of its closed minutes plus the open minute, so per trade there is
one candle to update whatever is subscribed, and the REST history of any interval is a numpy
aggregation of the stored minutes.

Boundaries are on venue time (the served timeline, `VenueClock`) in UTC: minutes and hours from
the epoch, days at 00:00, weeks on Monday 00:00, months on the calendar month's first day.

Rules where the data leaves Bybit's candle open to choice (docs/DECISIONS.md, "Emulator market
data"):
- a minute without trades after the first trade is a flat candle at the previous close with
  volume 0 (Bybit lists such candles for a symbol that did not trade); the open of a minute is
  its first trade's price, or the previous close while it has none;
- a candle closes when venue time passes its end, whether or not a trade follows;
- the open candle of every interval is pushed (`confirm: false`) at most once per second of
  venue time, when a trade or bar changed it since its last push; its `timestamp` is the time of
  its last trade (its start while it has none); a closed candle (`confirm: true`) is pushed once,
  stamped at its end + 1 ms;
- a bars scenario has no open one-minute candle: `kline.1` carries the closed bars only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .contract import num

INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
LONGER = INTERVALS[1:]
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
MONDAY_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch (a Thursday)
#: The open candle of an interval is pushed at most this often (venue time; Bybit: every 1-60 s).
OPEN_PUSH_MS = 1000


def _month_start(ms: int, months_ahead: int = 0) -> int:
    d = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    y, m = divmod(d.year * 12 + d.month - 1 + months_ahead, 12)
    return int(datetime(y, m + 1, 1, tzinfo=timezone.utc).timestamp()) * 1000


def bucket_start(ms: int, interval: str) -> int:
    """Venue ms at which the candle of `interval` holding `ms` starts."""
    if interval == "M":
        return _month_start(ms)
    if interval == "W":
        return ms - (ms - MONDAY_MS) % WEEK_MS
    length = DAY_MS if interval == "D" else int(interval) * MINUTE_MS
    return ms - ms % length


def bucket_end(start: int, interval: str) -> int:
    """The last ms of the candle of `interval` starting at `start`."""
    if interval == "M":
        return _month_start(start, 1) - 1
    if interval == "W":
        return start + WEEK_MS - 1
    return start + (DAY_MS if interval == "D" else int(interval) * MINUTE_MS) - 1


def bucket_starts(ms: np.ndarray, interval: str) -> np.ndarray:
    """`bucket_start` over an int64 array of venue ms."""
    if interval == "M":
        months = ms.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    if interval == "W":
        return ms - (ms - MONDAY_MS) % WEEK_MS
    length = DAY_MS if interval == "D" else int(interval) * MINUTE_MS
    return ms - ms % length


def amount(x: float) -> str:
    """A summed volume or turnover: float noise of the sum rounded off at 8 decimals."""
    return "0" if x == 0 else num(round(x, 8))


class Candle:
    __slots__ = ("start", "end", "open", "high", "low", "close", "volume", "turnover", "last_ms")

    def __init__(self, start: int, end: int, price: float, last_ms: int) -> None:
        self.start, self.end = start, end
        self.open = self.high = self.low = self.close = price
        self.volume = self.turnover = 0.0
        self.last_ms = last_ms

    def trade(self, ms: int, price: float, size: float, turnover: float) -> None:
        if self.volume == 0.0:  # the first trade of a flat minute opens it
            self.open = self.high = self.low = price
        elif price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += size
        self.turnover += turnover
        self.last_ms = ms

    def fold(self, c: Candle) -> None:
        """Adds a later candle of this one's span (a closed minute, or the open one)."""
        self.high, self.low, self.close = max(self.high, c.high), min(self.low, c.low), c.close
        self.volume += c.volume
        self.turnover += c.turnover
        self.last_ms = max(self.last_ms, c.last_ms)

    def copy(self, start: int, end: int) -> Candle:
        out = Candle(start, end, self.open, self.last_ms)
        out.high, out.low, out.close = self.high, self.low, self.close
        out.volume, out.turnover = self.volume, self.turnover
        return out

    def wire(self, interval: str, confirm: bool, volume_text: Callable[[float], str]) -> dict[str, Any]:
        """One entry of a `kline.{interval}` message's data."""
        return {"start": self.start, "end": self.end, "interval": interval, "open": num(self.open),
                "close": num(self.close), "high": num(self.high), "low": num(self.low),
                "volume": volume_text(self.volume), "turnover": amount(self.turnover), "confirm": confirm,
                "timestamp": self.end + 1 if confirm else self.last_ms}


class KlineBook:
    """The candles of one instrument: closed minutes (history), the open minute, and the fold of
    each longer interval's closed minutes."""

    def __init__(self, *, inverse: bool, ticks: bool, volume_text: Callable[[float], str]) -> None:
        self.inverse, self.ticks, self._qty_text = inverse, ticks, volume_text
        # Closed minutes as columns start, o, h, l, c, v, turnover; grown by doubling, so a
        # month-long replay appends in O(1) and queries read a view.
        self._buf = np.empty((7, 1024), dtype=np.float64)
        self._n = 0
        self.minute: Candle | None = None
        self.longer: dict[str, Candle | None] = dict.fromkeys(LONGER)
        self.first_price: float | None = None
        self.last_price: float | None = None
        self.tick_direction = "ZeroPlusTick"
        self._dirty = False
        self._last_push_ms = -OPEN_PUSH_MS

    def volume_text(self, v: float) -> str:
        """A summed volume in the instrument's unit, its float noise rounded off at 8 decimals."""
        v = round(v, 8)
        return "0" if v == 0 else self._qty_text(v)

    # -- input ------------------------------------------------------------------------------
    def trade(self, ms: int, price: float, size: float) -> list[tuple[str, Candle]]:
        """A print at venue `ms`: the candles it closes first (interval, candle), then it counts."""
        closed = self.close_until(ms) if self.minute is not None and self.minute.end < ms else []
        if self.minute is None:
            start = ms - ms % MINUTE_MS
            self.minute = Candle(start, start + MINUTE_MS - 1, price, ms)
        self.minute.trade(ms, price, size, size / price if self.inverse else price * size)
        self._price(price)
        self._dirty = True
        return closed

    def bar(self, start: int, o: float, h: float, lo: float, c: float, v: float,
            turnover: float) -> list[tuple[str, Candle]]:
        """A closed one-minute kline (bars scenarios) starting at venue `start`."""
        k = Candle(start, start + MINUTE_MS - 1, o, start)
        k.high, k.low, k.close, k.volume, k.turnover = h, lo, c, v, turnover
        if self.first_price is None:
            self.first_price = o
        self._price(c)
        self._dirty = True
        return [("1", k), *self._store(k)]

    def _price(self, price: float) -> None:
        if self.first_price is None:
            self.first_price = price
        last = self.last_price
        if last is not None and price != last:
            self.tick_direction = "PlusTick" if price > last else "MinusTick"
        elif last is not None:
            up = self.tick_direction in ("PlusTick", "ZeroPlusTick")
            self.tick_direction = "ZeroPlusTick" if up else "ZeroMinusTick"
        self.last_price = price

    def _store(self, m: Candle) -> list[tuple[str, Candle]]:
        """Keeps a closed minute and folds it into the longer intervals (closing those it passes)."""
        if self._n == self._buf.shape[1]:
            self._buf = np.concatenate([self._buf, np.empty_like(self._buf)], axis=1)
        self._buf[:, self._n] = (m.start, m.open, m.high, m.low, m.close, m.volume, m.turnover)
        self._n += 1
        out: list[tuple[str, Candle]] = []
        for iv in LONGER:
            c = self.longer[iv]
            if c is not None and m.start > c.end:
                out.append((iv, c))
                c = None
            if c is None:
                s = bucket_start(m.start, iv)
                self.longer[iv] = m.copy(s, bucket_end(s, iv))
            else:
                c.fold(m)
        return out

    def close_until(self, ms: int) -> list[tuple[str, Candle]]:
        """Closes every candle that ends before venue `ms` (time has passed it), in time order."""
        if self.ticks and self.minute is not None and self.minute.end >= ms:
            return []  # every longer candle ends at or after the open minute (the per-row fast path)
        out: list[tuple[str, Candle]] = []
        while self.minute is not None and self.minute.end < ms:
            m = self.minute
            out.append(("1", m))
            out += self._store(m)
            # The next minute is open from its first ms on, flat at this close until a trade.
            self.minute = Candle(m.end + 1, m.end + MINUTE_MS, m.close, m.end + 1) if self.ticks else None
        for iv in LONGER:
            c = self.longer[iv]
            if c is not None and c.end < ms:
                out.append((iv, c))
                self.longer[iv] = None
        out.sort(key=lambda x: x[1].end)  # stable: a minute before the longer candles ending with it
        return out

    # -- output -----------------------------------------------------------------------------
    def open_candle(self, interval: str) -> Candle | None:
        """The interval's candle now open (closed minutes folded with the open minute)."""
        m = self.minute
        if interval == "1":
            return m
        c = self.longer[interval]
        if m is None:
            return c
        if c is None or m.start > c.end:
            s = bucket_start(m.start, interval)
            return m.copy(s, bucket_end(s, interval))
        out = c.copy(c.start, c.end)
        out.fold(m)
        return out

    def open_updates(self, now_ms: int) -> list[tuple[str, Candle]]:
        """The open candles to push now (`confirm: false`): once per OPEN_PUSH_MS when changed."""
        if not self._dirty or now_ms - self._last_push_ms < OPEN_PUSH_MS:
            return []
        self._dirty, self._last_push_ms = False, now_ms
        return [(iv, c) for iv in INTERVALS if (c := self.open_candle(iv)) is not None]

    def _minutes(self) -> np.ndarray:
        return self._buf[:, :self._n]

    def rows(self, interval: str, start: int | None, end: int, limit: int, *,
             from_start: bool = False) -> list[list[str]]:
        """market/kline's `list`: candles of `interval` starting in [start, end], newest first, the
        open candle included; at most `limit` of them — the newest, or with `from_start` the
        oldest (a page anchored at `start`)."""
        cols = self._minutes()
        starts = cols[0].astype(np.int64)
        if start is not None:
            lo = bucket_start(start, interval)
        else:
            lo = bucket_start(end, interval) - _span(interval, limit)
        # Every minute of the candles starting in [lo, end], the last one's after `end` too.
        hi = bucket_end(bucket_start(end, interval), interval)
        i, j = np.searchsorted(starts, lo, side="left"), np.searchsorted(starts, hi, side="right")
        out: list[list[str]] = []
        if j > i:
            keys = bucket_starts(starts[i:j], interval)
            first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            last = np.r_[first[1:], len(keys)] - 1
            o, c = cols[1, i:j][first], cols[4, i:j][last]
            h = np.maximum.reduceat(cols[2, i:j], first)
            lw = np.minimum.reduceat(cols[3, i:j], first)
            v, t = (np.add.reduceat(cols[k, i:j], first) for k in (5, 6))
            for n, key in enumerate(keys[first]):
                out.append([int(key), float(o[n]), float(h[n]), float(lw[n]), float(c[n]), float(v[n]), float(t[n])])
        live = self.open_candle(interval)
        if live is not None and live.start <= end and (start is None or live.start >= start):
            if out and out[-1][0] == live.start:
                out.pop()  # the open candle already folds in its closed minutes
            out.append([live.start, live.open, live.high, live.low, live.close, live.volume, live.turnover])
        inside = [r for r in out if start is None or r[0] >= start]
        picked = inside[:limit] if from_start else inside[-limit:]
        return [[str(r[0]), num(r[1]), num(r[2]), num(r[3]), num(r[4]), self.volume_text(r[5]), amount(r[6])]
                for r in reversed(picked)]

    def window(self, since_ms: int) -> tuple[float, float, float, float, float | None] | None:
        """(high, low, volume, turnover, price before the window) over the minutes from
        `since_ms` on, the open one included; None before the first print. The price before the
        window is the close of the last minute before it (None if the data starts inside it)."""
        if self.last_price is None:
            return None
        cols = self._minutes()
        i = int(np.searchsorted(cols[0], since_ms, side="left"))
        hi = float(cols[2, i:].max()) if cols.shape[1] > i else -np.inf
        lo = float(cols[3, i:].min()) if cols.shape[1] > i else np.inf
        vol, turn = float(cols[5, i:].sum()), float(cols[6, i:].sum())
        m = self.minute
        if m is not None and m.start >= since_ms and (m.volume > 0 or hi == -np.inf):
            hi, lo = max(hi, m.high), min(lo, m.low)
            vol, turn = vol + m.volume, turn + m.turnover
        if hi == -np.inf:  # nothing inside the window: the price stood still
            hi = lo = self.last_price
        before = float(cols[4, i - 1]) if i > 0 else None
        return hi, lo, vol, turn, before


def _span(interval: str, limit: int) -> int:
    """How far back `limit` candles of `interval` reach (at most; months counted as 31 days)."""
    if interval == "M":
        return limit * 31 * DAY_MS
    if interval == "W":
        return limit * WEEK_MS
    return limit * (DAY_MS if interval == "D" else int(interval) * MINUTE_MS)
