"""What the basis strategy knows of the market: built only from the klines it has been handed
(so never ahead of the clock) — the latest close and 15-minute volume of each instrument, and
per-day, per-slot history (volume of each instrument, basis of each quarterly) for the slot
weights and the historical average basis."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

NS_PER_MIN = 60_000_000_000
NS_PER_DAY = 1440 * NS_PER_MIN


class MarketView:
    def __init__(self, spot_symbol: str, slot_minutes: int = 15, slots: int = 96) -> None:
        self.spot = spot_symbol
        self.slot_ns = slot_minutes * NS_PER_MIN
        self.slots = slots
        self.close: dict[str, float] = {}
        self.close_ts: dict[str, int] = {}
        self._recent: dict[str, deque[tuple[int, float]]] = {}
        self._recent_sum: dict[str, float] = {}
        #: symbol → day index → per-slot volume
        self.slot_volume: dict[str, dict[int, np.ndarray]] = {}
        #: symbol → day index → per-slot (sum of basis bps, count) of that quarterly vs spot
        self._basis_sum: dict[str, dict[int, np.ndarray]] = {}
        self._basis_n: dict[str, dict[int, np.ndarray]] = {}

    def on_kline(self, symbol: str, close_ts_ns: int, close: float, volume: float) -> None:
        self.close[symbol] = close
        self.close_ts[symbol] = close_ts_ns
        q = self._recent.setdefault(symbol, deque())
        q.append((close_ts_ns, volume))
        self._recent_sum[symbol] = self._recent_sum.get(symbol, 0.0) + volume
        while q and q[0][0] <= close_ts_ns - self.slot_ns:
            self._recent_sum[symbol] -= q.popleft()[1]
        open_ts = close_ts_ns - NS_PER_MIN
        day, slot = divmod(open_ts, NS_PER_DAY)
        slot //= self.slot_ns
        days = self.slot_volume.setdefault(symbol, {})
        if day not in days:
            days[day] = np.zeros(self.slots)
        days[day][slot] += volume

    def on_minute(self, ts_ns: int, quarterlies: list[str]) -> None:
        """Records each quarterly's basis for the minute that closed at `ts_ns`."""
        s = self.close.get(self.spot)
        if s is None:
            return
        day, slot = divmod(ts_ns - NS_PER_MIN, NS_PER_DAY)
        slot //= self.slot_ns
        for sym in quarterlies:
            if self.close_ts.get(sym) != ts_ns:
                continue
            sums = self._basis_sum.setdefault(sym, {})
            if day not in sums:
                sums[day] = np.zeros(self.slots)
                self._basis_n.setdefault(sym, {})[day] = np.zeros(self.slots)
            sums[day][slot] += (self.close[sym] / s - 1.0) * 1e4
            self._basis_n[sym][day][slot] += 1

    def has(self, symbol: str, now_ns: int) -> bool:
        """Whether the instrument printed a bar in the last minute (it is trading)."""
        return self.close_ts.get(symbol, -1) >= now_ns - NS_PER_MIN

    def mid(self, symbol: str) -> float:
        return self.close.get(symbol, math.nan)

    def basis_bps(self, symbol: str) -> float:
        return (self.mid(symbol) / self.mid(self.spot) - 1.0) * 1e4

    def recent_volume(self, symbol: str) -> float:
        """Volume of the last 15 minutes' bars (the seeds' recent 15-minute volume)."""
        return max(self._recent_sum.get(symbol, 0.0), 0.0)

    def volume_profile(self, symbol: str, day: int, lookback_days: int) -> np.ndarray | None:
        """Per-slot volume summed over the `lookback_days` days before `day`; None without any."""
        days = self.slot_volume.get(symbol, {})
        rows = [days[d] for d in range(day - lookback_days, day) if d in days]
        return np.sum(rows, axis=0) if rows else None

    def basis_history(self, symbols: list[str], day: int, lookback_days: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(per-slot sum of basis bps, per-slot count) over the lookback days, across `symbols`."""
        total = np.zeros(self.slots)
        n = np.zeros(self.slots)
        for sym in symbols:
            for d in range(day - lookback_days, day):
                if d in self._basis_sum.get(sym, {}):
                    total += self._basis_sum[sym][d]
                    n += self._basis_n[sym][d]
        return (total, n) if n.sum() else None
