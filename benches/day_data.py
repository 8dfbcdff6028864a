"""A generated one-day BTCUSDT tick set at realistic rates (~2 M trades, ~5 M quotes), written once as
the project's Parquet, for the end-to-end benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.data.schema import META_KIND, QUOTES, TRADES
from sim.core.rng import component_rng

DAY_NS = 86_400 * 1_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z


def write_day(folder: Path, trades_n: int = 2_000_000, quotes_n: int = 5_000_000) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    tp, qp = folder / "day_trades.parquet", folder / "day_quotes.parquet"
    if tp.exists() and qp.exists():
        return tp, qp
    rng = component_rng(7, "bench/day")
    q_ts = START_NS + np.sort(rng.integers(0, DAY_NS, quotes_n))
    steps = rng.choice(np.array([-1, 0, 0, 0, 1]), quotes_n)
    bid_idx = 420_000 + np.cumsum(steps)
    spread = 1 + (rng.random(quotes_n) < 0.1)
    quotes = pa.table(
        {
            "ts_ns": q_ts,
            "bid_px": bid_idx / 10.0,
            "bid_sz": rng.integers(1, 5000, quotes_n) / 1000.0,
            "ask_px": (bid_idx + spread) / 10.0,
            "ask_sz": rng.integers(1, 5000, quotes_n) / 1000.0,
        },
        schema=QUOTES,
    )
    t_ts = START_NS + np.sort(rng.integers(0, DAY_NS, trades_n))
    at = np.clip(np.searchsorted(q_ts, t_ts, side="right") - 1, 0, quotes_n - 1)
    side = np.where(rng.random(trades_n) < 0.5, 1, -1).astype(np.int8)
    price_idx = np.where(side > 0, bid_idx[at] + spread[at], bid_idx[at])
    trades = pa.table(
        {
            "ts_ns": t_ts,
            "price": price_idx / 10.0,
            "size": rng.integers(1, 2000, trades_n) / 1000.0,
            "side": side,
            "trade_id": np.arange(1, trades_n + 1, dtype=np.int64),
        },
        schema=TRADES,
    )
    pq.write_table(trades.replace_schema_metadata({META_KIND: b"trades"}), tp, row_group_size=262_144)
    pq.write_table(quotes.replace_schema_metadata({META_KIND: b"quotes"}), qp, row_group_size=262_144)
    return tp, qp


def scenario_yaml(folder: Path) -> Path:
    tp, qp = write_day(folder)
    p = folder / "bench_day.yaml"
    p.write_text(
        f"""name: bench_day
description: generated one-day tick set for the end-to-end benchmark
strategy: hourly_probe
window: {{start: "2024-01-01T00:00:00Z", end: "2024-01-02T00:00:00Z"}}
seed: 7
data:
  - {{kind: trades, format: parquet, path: {tp.name}, root: scenario}}
  - {{kind: quotes, format: parquet, path: {qp.name}, root: scenario}}
"""
    )
    return p
