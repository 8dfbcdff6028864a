"""The protocol every data source implements: recorded-file readers and synthetic generators.

A source yields normalized Arrow record batches (see `sim.data.schema`) in its own order,
lazily, so a file larger than memory is never held whole: the replay pulls the next batch of a
source only when the merge needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import pyarrow as pa

from sim.data.schema import SourceKind


@runtime_checkable
class BatchSource(Protocol):
    #: "trades", "quotes" or "klines"
    kind: SourceKind
    #: what error messages call it: the file path, or "synthetic:<scenario>/<stream>"
    name: str
    #: the bar interval of a klines source, None otherwise
    interval_ns: int | None

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Yields (row0, batch): row0 is the 1-based data row number of the batch's first row.

        Batches have exactly the schema `sim.data.schema.SCHEMAS[kind]`. Rows stay in the
        source's own order; validation (NaN, crossed quotes, time going backwards...) is the
        engine's job, not the reader's. A row the reader cannot parse at all raises
        `sim.core.errors.DataFileError` naming the file and the row.
        """
        ...
