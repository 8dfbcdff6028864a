"""Initiative confirmation (spec §6.4–§6.6, DESIGN §8).

Two legs, each in the setup's direction: order flow (`OF_1m` and `OF_norm_1m` past their
thresholds) and quote imbalance (`qimb` past its threshold; the close or the EMA, by
`qimb_source`). Normally either leg confirms; when the minute's ambiguous-trade fraction is above
`ambiguous_trade_frac_max`, both must. A missing value (NaN: no trades, no quotes) never
confirms, and with `use_qimb: false` there is no qimb leg, so a high-ambiguity minute cannot be
confirmed at all (conservative: the dual confirmation the spec asks for cannot be had).
"""

from __future__ import annotations

from typing import Literal

from sim.core.config import Config
from sim.core.events import Features

Kind = Literal["entry", "breakout", "fail"]


def qimb_value(f: Features, cfg: Config) -> float:
    return f.qimb_close if cfg.qimb_source == "close" else f.qimb_ema_60s


def legs(f: Features, cfg: Config, kind: Kind, direction: int) -> tuple[bool, bool]:
    """(order-flow leg, qimb leg) for a setup of `kind` in `direction` (+1 long, −1 short)."""
    of, ofn, q = f.of_1m, f.of_norm_1m, qimb_value(f, cfg)
    if kind == "fail":
        # A failed-breakout short needs selling initiative: OF ≤ of_fail_min (default 0) etc.;
        # a failed-breakdown long mirrors the signs.
        m, mn, mq = cfg.of_fail_min, cfg.of_fail_min_norm, cfg.qimb_fail_min
        if direction < 0:
            of_leg, q_leg = of <= m and ofn <= mn, q <= mq
        else:
            of_leg, q_leg = of >= -m and ofn >= -mn, q >= -mq
    else:
        if kind == "entry":
            m, mn, mq = cfg.of_entry_min, cfg.of_entry_min_norm, cfg.qimb_entry_min
        else:
            m, mn, mq = cfg.of_breakout_min, cfg.of_breakout_min_norm, cfg.qimb_breakout_min
        if direction > 0:
            of_leg, q_leg = of > m and ofn > mn, q > mq
        else:
            of_leg, q_leg = of < -m and ofn < -mn, q < -mq
    return bool(of_leg), bool(cfg.use_qimb and q_leg)


def high_ambiguity(f: Features, cfg: Config) -> bool:
    return f.ambiguous_trade_frac_1m > cfg.ambiguous_trade_frac_max  # NaN (no trades) is not high


def confirmed(f: Features, cfg: Config, kind: Kind, direction: int) -> bool:
    of_leg, q_leg = legs(f, cfg, kind, direction)
    return (of_leg and q_leg) if high_ambiguity(f, cfg) else (of_leg or q_leg)
