"""In-memory batch sources for tests that exercise the loop without files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from sim.data.schema import SCHEMAS


@dataclass
class MemorySource:
    kind: str
    table: pa.Table
    name: str = "memory"
    interval_ns: int | None = None
    batch_rows: int = 1000

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        t = self.table.cast(SCHEMAS[self.kind])
        for i, b in enumerate(t.to_batches(max_chunksize=self.batch_rows)):
            yield 1 + i * self.batch_rows, b


def trades(rows: list[tuple[int, float, float, int, int]], **kw) -> MemorySource:  # noqa: ANN003
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]
    return MemorySource("trades", pa.table(dict(zip(SCHEMAS["trades"].names, cols))), **kw)


def quotes(rows: list[tuple[int, float, float, float, float]], **kw) -> MemorySource:  # noqa: ANN003
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]
    return MemorySource("quotes", pa.table(dict(zip(SCHEMAS["quotes"].names, cols))), **kw)
