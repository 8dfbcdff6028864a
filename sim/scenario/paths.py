"""Building blocks of the generators' price paths: exact price/size grids, seeded random walks
and bridges at 1-second resolution, reflection into bands, and the scenario's "recent range".

Paths are float arrays in units of ticks (price / tick). They become prices only through
`Grid`, which maps integer indices to floats exactly (`28145.3` stays `28145.3`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

#: the recent range looks back this many seconds (240 minutes: the spec's rolling value-area window)
RANGE_LOOKBACK_S = 240 * 60
#: the recent range is the [15th, 85th] percentile band of the mid: ~70 % of the time, as a
#: value area holds ~70 % of the volume
RANGE_PERCENTILES = (15.0, 85.0)


@dataclass(frozen=True)
class Grid:
    """A price or size grid `step = num / den`; index `i` is the value `i * num / den`.

    The float of an index is one correctly rounded division of two exact integers, so it is
    the float nearest the decimal value, the same float a parser gives for its decimal text.
    """

    num: int
    den: int

    @classmethod
    def of(cls, step: float) -> Grid:
        f = Fraction(repr(float(step)))
        if f <= 0 or f.denominator > 10**12:
            raise ValueError(f"grid step {step!r} is not a positive decimal")
        return cls(f.numerator, f.denominator)

    @property
    def step(self) -> float:
        return self.num / self.den

    def values(self, idx: np.ndarray) -> np.ndarray:
        x = idx.astype(np.float64)
        if self.num != 1:
            x = x * self.num
        return x / self.den

    def value(self, i: int) -> float:
        return (i * self.num) / self.den

    def index(self, value: float) -> int:
        return int(round(value * self.den / self.num))

    def index_exact(self, value: float) -> int | None:
        """The index of `value`, or None when `value` is not on the grid."""
        i = self.index(value)
        return i if self.value(i) == value else None


def steps(rng: np.random.Generator, n: int, sigma: float, move_frac: float = 1.0) -> np.ndarray:
    """`n` 1-second increments with standard deviation `sigma`.

    A share `move_frac` of seconds moves and the rest stand still (as the real mid does: it
    stays put for three seconds out of four), the moving ones scaled up to keep the variance.
    The number of draws depends only on `n`, so a parameter change never shifts later draws.
    """
    z = rng.standard_normal(n)
    u = rng.random(n)
    if move_frac >= 1.0:
        return z * sigma
    return np.where(u < move_frac, z * (sigma / math.sqrt(move_frac)), 0.0)


def walk(rng: np.random.Generator, start: float, n: int, sigma: float, move_frac: float = 1.0) -> np.ndarray:
    """A random walk's values for the `n` seconds after the one at `start`."""
    return start + np.cumsum(steps(rng, n, sigma, move_frac))


def bridge(
    rng: np.random.Generator, start: float, end: float, n: int, sigma: float, move_frac: float = 1.0
) -> np.ndarray:
    """A Brownian bridge's values for the `n` seconds after `start`; the last one is `end`."""
    if n <= 0:
        return np.empty(0)
    w = np.cumsum(steps(rng, n, sigma, move_frac))
    k = np.arange(1, n + 1) / n
    x = start + (end - start) * k + (w - k * w[-1])
    x[-1] = end
    return x


def bridges(
    rng: np.random.Generator, anchors: np.ndarray, per: int, sigma: float, move_frac: float = 1.0
) -> np.ndarray:
    """Bridges between consecutive `anchors`, `per` seconds each (anchors[0] is the second
    before the first value); the value ending piece i is exactly anchors[i + 1]."""
    m = len(anchors) - 1
    if m <= 0:
        return np.empty(0)
    w = np.cumsum(steps(rng, m * per, sigma, move_frac).reshape(m, per), axis=1)
    k = np.arange(1, per + 1) / per
    a0, a1 = anchors[:-1, None], anchors[1:, None]
    x = a0 + (a1 - a0) * k + (w - k * w[:, -1:])
    x[:, -1] = anchors[1:]
    return x.reshape(-1)


def fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflects `x` into [lo, hi] (a reflected walk stays a walk; points inside are kept)."""
    if hi <= lo:
        return np.full_like(x, lo)
    w = hi - lo
    y = np.mod(x - lo, 2 * w)
    return lo + np.where(y > w, 2 * w - y, y)


def fold_side(x: np.ndarray, barrier: float, keep: int) -> np.ndarray:
    """Reflects `x` off `barrier` to stay on one side: keep=+1 above it, keep=-1 below it."""
    if keep > 0:
        return np.where(x < barrier, 2 * barrier - x, x)
    return np.where(x > barrier, 2 * barrier - x, x)


def recent_range(history: np.ndarray) -> tuple[float, float]:
    """The [15th, 85th] percentile of the mid over the last 240 minutes of `history`.

    A stand-in for the value area that the generator can compute from its own path before any
    trade exists; the engine computes the exact VA from traded volume later, so scenarios must
    leave a margin (a few ticks) rather than rely on the two agreeing to the tick.
    """
    tail = history[-RANGE_LOOKBACK_S:]
    lo, hi = np.percentile(tail, RANGE_PERCENTILES)
    return float(lo), float(hi)
