"""The emulator's public tape: the scenario's ticks, as the matching engine consumes them, turned
into Bybit v5 public messages (`publicTrade`, `orderbook.{depth}`, `kline.{interval}`) in their
exact total order.

Each source is wrapped in a `TeeSource` that hands the engine its batches unchanged and keeps a
copy; once the engine has reached market time M, every kept row stamped at or before M is
complete and is published, merged by (time, kind priority, source, row) — quotes before trades
at one instant, as the engine orders them — so a client that stamps its ticks with the
messages' exchange times rebuilds exactly the engine's tick sequence.

Sizes are published in the instrument's own unit, as the scenario's data gives them (USD
contracts for an inverse instrument); the category decides the few fields that differ (spot
prints have no tick direction; an inverse kline's turnover is in BTC, see `contract`). Candles
of every interval are kept by `klines.KlineBook`: a candle that closes is published before the
first row after its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sim.data.source import BatchSource
from sim.core.events import PRIORITY

from .clock import VenueClock
from .contract import Contract, num
from .klines import MINUTE_MS, Candle, KlineBook
from .orderbook import Book

#: Bybit puts at most this many prints in one publicTrade message.
MAX_TRADES_PER_MESSAGE = 1024


class TeeSource:
    """A source that keeps a copy of every batch the engine pulls, for publication."""

    def __init__(self, inner: BatchSource, start_ns: int, end_ns: int) -> None:
        self.kind, self.name, self.interval_ns = inner.kind, inner.name, inner.interval_ns
        self._inner = inner
        self._start, self._end = start_ns, end_ns
        self._chunks: list[dict[str, np.ndarray]] = []
        self._pos = 0  # rows of _chunks[0] already published

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        for row0, batch in self._inner.batches():
            cols = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in batch.schema.names}
            # Publication keeps the rows the engine keeps (MarketFeed's window rule).
            if self.kind == "klines":
                ts = cols["open_ts_ns"]
                keep = (ts >= self._start) & (ts + int(self.interval_ns or 0) <= self._end)
            else:
                ts = cols["ts_ns"]
                keep = (ts >= self._start) & (ts < self._end)
            if keep.any():
                self._chunks.append({k: v[keep] for k, v in cols.items()})
            yield row0, batch

    def _event_ts(self, chunk: dict[str, np.ndarray]) -> np.ndarray:
        if self.kind == "klines":
            return chunk["open_ts_ns"] + int(self.interval_ns or 0)
        return chunk["ts_ns"]

    def take_until(self, t_ns: int) -> list[dict[str, Any]]:
        """Rows (as dicts) stamped at or before `t_ns` not yet taken, in source order."""
        out: list[dict[str, Any]] = []
        while self._chunks:
            chunk = self._chunks[0]
            ts = self._event_ts(chunk)
            stop = int(np.searchsorted(ts, t_ns, side="right"))
            names = list(chunk)
            for i in range(self._pos, stop):
                out.append({k: chunk[k][i].item() for k in names})
            if stop < len(ts):
                self._pos = max(self._pos, stop)
                break
            self._chunks.pop(0)
            self._pos = 0
        return out


@dataclass
class Published:
    """One outgoing message: the WebSocket channel it goes on, its topic and its JSON body."""

    channel: str  # linear | spot | inverse | private
    topic: str
    body: dict[str, Any]
    ts_ms: int


class Tape:
    """Merges the tee'd sources into public messages for one instrument."""

    def __init__(self, sources: list[TeeSource], symbol: str, category: str, contract: Contract | None = None,
                 clock: VenueClock | None = None) -> None:
        self.sources, self.symbol, self.category, self.contract = sources, symbol, category, contract
        self.clock = clock if clock is not None else VenueClock("scenario")
        self._trade_seq = 0
        self._book_u = 0
        self.last_top: dict[str, Any] | None = None
        self.last_book_ms = 0
        self.recent_trades: list[dict[str, Any]] = []
        for src in sources:
            if src.kind == "klines" and int(src.interval_ns or 0) != MINUTE_MS * 1_000_000:
                raise ValueError(f"the emulator serves klines from one-minute bars; source {src.name!r} has "
                                 f"{int(src.interval_ns or 0) // 1_000_000_000} s bars")
        self.book = Book(symbol, category)
        #: Topics some client is subscribed to (None: all). Deep-book deltas and klines are only
        #: built for those: each quote would otherwise make three deltas nobody reads.
        self.wanted: set[str] | None = None
        self.candles = KlineBook(inverse=category == "inverse", ticks=any(s.kind == "trades" for s in sources),
                                 volume_text=contract.qty_text if contract is not None else num)

    def take_until(self, t_ns: int) -> list[Published]:
        rows: list[tuple[tuple[int, int, int, int], str, dict[str, Any]]] = []
        for si, src in enumerate(self.sources):
            for ri, r in enumerate(src.take_until(t_ns)):
                if src.kind == "klines":
                    ts = r["open_ts_ns"] + int(src.interval_ns or 0)
                    rows.append(((ts, PRIORITY["kline"], si, ri), "klines", {**r, "interval_ns": src.interval_ns}))
                else:
                    kind = "quote" if src.kind == "quotes" else "trade"
                    rows.append(((r["ts_ns"], PRIORITY[kind], si, ri), src.kind, r))
        rows.sort(key=lambda x: x[0])
        out: list[Published] = []
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            if pending:
                ts = pending[-1]["T"]
                out.append(Published(self.category, f"publicTrade.{self.symbol}",
                                     {"topic": f"publicTrade.{self.symbol}", "type": "snapshot", "ts": ts,
                                      "data": list(pending)}, ts))
                pending.clear()

        candles = self.candles
        for _key, kind, r in rows:
            if kind == "trades":
                item = self._trade(r)
                closed = candles.trade(item["T"], float(r["price"]), float(r["size"]))
                if "L" in item:
                    item["L"] = candles.tick_direction
                if closed:
                    flush()
                    out += self._klines(closed)
                pending.append(item)
                if len(pending) >= MAX_TRADES_PER_MESSAGE:
                    flush()
                continue
            flush()
            if kind == "quotes":
                out += self._klines(candles.close_until(self.clock.venue_ms(r["ts_ns"])))
                out += self._book(r)
            else:
                out += self._bar(r)
        flush()
        now_ms = self.clock.venue_ms(t_ns)
        out += self._klines(candles.close_until(now_ms))
        out += self._klines(candles.open_updates(now_ms), now_ms)
        return out

    def _trade(self, r: dict[str, Any]) -> dict[str, Any]:
        side = int(r["side"])
        if side not in (1, -1):
            raise ValueError(f"the emulator needs trades with a reported side (Bybit always has one); "
                             f"a trade at {r['ts_ns']} ns has side {side}")
        self._trade_seq += 1
        ts = self.clock.venue_ms(r["ts_ns"])
        tid = int(r["trade_id"])
        item = {"T": ts, "s": self.symbol, "S": "Buy" if side > 0 else "Sell", "v": num(float(r["size"])),
                "p": num(float(r["price"])), "L": "ZeroPlusTick",
                "i": str(tid if tid >= 0 else self._trade_seq), "BT": False, "RPI": False, "seq": self._trade_seq}
        if self.category == "spot":
            del item["L"]  # tick direction is a derivatives field
        self.recent_trades.append(item)
        del self.recent_trades[:-1000]
        return item

    def _book(self, r: dict[str, Any]) -> list[Published]:
        self._book_u += 1
        ts = self.clock.venue_ms(r["ts_ns"])
        bid, ask = [num(float(r["bid_px"])), num(float(r["bid_sz"]))], [num(float(r["ask_px"])), num(float(r["ask_sz"]))]
        self.last_top = {"s": self.symbol, "b": [bid], "a": [ask], "u": self._book_u, "seq": self._book_u}
        self.last_book_ms = ts
        # The deeper books hold the levels there are: a side quoted with size 0 has none.
        deltas = self.book.update([bid] if float(r["bid_sz"]) > 0 else [], [ask] if float(r["ask_sz"]) > 0 else [],
                                  self._book_u, ts)
        wanted = self.wanted
        return [self.book_message(ts), *(Published(self.category, t, body, ts) for t, body in deltas
                                         if wanted is None or t in wanted)]

    def book_message(self, ts_ms: int) -> Published:
        """The level-1 book as of now; Bybit re-sends it unchanged (same `u`) every 3 s."""
        assert self.last_top is not None
        topic = f"orderbook.1.{self.symbol}"
        # Level 1 puts `ts` before `type` (websocket/public/orderbook.mdx, "reminder"); `cts` is
        # the time of the quote it shows.
        return Published(self.category, topic, {"topic": topic, "ts": ts_ms, "type": "snapshot",
                                                "data": dict(self.last_top), "cts": self.last_book_ms}, ts_ms)

    def _bar(self, r: dict[str, Any]) -> list[Published]:
        """A one-minute bar (bars scenarios), published when it has closed."""
        start = self.clock.venue_ms(r["open_ts_ns"])
        o, h, lo, c, v = (float(r[k]) for k in ("open", "high", "low", "close", "volume"))
        turnover = float(self.contract.kline_turnover(o, h, lo, c, v)) if self.contract is not None else 0.0
        closed = self.candles.bar(start, o, h, lo, c, v, turnover)
        return self._klines(closed + self.candles.close_until(start + MINUTE_MS))

    def _klines(self, candles: list[tuple[str, Candle]], now_ms: int | None = None) -> list[Published]:
        """`kline.{interval}` messages: closed candles (`now_ms` None) or the open ones at `now_ms`."""
        out = []
        for interval, k in candles:
            ts = k.end + 1 if now_ms is None else now_ms
            topic = f"kline.{interval}.{self.symbol}"
            if self.wanted is not None and topic not in self.wanted:
                continue
            item = k.wire(interval, now_ms is None, self.candles.volume_text)
            out.append(Published(self.category, topic, {"topic": topic, "type": "snapshot", "ts": ts, "data": [item]},
                                 ts))
        return out
