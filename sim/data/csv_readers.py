"""Streaming readers of the recorded CSV formats (plain or compressed, e.g. `.csv.gz`).

pyarrow's `open_csv` parses block by block, so a file is never held whole; each block becomes
one normalized batch. Timestamp columns are read as strings so their unit can be detected and
decimal seconds converted exactly (see `sim.data.timestamps`). Empty numeric fields become
NaN and are passed on: judging values is the engine's job. What the reader does reject is
what it cannot parse: a value that is not a number, a row with the wrong number of fields, a
truncated or corrupt compressed stream. Those raise DataFileError naming the row; to find it
the failing part of the file is read again (as lines, then as strings), on the error path only.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sim.data.normalize import (
    describe,
    find_columns,
    floats,
    make_batch,
    normalized_batch,
    parse_interval,
    sides,
    uuid_ids,
)
from sim.data.schema import SourceKind
from sim.data.timestamps import NS_PER_UNIT, TimestampColumn, first_bad_index
from sim.core.errors import DataFileError

DEFAULT_BLOCK_SIZE = 1 << 20  # bytes per parsed block: ~30k rows of a trade tape
_SNIFF_BYTES = 1 << 16
_LINE_DELIMITER = "\x1f"  # a delimiter no CSV of ours contains, to read whole lines as one field


def _head_bytes(path: Path) -> bytes:
    """The first bytes of the decompressed file, up to the end of its first line."""
    if path.suffix.lower() == ".gz":
        # zlib directly: it returns what a cut stream holds instead of failing on it, so a
        # truncated file gets the precise "truncated after row N" message from the read path.
        d = zlib.decompressobj(wbits=47)
        head = b""
        with open(path, "rb") as f:
            while not head.strip(b"\r\n").count(b"\n") and len(head) < 16 * _SNIFF_BYTES:
                chunk = f.read(_SNIFF_BYTES)
                if not chunk:
                    break
                try:
                    head += d.decompress(chunk)
                except zlib.error as e:
                    raise DataFileError(path, f"not a readable gzip file: {e}") from None
        return head
    try:
        stream = pa.input_stream(str(path), compression="detect")
    except (OSError, pa.ArrowException) as e:
        raise DataFileError(path, f"cannot open: {e}") from None
    with stream:
        head = b""
        try:
            while not head.strip(b"\r\n").count(b"\n") and len(head) < 16 * _SNIFF_BYTES:
                chunk = stream.read(_SNIFF_BYTES)
                if not chunk:
                    break
                head += chunk
        except (OSError, pa.ArrowException) as e:
            if not head:
                raise DataFileError(path, f"unreadable compressed stream: {e}") from None
    return head


def sniff_first_line(path: Path) -> str:
    """The first line of the (decompressed) file; DataFileError if there is none."""
    if not path.is_file():
        raise DataFileError(path, "no such file")
    text = _head_bytes(path).decode("utf-8", errors="replace").lstrip("\ufeff")
    # pyarrow skips blank lines, so the header (or first row) is the first non-blank one.
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise DataFileError(path, "empty file")
    return first


def is_data_line(line: str) -> bool:
    """A first line is data, not a header, when its first field is a number or a date."""
    first = line.split(",", 1)[0].strip().strip('"').strip()
    return bool(first) and (first[0].isdigit() or first[0] in "+-.")


def _scan_gzip(path: Path) -> tuple[int, bool]:
    """(complete lines decompressible, truncated?) of a broken gzip file; error path only."""
    lines = 0
    d = zlib.decompressobj(wbits=47)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return lines, not d.eof
            try:
                while chunk:
                    lines += d.decompress(chunk).count(b"\n")
                    chunk = b""
                    if d.eof and d.unused_data:  # a multi-member gzip: the next member
                        chunk, d = d.unused_data, zlib.decompressobj(wbits=47)
            except zlib.error:
                return lines, False


class CsvSource:
    """Base of the CSV readers: sniffing, streaming, and locating bad rows."""

    fmt: ClassVar[str]
    kind: SourceKind
    header_required: ClassVar[bool] = False
    #: columns are taken by position even when the file has a header (which is then skipped)
    positional: ClassVar[bool] = False
    #: options `open_source` accepts for this format, besides block_size
    options: ClassVar[tuple[str, ...]] = ("columns",)

    def __init__(
        self,
        path: Path | str,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        columns: Mapping[str, str] | None = None,
        interval: int | str | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.block_size = int(block_size)
        self.interval_ns: int | None = parse_interval(interval) if interval is not None else None
        self._overrides = dict(columns or {})
        if not self.path.is_file():
            raise DataFileError(self.path, "no such file")
        if self.path.stat().st_size == 0:
            raise DataFileError(self.path, "empty file")
        first = sniff_first_line(self.path)
        self.has_header = not is_data_line(first)
        if self.header_required and not self.has_header:
            raise DataFileError(self.path, f"expected a header row, found data: {first[:80]!r}")
        fields = [f.strip().strip('"').strip() for f in first.split(",")]
        self._n_fields = len(fields)
        positional = self.positional or not self.has_header
        self._names: list[str] = self._positional_names(len(fields)) if positional else fields
        self._roles = self._find_roles(self._names)
        self._types = self._column_types()
        self._ts = TimestampColumn(self.path)
        self._probe()

    # --- per format -------------------------------------------------------------------
    def _positional_names(self, n: int) -> list[str]:
        raise DataFileError(self.path, f"{self.fmt} needs a header row")

    def _find_roles(self, names: list[str]) -> dict[str, str]:
        return find_columns(names, self.kind, path=self.path, overrides=self._overrides)

    def _column_types(self) -> dict[str, pa.DataType]:
        types: dict[str, pa.DataType] = {}
        for role, column in self._roles.items():
            if role in ("ts", "open_ts", "close_ts", "side", "buyer_maker"):
                types[column] = pa.string()
            elif role == "trade_id":
                types[column] = pa.int64()
            else:
                types[column] = pa.float64()
        return types

    def _probe(self) -> None:
        """Reads the first batch once: detects the timestamp unit, fails early on an empty file."""
        for row0, batch in self._raw_batches():
            self._normalize(batch, row0)
            return
        raise DataFileError(self.path, "no data rows")

    def _normalize(self, batch: pa.RecordBatch, row0: int) -> pa.RecordBatch:
        return normalized_batch(self.kind, batch, self._roles, self._ts, path=self.path, row0=row0)

    # --- streaming --------------------------------------------------------------------
    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        for row0, batch in self._raw_batches():
            yield row0, self._normalize(batch, row0)

    def _reader(self, *, skip: int = 0, types: Mapping[str, pa.DataType] | None = None) -> pcsv.CSVStreamingReader:
        rename = self.positional or not self.has_header
        read = pcsv.ReadOptions(
            block_size=self.block_size,
            column_names=self._names if rename else None,
            skip_rows=1 if rename and self.has_header else 0,
            # skip_rows cannot skip past the first block; skip_rows_after_names can
            skip_rows_after_names=skip,
        )
        convert = pcsv.ConvertOptions(
            column_types=dict(types if types is not None else self._types),
            include_columns=list(self._types),
            null_values=[""],
            strings_can_be_null=True,
        )
        return pcsv.open_csv(str(self.path), read_options=read, convert_options=convert)

    def _raw_batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        rows = 0
        try:
            reader = self._reader()
        except (pa.ArrowException, OSError) as e:
            self._raise_read_error(e, rows)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as e:
                self._raise_read_error(e, rows)
            if batch.num_rows:
                yield rows + 1, batch
                rows += batch.num_rows

    # --- the error path ---------------------------------------------------------------
    def _raise_read_error(self, error: Exception, rows_done: int) -> NoReturn:
        message = str(error)
        if self.path.suffix.lower() == ".gz" and ("compress" in message or "zlib" in message or "gzip" in message):
            lines, truncated = _scan_gzip(self.path)
            rows = max(0, lines - (1 if self.has_header else 0))
            what = "truncated" if truncated else "corrupt"
            raise DataFileError(self.path, f"{what} gzip stream after row {rows}") from None
        located = self._bad_utf8(rows_done) if "UTF8" in message or "utf8" in message else None
        located = located or self._bad_field_count(rows_done) or self._bad_value(rows_done)
        if located is not None:
            row, text = located
            raise DataFileError(self.path, text, row=row) from None
        raise DataFileError(self.path, f"unreadable after row {rows_done}: {message}") from None

    def _bad_utf8(self, rows_done: int) -> tuple[int, str] | None:
        """The first data row after `rows_done` that is not UTF-8 text."""
        row = -1 if self.has_header else 0
        try:
            with pa.input_stream(str(self.path), compression="detect") as stream:
                pending = b""
                while True:
                    chunk = stream.read(1 << 20)
                    lines = (pending + chunk).split(b"\n")
                    pending = lines.pop() if chunk else b""
                    for line in lines:
                        if not line.strip():
                            continue  # pyarrow skips blank lines, so they are not rows
                        row += 1
                        if row > rows_done:
                            try:
                                line.decode("utf-8")
                            except UnicodeDecodeError as e:
                                return row, f"not UTF-8 text (byte {e.start} of the row): {line[:60]!r}"
                    if not chunk:
                        return None
        except (pa.ArrowException, OSError):
            return None

    def _bad_field_count(self, rows_done: int) -> tuple[int, str] | None:
        read = pcsv.ReadOptions(
            block_size=self.block_size,
            column_names=["line"],
            skip_rows=1 if self.has_header else 0,
            skip_rows_after_names=rows_done,
        )
        parse = pcsv.ParseOptions(delimiter=_LINE_DELIMITER, quote_char=False)
        convert = pcsv.ConvertOptions(column_types={"line": pa.string()})
        row = rows_done
        try:
            reader = pcsv.open_csv(str(self.path), read_options=read, parse_options=parse, convert_options=convert)
            for batch in reader:
                lines = batch.column(0).fill_null("")
                counts = pc.add(pc.count_substring(lines, ","), 1).to_numpy()
                bad = np.flatnonzero(counts != self._n_fields)
                if bad.size:
                    i = int(bad[0])
                    text = lines[i].as_py()[:80]
                    return row + i + 1, f"expected {self._n_fields} fields, found {counts[i]}: {text!r}"
                row += batch.num_rows
        except (pa.ArrowException, OSError):
            return None
        return None

    def _bad_value(self, rows_done: int) -> tuple[int, str] | None:
        strings = {column: pa.string() for column in self._types}
        row = rows_done
        try:
            for batch in self._reader(skip=rows_done, types=strings):
                for column, to in self._types.items():
                    if to == pa.string():
                        continue
                    values = pc.utf8_trim_whitespace(batch.column(column))
                    i = first_bad_index(values, lambda a, to=to: a.cast(to))
                    if i is not None:
                        return row + i + 1, f"column {column}: {values[i].as_py()!r} is not {describe(to)}"
                row += batch.num_rows
        except (pa.ArrowException, OSError):
            return None
        return None


class TradesCsvSource(CsvSource):
    """`trades_csv`: `ts_ms,price,size[,side,trade_id]` (spec §3.1), header optional."""

    fmt = "trades_csv"
    kind: SourceKind = "trades"
    _POSITIONAL = ("ts", "price", "size", "side", "trade_id")

    def _positional_names(self, n: int) -> list[str]:
        if not 3 <= n <= len(self._POSITIONAL):
            raise DataFileError(self.path, f"a headerless {self.fmt} has 3 to 5 fields, not {n}")
        return list(self._POSITIONAL[:n])


class QuotesCsvSource(CsvSource):
    """`quotes_csv`: `ts_ms,bid_px,bid_sz,ask_px,ask_sz`, header optional."""

    fmt = "quotes_csv"
    kind: SourceKind = "quotes"
    _POSITIONAL = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz")

    def _positional_names(self, n: int) -> list[str]:
        if n != len(self._POSITIONAL):
            raise DataFileError(self.path, f"a headerless {self.fmt} has 5 fields, not {n}")
        return list(self._POSITIONAL)


class BybitTradesCsvSource(CsvSource):
    """`bybit_trades_csv`: Bybit's public trade archive (public.bybit.com/trading/…csv.gz).

    `timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,
    foreignNotional`; timestamp in seconds with a fraction, side Buy/Sell, trdMatchID a UUID
    (→ int64 id, see `normalize.uuid_ids`).
    """

    fmt = "bybit_trades_csv"
    kind: SourceKind = "trades"
    header_required = True
    options = ()

    def _find_roles(self, names: list[str]) -> dict[str, str]:
        required = {"ts": "timestamp", "side": "side", "size": "size", "price": "price", "trade_id": "trdMatchID"}
        missing = [c for c in required.values() if c not in names]
        if missing:
            message = f"not a Bybit trade archive: no column {', '.join(missing)} (header: {','.join(names)})"
            raise DataFileError(self.path, message)
        return required

    def _column_types(self) -> dict[str, pa.DataType]:
        text, number = pa.string(), pa.float64()
        return {"timestamp": text, "side": text, "size": number, "price": number, "trdMatchID": text}

    def _normalize(self, batch: pa.RecordBatch, row0: int) -> pa.RecordBatch:
        p = self.path
        return make_batch(
            "trades",
            {
                "ts_ns": self._ts.to_ns(batch.column("timestamp"), row0),
                "price": floats(batch.column("price"), path=p, row0=row0, column="price"),
                "size": floats(batch.column("size"), path=p, row0=row0, column="size"),
                "side": sides(batch.column("side"), path=p, row0=row0, column="side"),
                "trade_id": uuid_ids(batch.column("trdMatchID"), path=p, row0=row0, column="trdMatchID"),
            },
        )


class _KlinesBase(CsvSource):
    kind: SourceKind = "klines"
    options = ("columns", "interval")

    def _probe(self) -> None:
        """Also fixes the bar interval: from the option, or from the first row(s)."""
        first_batch: pa.RecordBatch | None = None
        open_ts = np.empty(0, dtype=np.int64)
        for row0, batch in self._raw_batches():
            ts = self._normalize(batch, row0).column(0).to_numpy()
            first_batch = batch if first_batch is None else first_batch
            open_ts = np.concatenate([open_ts, ts[:2]])[:2]
            if self.interval_ns is not None or len(open_ts) >= 2:
                break
        if first_batch is None:
            raise DataFileError(self.path, "no data rows")
        if self.interval_ns is None:
            self.interval_ns = self._infer_interval(first_batch, open_ts)

    def _infer_interval(self, first_batch: pa.RecordBatch, open_ts: np.ndarray) -> int:
        if len(open_ts) < 2:
            raise DataFileError(self.path, "one bar only: cannot infer the bar interval; give the interval option")
        return self._checked_interval(int(open_ts[1] - open_ts[0]), "the spacing of the first two bars")

    def _checked_interval(self, ns: int, source: str) -> int:
        if ns <= 0:
            raise DataFileError(self.path, f"bar interval from {source} is {ns} ns; give the interval option", row=1)
        return ns


class BinanceKlinesCsvSource(_KlinesBase):
    """`binance_klines_csv`: data.binance.vision kline CSVs, 12 columns, header optional.

    Columns are taken by position (Binance's header names changed over the years). The bar
    interval is `close_time − open_time` plus one unit of the file's timestamps (1 ms, or 1 µs
    in the µs-stamped spot files since 2025), unless the interval option gives it.
    """

    fmt = "binance_klines_csv"
    options = ("interval",)
    positional = True
    _POSITIONAL = (
        "open_time", "open", "high", "low", "close", "volume", "close_time",
        "quote_volume", "trades", "taker_buy_base", "taker_buy_quote", "ignore",
    )  # fmt: skip

    def _positional_names(self, n: int) -> list[str]:
        if n != len(self._POSITIONAL):
            raise DataFileError(self.path, f"a Binance kline CSV has 12 fields, not {n}")
        return list(self._POSITIONAL)

    def _find_roles(self, names: list[str]) -> dict[str, str]:
        return {"open_ts": "open_time", "open": "open", "high": "high", "low": "low", "close": "close",
                "volume": "volume", "close_ts": "close_time"}  # fmt: skip

    def _infer_interval(self, first_batch: pa.RecordBatch, open_ts: np.ndarray) -> int:
        unit_ns = NS_PER_UNIT.get(self._ts.unit or "", 0)
        if unit_ns == 0:
            raise DataFileError(
                self.path, "open_time must be a Unix timestamp to infer the interval; give the interval option"
            )
        close = TimestampColumn(self.path, self._ts.unit).to_ns(first_batch.column("close_time").slice(0, 1), 1)
        return self._checked_interval(int(close[0] - open_ts[0]) + unit_ns, "close_time − open_time")


class KlinesCsvSource(_KlinesBase):
    """`klines_csv`: bars with a header, columns by name (`open_time_ms`/`open_time`/`ts`/
    `timestamp`/`date`; `open..close` or `mark_open..mark_close`; `volume`, absent → 0.0)."""

    fmt = "klines_csv"
    header_required = True

    def _find_roles(self, names: list[str]) -> dict[str, str]:
        aliases = {"open_ts": ("open_time_ms", "open_time", "ts", "timestamp", "date"), "volume": ("volume",)}
        return find_columns(names, "klines", path=self.path, overrides=self._overrides, aliases=aliases)

