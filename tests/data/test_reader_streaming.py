"""Readers stream: a ~2 M-row trade file comes in many bounded batches, never whole."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from sim.data.readers import open_source

N = 2_000_000
T0_MS = 1_680_652_700_000


@pytest.fixture(scope="module")
def big_trades(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "ts_ms": T0_MS + np.arange(N, dtype=np.int64) // 4,
            "price": np.round(28_000 + rng.random(N) * 100, 1),
            "size": np.round(rng.random(N) + 0.001, 3),
            "side": pa.array(np.where(rng.random(N) < 0.5, "buy", "sell")),
            "trade_id": np.arange(N, dtype=np.int64),
        }
    )
    path = tmp_path_factory.mktemp("big") / "trades.csv"
    pcsv.write_csv(table, path)
    return path


def stream_stats(source: object) -> tuple[int, int, int, int, int]:
    """(batches, rows, largest batch, peak Arrow bytes above the start, peak traced Python bytes)."""
    base = pa.total_allocated_bytes()
    tracemalloc.start()
    batches = rows = largest = peak_arrow = 0
    last_id = -1
    try:
        for row0, batch in source.batches():  # type: ignore[attr-defined]
            assert row0 == rows + 1
            ids = batch.column("trade_id").to_numpy()
            assert ids[0] == last_id + 1  # in order, nothing skipped or repeated
            last_id = int(ids[-1])
            batches += 1
            rows += batch.num_rows
            largest = max(largest, batch.num_rows)
            peak_arrow = max(peak_arrow, pa.total_allocated_bytes() - base)
            del batch, ids
        peak_python = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return batches, rows, largest, peak_arrow, peak_python


@pytest.mark.slow
def test_csv_reader_streams_in_bounded_batches(big_trades: Path) -> None:
    size = big_trades.stat().st_size
    # The whole file as a normalized table would be 8+8+8+1+8 bytes a row (~66 MB).
    whole = N * 33
    source = open_source(big_trades, "trades_csv", block_size=1 << 18)
    batches, rows, largest, peak_arrow, peak_python = stream_stats(source)
    assert rows == N
    assert batches > 100
    assert largest <= 20_000  # a 256 KiB block holds ~6k rows of ~42 bytes
    assert peak_arrow < whole / 4, (peak_arrow, size)
    assert peak_python < whole / 8


@pytest.mark.slow
def test_parquet_reader_streams_in_bounded_batches(big_trades: Path, tmp_path: Path) -> None:
    path = tmp_path / "trades.parquet"
    with pcsv.open_csv(big_trades) as reader, pq.ParquetWriter(path, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    source = open_source(path, "parquet", "trades", batch_size=50_000)
    batches, rows, largest, peak_arrow, _ = stream_stats(source)
    assert rows == N
    assert batches >= N // 50_000
    assert largest <= 50_000
    assert peak_arrow < N * 33 / 4
