"""Streaming readers of columnar files: Parquet and Feather (Arrow IPC).

Two kinds of file: the project's own (written by `sim import`: normalized columns, the kind
and bar interval in the `sim.kind` / `sim.interval_ns` metadata, timestamps in ns), and
generic files from elsewhere (freqtrade feathers, pandas-written Parquet...), whose columns are
found by name (`sim.data.normalize.ALIASES`, or the `columns` option) and whose kind must be
given. Parquet is read row group by row group (`iter_batches`); Feather v2 record batch by
record batch from a memory map.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from sim.data.normalize import find_columns, normalized_batch, parse_interval
from sim.data.schema import META_INTERVAL_NS, META_KIND, SCHEMAS, SourceKind
from sim.data.timestamps import TimestampColumn
from sim.core.errors import DataFileError

DEFAULT_BATCH_SIZE = 65_536


class _ColumnarSource:
    fmt: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ("columns", "interval", "batch_size")

    def __init__(
        self,
        path: Path | str,
        kind: SourceKind | None = None,
        *,
        columns: Mapping[str, str] | None = None,
        interval: int | str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.batch_size = int(batch_size)
        if not self.path.is_file():
            raise DataFileError(self.path, "no such file")
        if self.path.stat().st_size == 0:
            raise DataFileError(self.path, "empty file")
        schema = self._open_schema()
        meta = schema.metadata or {}
        own_kind = meta.get(META_KIND, b"").decode() or None
        if own_kind is not None:
            if own_kind not in SCHEMAS:
                raise DataFileError(self.path, f"unknown {META_KIND.decode()} {own_kind!r} in the file's metadata")
            if kind is not None and kind != own_kind:
                raise DataFileError(self.path, f"holds {own_kind}, not {kind}")
            kind = own_kind  # type: ignore[assignment]
        if kind is None:
            raise DataFileError(self.path, f"a generic {self.fmt} file needs its kind (trades, quotes or klines)")
        if kind not in SCHEMAS:
            raise DataFileError(self.path, f"unknown kind {kind!r}; expected trades, quotes or klines")
        self.kind: SourceKind = kind
        self.own = own_kind is not None
        self._roles = find_columns(schema.names, kind, path=self.path, overrides=columns)
        # The project's own files are ns by definition (a synthetic tape may start at t = 0).
        self._ts = TimestampColumn(self.path, "ns" if self.own else None)
        self.interval_ns: int | None = None
        if interval is not None:
            self.interval_ns = parse_interval(interval)
        elif kind == "klines" and META_INTERVAL_NS in meta:
            self.interval_ns = int(meta[META_INTERVAL_NS])
        self._probe()

    # --- per container ----------------------------------------------------------------
    def _open_schema(self) -> pa.Schema:
        raise NotImplementedError

    def _raw(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    # --- shared -----------------------------------------------------------------------
    def _raw_batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        rows = 0
        for batch in self._raw(sorted(set(self._roles.values()))):
            if batch.num_rows:
                yield rows + 1, batch
                rows += batch.num_rows

    def _probe(self) -> None:
        open_ts = np.empty(0, dtype=np.int64)
        for row0, batch in self._raw_batches():
            ts = self._normalize(batch, row0).column(0).to_numpy()
            open_ts = np.concatenate([open_ts, ts[:2]])[:2]
            if self.kind != "klines" or self.interval_ns is not None or len(open_ts) >= 2:
                break
        if len(open_ts) == 0:
            if self.own and (self.kind != "klines" or self.interval_ns is not None):
                return  # an imported file with no rows is a valid, empty source
            raise DataFileError(self.path, "no data rows")
        if self.kind == "klines" and self.interval_ns is None:
            if len(open_ts) < 2:
                raise DataFileError(self.path, "one bar only: cannot infer the bar interval; give the interval option")
            spacing = int(open_ts[1] - open_ts[0])
            if spacing <= 0:
                message = f"the first two bars are {spacing} ns apart; give the interval option"
                raise DataFileError(self.path, message, row=1)
            self.interval_ns = spacing

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        for row0, batch in self._raw_batches():
            yield row0, self._normalize(batch, row0)

    def _normalize(self, batch: pa.RecordBatch, row0: int) -> pa.RecordBatch:
        return normalized_batch(self.kind, batch, self._roles, self._ts, path=self.path, row0=row0)


class ParquetSource(_ColumnarSource):
    """`parquet`: read with `ParquetFile.iter_batches`, only the needed columns."""

    fmt = "parquet"

    def _open_schema(self) -> pa.Schema:
        try:
            pf = pq.ParquetFile(str(self.path))
        except (pa.ArrowException, OSError) as e:
            raise DataFileError(self.path, f"not a readable Parquet file: {e}") from None
        try:
            return pf.schema_arrow
        finally:
            pf.close()

    def _raw(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        # pre_buffer would fetch the column chunks of many row groups ahead (for object
        # stores); on a local disk it only raises the peak memory of a large file.
        pf = pq.ParquetFile(str(self.path), pre_buffer=False)
        try:
            yield from pf.iter_batches(batch_size=self.batch_size, columns=columns)
        except (pa.ArrowException, OSError) as e:
            raise DataFileError(self.path, f"unreadable Parquet data: {e}") from None
        finally:
            pf.close()


class FeatherSource(_ColumnarSource):
    """`feather`: Feather v2 (= the Arrow IPC file format), batch by batch from a memory map.

    Feather v1 is refused: pyarrow deprecates it (25.0) and offers no batch-wise reader for it.
    """

    fmt = "feather"

    def _open_schema(self) -> pa.Schema:
        try:
            with pa.memory_map(str(self.path)) as source:
                return ipc.open_file(source).schema
        except (pa.ArrowException, OSError) as e:
            with open(self.path, "rb") as f:
                magic = f.read(4)
            if magic == b"FEA1":
                raise DataFileError(self.path, "Feather v1 is not supported; rewrite the file as Feather v2") from None
            raise DataFileError(self.path, f"not a readable Feather file: {e}") from None

    def _raw(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        with pa.memory_map(str(self.path)) as source:
            try:
                reader = ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    batch = reader.get_batch(i).select(columns)
                    # A Feather file is often one record batch: slices keep batches bounded
                    # (zero-copy for uncompressed files).
                    for start in range(0, batch.num_rows, self.batch_size):
                        yield batch.slice(start, self.batch_size)
            except (pa.ArrowException, OSError) as e:
                raise DataFileError(self.path, f"unreadable Feather data: {e}") from None
