"""The seeded synthetic tick generator: trades and L1 quotes from a script of segments.

`TickGenerator(start_ns=…, segments=[…], seed=…)` draws, once and up front, the scenario's mid
path at 1-second resolution (8 bytes a second: 21 MB for 30 days) and each segment's regime,
from `component_rng(seed, "path/<i>")` per segment. Trades and quotes are then drawn lazily
per chunk (`chunk_minutes`, default 60) by `sim.scenario.ticks`, so a 30-day scenario at
calibrated rates (~2 M trades and ~8 M quotes a day) streams in ~15 MB pieces. Output is a
pure function of the parameters and the seed.

Prices sit on the tick grid (integer tick indices / ticks per unit), sizes on the calibrated
size step; timestamps are whole milliseconds, non-decreasing per stream; quotes are never
crossed; every print is at or inside the last quote at or before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.data.source import BatchSource
from sim.core.rng import component_rng
from sim.scenario.calibration import Calibration, resolve_calibration, with_overrides
from sim.scenario.segments import Context, SegmentBase, Span, parse_segments
from sim.scenario.ticks import (
    ChunkCache,
    GeneratedSource,
    Quotes,
    Regime,
    TickModel,
    quotes_batch,
    render_quotes,
    render_trades,
    trades_batch,
)

__all__ = ["PlannedSegment", "TickGenerator", "parse_segments"]

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S


@dataclass(frozen=True)
class PlannedSegment:
    """What one segment of the script became: its window, starting mid and what it aimed at."""

    index: int
    type: str
    label: str | None
    start_ns: int
    end_ns: int
    #: the mid (price) the segment started from
    start_mid: float
    info: dict[str, float | int | str]


@dataclass
class _AbsSpan:
    start: int
    end: int
    span: Span


class TickGenerator:
    """Seeded trades and L1 quotes along a scripted path.

    `segments`: `SegmentBase` models or their mappings (see `sim.scenario.segments`).
    `calibration`: a `Calibration`, a JSON file of one, or None for the committed Binance USD-M
    BTCUSDT calibration; keyword overrides (`trade_rate_per_s=…`, `quote_rate_per_s=…`,
    `mid_vol_1s=…`, any name in `sim.scenario.calibration.OVERRIDABLE`) replace single numbers.
    `start_ns` must be on a minute boundary, so segment minutes are the engine's minutes.
    """

    def __init__(
        self,
        *,
        start_ns: int,
        segments: Sequence[SegmentBase | dict[str, Any]],
        seed: int,
        calibration: Calibration | Path | str | None = None,
        tick_size: float = 0.1,
        start_price: float = 30000.0,
        chunk_minutes: int = 60,
        name: str = "ticks",
        **rate_overrides: Any,
    ) -> None:
        if start_ns % NS_PER_MIN:
            raise ValueError(f"start_ns {start_ns} is not on a minute boundary")
        if chunk_minutes <= 0:
            raise ValueError("chunk_minutes must be positive")
        if start_price <= 0:
            raise ValueError("start_price must be positive")
        self.start_ns = int(start_ns)
        self.seed = int(seed)
        self.name = name
        self.segments = parse_segments(list(segments), key="segments")
        if not self.segments:
            raise ValueError("segments must not be empty")
        self.calibration = with_overrides(resolve_calibration(calibration), rate_overrides)
        self.model = TickModel.from_calibration(self.calibration, tick_size)
        self.chunk_s = chunk_minutes * 60
        self._build_path(start_price)
        self.n_chunks = -(-len(self._mid) // self.chunk_s)
        self._quotes = ChunkCache(2)
        #: chunk indices drawn so far, in order (diagnostics: shows the streams are lazy)
        self.drawn_chunks: list[int] = []

    # -- the path ---------------------------------------------------------------------------

    def _build_path(self, start_price: float) -> None:
        total = sum(s.duration_s for s in self.segments)
        mid = np.empty(total)
        spans: list[_AbsSpan] = []
        forced_t: list[tuple[int, int]] = []
        forced_q: list[int] = []
        plan: list[PlannedSegment] = []
        cur = start_price * self.model.price.den / self.model.price.num
        at = 0
        for i, seg in enumerate(self.segments):
            n = seg.duration_s
            ctx = Context(
                index=i,
                rng=component_rng(self.seed, f"path/{i}"),
                history=mid[:at],
                mid=cur,
                start_ns=self.start_ns + at * NS_PER_S,
                vol_1s=self.calibration.mid_vol_1s,
                move_frac=self.calibration.mid_move_frac_1s,
                grid=self.model.price,
                max_spread=self.model.max_spread,
            )
            r = seg.render(ctx)
            kind = seg.type  # type: ignore[attr-defined]
            if len(r.mid) != n:
                raise AssertionError(f"segment {i} ({kind}) drew {len(r.mid)} s, not {n}")
            if not np.all(r.mid > 0):
                raise ValueError(f"segment {i} ({kind}) drives the price to zero or below")
            mid[at : at + n] = r.mid
            spans += [_AbsSpan(at + s.start, at + s.end, s) for s in r.spans]
            forced_t += [(at + s, side) for s, side in r.forced_trades]
            forced_q += [at + s for s in r.forced_quotes]
            plan.append(
                PlannedSegment(
                    index=i,
                    type=kind,
                    label=seg.label,
                    start_ns=self.start_ns + at * NS_PER_S,
                    end_ns=self.start_ns + (at + n) * NS_PER_S,
                    start_mid=ctx.price(cur),
                    info=dict(r.info),
                )
            )
            at += n
            cur = float(r.mid[-1])
        mid.setflags(write=False)
        self._mid = mid
        self._spans = spans
        self._span_start = np.array([a.start for a in spans], dtype=np.int64)
        self._span_end = np.array([a.end for a in spans], dtype=np.int64)
        ft = sorted(forced_t)
        self._forced_t_s = np.array([s for s, _ in ft], dtype=np.int64)
        self._forced_t_side = np.array([side for _, side in ft], dtype=np.int8)
        self._forced_q_s = np.array(sorted(forced_q), dtype=np.int64)
        self.plan: tuple[PlannedSegment, ...] = tuple(plan)

    @property
    def end_ns(self) -> int:
        return self.start_ns + len(self._mid) * NS_PER_S

    @property
    def mid_path(self) -> np.ndarray:
        """The 1-second mid path in ticks (read-only): second i is [start + i s, start + i + 1 s)."""
        return self._mid

    def mid_prices(self) -> np.ndarray:
        return self._mid * self.model.price.num / self.model.price.den

    # -- chunks -----------------------------------------------------------------------------

    def chunk_window(self, c: int) -> tuple[int, int]:
        """Seconds [s0, s1) from the start that chunk `c` covers."""
        s0 = c * self.chunk_s
        return s0, min(s0 + self.chunk_s, len(self._mid))

    def _regime(self, s0: int, s1: int) -> Regime:
        reg = Regime.neutral(s1 - s0)
        # the spans overlapping [s0, s1), in script order (a later one overrides an earlier one)
        for i in np.flatnonzero((self._span_end > s0) & (self._span_start < s1)).tolist():
            a = self._spans[i]
            lo, hi = max(a.start, s0) - s0, min(a.end, s1) - s0
            sp = a.span
            reg.trade_mult[lo:hi] = sp.trade_mult
            reg.quote_mult[lo:hi] = sp.quote_mult
            reg.buy_frac[lo:hi] = sp.buy_frac
            reg.imbalance[lo:hi] = sp.imbalance
            reg.spread_add[lo:hi] = sp.spread_add
        i, j = np.searchsorted(self._forced_t_s, [s0, s1])
        reg.forced_side[self._forced_t_s[i:j] - s0] = self._forced_t_side[i:j]
        i, j = np.searchsorted(self._forced_q_s, [s0, s1])
        reg.forced_quote[self._forced_q_s[i:j] - s0] = True
        return reg

    def _chunk_quotes(self, c: int) -> tuple[Regime, Quotes, pa.RecordBatch]:
        def make() -> tuple[Regime, Quotes, pa.RecordBatch]:
            self.drawn_chunks.append(c)
            s0, s1 = self.chunk_window(c)
            reg = self._regime(s0, s1)
            q = render_quotes(component_rng(self.seed, f"ticks/{c}/quotes"), self._mid[s0:s1], reg, self.model)
            return reg, q, quotes_batch(q, self.start_ns + s0 * NS_PER_S, self.model)

        return self._quotes.get(c, make)  # type: ignore[return-value]

    def chunk_quotes(self, c: int) -> pa.RecordBatch:
        return self._chunk_quotes(c)[2]

    def chunk_trades(self, c: int) -> pa.RecordBatch:
        """Chunk `c`'s prints (trade_id -1: the trades source numbers them as it streams)."""
        reg, q, _ = self._chunk_quotes(c)
        t = render_trades(component_rng(self.seed, f"ticks/{c}/trades"), q, reg, self.model)
        return trades_batch(t, self.start_ns + self.chunk_window(c)[0] * NS_PER_S, self.model)

    # -- sources ----------------------------------------------------------------------------

    def trades(self) -> BatchSource:
        return GeneratedSource("trades", f"synthetic:{self.name}/trades", self.n_chunks, self.chunk_trades)

    def quotes(self) -> BatchSource:
        return GeneratedSource("quotes", f"synthetic:{self.name}/quotes", self.n_chunks, self.chunk_quotes)


def load_segments_yaml(path: Path | str) -> list[SegmentBase]:
    """Segments from a YAML file holding a list of segment mappings (errors name the file)."""
    from sim.core.yaml_file import loads

    data = loads(Path(path).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of segments")
    return parse_segments(data, origin=path, key="segments")
