"""The bridge generator: seeded intraday paths through given bars (daily or hourly OHLCV).

For each parent bar it draws a 1-second price path that starts at the open, ends at the close,
touches exactly the high and the low (at seeded random seconds, in a seeded order that leans
towards low-then-high on up bars) and never leaves [low, high]; the path's 1-minute bars are
the output, with the parent's volume spread over the minutes by a U-shaped profile × lognormal
noise (summing to the parent volume up to float rounding). Where finer bars (e.g. hourly inside
daily) are given and tile a parent exactly and agree with it, the path goes through each of
them instead, and their volumes shape the day. Optionally, trades and quotes are drawn along
the path by the tick generator's machinery at the calibrated rates (busier in heavier minutes),
every print inside its minute bar's range.

Everything streams: the minute klines one parent bar per batch, ticks in chunks of at most an
hour; a bar's path comes from `component_rng(seed, "bridge/<bar>")`, a tick chunk's from
`ticks/<chunk>/…`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.data.normalize import make_batch
from sim.data.schema import KLINES
from sim.data.source import BatchSource
from sim.core.rng import component_rng
from sim.scenario.calibration import Calibration, resolve_calibration, with_overrides
from sim.scenario.paths import Grid, bridge, fold
from sim.scenario.ticks import (
    ChunkCache,
    GeneratedSource,
    Regime,
    TickModel,
    quotes_batch,
    render_quotes,
    render_trades,
    trades_batch,
)

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S

BarsLike = pa.Table | Sequence[Mapping[str, Any] | Sequence[Any]]


def bars_table(bars: BarsLike) -> pa.Table:
    """A `KLINES` table from a table or a list of bars (mappings by column name, or tuples in
    the schema's order: open_ts_ns, open, high, low, close, volume)."""
    if isinstance(bars, pa.Table):
        return bars.select(KLINES.names).cast(KLINES)
    rows = list(bars)
    cols: dict[str, list[Any]] = {n: [] for n in KLINES.names}
    for r in rows:
        values = [r[n] for n in KLINES.names] if isinstance(r, Mapping) else list(r)
        if len(values) != len(KLINES.names):
            raise ValueError(f"a bar needs {len(KLINES.names)} values ({', '.join(KLINES.names)}): {r!r}")
        for n, v in zip(KLINES.names, values):
            cols[n].append(v)
    return pa.table(cols, schema=KLINES)


@dataclass(frozen=True)
class _Bars:
    ts: np.ndarray
    o: np.ndarray  # ticks (int64)
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray  # float64


def _on_grid(t: pa.Table, grid: Grid, what: str, strict: bool) -> tuple[_Bars, np.ndarray]:
    """The bars in ticks, and which rows are usable; `strict` raises on the first bad row."""
    ts = t["open_ts_ns"].to_numpy()
    px = {k: t[k].to_numpy() for k in ("open", "high", "low", "close")}
    v = t["volume"].to_numpy().astype(np.float64)
    idx = {k: np.rint(a * grid.den / grid.num).astype(np.int64) for k, a in px.items()}
    ok = np.ones(len(ts), dtype=bool)
    for k in idx:
        ok &= grid.values(idx[k]) == px[k]
    ok &= (idx["low"] <= np.minimum(idx["open"], idx["close"])) & (np.maximum(idx["open"], idx["close"]) <= idx["high"])
    ok &= np.isfinite(v) & (v >= 0) & (ts % NS_PER_MIN == 0)
    if strict and not ok.all():
        i = int(np.argmin(ok))
        raise ValueError(
            f"{what} bar {i} (open_ts_ns {int(ts[i])}): o {px['open'][i]} h {px['high'][i]} l {px['low'][i]} "
            f"c {px['close'][i]} v {v[i]} is not a bar on the {grid.step} grid at a minute boundary "
            "(low <= open, close <= high, volume >= 0)"
        )
    return _Bars(ts, idx["open"], idx["high"], idx["low"], idx["close"], v), ok


@dataclass(frozen=True)
class _Piece:
    """A stretch of a parent bar the path is drawn through: a whole parent or one inner bar."""

    offset_s: int
    n_s: int
    o: int
    h: int
    lo: int
    c: int
    v: float


@dataclass
class _BarPath:
    path: np.ndarray  # ticks, one per second
    mo: np.ndarray  # minute open/high/low/close, ticks
    mh: np.ndarray
    ml: np.ndarray
    mc: np.ndarray
    mv: np.ndarray  # minute volumes


def _piece_path(rng: np.random.Generator, p: _Piece, path_vol: float) -> np.ndarray:
    n = p.n_s
    r = p.h - p.lo
    t1, t2 = np.sort(rng.choice(n - 2, size=2, replace=False) + 1)
    # on an up bar the low tends to come first, on a down bar the high
    low_first = rng.random() < 0.5 + 0.4 * (p.c - p.o) / max(r, 1)
    x1, x2 = (p.lo, p.h) if low_first else (p.h, p.lo)
    sig = path_vol * r / math.sqrt(n)
    x = np.concatenate(
        [
            [float(p.o)],
            bridge(rng, p.o, x1, int(t1), sig),
            bridge(rng, x1, x2, int(t2 - t1), sig),
            bridge(rng, x2, p.c, int(n - 1 - t2), sig),
        ]
    )
    out = np.clip(np.rint(fold(x, p.lo, p.h)), p.lo, p.h).astype(np.int64)
    out[0], out[t1], out[t2], out[-1] = p.o, x1, x2, p.c
    return out


def _profile(rng: np.random.Generator, n_min: int, u_shape: float, noise: float) -> np.ndarray:
    x = (np.arange(n_min) + 0.5) / n_min
    u = 1.0 + u_shape * (2.0 * x - 1.0) ** 2
    return u * np.exp(noise * rng.standard_normal(n_min) - noise * noise / 2.0)


class BridgeGenerator:
    """1-minute klines (and optionally ticks) drawn through parent bars.

    `parent`: a `KLINES` table or a list of bars, stamped with their open times, each
    `parent_interval_ns` long (a whole number of minutes), on the `tick_size` grid (default
    0.01: Binance spot BTCUSDT). `inner` (+ `inner_interval_ns`): optional finer bars; a
    parent whose inner bars tile it exactly and agree with its O/H/L/C is drawn through them,
    any other is drawn through itself and listed in `fallbacks`. `path_vol` scales the path's
    1-second noise to the bar's range (σ = path_vol × range / √seconds); `u_shape` is the
    volume profile's edge-to-middle excess, `volume_noise` its lognormal σ. Rate overrides as
    for `TickGenerator`; `activity` scales the tick rates.
    """

    def __init__(
        self,
        parent: BarsLike,
        parent_interval_ns: int,
        seed: int,
        *,
        inner: BarsLike | None = None,
        inner_interval_ns: int | None = None,
        tick_size: float = 0.01,
        calibration: Calibration | Path | str | None = None,
        name: str = "bridge",
        path_vol: float = 0.5,
        u_shape: float = 1.5,
        volume_noise: float = 0.35,
        activity: float = 1.0,
        chunk_minutes: int = 60,
        **rate_overrides: Any,
    ) -> None:
        if parent_interval_ns <= 0 or parent_interval_ns % NS_PER_MIN:
            raise ValueError("parent_interval_ns must be a positive whole number of minutes")
        if chunk_minutes <= 0:
            raise ValueError("chunk_minutes must be positive")
        self.seed = int(seed)
        self.name = name
        self.interval_ns = int(parent_interval_ns)
        self.path_vol = float(path_vol)
        self.u_shape = float(u_shape)
        self.volume_noise = float(volume_noise)
        self.activity = float(activity)
        self.calibration = with_overrides(resolve_calibration(calibration), rate_overrides)
        self.model = TickModel.from_calibration(self.calibration, tick_size)
        grid = self.model.price

        self.parent = bars_table(parent)
        bars, _ = _on_grid(self.parent, grid, "parent", strict=True)
        if len(bars.ts) and (np.diff(bars.ts) < self.interval_ns).any():
            i = int(np.argmax(np.diff(bars.ts) < self.interval_ns)) + 1
            raise ValueError(f"parent bar {i} (open_ts_ns {int(bars.ts[i])}) starts before bar {i - 1} ends")
        self._bars = bars
        n_s = self.interval_ns // NS_PER_S
        whole = [_Piece(0, n_s, int(bars.o[i]), int(bars.h[i]), int(bars.lo[i]), int(bars.c[i]), float(bars.v[i]))
                 for i in range(len(bars.ts))]
        self._pieces: list[list[_Piece]] = [[p] for p in whole]
        self.fallbacks: tuple[int, ...] = ()
        if inner is not None:
            if inner_interval_ns is None or inner_interval_ns <= 0 or self.interval_ns % inner_interval_ns \
                    or inner_interval_ns % NS_PER_MIN:
                raise ValueError("inner_interval_ns must be a whole number of minutes dividing the parent interval")
            self._use_inner(bars_table(inner), int(inner_interval_ns), grid)

        # tick chunks: (bar, first second, end second) of at most chunk_minutes each
        step = min(chunk_minutes * 60, n_s)
        self._chunks = [(i, s, min(s + step, n_s)) for i in range(len(bars.ts)) for s in range(0, n_s, step)]
        self._paths = ChunkCache(2)
        self._quotes = ChunkCache(2)

    def _use_inner(self, table: pa.Table, inner_ns: int, grid: Grid) -> None:
        ib, ok = _on_grid(table, grid, "inner", strict=False)
        if len(ib.ts) and (np.diff(ib.ts) <= 0).any():
            raise ValueError("inner bars must be in strictly increasing open time")
        per = self.interval_ns // inner_ns
        inner_s = inner_ns // NS_PER_S
        fallbacks = []
        b = self._bars
        for i in range(len(b.ts)):
            j0, j1 = np.searchsorted(ib.ts, [b.ts[i], b.ts[i] + self.interval_ns])
            sl = slice(int(j0), int(j1))
            tiles = (
                j1 - j0 == per
                and bool(ok[sl].all())
                and bool((ib.ts[sl] == b.ts[i] + np.arange(per) * inner_ns).all())
                and ib.o[j0] == b.o[i]
                and ib.c[j1 - 1] == b.c[i]
                and ib.h[sl].max() == b.h[i]
                and ib.lo[sl].min() == b.lo[i]
            )
            if not tiles:
                fallbacks.append(i)
                continue
            self._pieces[i] = [
                _Piece(k * inner_s, inner_s, int(ib.o[j]), int(ib.h[j]), int(ib.lo[j]), int(ib.c[j]), float(ib.v[j]))
                for k, j in enumerate(range(int(j0), int(j1)))
            ]
        self.fallbacks = tuple(fallbacks)

    @property
    def start_ns(self) -> int:
        return int(self._bars.ts[0]) if len(self._bars.ts) else 0

    @property
    def end_ns(self) -> int:
        return int(self._bars.ts[-1]) + self.interval_ns if len(self._bars.ts) else 0

    # -- paths ------------------------------------------------------------------------------

    def bar_path(self, i: int) -> _BarPath:
        """Parent bar `i`'s 1-second path (ticks) and its minute bars (cached)."""
        return self._paths.get(i, lambda: self._draw_bar(i))  # type: ignore[return-value]

    def _draw_bar(self, i: int) -> _BarPath:
        rng = component_rng(self.seed, f"bridge/{i}")
        pieces = self._pieces[i]
        path = np.concatenate([_piece_path(rng, p, self.path_vol) for p in pieces])
        m = path.reshape(-1, 60)
        whole = len(pieces) == 1
        shapes = [_profile(rng, p.n_s // 60, self.u_shape if whole else 0.0, self.volume_noise) for p in pieces]
        raw = np.concatenate([p.v * w / w.sum() for p, w in zip(pieces, shapes)])
        total = float(self._bars.v[i])
        if raw.sum() <= 0:  # inner bars with no volume under a parent with some: shape alone
            raw = np.concatenate(shapes)
        mv = raw * (total / raw.sum())
        return _BarPath(path, m[:, 0].copy(), m.max(axis=1), m.min(axis=1), m[:, -1].copy(), mv)

    # -- sources ----------------------------------------------------------------------------

    def bar_klines(self, i: int) -> pa.RecordBatch:
        bp = self.bar_path(i)
        g = self.model.price
        n = len(bp.mo)
        return make_batch(
            "klines",
            {
                "open_ts_ns": int(self._bars.ts[i]) + np.arange(n, dtype=np.int64) * NS_PER_MIN,
                "open": g.values(bp.mo),
                "high": g.values(bp.mh),
                "low": g.values(bp.ml),
                "close": g.values(bp.mc),
                "volume": bp.mv,
            },
        )

    def minute_klines(self) -> BatchSource:
        return GeneratedSource(
            "klines", f"synthetic:{self.name}/klines_1m", len(self._bars.ts), self.bar_klines, interval_ns=NS_PER_MIN
        )

    def _regime(self, bp: _BarPath, s0: int, s1: int) -> Regime:
        n = s1 - s0
        sec_min = np.arange(s0, s1) // 60
        mean = bp.mv.mean() if len(bp.mv) else 0.0
        w = bp.mv / mean if mean > 0 else np.ones(len(bp.mv))
        reg = Regime.neutral(n)
        reg.trade_mult = self.activity * w[sec_min]
        reg.quote_mult = self.activity * np.sqrt(w[sec_min])
        rng_ = np.maximum(bp.mh - bp.ml, 1)
        reg.buy_frac = np.clip(0.5 + 0.15 * (bp.mc - bp.mo) / rng_, 0.0, 1.0)[sec_min]
        # each minute starts with a quote on its own mid, so its prints meet only its quotes
        reg.forced_quote = (np.arange(s0, s1) % 60) == 0
        reg.band_lo = bp.ml[sec_min]
        reg.band_hi = bp.mh[sec_min]
        return reg

    def _chunk_quotes(self, c: int) -> tuple[Any, ...]:
        def make() -> tuple[Any, ...]:
            i, s0, s1 = self._chunks[c]
            bp = self.bar_path(i)
            reg = self._regime(bp, s0, s1)
            mids = bp.path[s0:s1].astype(np.float64)
            q = render_quotes(component_rng(self.seed, f"ticks/{c}/quotes"), mids, reg, self.model)
            t0 = int(self._bars.ts[i]) + s0 * NS_PER_S
            return reg, q, quotes_batch(q, t0, self.model), t0

        return self._quotes.get(c, make)  # type: ignore[return-value]

    def chunk_quotes(self, c: int) -> pa.RecordBatch:
        return self._chunk_quotes(c)[2]

    def chunk_trades(self, c: int) -> pa.RecordBatch:
        reg, q, _, t0 = self._chunk_quotes(c)
        t = render_trades(component_rng(self.seed, f"ticks/{c}/trades"), q, reg, self.model)
        return trades_batch(t, t0, self.model)

    def trades(self) -> BatchSource:
        return GeneratedSource("trades", f"synthetic:{self.name}/trades", len(self._chunks), self.chunk_trades)

    def quotes(self) -> BatchSource:
        return GeneratedSource("quotes", f"synthetic:{self.name}/quotes", len(self._chunks), self.chunk_quotes)
