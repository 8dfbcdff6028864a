"""The order book the emulator serves at depths above 1 (websocket/public/orderbook.mdx, depths
50, 200 and 1000 for linear, inverse and spot) and on REST (market/orderbook.mdx).

The scenarios are level-1 data: one bid and one ask level. The book holds the levels there are —
never invented depth — so every depth shows the same one level per side. Streams follow the
documented process: a `snapshot` on subscribe, then a `delta` for every change, where a level
that is gone has size "0", a new price is inserted and a known price takes its new size. `u` is
the deep streams' update id (one more per delta; REST answers with it, as Bybit's REST `u`
matches the 1000-level stream's) and `seq` the cross sequence shared with `orderbook.1`.
Level 1 itself (snapshots only, re-sent unchanged after 3 s) stays in the tape.

JSON key order follows the docs' note: spot puts `ts` before `type`, futures' deeper levels after.
"""

from __future__ import annotations

from typing import Any

DEPTHS = (1, 50, 200, 1000)
DEEP = (50, 200, 1000)

Levels = list[list[str]]


def _delta(old: Levels, new: Levels, descending: bool) -> Levels:
    """The changes from `old` to `new` levels of one side: new or resized levels, and "0" for gone ones."""
    if len(old) <= 1 and len(new) <= 1:  # level-1 data, once per quote: the short way
        if old == new:
            return []
        if not new:
            return [[old[0][0], "0"]]
        if not old or old[0][0] == new[0][0]:
            return [list(new[0])]
        pair = [list(new[0]), [old[0][0], "0"]]
        return pair if (float(new[0][0]) > float(old[0][0])) == descending else pair[::-1]
    was = dict((p, s) for p, s in old)
    now = dict((p, s) for p, s in new)
    out = [[p, s] for p, s in now.items() if was.get(p) != s]
    out += [[p, "0"] for p in was if p not in now]
    out.sort(key=lambda lv: float(lv[0]), reverse=descending)
    return out


class Book:
    """The levels of one instrument and the ids of its deep streams."""

    def __init__(self, symbol: str, category: str) -> None:
        self.symbol, self.category = symbol, category
        self.bids: Levels = []
        self.asks: Levels = []
        self.u = 0
        self.seq = 0
        self.cts = 0  # venue ms of the change the book last took

    def update(self, bids: Levels, asks: Levels, seq: int, ts_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Takes the book as of a quote; (topic, body) of the deltas it makes (none if nothing
        changed). The bodies share one `data`: they are only read."""
        self.seq = seq
        db, da = _delta(self.bids, bids, True), _delta(self.asks, asks, False)
        if not db and not da:
            return []
        self.bids, self.asks, self.cts = bids, asks, ts_ms
        self.u += 1
        data = {"s": self.symbol, "b": db, "a": da, "u": self.u, "seq": seq}
        return [(t, self._message(t, "delta", ts_ms, data)) for t in (f"orderbook.{d}.{self.symbol}" for d in DEEP)]

    def snapshot(self, depth: int, ts_ms: int) -> dict[str, Any]:
        """The whole book of `orderbook.{depth}` (a new subscriber's first message)."""
        data = {"s": self.symbol, "b": self.bids[:depth], "a": self.asks[:depth], "u": self.u, "seq": self.seq}
        return self._message(f"orderbook.{depth}.{self.symbol}", "snapshot", ts_ms, data)

    def _message(self, topic: str, kind: str, ts_ms: int, data: dict[str, Any]) -> dict[str, Any]:
        if self.category == "spot":
            return {"topic": topic, "ts": ts_ms, "type": kind, "data": data, "cts": self.cts}
        return {"topic": topic, "type": kind, "ts": ts_ms, "data": data, "cts": self.cts}

    def rest(self, limit: int, now_ms: int) -> dict[str, Any]:
        """market/orderbook.mdx's result: at most `limit` levels a side."""
        return {"s": self.symbol, "b": self.bids[:limit], "a": self.asks[:limit], "ts": now_ms, "u": self.u,
                "seq": self.seq, "cts": self.cts}
