"""Hand-made bars, features and minute-close events for the amt unit tests."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from sim.core.events import NS_PER_MIN, Bar, Features, MinuteClose, make_key

T0 = 1_709_251_200_000_000_000  # 2024-03-01T00:00:00Z


def bar(o: float, h: float, lo: float, c: float, *, minute: int = 0, spread: float = 1.0) -> Bar:
    ts = T0 + minute * NS_PER_MIN
    return Bar(ts, o, h, lo, c, 1.0, c, 10, c - spread / 2, c + spread / 2, 1.0, 1.0, spread)


def features(*, minute: int = 0, poc: float = 50_000.0, vah: float = 50_100.0, val: float = 49_900.0,
             of: float = 0.0, of_norm: float = 0.0, qimb: float = 0.0, amb: float = 0.1, near_vah: bool = True,
             near_val: bool = True, valid: bool = True, spread: float = 1.0, **kw: Any) -> Features:
    f = Features(T0 + minute * NS_PER_MIN, spread, math.nan, 0.001, 10.0, poc, vah, val, 0.7, 40, of, of_norm, qimb,
                 qimb, amb, 100.0, valid, None, near_vah, near_val, 0.0)
    return dataclasses.replace(f, **kw) if kw else f


def minute_close(b: Bar, f: Features) -> MinuteClose:
    ts = b.ts_min_ns + NS_PER_MIN
    return MinuteClose("minute_close", ts, make_key("minute_close", ts), ts, b, f)
