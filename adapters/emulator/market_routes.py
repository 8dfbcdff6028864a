"""The public market-data side of the emulator's API: which WebSocket topics it serves and the
parameters of the market REST routes that read the tape (kline, orderbook).

Topics (websocket/public/*.mdx): `publicTrade.{symbol}`, `tickers.{symbol}`,
`kline.{interval}.{symbol}` for every documented interval and `orderbook.{depth}.{symbol}` for
the depths documented for linear, inverse and spot (1, 50, 200, 1000: the same three lists).
Anything else — another symbol, depth or interval — is refused as Bybit refuses a topic it does
not serve.
"""

from __future__ import annotations

from typing import Any

from .klines import INTERVALS
from .orderbook import DEPTHS
from .validation import choice, integer, page_limit


def public_topics(symbol: str) -> frozenset[str]:
    return frozenset([f"publicTrade.{symbol}", f"tickers.{symbol}",
                      *(f"kline.{iv}.{symbol}" for iv in INTERVALS),
                      *(f"orderbook.{d}.{symbol}" for d in DEPTHS)])


def kline_rows(ex: Any, p: dict[str, Any]) -> list[list[str]]:
    """market/kline.mdx: `interval` (required), `start`/`end` (venue ms, the candles' own
    timeline: boundaries are computed on it), `limit` [1, 1000] default 200; newest first. A page
    with `start` and no `end` is anchored at `start` (its oldest `limit` candles), otherwise at
    `end` (docs/DECISIONS.md, "Emulator market data")."""
    interval = choice(p, "interval", INTERVALS, required=True)
    assert interval is not None
    start, end = integer(p, "start"), integer(p, "end")
    limit = page_limit(p, default=200, hi=1000)
    now = ex.clock.venue_ms(ex.market_ns)
    return ex.tape.candles.rows(interval, start, now if end is None else min(end, now), limit,
                                from_start=start is not None and end is None)


def orderbook_limit(p: dict[str, Any], category: str) -> int:
    """market/orderbook.mdx `limit`: spot [1, 1000] default 1; linear and inverse [1, 1000] default 25."""
    return page_limit(p, default=1 if category == "spot" else 25, hi=1000)
