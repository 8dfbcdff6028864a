"""Calibration of the synthetic tick generator on the real Binance USD-M BTCUSDT tick windows.

`calibrate(data_root)` measures, on `<data root>/binance/l1_trades_csv/` (two ~8-minute windows
of trades and best bid/ask), the numbers the generators draw from: trade rate and burstiness,
trade size distribution, spread distribution, quote update rate, L1 size distribution and the
1-second mid volatility. The result is committed as
`scenarios/calibration/binance_usdm_btcusdt.json`; the generators load that file, so they work
on a machine without the data, and a test recomputes it from the data to prove it is current.

Regenerate with `python -m sim.scenario.calibration --write`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
from pydantic import BaseModel, ConfigDict, Field

REPO = Path(__file__).resolve().parent.parent.parent
CALIBRATION_FILE = REPO / "scenarios" / "calibration" / "binance_usdm_btcusdt.json"
SOURCE_DIR = Path("binance") / "l1_trades_csv"
WINDOWS = ("usdm_btcusdt_2023-04-04T2358", "usdm_btcusdt_2024-07-18T2357")
TICK_SIZE = 0.1
SIZE_STEP = 0.001
#: spread buckets 1 … SPREAD_BUCKETS ticks; the last one holds every wider spread
SPREAD_BUCKETS = 10


def round_sig(x: float, digits: int = 6) -> float:
    """`x` rounded to `digits` significant digits (through its decimal repr, so it round-trips)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def _rounded(v: Any) -> Any:
    if isinstance(v, bool) or isinstance(v, int):
        return v
    if isinstance(v, float):
        return round_sig(v)
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_rounded(x) for x in v]
    return v


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    start_ms: int
    end_ms: int
    trades: int
    quotes: int


class Calibration(BaseModel):
    """Measured market microstructure numbers. Rates per second; sizes in BTC; logs natural.

    Every float is rounded to 6 significant digits on construction through `calibrate` or
    `load_calibration`, so the in-memory object equals the committed file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    windows: tuple[Window, ...]
    tick_size: float = Field(gt=0)
    size_step: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    #: trade prints per second
    trade_rate_per_s: float = Field(ge=0)
    #: share of prints stamped with the same millisecond as the print before (one taker order
    #: filling several makers)
    same_ms_trade_frac: float = Field(ge=0, lt=1)
    #: share of prints with the buyer as taker (informational: the generator's baseline is 0.5)
    buy_frac: float = Field(ge=0, le=1)
    trade_size_log_mu: float
    trade_size_log_sigma: float = Field(ge=0)
    trade_size_median: float = Field(gt=0)
    #: quote (best bid/ask) updates per second
    quote_rate_per_s: float = Field(ge=0)
    #: share of quote updates with a spread of 1, 2, … ticks; the last bucket is "that or wider"
    spread_ticks_share: tuple[float, ...]
    #: the same, weighted by how long each quote stood
    spread_ticks_time_share: tuple[float, ...]
    l1_size_log_mu: float
    l1_size_log_sigma: float = Field(ge=0)
    l1_size_median: float = Field(gt=0)
    #: standard deviation (ddof 1) of 1-second log returns of the mid sampled on whole seconds
    mid_vol_1s: float = Field(ge=0)
    #: share of those seconds in which the mid changed at all
    mid_move_frac_1s: float = Field(gt=0, le=1)
    #: share of prints strictly inside the spread of the last quote before them (strictly
    #: earlier ms), among prints where that spread was 2 ticks or more
    inside_trade_frac_wide: float = Field(ge=0, le=1)

    def to_json(self) -> str:
        """Canonical text: sorted keys, 2-space indent, floats to 6 significant digits."""
        return json.dumps(_rounded(self.model_dump(mode="python")), sort_keys=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        return cls.model_validate(_rounded(json.loads(text)))


#: fields a generator may override by keyword (`TickGenerator(..., trade_rate_per_s=5.0)`)
OVERRIDABLE = (
    "trade_rate_per_s",
    "same_ms_trade_frac",
    "trade_size_log_mu",
    "trade_size_log_sigma",
    "quote_rate_per_s",
    "spread_ticks_share",
    "l1_size_log_mu",
    "l1_size_log_sigma",
    "mid_vol_1s",
    "mid_move_frac_1s",
    "inside_trade_frac_wide",
)


def with_overrides(cal: Calibration, overrides: dict[str, Any]) -> Calibration:
    """`cal` with some numbers replaced; an unknown name is a TypeError naming the known ones."""
    unknown = sorted(k for k in overrides if k not in OVERRIDABLE)
    if unknown:
        raise TypeError(f"unknown generator parameter(s) {', '.join(unknown)}; known: {', '.join(OVERRIDABLE)}")
    if not overrides:
        return cal
    data = cal.model_dump(mode="python")
    data.update(overrides)
    return Calibration.model_validate(data)


_DEFAULT: Calibration | None = None


def load_calibration(path: Path | str | None = None) -> Calibration:
    """The committed calibration (cached), or the one in `path`."""
    global _DEFAULT
    if path is None:
        if _DEFAULT is None:
            _DEFAULT = Calibration.from_json(CALIBRATION_FILE.read_text())
        return _DEFAULT
    return Calibration.from_json(Path(path).read_text())


def resolve_calibration(cal: Calibration | Path | str | None) -> Calibration:
    """A generator's `calibration=` argument: None (the committed one), a model, or a JSON file."""
    if cal is None:
        return load_calibration()
    if isinstance(cal, Calibration):
        return cal
    return load_calibration(cal)


def _ticks(px: np.ndarray) -> np.ndarray:
    # a price's tick index is round(price / tick), never a floor of a float division
    return np.rint(px / TICK_SIZE).astype(np.int64)


def _lognormal(x: np.ndarray) -> tuple[float, float]:
    lx = np.log(x)
    return float(lx.mean()), float(lx.std(ddof=1))


def calibrate(data_root: Path | str) -> Calibration:
    """Measures the calibration on the recorded windows under `data_root`."""
    folder = Path(data_root) / SOURCE_DIR
    windows: list[Window] = []
    sizes, l1_sizes, returns, moved = [], [], [], []
    spreads, spread_dt = [], []
    n_trades = n_quotes = same_ms = buys = 0
    inside = wide = 0
    duration_ms = 0
    for name in WINDOWS:
        tr = pacsv.read_csv(folder / f"{name}_trades.csv.gz")
        qu = pacsv.read_csv(folder / f"{name}_quotes.csv.gz")
        t_ms = tr["ts_ms"].to_numpy()
        t_px = _ticks(tr["price"].to_numpy())
        side = np.asarray(tr["side"].to_pylist()) == "buy"
        q_ms = qu["ts_ms"].to_numpy()
        bid = _ticks(qu["bid_px"].to_numpy())
        ask = _ticks(qu["ask_px"].to_numpy())
        start = int(min(t_ms[0], q_ms[0]))
        end = int(max(t_ms[-1], q_ms[-1]))
        windows.append(Window(name=name, start_ms=start, end_ms=end, trades=len(t_ms), quotes=len(q_ms)))
        duration_ms += end - start
        n_trades += len(t_ms)
        n_quotes += len(q_ms)
        same_ms += int(np.count_nonzero(t_ms[1:] == t_ms[:-1]))
        buys += int(np.count_nonzero(side))
        sizes.append(tr["size"].to_numpy())
        l1_sizes += [qu["bid_sz"].to_numpy(), qu["ask_sz"].to_numpy()]

        k = ask - bid
        spreads.append(k)
        # how long each quote stood: until the next one, the last one until the window's end
        spread_dt.append(np.diff(np.append(q_ms, end)))

        # the quote state a print met is the last one from a strictly earlier millisecond:
        # Binance publishes the book update a print caused in the print's own millisecond
        qi = np.searchsorted(q_ms, t_ms, side="left") - 1
        ok = qi >= 0
        kb, ka, kp = bid[qi[ok]], ask[qi[ok]], t_px[ok]
        w = (ka - kb) >= 2
        wide += int(np.count_nonzero(w))
        inside += int(np.count_nonzero(w & (kp > kb) & (kp < ka)))

        mid2 = bid + ask  # twice the mid, in ticks: exact integers
        secs = np.arange(-(-int(q_ms[0]) // 1000), int(q_ms[-1]) // 1000 + 1) * 1000
        at = mid2[np.searchsorted(q_ms, secs, side="right") - 1]
        returns.append(np.diff(np.log(at.astype(np.float64))))
        moved.append(at[1:] != at[:-1])

    size = np.concatenate(sizes)
    l1 = np.concatenate(l1_sizes)
    k = np.concatenate(spreads)
    dt = np.concatenate(spread_dt).astype(np.float64)
    bucket = np.clip(k, 1, SPREAD_BUCKETS) - 1
    share = np.bincount(bucket, minlength=SPREAD_BUCKETS) / len(k)
    tshare = np.bincount(bucket, weights=dt, minlength=SPREAD_BUCKETS) / dt.sum()
    r = np.concatenate(returns)
    mu, sigma = _lognormal(size)
    l1_mu, l1_sigma = _lognormal(l1)
    duration_s = duration_ms / 1000.0
    data = {
        "source": str(SOURCE_DIR).replace("\\", "/"),
        "windows": [w.model_dump() for w in windows],
        "tick_size": TICK_SIZE,
        "size_step": SIZE_STEP,
        "duration_s": duration_s,
        "trade_rate_per_s": n_trades / duration_s,
        "same_ms_trade_frac": same_ms / n_trades,
        "buy_frac": buys / n_trades,
        "trade_size_log_mu": mu,
        "trade_size_log_sigma": sigma,
        "trade_size_median": float(np.median(size)),
        "quote_rate_per_s": n_quotes / duration_s,
        "spread_ticks_share": [float(x) for x in share],
        "spread_ticks_time_share": [float(x) for x in tshare],
        "l1_size_log_mu": l1_mu,
        "l1_size_log_sigma": l1_sigma,
        "l1_size_median": float(np.median(l1)),
        "mid_vol_1s": float(r.std(ddof=1)),
        "mid_move_frac_1s": float(np.concatenate(moved).mean()),
        "inside_trade_frac_wide": inside / wide if wide else 0.0,
    }
    return Calibration.model_validate(_rounded(data))


def main(argv: list[str] | None = None) -> int:
    from sim.scenario.roots import data_root

    args = sys.argv[1:] if argv is None else argv
    root = data_root()
    if root is None:
        print("data root not found (set SIM_DATA_DIR)", file=sys.stderr)
        return 2
    text = calibrate(root).to_json()
    if "--write" in args:
        CALIBRATION_FILE.parent.mkdir(parents=True, exist_ok=True)
        CALIBRATION_FILE.write_text(text)
        print(f"wrote {CALIBRATION_FILE}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
