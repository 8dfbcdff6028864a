"""Turns a 1-second mid path into calibrated trade and quote ticks, one chunk at a time.

Shared by the scripted tick generator and the bridge generator. A chunk's ticks depend only on
the chunk's mids and regime and its own RNG, so either stream can (re)draw any chunk without
the other: quotes from `ticks/<chunk>/quotes`, trades from `ticks/<chunk>/trades` on top of
the chunk's quotes, which is what keeps the two streams consistent when the engine pulls them
independently.

The tick model, per second s of a chunk:
* quotes: Poisson(quote rate × quote_mult[s]) updates at uniform random milliseconds, plus one
  at millisecond 0 where a run of active seconds starts (chunk start, end of a silence) and
  where a segment asks for one; each update draws a spread from the calibrated per-update
  distribution (+ spread_add[s]) and lognormal L1 sizes skewed by exp(±imbalance[s] / 2), and
  sits on the second's mid: bid = floor(mid + 1/2 − spread/2), ask = bid + spread;
* trades: Poisson(trade rate × (1 − same-ms share) × trade_mult[s]) taker orders at random
  milliseconds, each printing a geometric number of times in its millisecond (mean
  1 / (1 − same-ms share): the calibrated bursts), all on one side (buy with probability
  buy_frac[s]) at the last quote at or before it: buys at the ask, sells at the bid, a
  calibrated few strictly inside a wide spread; sizes lognormal per print. Prints before the
  chunk's first quote are dropped (they would have no quote to print against).
Timestamps are whole milliseconds (as the exchange's), prices and sizes on their grids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim.data.normalize import make_batch
from sim.data.schema import SCHEMAS, SourceKind
from sim.scenario.calibration import Calibration
from sim.scenario.paths import Grid

NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class TickModel:
    trade_rate: float
    burst_frac: float
    quote_rate: float
    spread_p: tuple[float, ...]
    size_mu: float
    size_sigma: float
    l1_mu: float
    l1_sigma: float
    mid_print_frac: float
    price: Grid
    size: Grid

    @classmethod
    def from_calibration(cls, cal: Calibration, tick_size: float) -> TickModel:
        p = np.asarray(cal.spread_ticks_share, dtype=np.float64)
        if len(p) == 0 or p.sum() <= 0 or (p < 0).any():
            raise ValueError("spread_ticks_share must be non-negative shares, not all zero")
        return cls(
            trade_rate=cal.trade_rate_per_s,
            burst_frac=cal.same_ms_trade_frac,
            quote_rate=cal.quote_rate_per_s,
            spread_p=tuple(float(x) for x in p / p.sum()),
            size_mu=cal.trade_size_log_mu,
            size_sigma=cal.trade_size_log_sigma,
            l1_mu=cal.l1_size_log_mu,
            l1_sigma=cal.l1_size_log_sigma,
            mid_print_frac=cal.inside_trade_frac_wide,
            price=Grid.of(tick_size),
            size=Grid.of(cal.size_step),
        )

    @property
    def max_spread(self) -> int:
        return len(self.spread_p)

    def size_steps(self, log_size: np.ndarray) -> np.ndarray:
        k = np.rint(np.exp(log_size) * self.size.den / self.size.num)
        return np.maximum(k, 1).astype(np.int64)


@dataclass
class Regime:
    """Per-second parameters of one chunk (arrays of the chunk's length)."""

    trade_mult: np.ndarray
    quote_mult: np.ndarray
    buy_frac: np.ndarray
    imbalance: np.ndarray
    spread_add: np.ndarray
    #: +1 / -1: a forced buy / sell print at millisecond 0 of the second; 0: none
    forced_side: np.ndarray
    forced_quote: np.ndarray
    #: where given, prints are clipped into [band_lo, band_hi] ticks (inside the quote: the
    #: bridge keeps each minute's mids in its own band and starts each minute with a quote)
    band_lo: np.ndarray | None = None
    band_hi: np.ndarray | None = None

    @classmethod
    def neutral(cls, n: int) -> Regime:
        return cls(
            trade_mult=np.ones(n),
            quote_mult=np.ones(n),
            buy_frac=np.full(n, 0.5),
            imbalance=np.zeros(n),
            spread_add=np.zeros(n, dtype=np.int64),
            forced_side=np.zeros(n, dtype=np.int8),
            forced_quote=np.zeros(n, dtype=bool),
        )


@dataclass
class Quotes:
    ms: np.ndarray  # milliseconds from the chunk's start
    bid: np.ndarray  # ticks
    ask: np.ndarray
    bid_sz: np.ndarray  # size steps
    ask_sz: np.ndarray


@dataclass
class Trades:
    ms: np.ndarray
    price: np.ndarray  # ticks
    size: np.ndarray  # size steps
    side: np.ndarray  # int8


def _clipped_normal(rng: np.random.Generator, shape: int | tuple[int, ...], limit: float) -> np.ndarray:
    # lognormal tails beyond a few sigma give absurd sizes (10^5 BTC); real books cap them
    return np.clip(rng.standard_normal(shape), -limit, limit)


def render_quotes(rng: np.random.Generator, mids: np.ndarray, reg: Regime, model: TickModel) -> Quotes:
    n = len(mids)
    counts = rng.poisson(model.quote_rate * reg.quote_mult)
    active = reg.quote_mult > 0
    run_start = active & ~np.concatenate(([False], active[:-1]))
    forced = active & (run_start | reg.forced_quote | (reg.forced_side != 0))
    sec = np.repeat(np.arange(n, dtype=np.int64), counts)
    ms = sec * 1000 + rng.integers(0, 1000, size=len(sec))
    ms = np.sort(np.concatenate([ms, np.flatnonzero(forced).astype(np.int64) * 1000]), kind="stable")
    sec = ms // 1000
    m = len(ms)
    k = rng.choice(model.max_spread, size=m, p=np.asarray(model.spread_p)) + 1 + reg.spread_add[sec]
    bid = np.floor(mids[sec] + 0.5 - k / 2.0).astype(np.int64)
    z = _clipped_normal(rng, (2, m), 4.0)
    half = reg.imbalance[sec] / 2.0
    return Quotes(
        ms=ms,
        bid=bid,
        ask=bid + k,
        bid_sz=model.size_steps(model.l1_mu + model.l1_sigma * z[0] + half),
        ask_sz=model.size_steps(model.l1_mu + model.l1_sigma * z[1] - half),
    )


def render_trades(rng: np.random.Generator, q: Quotes, reg: Regime, model: TickModel) -> Trades:
    n = len(reg.trade_mult)
    b = model.burst_frac
    counts = rng.poisson(model.trade_rate * (1.0 - b) * reg.trade_mult)
    sec = np.repeat(np.arange(n, dtype=np.int64), counts)
    a = len(sec)
    ms = sec * 1000 + rng.integers(0, 1000, size=a)
    side = np.where(rng.random(a) < reg.buy_frac[sec], 1, -1).astype(np.int8)
    prints = rng.geometric(1.0 - b, size=a) if b > 0 else np.ones(a, dtype=np.int64)
    inside_u = rng.random(a)

    fsec = np.flatnonzero((reg.forced_side != 0) & (reg.quote_mult > 0)).astype(np.int64)
    ms = np.concatenate([ms, fsec * 1000])
    side = np.concatenate([side, reg.forced_side[fsec]])
    prints = np.concatenate([prints, np.ones(len(fsec), dtype=prints.dtype)])
    inside_u = np.concatenate([inside_u, np.ones(len(fsec))])
    order = np.argsort(ms, kind="stable")
    ms, side, prints, inside_u = ms[order], side[order], prints[order], inside_u[order]

    qi = np.searchsorted(q.ms, ms, side="right") - 1
    keep = qi >= 0
    ms, side, prints, inside_u, qi = ms[keep], side[keep], prints[keep], inside_u[keep], qi[keep]
    bid, ask = q.bid[qi], q.ask[qi]
    k = ask - bid
    px = np.where(side > 0, ask, bid)
    off = rng.integers(1, np.maximum(k, 2)) if len(k) else np.zeros(0, dtype=np.int64)
    px = np.where((k >= 2) & (inside_u < model.mid_print_frac), bid + off, px)
    if reg.band_lo is not None and reg.band_hi is not None:
        s = ms // 1000
        px = np.clip(px, reg.band_lo[s], reg.band_hi[s])
    ms, px, side = np.repeat(ms, prints), np.repeat(px, prints), np.repeat(side, prints)
    z = _clipped_normal(rng, len(ms), 5.0)
    return Trades(ms=ms, price=px, size=model.size_steps(model.size_mu + model.size_sigma * z), side=side)


def quotes_batch(q: Quotes, t0_ns: int, model: TickModel) -> pa.RecordBatch:
    return make_batch(
        "quotes",
        {
            "ts_ns": t0_ns + q.ms * NS_PER_MS,
            "bid_px": model.price.values(q.bid),
            "bid_sz": model.size.values(q.bid_sz),
            "ask_px": model.price.values(q.ask),
            "ask_sz": model.size.values(q.ask_sz),
        },
    )


def trades_batch(t: Trades, t0_ns: int, model: TickModel) -> pa.RecordBatch:
    """Trade ids are left at -1: the source numbers the prints as it streams them."""
    return make_batch(
        "trades",
        {
            "ts_ns": t0_ns + t.ms * NS_PER_MS,
            "price": model.price.values(t.price),
            "size": model.size.values(t.size),
            "side": t.side,
            "trade_id": np.full(len(t.ms), -1, dtype=np.int64),
        },
    )


class GeneratedSource:
    """A `BatchSource` over a generator's chunks: one batch per non-empty chunk, drawn only when
    the consumer asks for it. A trades source numbers its prints 1, 2, 3, … (trade_id)."""

    def __init__(
        self,
        kind: SourceKind,
        name: str,
        n_chunks: int,
        chunk: Callable[[int], pa.RecordBatch],
        interval_ns: int | None = None,
    ) -> None:
        self.kind: SourceKind = kind
        self.name = name
        self.interval_ns = interval_ns
        self._n = n_chunks
        self._chunk = chunk

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        row = 1
        for c in range(self._n):
            b = self._chunk(c)
            if b.num_rows == 0:
                continue
            if self.kind == "trades":
                ids = pa.array(np.arange(row, row + b.num_rows, dtype=np.int64))
                b = pa.RecordBatch.from_arrays([*b.columns[:4], ids], schema=SCHEMAS["trades"])
            yield row, b
            row += b.num_rows


class ChunkCache:
    """The last few chunks' quotes, so the trades stream does not redraw what the quotes stream
    just drew (the engine pulls both streams at about the same time)."""

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._items: list[tuple[int, object]] = []

    def get(self, key: int, make: Callable[[], object]) -> object:
        for k, v in self._items:
            if k == key:
                return v
        v = make()
        self._items.append((key, v))
        if len(self._items) > self._size:
            self._items.pop(0)
        return v
