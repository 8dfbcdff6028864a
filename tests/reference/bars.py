"""Reference minute bars (spec §4.2–4.3): OHLCV and VWAP from the trades of each minute, and
the latest quote stamped before the minute's end."""

from __future__ import annotations

import math

NS_PER_MIN = 60_000_000_000


def minute_bars(trades, quotes, start_ns, end_ns):  # noqa: ANN001
    """trades: (ts, price, size) in source order; quotes: (ts, bid, bid_sz, ask, ask_sz)."""
    bars = []
    m = start_ns - start_ns % NS_PER_MIN
    ti = qi = 0
    last_q = None
    while m + NS_PER_MIN <= end_ns:
        end = m + NS_PER_MIN
        o = h = lo = c = math.nan
        vol = notional = 0.0
        n = 0
        while ti < len(trades) and trades[ti][0] < end:
            ts, p, s = trades[ti][:3]
            if ts >= m:
                if n == 0:
                    o = h = lo = p
                else:
                    h, lo = max(h, p), min(lo, p)
                c = p
                vol += s
                notional += p * s
                n += 1
            ti += 1
        while qi < len(quotes) and quotes[qi][0] < end:
            last_q = quotes[qi]
            qi += 1
        q = last_q or (0, math.nan, math.nan, math.nan, math.nan)
        bars.append((m, o, h, lo, c, vol, notional / vol if n else math.nan, n, q[1], q[3], q[2], q[4]))
        m = end
    return bars
