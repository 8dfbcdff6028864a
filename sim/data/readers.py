"""The recorded-data formats a scenario or `sim import` can name, and how to open one.

`READERS` maps each format name (a manifest's `format:`) to its `BatchSource` class;
`open_source` opens a file with one, checking the kind and the options; `guess_format` names the
format of a file from its extension and header, for `sim import` without `--format`.

Formats:
  trades_csv          ts,price,size[,side,trade_id] (spec §3.1), header optional
  quotes_csv          ts,bid_px,bid_sz,ask_px,ask_sz, header optional
  bybit_trades_csv    Bybit's public trade archive (timestamp,symbol,side,size,price,…,trdMatchID,…)
  binance_klines_csv  Binance kline CSV, 12 columns, header optional
  klines_csv          bars with a header, columns by name (open_time_ms/…, open…close or mark_*, volume)
  parquet, feather    the project's own files (kind in the metadata) or generic ones (kind required)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.data.csv_readers import (
    BinanceKlinesCsvSource,
    BybitTradesCsvSource,
    CsvSource,
    KlinesCsvSource,
    QuotesCsvSource,
    TradesCsvSource,
    is_data_line,
    sniff_first_line,
)
from sim.data.parquet_readers import FeatherSource, ParquetSource
from sim.data.source import BatchSource
from sim.core.errors import DataFileError, UserInputError

READERS: dict[str, type[CsvSource] | type[ParquetSource] | type[FeatherSource]] = {
    "trades_csv": TradesCsvSource,
    "quotes_csv": QuotesCsvSource,
    "bybit_trades_csv": BybitTradesCsvSource,
    "binance_klines_csv": BinanceKlinesCsvSource,
    "klines_csv": KlinesCsvSource,
    "parquet": ParquetSource,
    "feather": FeatherSource,
}

#: the kind every CSV format holds (the columnar formats hold any kind)
FORMAT_KINDS: dict[str, str] = {
    "trades_csv": "trades",
    "quotes_csv": "quotes",
    "bybit_trades_csv": "trades",
    "binance_klines_csv": "klines",
    "klines_csv": "klines",
}


def open_source(path: Path | str, fmt: str, kind: str | None = None, **options: Any) -> BatchSource:
    """Opens `path` as a source of format `fmt`.

    `kind` must match the format's kind for CSV formats and is required for a generic
    Parquet/Feather file. Options: `block_size` (CSV, bytes per block), `batch_size` (rows,
    Parquet/Feather), `interval` (klines: "1m", "1h", "1d" or ns), `columns` (role → column
    name, for formats that find columns by name).
    """
    cls = READERS.get(fmt)
    if cls is None:
        raise UserInputError(f"{path}: unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}")
    allowed = set(cls.options) | ({"block_size"} if issubclass(cls, CsvSource) else set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UserInputError(
            f"{path}: format {fmt} has no option {', '.join(unknown)}"
            + (f" (options: {', '.join(sorted(allowed))})" if allowed else "")
        )
    _check_options(path, options)
    if issubclass(cls, CsvSource):
        implied = FORMAT_KINDS[fmt]
        if kind is not None and kind != implied:
            raise UserInputError(f"{path}: format {fmt} holds {implied}, not {kind}")
        return cls(path, **options)
    return cls(path, kind, **options)  # type: ignore[arg-type]


#: bounds of the size options: a block or batch is held in memory whole
_SIZE_BOUNDS = {"block_size": (64, 1 << 28), "batch_size": (1, 1 << 24)}


def _check_options(path: Path | str, options: dict[str, Any]) -> None:
    """Types and bounds of the reader options, before any reader sizes a buffer from them."""
    for name, (lo, hi) in _SIZE_BOUNDS.items():
        if name in options:
            v = options[name]
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise UserInputError(f"{path}: option {name} must be an integer from {lo} to {hi}, not {v!r}")
    columns = options.get("columns")
    if "columns" in options and (not isinstance(columns, dict)
                                 or not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items())):
        raise UserInputError(f"{path}: option columns must map roles to column names, not {columns!r}")
    if "interval" in options and (isinstance(options["interval"], bool)
                                  or not isinstance(options["interval"], (int, str))):
        raise UserInputError(f"{path}: option interval must be a duration like '1m' or a number of ns")


_BYBIT_COLUMNS = {"timestamp", "symbol", "side", "size", "price", "trdmatchid"}


def guess_format(path: Path | str) -> str:
    """The format of a file from its extension and, for CSV, its first line."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst", ".lz4"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in (".feather", ".arrow", ".ipc"):
        return "feather"
    if not p.is_file():
        raise DataFileError(p, "no such file")
    first = sniff_first_line(p)
    fields = [f.strip().strip('"').strip().lower() for f in first.split(",")]
    if is_data_line(first):
        by_count = {12: "binance_klines_csv", 3: "trades_csv", 4: "trades_csv"}
        if len(fields) == 5:  # trades carry a side word in the 4th field, quotes a number
            by_count[5] = "trades_csv" if fields[3] in ("buy", "sell", "") else "quotes_csv"
        fmt = by_count.get(len(fields))
        if fmt is None:
            raise UserInputError(f"{p}: a headerless CSV with {len(fields)} fields; give --format")
        return fmt
    names = set(fields)
    if _BYBIT_COLUMNS <= names:
        return "bybit_trades_csv"
    if {"bid_px", "ask_px"} <= names or {"bid", "ask"} <= names:
        return "quotes_csv"
    if "price" in names:
        return "trades_csv"
    if {"open", "close"} <= names or {"mark_open", "mark_close"} <= names:
        return "klines_csv"
    raise UserInputError(f"{p}: cannot tell the format from the header {first[:80]!r}; give --format")
