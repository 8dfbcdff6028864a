"""The normalized columnar schemas every reader and generator produces.

These are also the columns of the project's own Parquet files (`sim import` writes them) and
what crosses into the Rust engine (as numpy buffers of exactly these dtypes).

* timestamps are Unix nanoseconds, UTC, int64;
* trade `side` is the exchange-reported taker side: +1 buy, −1 sell, 0 unknown;
* `trade_id` is −1 where the source has none;
* a kline is stamped with its *open* time; its interval is a property of the source.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

SourceKind = Literal["trades", "quotes", "klines"]

TRADES = pa.schema(
    [
        ("ts_ns", pa.int64()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("side", pa.int8()),
        ("trade_id", pa.int64()),
    ]
)

QUOTES = pa.schema(
    [
        ("ts_ns", pa.int64()),
        ("bid_px", pa.float64()),
        ("bid_sz", pa.float64()),
        ("ask_px", pa.float64()),
        ("ask_sz", pa.float64()),
    ]
)

KLINES = pa.schema(
    [
        ("open_ts_ns", pa.int64()),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {"trades": TRADES, "quotes": QUOTES, "klines": KLINES}

# Parquet key-value metadata written by `sim import` so a file says what it holds.
META_KIND = b"sim.kind"
META_INTERVAL_NS = b"sim.interval_ns"
