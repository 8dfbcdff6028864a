"""The quarterly expiry calendar of coin-margined futures (DESIGN §9).

By default a quarterly expires on the last Friday of March, June, September or December at
08:00 UTC. That is a default only: an exchange can move a delivery (Bybit settled Dec 2021 on
the 24th), so a `deliveries` mapping of (year, month) → the instrument's own delivery time wins
wherever the data has one. CURRENT is the first quarterly expiring strictly after a time, NEXT the
one after it. Binance names a quarterly by its expiry date, `BTCUSD_YYMMDD`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
QUARTER_MONTHS = (3, 6, 9, 12)
DELIVERY_HOUR_UTC = 8

Deliveries = Mapping[tuple[int, int], int]  # (year, month) → delivery time, Unix ns


def last_friday(year: int, month: int) -> datetime:
    last = calendar.monthrange(year, month)[1]
    d = datetime(year, month, last, DELIVERY_HOUR_UTC, tzinfo=UTC)
    return d - timedelta(days=(d.weekday() - calendar.FRIDAY) % 7)


def _ns(d: datetime) -> int:
    return int(d.timestamp()) * NS_PER_S


def quarterly_expiry_ns(year: int, month: int, deliveries: Deliveries | None = None) -> int:
    if month not in QUARTER_MONTHS:
        raise ValueError(f"month {month} is not a quarter month {QUARTER_MONTHS}")
    if deliveries and (year, month) in deliveries:
        return deliveries[(year, month)]
    return _ns(last_friday(year, month))


def _quarters_from(year: int, month: int):  # noqa: ANN202 - an endless generator of (year, month)
    q = (month - 1) // 3
    while True:
        yield year, QUARTER_MONTHS[q]
        q += 1
        if q == 4:
            q, year = 0, year + 1


def current_and_next(ts_ns: int, deliveries: Deliveries | None = None) -> tuple[int, int]:
    """(CURRENT, NEXT): the first two quarterly expiries strictly after `ts_ns`."""
    d = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC)
    found: list[int] = []
    # Start a quarter early: a moved delivery may fall before the default date of the quarter.
    start_year, start_month = (d.year, d.month - 3) if d.month > 3 else (d.year - 1, d.month + 9)
    for y, m in _quarters_from(start_year, start_month):
        e = quarterly_expiry_ns(y, m, deliveries)
        if e > ts_ns:
            found.append(e)
            if len(found) == 2:
                return found[0], found[1]
    raise AssertionError("unreachable")


def binance_symbol(expiry_ns: int, base: str = "BTCUSD") -> str:
    return f"{base}_{datetime.fromtimestamp(expiry_ns // NS_PER_S, tz=UTC):%y%m%d}"


def expiry_of_symbol(symbol: str) -> int:
    """The default delivery time of a Binance quarterly named `BTCUSD_YYMMDD` (08:00 UTC that day)."""
    try:
        day = datetime.strptime(symbol.rsplit("_", 1)[1], "%y%m%d").replace(hour=DELIVERY_HOUR_UTC, tzinfo=UTC)
    except (IndexError, ValueError):
        raise ValueError(f"{symbol!r} is not a quarterly symbol like BTCUSD_210326") from None
    return _ns(day)


def days_to_expiry(ts_ns: int, expiry_ns: int) -> float:
    return (expiry_ns - ts_ns) / NS_PER_DAY
