"""The scripted segments a synthetic scenario is made of, and how each one draws its price path.

A scenario's market is a list of segments played one after the other ("rotate in a range for
240 minutes", "poke below the range low and close back inside with buying initiative", "three
closes above the range high", "flash crash", "feed goes stale for 90 s", …). Each segment is a
frozen pydantic model with a `type` tag, so a YAML list of mappings validates into them with
one-line errors. Each draws, from its own seeded RNG, the 1-second mid path of its window (in
ticks) and the regime its ticks are drawn in (activity, side mix, book imbalance, spread
widening, prints that must happen), and reports what it did in the plan (`info`).

Durations are whole minutes, so with a minute-aligned start every segment starts on a minute
boundary and "the minute" of a segment is a minute bar of the engine.

"Recent range" (`sim.scenario.paths.recent_range`) is the 15th–85th percentile band of the mid
over the last 240 generated minutes: the generator's stand-in for the value area, which the
engine computes exactly from traded volume later. Segments aimed at its edges keep a margin of
several ticks; scenarios checked against the engine's VA should leave room for the difference.

To add a segment type: subclass `SegmentBase` with a `type: Literal[...]` tag, implement
`duration_s` and `render`, and add the class to `Segment` below.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, TypeAdapter, ValidationError, model_validator

from sim.core.errors import ManifestError
from sim.scenario.paths import bridge, bridges, fold, fold_side, walk
from sim.scenario.segment_base import Context, Rendered, SegmentBase, Side, Span, initiative_regime

__all__ = [
    "SEGMENT_TYPES", "Context", "Drift", "FlashCrash", "Gap", "HoldOutside", "Poke", "Quiet", "Rendered", "Rotate",
    "Segment", "SegmentBase", "Span", "Stale", "Walk", "parse_segments",
]


class Walk(SegmentBase):
    """A plain random walk at the calibrated volatility: filler between scripted events."""

    type: Literal["walk"] = "walk"
    minutes: int = Field(gt=0)

    @property
    def duration_s(self) -> int:
        return self.minutes * 60

    def render(self, ctx: Context) -> Rendered:
        n = self.duration_s
        x = walk(ctx.rng, ctx.mid, n, ctx.sigma(self.vol_mult), ctx.move_frac)
        return Rendered(x, [self._base(n)])


class Quiet(Walk):
    """Low activity: few trades and quotes and a slow mid (e.g. a weekend night, or the low-volume
    stretch that must not trigger signals). `activity` and `vol_mult` default low."""

    type: Literal["quiet"] = "quiet"  # type: ignore[assignment]
    activity: float = Field(0.2, ge=0)
    vol_mult: float = Field(0.3, ge=0)


class Rotate(SegmentBase):
    """A mean-reverting range: the mid rotates around `center` within ± the half-width. Builds the
    balanced profile (value area) the value-area rules need before anything else can happen.

    The minute closes follow an AR(1) towards the center whose stationary spread is half the
    half-width, the seconds in between are bridges, and the whole is reflected into the band
    (widened to include the start when an explicit center lies away from it). Half-width:
    `half_width_ticks` or `half_width_bps` (default 25 bps), not both.
    """

    type: Literal["rotate"] = "rotate"
    minutes: int = Field(gt=0)
    center: float | Literal["current"] = "current"
    half_width_ticks: float | None = Field(None, gt=0)
    half_width_bps: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_width(self) -> Rotate:
        if self.half_width_ticks is not None and self.half_width_bps is not None:
            raise ValueError("give half_width_ticks or half_width_bps, not both")
        if isinstance(self.center, float) and self.center <= 0:
            raise ValueError("center must be a positive price or 'current'")
        return self

    @property
    def duration_s(self) -> int:
        return self.minutes * 60

    def render(self, ctx: Context) -> Rendered:
        c = ctx.mid if self.center == "current" else ctx.ticks(float(self.center))
        if self.half_width_ticks is not None:
            hw = float(self.half_width_ticks)
        else:
            hw = ctx.bps(25.0 if self.half_width_bps is None else self.half_width_bps)
        sig = ctx.sigma(self.vol_mult)
        sm = sig * math.sqrt(60.0)
        # the AR(1) coefficient that makes the stationary standard deviation hw / 2
        phi = math.sqrt(max(0.0, 1.0 - (2.0 * sm / hw) ** 2))
        z = ctx.rng.standard_normal(self.minutes)
        a = np.empty(self.minutes + 1)
        a[0] = ctx.mid
        for i in range(self.minutes):
            a[i + 1] = c + phi * (a[i] - c) + sm * z[i]
        x = bridges(ctx.rng, a, 60, sig, ctx.move_frac)
        lo, hi = min(c - hw, ctx.mid), max(c + hw, ctx.mid)
        x = fold(x, lo, hi)
        info = {"center": ctx.price(c), "band_lo": ctx.price(lo), "band_hi": ctx.price(hi)}
        return Rendered(x, [self._base(len(x))], info=info)


class Drift(SegmentBase):
    """A trend: the mid moves `move_bps` (signed) over the segment and ends exactly there, with
    the calibrated noise around the straight line (a Brownian bridge)."""

    type: Literal["drift"] = "drift"
    minutes: int = Field(gt=0)
    move_bps: float = Field(gt=-10_000)

    @property
    def duration_s(self) -> int:
        return self.minutes * 60

    def render(self, ctx: Context) -> Rendered:
        n = self.duration_s
        end = ctx.mid * (1.0 + self.move_bps / 1e4)
        x = bridge(ctx.rng, ctx.mid, end, n, ctx.sigma(self.vol_mult), ctx.move_frac)
        return Rendered(x, [self._base(n)], info={"end_mid": ctx.price(end)})


class Poke(SegmentBase):
    """An excursion beyond the recent range's `low` (or `high`) edge by `beyond_ticks` and back
    inside within the same minute: the failed breakdown (breakout) of the value-area fade rules.

    `approach_minutes` bring the mid just inside the edge; then, in the poke minute, the mid runs
    to `beyond_ticks` past the edge (a print there is forced, so the minute's low really is
    below the edge), dwells 3 s, and comes back to close at least `close_inside_ticks` inside
    (the minute's last print is forced inside). The poke minute has the `initiative`: that
    share of taker prints on its side and bid/ask sizes skewed by exp(±imbalance); by default
    the initiative points back inside (buying after a poke below the low). `after_minutes`
    wander inside. The plan reports the edge, the range, and the poke minute's start.
    """

    type: Literal["poke"] = "poke"
    side: Literal["low", "high"]
    beyond_ticks: float = Field(10.0, gt=0)
    close_inside_ticks: float = Field(5.0, ge=0)
    approach_minutes: int = Field(3, ge=0)
    after_minutes: int = Field(0, ge=0)
    initiative: Side | None = None
    initiative_share: float = Field(0.75, ge=0.5, le=1.0)
    imbalance: float = Field(1.0, ge=0)

    @property
    def duration_s(self) -> int:
        return (self.approach_minutes + 1 + self.after_minutes) * 60

    def render(self, ctx: Context) -> Rendered:
        lo, hi = ctx.recent_range("poke")
        edge, out_dir = (lo, -1) if self.side == "low" else (hi, 1)
        mg = ctx.margin()
        sig = ctx.sigma(self.vol_mult)
        rng = ctx.rng
        extreme = edge + out_dir * self.beyond_ticks
        hold = edge - out_dir * (self.close_inside_ticks + mg)
        parts = []
        cur = ctx.mid
        a_s = self.approach_minutes * 60
        if a_s:
            x = bridge(rng, cur, hold, a_s, sig, ctx.move_frac)
            guard = edge - out_dir * mg
            if (guard - cur) * out_dir >= 0:  # started inside: keep the approach inside
                x = fold_side(x, guard, keep=-out_dir)
            parts.append(x)
            cur = float(x[-1])
        t_ext = int(rng.integers(15, 31))
        t_rec = t_ext + 3 + int(rng.integers(8, 16))
        calm = sig * 0.25
        parts.append(bridge(rng, cur, extreme, t_ext, calm))
        parts.append(np.full(3, extreme))
        parts.append(bridge(rng, extreme, hold, t_rec - t_ext - 3, calm))
        parts.append(fold_side(walk(rng, hold, 60 - t_rec, calm, ctx.move_frac), hold, keep=-out_dir))
        if self.after_minutes:
            w = walk(rng, hold, self.after_minutes * 60, sig, ctx.move_frac)
            parts.append(fold_side(w, hold, keep=-out_dir))
        x = np.concatenate(parts)
        buy_frac, imb, sign = initiative_regime(
            self.initiative, "buy" if out_dir < 0 else "sell", self.initiative_share, self.imbalance
        )
        base = self._base(len(x))
        poke = Span(a_s, a_s + 60, self.activity * 1.5, self.activity, buy_frac, imb)
        info = {
            "range_lo": ctx.price(lo),
            "range_hi": ctx.price(hi),
            "edge": ctx.price(edge),
            "extreme": ctx.price(extreme),
            "close_level": ctx.price(edge - out_dir * self.close_inside_ticks),
            "poke_minute_ns": ctx.ns(a_s),
            "initiative": "buy" if sign > 0 else "sell",
        }
        forced = [(a_s + t_ext + 1, out_dir), (a_s + 59, -out_dir)]
        return Rendered(x, [base, poke], forced_trades=forced, info=info)


class HoldOutside(SegmentBase):
    """`closes` consecutive minute closes beyond the recent range's `high` (or `low`) edge by at
    least `beyond_ticks`: the acceptance outside value that value-area breakout rules wait for.

    `approach_minutes` bring the mid just inside the edge (their closes stay inside); the first
    hold minute crosses out within its first 20 s and the mid is then kept far enough beyond the
    edge, for `closes` minutes, that no bid or ask comes within `beyond_ticks` of it; each minute
    ends with a forced print in the breakout's direction, so each close is beyond. The hold
    minutes have the `initiative` (default: the breakout's direction). The plan reports the edge
    and the first hold minute.
    """

    type: Literal["hold_outside"] = "hold_outside"
    side: Literal["high", "low"]
    closes: int = Field(3, ge=1)
    beyond_ticks: float = Field(10.0, gt=0)
    approach_minutes: int = Field(2, ge=0)
    initiative: Side | None = None
    initiative_share: float = Field(0.65, ge=0.5, le=1.0)
    imbalance: float = Field(0.7, ge=0)

    @property
    def duration_s(self) -> int:
        return (self.approach_minutes + self.closes) * 60

    def render(self, ctx: Context) -> Rendered:
        lo, hi = ctx.recent_range("hold_outside")
        edge, out_dir = (hi, 1) if self.side == "high" else (lo, -1)
        mg = ctx.margin()
        sig = ctx.sigma(self.vol_mult)
        rng = ctx.rng
        barrier = edge + out_dir * (self.beyond_ticks + mg)
        parts = []
        cur = ctx.mid
        a_s = self.approach_minutes * 60
        if a_s:
            guard = edge - out_dir * mg
            x = bridge(rng, cur, guard - out_dir * 2.0, a_s, sig, ctx.move_frac)
            if (guard - cur) * out_dir >= 0:
                x = fold_side(x, guard, keep=-out_dir)
            parts.append(x)
            cur = float(x[-1])
        t_x = int(rng.integers(5, 21))
        parts.append(bridge(rng, cur, barrier + out_dir * 3.0, t_x, sig * 0.5))
        w = walk(rng, barrier + out_dir * 3.0, self.closes * 60 - t_x, sig, ctx.move_frac)
        parts.append(fold_side(w, barrier, keep=out_dir))
        x = np.concatenate(parts)
        buy_frac, imb, sign = initiative_regime(
            self.initiative, "buy" if out_dir > 0 else "sell", self.initiative_share, self.imbalance
        )
        spans = [self._base(len(x)), Span(a_s, len(x), self.activity, self.activity, buy_frac, imb)]
        forced = [(a_s + 60 * i + 59, out_dir) for i in range(self.closes)]
        info = {
            "range_lo": ctx.price(lo),
            "range_hi": ctx.price(hi),
            "edge": ctx.price(edge),
            "close_beyond": ctx.price(edge + out_dir * self.beyond_ticks),
            "first_hold_minute_ns": ctx.ns(a_s),
            "initiative": "buy" if sign > 0 else "sell",
        }
        return Rendered(x, spans, forced_trades=forced, info=info)


class Gap(SegmentBase):
    """The price jumps through `level` with no print within `clear_ticks` of it; quotes jump too.
    For "gap through VAH without trades near it" (a price the profile never traded).

    `level` is a price, or `high`/`low` for the recent range's edge; `direction` defaults to
    away from the current price (up for `high`). `approach_minutes` move the mid to the near
    side, clear of the zone (and keep it there from the moment it is clear); then the mid jumps
    to `jump_ticks` past the far side and stays clear for `after_minutes`. No print inside the
    zone from the plan's `clear_from_ns` (the segment start when the approach starts clear) to
    the segment's end.
    """

    type: Literal["gap"] = "gap"
    level: float | Literal["high", "low"]
    direction: Literal["up", "down"] | None = None
    clear_ticks: float = Field(20.0, gt=0)
    jump_ticks: float = Field(10.0, ge=0)
    approach_minutes: int = Field(2, ge=1)
    after_minutes: int = Field(5, ge=1)

    @property
    def duration_s(self) -> int:
        return (self.approach_minutes + self.after_minutes) * 60

    def render(self, ctx: Context) -> Rendered:
        info: dict[str, float | int | str] = {}
        if isinstance(self.level, str):
            lo, hi = ctx.recent_range("gap")
            lvl = hi if self.level == "high" else lo
            info.update(range_lo=ctx.price(lo), range_hi=ctx.price(hi))
            default = "up" if self.level == "high" else "down"
        else:
            lvl = ctx.ticks(float(self.level))
            default = "up" if lvl > ctx.mid else "down"
        d = 1 if (self.direction or default) == "up" else -1
        mg = ctx.margin()
        sig = ctx.sigma(self.vol_mult)
        near = lvl - d * (self.clear_ticks + mg)
        far = lvl + d * (self.clear_ticks + mg)
        a_s = self.approach_minutes * 60
        x = bridge(ctx.rng, ctx.mid, near - d * self.jump_ticks, a_s, sig, ctx.move_frac)
        clear = (near - x) * d >= 0
        i0 = int(np.argmax(clear))
        x[i0:] = fold_side(x[i0:], near, keep=-d)
        y = walk(ctx.rng, far + d * self.jump_ticks, self.after_minutes * 60, sig, ctx.move_frac)
        y = fold_side(y, far, keep=d)
        info.update(
            level=ctx.price(lvl),
            direction="up" if d > 0 else "down",
            clear_ticks=float(self.clear_ticks),
            clear_from_ns=ctx.ns(i0),
            jump_ns=ctx.ns(a_s),
        )
        n = a_s + len(y)
        return Rendered(np.concatenate([x, y]), [self._base(n)], forced_quotes=[i0, a_s], info=info)


class FlashCrash(SegmentBase):
    """A drop of at least `drop_bps` in `drop_seconds` and a partial recovery (`recovery_frac` of
    the drop over `recovery_seconds`): stops, kill switch and slippage under stress.

    Starts `offset_seconds` into the segment; during the drop prints are mostly sells
    (`sell_share`), activity triples, spreads widen by `widen_ticks` and bids thin out; the
    trough (1 tick below the exact drop) holds 2 s with a forced sell there. The segment lasts
    `minutes` (default: just long enough), the rest a walk. The plan reports the mid the drop
    started from (`start_mid`) and the trough.
    """

    type: Literal["flash_crash"] = "flash_crash"
    drop_bps: float = Field(gt=0, lt=10_000)
    drop_seconds: int = Field(20, ge=1)
    recovery_frac: float = Field(0.5, ge=0, le=1)
    recovery_seconds: int = Field(60, ge=1)
    offset_seconds: int = Field(0, ge=0)
    minutes: int | None = Field(None, gt=0)
    widen_ticks: int = Field(2, ge=0)
    sell_share: float = Field(0.85, ge=0.5, le=1.0)

    @property
    def _needed_s(self) -> int:
        return self.offset_seconds + self.drop_seconds + 2 + self.recovery_seconds

    @model_validator(mode="after")
    def _fits(self) -> FlashCrash:
        if self.minutes is not None and self.minutes * 60 < self._needed_s:
            raise ValueError(f"minutes too short: the crash needs {self._needed_s} s")
        return self

    @property
    def duration_s(self) -> int:
        return (self.minutes if self.minutes is not None else -(-self._needed_s // 60)) * 60

    def render(self, ctx: Context) -> Rendered:
        rng = ctx.rng
        sig = ctx.sigma(self.vol_mult)
        off, drop, rec = self.offset_seconds, self.drop_seconds, self.recovery_seconds
        pre = walk(rng, ctx.mid, off, sig, ctx.move_frac)
        p0 = float(pre[-1]) if off else ctx.mid
        trough = p0 * (1.0 - self.drop_bps / 1e4) - 1.0
        top = trough + self.recovery_frac * (p0 - trough)
        crash = bridge(rng, p0, trough, drop, sig * 0.5)
        recovery = bridge(rng, trough, top, rec, sig)
        rest = walk(rng, top, self.duration_s - self._needed_s, sig, ctx.move_frac)
        x = np.concatenate([pre, crash, np.full(2, trough), recovery, rest])
        a = self.activity
        spans = [
            self._base(len(x)),
            Span(off, off + drop + 2, 3 * a, 2 * a, 1.0 - self.sell_share, -1.0, self.widen_ticks),
            Span(off + drop + 2, self._needed_s, 2 * a, 1.5 * a, 0.6, 0.3, 0),
        ]
        info = {
            "start_mid": ctx.price(p0),
            "trough": ctx.price(trough),
            "crash_ns": ctx.ns(off),
            "trough_ns": ctx.ns(off + drop),
        }
        return Rendered(x, spans, forced_trades=[(off + drop, -1)], info=info)

    def max_spread_add(self) -> int:
        return self.widen_ticks


class Stale(SegmentBase):
    """The feed goes silent: no quotes and no trades for `seconds`, starting `offset_seconds`
    into the segment, while the market moves on (the mid walks, so the first quote after the
    silence may be elsewhere). For stale-data guards and reconnect handling. The segment
    lasts `minutes` (default: the whole minutes covering the silence)."""

    type: Literal["stale"] = "stale"
    seconds: int = Field(ge=1)
    offset_seconds: int = Field(0, ge=0)
    minutes: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _fits(self) -> Stale:
        if self.minutes is not None and self.minutes * 60 < self.offset_seconds + self.seconds:
            raise ValueError("minutes too short for offset_seconds + seconds")
        return self

    @property
    def duration_s(self) -> int:
        need = self.offset_seconds + self.seconds
        return (self.minutes if self.minutes is not None else -(-need // 60)) * 60

    def render(self, ctx: Context) -> Rendered:
        n = self.duration_s
        x = walk(ctx.rng, ctx.mid, n, ctx.sigma(self.vol_mult), ctx.move_frac)
        a, b = self.offset_seconds, self.offset_seconds + self.seconds
        info = {"stale_from_ns": ctx.ns(a), "stale_to_ns": ctx.ns(b)}
        return Rendered(x, [self._base(n), Span(a, b, 0.0, 0.0)], info=info)


Segment = Annotated[
    Union[Walk, Quiet, Rotate, Drift, Poke, HoldOutside, Gap, FlashCrash, Stale],
    Field(discriminator="type"),
]
SEGMENT_TYPES: tuple[str, ...] = (
    "walk", "quiet", "rotate", "drift", "poke", "hold_outside", "gap", "flash_crash", "stale",
)
_LIST = TypeAdapter(list[Segment])


def parse_segments(
    data: list[Any], origin: Path | str | None = None, key: str = "synthetic.segments"
) -> list[SegmentBase]:
    """Validates a list of segment mappings (or models). A bad one is a one-line error naming
    `key[i].field`: a `ManifestError` for the file `origin` when given, else a ValueError."""
    try:
        return list(_LIST.validate_python(list(data)))
    except ValidationError as e:
        err = e.errors()[0]
        loc = list(err["loc"])
        where = key
        if loc and isinstance(loc[0], int):
            where += f"[{loc[0]}]"
            loc = loc[1:]
            if loc and loc[0] in SEGMENT_TYPES:  # the union's tag adds a level
                loc = loc[1:]
        if loc:
            where += "." + ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown segment type {err.get('input', {}).get('type')!r} (known: {', '.join(SEGMENT_TYPES)})"
        elif err["type"] == "union_tag_not_found":
            msg = f"missing 'type' (one of: {', '.join(SEGMENT_TYPES)})"
        else:
            msg = err["msg"]
        if origin is not None:
            raise ManifestError(origin, where, msg) from None
        raise ValueError(f"{where}: {msg}") from None
