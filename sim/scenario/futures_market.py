"""Minute markets of spot and dated futures as 1-minute klines (the `basis_market:` section of a
scenario): spot BTCUSDT and
Binance COIN-M inverse quarterlies `BTCUSD_YYMMDD`, built from the recorded 2021 daily bars
(`kind: recorded_daily`) or from a small synthetic spec (`kind: synthetic`), one UTC day per batch.

Spot is the only random path. Recorded: the bridge generator (`sim.scenario.bridge`) draws each
day through its daily bar, and through the day's hourly bars where they tile it (days with an
hourly gap fall back to the daily bar, listed in the spot source's `fallback_days` as they are
drawn), so the minutes tile every daily bar exactly. Synthetic: straight-line segments plus a
seeded Brownian bridge (σ `vol_bps_per_min` per minute) pinned to the line at each segment's
ends, on the 0.01 grid, with seeded wicks.

A future's minute is the spot minute × (1 + b(t)), with a smooth basis path b: two independent
bridges through spot and futures bars would swing the intraday basis by hundreds of bps — noise
a strategy trading the basis would trade on. Recorded b is piecewise linear in time through anchors:
F_open/S_open − 1 at the first recorded day's start, F_close/S_close − 1 at every day's end (the
daily mark close), and after the close of the day BEFORE the expiry day linearly to 0 at the
expiry instant (delivery converges to spot; the expiry day's own row is partly post-expiry, and
the flat rows after it are junk — neither is read). Consequences: at every day end before the
expiry day a future's minute close reproduces the recorded mark close (exact to float rounding,
then rounded to the nearest 0.1 tick, ties to even: within half a tick); intraday high/low are
spot's scaled by (1 + b), NOT the recorded mark high/low. A contract listing inside its first
recorded day (BTCUSD_210924 lists at 210326's delivery, 2021-03-26 08:00, but its first row opens
at 00:00 with a pre-listing mark) takes b constant from the listing to that day's close.
Per minute: close = spot close × (1 + b(minute end)), open = the previous minute's close (the
contract's first minute: spot open × (1 + b(open))), high/low = max/min of open, close and the spot
high/low × (1 + b(minute end)), all on the 0.1 grid. Minutes cover [max(window start, listing),
min(window end, expiry)). A future's volume is the spot minute's × `futures_volume_ratio`: mark
klines have no volume, so the spot profile is the only volume shape there is.

Curves without recorded prices (`annual_basis_pct`): b(t) = annual_basis_pct/100 × τ(t)/365, τ
the days from t to expiry — converges to 0 at expiry. The default 6.0 for the Dec-2021 leg is
BTCUSD_210924's annualized basis in Aug–Sep 2021 (daily closes: Aug mean 5.99 %, Aug 1–Sep 23
median 5.87 %; Sep 1–20 mean 3.66 %). A quarterly lists by default at the delivery two quarters
before its own — when it becomes NEXT, as the recorded 210924 file shows — so the roll into it
(≤ 2 days before the current one expires) finds it trading.

Randomness: `component_rng(seed, "basis_market/spot/segment/<k>")` and
`.../volume/<YYYY-MM-DD>` (synthetic); the bridge of a recorded day is seeded with
`component_seed(seed, "basis_market/spot/<YYYY-MM-DD>")`. A day never depends on the window or
on what was drawn before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from sim.core.expiry import NS_PER_DAY, expiry_of_symbol, quarterly_expiry_ns
from sim.data.csv_readers import KlinesCsvSource, sniff_first_line
from sim.data.normalize import make_batch
from sim.data.schema import KLINES
from sim.data.parquet_readers import ParquetSource
from sim.data.source import BatchSource
from sim.core.errors import DataFileError, ManifestError, validation_key_and_message
from sim.core.rng import component_rng, component_seed
from sim.scenario.bridge import BridgeGenerator
from sim.scenario.calibration import resolve_calibration
from sim.scenario.paths import Grid
from sim.scenario.ticks import GeneratedSource

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
NS_PER_HOUR = 3600 * NS_PER_S
MIN_PER_DAY = 1440
KEY = "basis_market"
SPOT_SYMBOL = "BTCUSDT"
SPOT_GRID = Grid.of(0.01)  # Binance spot BTCUSDT
FUTURE_GRID = Grid.of(0.1)  # Binance COIN-M BTCUSD quarterlies
DEFAULT_ANNUAL_BASIS_PCT = 6.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_CACHE = 8  # spot days kept for the futures: the engine pulls all sources at about the same time


def _utc(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


def to_ns(d: datetime) -> int:
    return (_utc(d) - _EPOCH) // timedelta(microseconds=1) * 1000


def _date(ns: int) -> str:
    return f"{_EPOCH + timedelta(microseconds=ns // 1000):%Y-%m-%d}"


def _iso(ns: int) -> str:
    return f"{_EPOCH + timedelta(microseconds=ns // 1000):%Y-%m-%d %H:%M} UTC"


# -- specs ----------------------------------------------------------------------------------------

class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    _origin: Path | None = PrivateAttr(default=None)  # the manifest, for errors found while building


class SyntheticCurve(_Spec):
    """A contract with no recorded prices: b(t) = annual_basis_pct/100 × τ(t)/365."""

    annual_basis_pct: float = Field(DEFAULT_ANNUAL_BASIS_PCT, allow_inf_nan=False)
    listed_from: UtcTime | None = None


class RecordedDaily(_Spec):
    kind: Literal["recorded_daily"]
    spot_daily: str
    spot_hourly: str | None = None
    futures: dict[str, str] = Field(default_factory=dict)
    synthetic_futures: dict[str, SyntheticCurve] = Field(default_factory=dict)
    futures_volume_ratio: float = Field(1.0, ge=0, allow_inf_nan=False)
    path_vol: float = Field(0.5, gt=0, allow_inf_nan=False)
    u_shape: float = Field(1.5, ge=0, allow_inf_nan=False)
    volume_noise: float = Field(0.35, ge=0, allow_inf_nan=False)


class Segment(_Spec):
    minutes: int = Field(gt=0)
    drift_pct: float = Field(0.0, gt=-100, allow_inf_nan=False)
    vol_bps_per_min: float = Field(0.0, ge=0, allow_inf_nan=False)


class VolumeWindow(_Spec):
    start: UtcTime
    end: UtcTime
    factor: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> VolumeWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class FutureCurve(_Spec):
    """`basis_bps`: [[time, bps], …] anchors, linear between them, constant outside; or
    `annual_basis_pct` as `SyntheticCurve`. `expiry` overrides the date in the symbol."""

    basis_bps: list[tuple[UtcTime, Annotated[float, Field(gt=-10_000, allow_inf_nan=False)]]] | None = \
        Field(None, min_length=1)
    annual_basis_pct: float | None = Field(None, allow_inf_nan=False)
    expiry: UtcTime | None = None
    listed_from: UtcTime | None = None

    @model_validator(mode="after")
    def _one_curve(self) -> FutureCurve:
        if (self.basis_bps is None) == (self.annual_basis_pct is None):
            raise ValueError("give exactly one of 'basis_bps' (anchors) or 'annual_basis_pct'")
        if self.basis_bps and any(b[0] <= a[0] for a, b in zip(self.basis_bps, self.basis_bps[1:])):
            raise ValueError("basis_bps times must be strictly increasing")
        return self


class SyntheticBasis(_Spec):
    """Spot segments tile the window; volume = volume_btc_per_min × a U-shaped profile over the
    UTC day (mean 1) × lognormal noise × the factor of every volume window holding the minute."""

    kind: Literal["synthetic"]
    start_price: float = Field(gt=0, allow_inf_nan=False)
    spot: list[Segment] = Field(min_length=1)
    volume_btc_per_min: float = Field(ge=0, allow_inf_nan=False)
    u_shape: float = Field(1.5, ge=0, allow_inf_nan=False)
    volume_noise: float = Field(0.35, ge=0, allow_inf_nan=False)
    volume_windows: list[VolumeWindow] = Field(default_factory=list)
    futures: dict[str, FutureCurve] = Field(default_factory=dict)
    futures_volume_ratio: float = Field(1.0, ge=0, allow_inf_nan=False)


#: for embedding in a manifest model (pydantic then puts the kind in an error's key path)
BasisMarket = Annotated[RecordedDaily | SyntheticBasis, Field(discriminator="kind")]
_KINDS: dict[str, type[RecordedDaily] | type[SyntheticBasis]] = {
    "recorded_daily": RecordedDaily, "synthetic": SyntheticBasis}


def parse_futures_market(raw: dict, origin: Path) -> RecordedDaily | SyntheticBasis:
    """The `basis_market:` section of a manifest; a ManifestError names the key."""
    if not isinstance(raw, dict):
        raise ManifestError(origin, KEY, "expected a mapping")
    kind = raw.get("kind")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        msg = f"must be one of {', '.join(_KINDS)}, not {kind!r}" if "kind" in raw else "required key is missing"
        raise ManifestError(origin, f"{KEY}.kind", msg)
    try:
        spec = model.model_validate(raw)
    except ValidationError as e:
        raise ManifestError(origin, *validation_key_and_message(e.errors(), prefix=KEY)) from None
    named: list[tuple[str, str, datetime | None]]  # (section, symbol, expiry override)
    if isinstance(spec, RecordedDaily):
        for sym in spec.synthetic_futures:
            if sym in spec.futures:
                raise ManifestError(origin, f"{KEY}.synthetic_futures.{sym}", "also in futures (recorded)")
        named = [("futures", s, None) for s in spec.futures] + [("synthetic_futures", s, None)
                                                                for s in spec.synthetic_futures]
    else:
        named = [("futures", s, c.expiry) for s, c in spec.futures.items()]
    for section, sym, override in named:
        if sym == SPOT_SYMBOL:
            raise ManifestError(origin, f"{KEY}.{section}.{sym}", "is the spot symbol")
        if override is None:
            try:
                expiry_of_symbol(sym)
            except ValueError as e:
                raise ManifestError(origin, f"{KEY}.{section}.{sym}", f"{e} (or give its expiry)") from None
    spec._origin = Path(origin)
    return spec


def files(spec: RecordedDaily | SyntheticBasis) -> list[tuple[str, str]]:
    """(key, path) of every file the spec reads, for the scenario's content hash."""
    if isinstance(spec, SyntheticBasis):
        return []
    out = [(f"{KEY}.spot_daily", spec.spot_daily)]
    if spec.spot_hourly is not None:
        out.append((f"{KEY}.spot_hourly", spec.spot_hourly))
    for sym in sorted(spec.futures, key=lambda s: (expiry_of_symbol(s), s)):
        out.append((f"{KEY}.futures.{sym}", spec.futures[sym]))
    return out


def default_listing_ns(expiry_ns: int) -> int:
    """The delivery two quarters before `expiry_ns`: when a quarterly becomes NEXT."""
    d = _EPOCH + timedelta(microseconds=expiry_ns // 1000)
    q = ((d.month - 1) // 3 + 1) * 3  # a moved delivery keeps its quarter
    y, m = (d.year, q - 6) if q > 6 else (d.year - 1, q + 6)
    return quarterly_expiry_ns(y, m)


# -- reading the daily and hourly files -----------------------------------------------------------

@dataclass(frozen=True)
class _Daily:
    path: Path
    ts: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    row: np.ndarray  # 1-based data row of each bar

    def find(self, day_ns: int) -> int | None:
        i = int(np.searchsorted(self.ts, day_ns))
        return i if i < len(self.ts) and self.ts[i] == day_ns else None


def _read_klines(src: KlinesCsvSource | ParquetSource, path: Path, step: int) -> _Daily:
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("open_ts_ns", "open", "high", "low", "close", "volume")}
    rows: list[np.ndarray] = []
    for row0, b in src.batches():
        for k in cols:
            cols[k].append(b.column(k).to_numpy())
        rows.append(row0 + np.arange(b.num_rows))
    ts, o, h, lo, c, v = (np.concatenate(cols[k]) for k in cols)
    d = _Daily(path, ts, o, h, lo, c, v, np.concatenate(rows))
    bad = np.flatnonzero(d.ts % step != 0)
    if bad.size:
        raise DataFileError(path, f"bar opens at {d.ts[bad[0]]} ns, not on a {step // NS_PER_MIN}-minute boundary",
                            row=int(d.row[bad[0]]))
    bad = np.flatnonzero(np.diff(d.ts) <= 0)
    if bad.size:
        raise DataFileError(path, "bars out of time order or duplicated", row=int(d.row[bad[0] + 1]))
    return d


def _read_daily(path: Path, need_volume: bool) -> _Daily:
    if need_volume and path.is_file():
        names = [f.strip().strip('"').lower() for f in sniff_first_line(path).split(",")]
        if "volume" not in names:
            raise DataFileError(path, f"no volume column (columns: {', '.join(names)})")
    return _read_klines(KlinesCsvSource(path, interval="1d"), path, NS_PER_DAY)


def _check_prices(d: _Daily, idx: np.ndarray, ohlc: bool) -> None:
    """Positive finite prices (and for bars the bridge draws through: O/H/L/C consistent, on
    the 0.01 grid, volume >= 0) on the rows `idx`; a bad row is an error, never repaired."""
    cols = (d.o, d.h, d.lo, d.c) if ohlc else (d.c,)
    for i in idx:
        px = [float(a[i]) for a in cols]
        where = {"path": d.path, "row": int(d.row[i])}
        if not all(np.isfinite(px)) or min(px) <= 0:
            raise DataFileError(message=f"{'open/high/low/close' if ohlc else 'close'} "
                                f"{'/'.join(map(repr, px))} must be positive prices", **where)
        if ohlc:
            o, h, lo, c = px
            if not (lo <= min(o, c) and max(o, c) <= h):
                raise DataFileError(message=f"low {lo} / high {h} do not bound open {o} and close {c}", **where)
            if any(SPOT_GRID.index_exact(x) is None for x in px):
                raise DataFileError(message=f"a price of {px} is not on the {SPOT_GRID.step} grid", **where)
            if not np.isfinite(d.v[i]) or d.v[i] < 0:
                raise DataFileError(message=f"volume {d.v[i]!r} is not a non-negative number", **where)


# -- contracts and days ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Contract:
    symbol: str
    key: str  # the spec key, for errors
    expiry_ns: int
    listing_ns: int
    basis: Callable[[np.ndarray], np.ndarray]  # Unix ns → b


def _anchored(t: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    t0 = int(t[0])
    ts = (t - t0) / NS_PER_S  # seconds from the first anchor: exact in float64, unlike raw ns
    return lambda x: np.interp((np.asarray(x, dtype=np.int64) - t0) / NS_PER_S, ts, b)


def _annual(pct: float, expiry_ns: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: (pct / 100.0) * ((expiry_ns - np.asarray(x, dtype=np.int64)) / NS_PER_DAY) / 365.0


@dataclass(frozen=True)
class _Day:
    """Spot minutes of one UTC day (within the window): prices as floats on the 0.01 grid."""

    ts: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    prev_close: float  # spot close of the minute before ts[0]


def _days(start: int, end: int) -> list[int]:
    return list(range(start - start % NS_PER_DAY, end, NS_PER_DAY))


@dataclass
class _Market:
    seed: int
    start: int
    end: int
    origin: Path
    volume_ratio: float
    contracts: list[_Contract] = field(default_factory=list)
    _cache: dict[int, _Day] = field(default_factory=dict)

    def draw(self, day_ns: int) -> _Day:
        raise NotImplementedError

    @property
    def fallback_days(self) -> tuple[str, ...]:
        return ()

    def day(self, day_ns: int) -> _Day:
        d = self._cache.get(day_ns)
        if d is None:
            d = self._cache[day_ns] = self.draw(day_ns)
            if len(self._cache) > _DAY_CACHE:
                del self._cache[next(iter(self._cache))]
        return d

    def spot_klines(self, day_ns: int) -> pa.RecordBatch:
        d = self.day(day_ns)
        i0, i1 = (int(i) for i in np.searchsorted(d.ts, [self.start, self.end]))  # a recorded day is drawn whole
        return make_batch("klines", {"open_ts_ns": d.ts[i0:i1], "open": d.o[i0:i1], "high": d.h[i0:i1],
                                     "low": d.lo[i0:i1], "close": d.c[i0:i1], "volume": d.v[i0:i1]})

    def future_klines(self, c: _Contract, day_ns: int) -> pa.RecordBatch:
        d = self.day(day_ns)
        i0, i1 = (int(i) for i in np.searchsorted(d.ts, [max(self.start, c.listing_ns), min(self.end, c.expiry_ns)]))
        ts = d.ts[i0:i1]
        if not len(ts):
            return pa.RecordBatch.from_pylist([], schema=KLINES)
        first = ts[0] - max(self.start, c.listing_ns) < NS_PER_MIN  # the contract's very first minute
        prev = d.o[i0] if first else (d.c[i0 - 1] if i0 else d.prev_close)
        g = 1.0 + c.basis(ts + NS_PER_MIN)
        # the same product as the previous minute's close, so open = that close bit for bit
        op0 = _ticks(FUTURE_GRID, np.array([prev]) * (1.0 + c.basis(ts[:1])))
        cl = _ticks(FUTURE_GRID, d.c[i0:i1] * g)
        op = np.concatenate([op0, cl[:-1]])
        hi = np.maximum(np.maximum(op, cl), _ticks(FUTURE_GRID, d.h[i0:i1] * g))
        lo = np.minimum(np.minimum(op, cl), _ticks(FUTURE_GRID, d.lo[i0:i1] * g))
        if lo.min() <= 0:
            i = int(np.argmin(lo))
            raise ManifestError(self.origin, c.key, f"the basis makes the price non-positive at {_iso(int(ts[i]))}")
        v = FUTURE_GRID.values
        return make_batch("klines", {"open_ts_ns": ts, "open": v(op), "high": v(hi), "low": v(lo), "close": v(cl),
                                     "volume": d.v[i0:i1] * self.volume_ratio})


def _ticks(grid: Grid, x: np.ndarray) -> np.ndarray:
    return np.rint(x * grid.den / grid.num).astype(np.int64)  # nearest tick, ties to even


class _RecordedMarket(_Market):
    def __init__(self, spec: RecordedDaily, seed: int, start: int, end: int, origin: Path,
                 resolve: Callable[[str, str], Path]) -> None:
        super().__init__(seed, start, end, origin, spec.futures_volume_ratio)
        self.spec = spec
        self.spot = _read_daily(resolve(spec.spot_daily, f"{KEY}.spot_daily"), need_volume=True)
        idx = []
        for day in _days(start, end):
            i = self.spot.find(day)
            if i is None:
                raise DataFileError(self.spot.path, f"no daily bar for {_date(day)} (the window is "
                                    f"{_iso(start)} to {_iso(end)})")
            idx.append(i)
        _check_prices(self.spot, np.array(idx), ohlc=True)
        self.hourly: pa.Table | None = None
        if spec.spot_hourly is not None:
            path = resolve(spec.spot_hourly, f"{KEY}.spot_hourly")
            h = _read_klines(ParquetSource(path, "klines", interval="1h"), path, NS_PER_HOUR)
            keep = (h.ts >= start - start % NS_PER_DAY) & (h.ts < _days(start, end)[-1] + NS_PER_DAY)
            self.hourly = pa.table({"open_ts_ns": h.ts[keep], "open": h.o[keep], "high": h.h[keep],
                                    "low": h.lo[keep], "close": h.c[keep], "volume": h.v[keep]})
            self._hourly_ts = h.ts[keep]
        self._cal = resolve_calibration(None)
        self._fallbacks: dict[int, str] = {}
        for sym, p in spec.futures.items():
            self.contracts.append(self._recorded(sym, resolve(p, f"{KEY}.futures.{sym}")))
        for sym, curve in spec.synthetic_futures.items():
            e = expiry_of_symbol(sym)
            listing = to_ns(curve.listed_from) if curve.listed_from else default_listing_ns(e)
            self.contracts.append(_Contract(sym, f"{KEY}.synthetic_futures.{sym}", e, listing,
                                            _annual(curve.annual_basis_pct, e)))

    def _recorded(self, sym: str, path: Path) -> _Contract:
        f = _read_daily(path, need_volume=False)
        e = expiry_of_symbol(sym)
        listing = default_listing_ns(e)
        span0, span1 = max(self.start, listing), min(self.end, e)
        c = _Contract(sym, f"{KEY}.futures.{sym}", e, listing, lambda x: np.zeros(len(x)))
        if span0 >= span1:
            return c  # not trading in the window
        # the expiry day's row is partly after delivery, later rows are flat junk: neither is read
        idx = np.flatnonzero((f.ts < e - e % NS_PER_DAY) & (f.ts + NS_PER_DAY > listing))
        if not idx.size:
            raise DataFileError(path, f"no bar between {sym}'s listing {_iso(listing)} and its expiry day")
        _check_prices(f, idx, ohlc=False)
        o0 = float(f.o[idx[0]])  # the first open is an anchor too
        if not np.isfinite(o0) or o0 <= 0:
            raise DataFileError(path, f"open {o0!r} must be a positive price", row=int(f.row[idx[0]]))
        s_close = np.array([self._spot_at(int(t), "close") for t in f.ts[idx]])
        t = np.concatenate([[f.ts[idx[0]]], f.ts[idx] + NS_PER_DAY, [e]])
        b = np.concatenate([[f.o[idx[0]] / self._spot_at(int(f.ts[idx[0]]), "open") - 1.0],
                            f.c[idx] / s_close - 1.0, [0.0]])
        if t[0] < listing:  # the first row's open is a pre-listing mark: hold its close's basis
            t[0], b[0] = listing, b[1]
        if t[0] > span0:
            raise DataFileError(path, f"no bar for {_date(span0)}: {sym} trades from {_iso(span0)} in the window")
        k0, k1 = int(np.searchsorted(t, span0, side="right")) - 1, int(np.searchsorted(t, span1))
        for k in range(k0, k1):
            if t[k + 1] - t[k] > NS_PER_DAY:
                raise DataFileError(path, f"no bar for {_date(int(t[k]))}: {sym} trades from {_iso(span0)} to "
                                    f"{_iso(span1)} in the window")
        for k in range(k0, k1 + 1):
            if not np.isfinite(b[k]):
                raise DataFileError(self.spot.path, f"no daily bar to compute the {sym} basis at {_iso(int(t[k]))}")
        return _Contract(sym, c.key, e, listing, _anchored(t, b))

    def _spot_at(self, day_ns: int, what: str) -> float:
        i = self.spot.find(day_ns)
        if i is None:
            return float("nan")
        px = float(self.spot.o[i] if what == "open" else self.spot.c[i])
        return px if np.isfinite(px) and px > 0 else float("nan")

    @property
    def fallback_days(self) -> tuple[str, ...]:
        return tuple(self._fallbacks[k] for k in sorted(self._fallbacks))

    def draw(self, day_ns: int) -> _Day:
        s, i = self.spot, self.spot.find(day_ns)
        assert i is not None  # every window day was checked
        inner = None
        if self.hourly is not None:
            j0, j1 = (int(j) for j in np.searchsorted(self._hourly_ts, [day_ns, day_ns + NS_PER_DAY]))
            inner = self.hourly.slice(j0, j1 - j0)
        gen = BridgeGenerator(
            [(day_ns, s.o[i], s.h[i], s.lo[i], s.c[i], s.v[i])], NS_PER_DAY,
            component_seed(self.seed, f"basis_market/spot/{_date(day_ns)}"),
            inner=inner, inner_interval_ns=NS_PER_HOUR if inner is not None else None,
            tick_size=SPOT_GRID.step, calibration=self._cal, name=f"{KEY}/{SPOT_SYMBOL}",
            path_vol=self.spec.path_vol, u_shape=self.spec.u_shape, volume_noise=self.spec.volume_noise,
        )
        if gen.fallbacks:
            self._fallbacks[day_ns] = _date(day_ns)
        bp = gen.bar_path(0)
        prev = float(s.c[i - 1]) if i and s.ts[i - 1] == day_ns - NS_PER_DAY else float(s.o[i])
        g = SPOT_GRID.values
        return _Day(day_ns + np.arange(MIN_PER_DAY, dtype=np.int64) * NS_PER_MIN, g(bp.mo), g(bp.mh), g(bp.ml),
                    g(bp.mc), bp.mv, prev)


class _SyntheticMarket(_Market):
    def __init__(self, spec: SyntheticBasis, seed: int, start: int, end: int, origin: Path) -> None:
        super().__init__(seed, start, end, origin, spec.futures_volume_ratio)
        self.spec = spec
        n = sum(s.minutes for s in spec.spot)
        if n * NS_PER_MIN != end - start:
            raise ManifestError(origin, f"{KEY}.spot", f"the segments cover {n} minutes, the window {_iso(start)} "
                                f"to {_iso(end)} {(end - start) // NS_PER_MIN} minutes: they must tile it")
        self.bounds = np.concatenate([[0], np.cumsum([s.minutes for s in spec.spot])])
        self.levels = [spec.start_price]
        for s in spec.spot:
            self.levels.append(self.levels[-1] * (1.0 + s.drift_pct / 100.0))
        self._segments: dict[int, tuple[np.ndarray, ...]] = {}
        self.windows = [(to_ns(w.start), to_ns(w.end), w.factor) for w in spec.volume_windows]
        x = (np.arange(MIN_PER_DAY) + 0.5) / MIN_PER_DAY
        u = 1.0 + spec.u_shape * (2.0 * x - 1.0) ** 2
        self.profile = u / u.mean()  # mean 1 over the UTC day: volume_btc_per_min is the day's average
        for sym, fc in spec.futures.items():
            e = to_ns(fc.expiry) if fc.expiry else expiry_of_symbol(sym)
            listing = to_ns(fc.listed_from) if fc.listed_from else default_listing_ns(e)
            if fc.basis_bps:
                basis = _anchored(np.array([to_ns(t) for t, _ in fc.basis_bps], dtype=np.int64),
                                  np.array([bps / 10_000.0 for _, bps in fc.basis_bps]))
            else:
                assert fc.annual_basis_pct is not None
                basis = _annual(fc.annual_basis_pct, e)
            self.contracts.append(_Contract(sym, f"{KEY}.futures.{sym}", e, listing, basis))

    def _segment(self, k: int) -> tuple[np.ndarray, ...]:
        """Segment k's minute open/high/low/close in ticks (a few segments cached)."""
        got = self._segments.get(k)
        if got is not None:
            return got
        seg = self.spec.spot[k]
        n = seg.minutes
        rng = component_rng(self.seed, f"basis_market/spot/segment/{k}")
        z = rng.standard_normal(n)
        wick = np.abs(rng.standard_normal((2, n)))
        p0, p1 = self.levels[k], self.levels[k + 1]
        j = np.arange(1, n + 1) / n
        line = p0 + (p1 - p0) * j
        line[-1] = p1  # the next segment opens on exactly this level
        sig = seg.vol_bps_per_min / 10_000.0
        w = np.cumsum(z * sig)
        dev = w - j * w[-1]  # a Brownian bridge: pinned to the line at both ends
        dev[-1] = 0.0
        c = _ticks(SPOT_GRID, line * (1.0 + dev))
        o = np.concatenate([_ticks(SPOT_GRID, np.array([p0])), c[:-1]])
        # a minute's path strays beyond its open/close by about half its own σ
        reach = 0.5 * sig * line / SPOT_GRID.step
        h = np.maximum(o, c) + np.rint(wick[0] * reach).astype(np.int64)
        lo = np.minimum(o, c) - np.rint(wick[1] * reach).astype(np.int64)
        if lo.min() <= 0:
            raise ManifestError(self.origin, f"{KEY}.spot.{k}", "the price path falls to zero or below: lower "
                                "vol_bps_per_min or the drift")
        self._segments[k] = (o, h, lo, c)
        if len(self._segments) > 4:
            del self._segments[next(iter(self._segments))]
        return o, h, lo, c

    def draw(self, day_ns: int) -> _Day:
        a, b = max(day_ns, self.start), min(day_ns + NS_PER_DAY, self.end)
        m0, m1 = (a - self.start) // NS_PER_MIN, (b - self.start) // NS_PER_MIN
        parts: list[list[np.ndarray]] = [[], [], [], []]
        k = int(np.searchsorted(self.bounds, m0, side="right")) - 1
        while k < len(self.spec.spot) and self.bounds[k] < m1:
            s0, s1 = max(m0, self.bounds[k]) - self.bounds[k], min(m1, self.bounds[k + 1]) - self.bounds[k]
            for part, arr in zip(parts, self._segment(k)):
                part.append(arr[s0:s1])
            k += 1
        o, h, lo, c = (SPOT_GRID.values(np.concatenate(p)) for p in parts)
        ts = a + np.arange(m1 - m0, dtype=np.int64) * NS_PER_MIN
        # volume noise drawn for the whole UTC day, so it does not depend on where the window starts
        rng = component_rng(self.seed, f"basis_market/volume/{_date(day_ns)}")
        sd = self.spec.volume_noise
        noise = np.exp(sd * rng.standard_normal(MIN_PER_DAY) - sd * sd / 2.0)
        i0 = (a - day_ns) // NS_PER_MIN
        v = self.spec.volume_btc_per_min * (self.profile * noise)[i0:i0 + len(ts)]
        for ws, we, factor in self.windows:
            v = np.where((ts >= ws) & (ts < we), v * factor, v)
        return _Day(ts, o, h, lo, c, v, float(o[0]))


# -- the sources ----------------------------------------------------------------------------------

class DayKlines(GeneratedSource):
    """1-minute klines of one instrument, one UTC day per batch, drawn when asked for."""

    def __init__(self, symbol: str, days: list[int], make: Callable[[int], pa.RecordBatch], market: _Market) -> None:
        super().__init__("klines", f"synthetic:{KEY}/{symbol}/klines_1m", len(days), lambda i: make(days[i]),
                         interval_ns=NS_PER_MIN)
        self.symbol = symbol
        self.days = tuple(days)
        self._market = market

    @property
    def fallback_days(self) -> tuple[str, ...]:
        """Recorded spot: the days drawn so far whose hourly bars did not tile the daily bar."""
        return self._market.fallback_days


def build_futures_market(spec: RecordedDaily | SyntheticBasis, *, seed: int, start_ns: int, end_ns: int,
                       resolve: Callable[[str, str], Path]) -> dict[str, BatchSource]:
    """{symbol: klines source}: spot first, then the futures by expiry (a future not trading in
    the window has a source with no batches). Reads and checks the files now, draws lazily."""
    origin = spec._origin or Path(f"<{KEY}>")
    if end_ns <= start_ns or start_ns % NS_PER_MIN or end_ns % NS_PER_MIN:
        raise ManifestError(origin, "window", "start and end must be whole minutes, end after start")
    market: _Market
    if isinstance(spec, RecordedDaily):
        market = _RecordedMarket(spec, seed, start_ns, end_ns, origin, resolve)
    else:
        market = _SyntheticMarket(spec, seed, start_ns, end_ns, origin)
    out: dict[str, BatchSource] = {SPOT_SYMBOL: DayKlines(SPOT_SYMBOL, _days(start_ns, end_ns), market.spot_klines,
                                                          market)}
    for c in sorted(market.contracts, key=lambda c: (c.expiry_ns, c.symbol)):
        s0, s1 = max(start_ns, c.listing_ns), min(end_ns, c.expiry_ns)
        out[c.symbol] = DayKlines(c.symbol, _days(s0, s1) if s0 < s1 else [],
                                  lambda day, c=c: market.future_klines(c, day), market)
    return out


def expiries(spec: RecordedDaily | SyntheticBasis) -> dict[str, int]:
    """Delivery time (Unix ns) of every quarterly of the market: a synthetic contract's own
    `expiry` where it gives one, else the date in its symbol."""
    if isinstance(spec, SyntheticBasis):
        return {s: to_ns(c.expiry) if c.expiry else expiry_of_symbol(s) for s, c in spec.futures.items()}
    return {s: expiry_of_symbol(s) for s in [*spec.futures, *spec.synthetic_futures]}


def synthetic_contracts(spec: RecordedDaily | SyntheticBasis) -> tuple[str, ...]:
    """The recorded market's contracts that have no recorded prices (drawn from a curve)."""
    return tuple(sorted(getattr(spec, "synthetic_futures", {}) or {}))
