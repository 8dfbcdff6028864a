"""`sim import FILE`: convert a recorded file to the project's Parquet and report its quality.

The file streams through its reader batch by batch into a Parquet file with the normalized
schema and the `sim.kind` / `sim.interval_ns` metadata, and through the Rust market engine,
whose row validation is the one the replay applies, so the bad-row counts of the report are
exactly what a replay of the file would count. Rows are written as read: import converts, it
does not clean (a replay validates the imported file again under its own bad-row policy).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim import _core
from sim.data.quality import (
    DEFAULT_GAP_THRESHOLD_NS,
    NS_PER_S,
    BadRows,
    GapTracker,
    QualityReport,
    SideAgreement,
    iso_utc,
)
from sim.data.readers import FORMAT_KINDS, READERS, guess_format, open_source
from sim.data.schema import META_INTERVAL_NS, META_KIND, SCHEMAS
from sim.data.source import BatchSource
from sim.core import args as types
from sim.core.errors import DataFileError, UserInputError

_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".lz4")


def output_path(path: Path, out: Path | str | None) -> Path:
    """`<out or cwd>/<stem>.parquet`, the stem without data and compression suffixes."""
    name = path.name
    for suffix in _COMPRESSION_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    stem = Path(name).stem if Path(name).suffix else name
    return Path(out if out is not None else Path.cwd()) / f"{stem}.parquet"


def _column(batch: pa.RecordBatch, i: int) -> np.ndarray:
    return np.ascontiguousarray(batch.column(i).to_numpy())


def _push(engine: _core.MarketEngine, sid: int, source: BatchSource, row0: int, batch: pa.RecordBatch) -> None:
    c = [_column(batch, i) for i in range(batch.num_columns)]
    if source.kind == "trades":
        engine.push_trades(sid, row0, *c)
    elif source.kind == "quotes":
        engine.push_quotes(sid, row0, *c)
    else:
        assert source.interval_ns is not None
        engine.push_klines(sid, row0, c[0], source.interval_ns, *c[1:])


#: the engine closes every minute it passes, rows or not: it is advanced at most this far per call
#: (so the minute closes one call returns stay few), and a jump forward longer than this between
#: rows starts a fresh engine (so a file's cost follows its rows, not the years between two of them)
DRAIN_STEP_NS = 86_400 * NS_PER_S


def _drain(engine: _core.MarketEngine, from_ns: int | None, until_ns: int) -> None:
    # Events are not needed, only the validation the merge applies on the way; draining after
    # every batch keeps the engine's buffer to one batch.
    t = until_ns if from_ns is None else min(until_ns, from_ns + DRAIN_STEP_NS)
    while True:
        while engine.advance_to(t)[0] == "events":
            pass
        if t >= until_ns:
            return
        t = min(until_ns, t + DRAIN_STEP_NS)


class _Validation:
    """The engine's row validation over a file, batch by batch, in fresh engines across long jumps
    forward in time. A jump cannot hide a bad row: time going backwards is judged within an engine
    (a row after a jump is later than every row before it), duplicate ids within 60 s."""

    def __init__(self, source: BatchSource, path: Path, tick_size: float, on_bad_rows: str) -> None:
        self.source, self.path, self.tick_size, self.on_bad_rows = source, path, tick_size, on_bad_rows
        self.shift = source.interval_ns if source.kind == "klines" and source.interval_ns else 0
        self.bad: dict[str, BadRows] = {}
        self.engine: _core.MarketEngine | None = None
        self.drained_ns: int | None = None
        self.last_event_ns: int | None = None
        self.max_ts: int | None = None

    def _new_engine(self) -> None:
        self.finish()
        try:
            self.engine = _core.MarketEngine(tick_size=self.tick_size, taker_fee_bps=0.0, maker_fee_bps=0.0,
                                             on_bad_rows=self.on_bad_rows)
        except _core.DataInputError as e:
            raise UserInputError(str(e)) from None
        self.sid = self.engine.add_source(self.source.kind)
        self.drained_ns = self.last_event_ns = None

    def push(self, row0: int, batch: pa.RecordBatch) -> None:
        ts = batch.column(0).to_numpy()
        if not len(ts):
            return
        before = np.maximum.accumulate(np.concatenate(([self.max_ts if self.max_ts is not None else ts[0]], ts)))[:-1]
        jumps = np.flatnonzero(ts - before > DRAIN_STEP_NS).tolist()
        starts = [0, *[j for j in jumps if j > 0]]
        for a, b in zip(starts, [*starts[1:], len(ts)]):
            if self.engine is None or a in jumps:
                self._new_engine()
            self._push(row0 + a, batch.slice(a, b - a), ts[a:b])
        self.max_ts = int(max(ts.max(), self.max_ts if self.max_ts is not None else ts.max()))

    def _push(self, row0: int, batch: pa.RecordBatch, ts: np.ndarray) -> None:
        assert self.engine is not None
        try:
            _push(self.engine, self.sid, self.source, row0, batch)
        except _core.BadRowError as e:
            _, row, bad_kind, detail = e.args
            raise DataFileError(self.path, f"bad row: {bad_kind} ({detail})", row=int(row)) from None
        hi = int(ts.max()) + self.shift
        self.last_event_ns = hi if self.last_event_ns is None else max(self.last_event_ns, hi)
        if self.drained_ns is None:
            self.drained_ns = int(ts.min())
        _drain(self.engine, self.drained_ns, self.last_event_ns)
        self.drained_ns = self.last_event_ns

    def finish(self) -> None:
        if self.engine is None:
            return
        self.engine.finish_source(self.sid)
        if self.last_event_ns is not None:
            _drain(self.engine, self.drained_ns, self.last_event_ns)
        for _, k, n, r, d in self.engine.bad_rows():
            had = self.bad.get(k)
            self.bad[k] = (BadRows(count=int(n), first_row=int(r), first_detail=d) if had is None else
                           BadRows(count=had.count + int(n), first_row=had.first_row, first_detail=had.first_detail))
        self.engine = None


def import_file(
    path: Path | str,
    fmt: str | None = None,
    kind: str | None = None,
    out: Path | str | None = None,
    on_bad_rows: str = "drop",
    *,
    quotes: Path | str | None = None,
    quotes_format: str | None = None,
    tick_size: float = 0.1,
    options: dict[str, object] | None = None,
) -> QualityReport:
    """Converts `path` to `<out>/<stem>.parquet` and returns its quality report.

    `fmt` None guesses the format from the file. `on_bad_rows` "drop" counts bad rows in the
    report; "fail" stops at the first with a DataFileError naming it. With `quotes`, a trade
    file that carries the taker side is checked against the side inferred from those quotes.
    """
    path = Path(path)
    if on_bad_rows not in ("fail", "drop"):
        raise UserInputError(f"on_bad_rows must be fail or drop, not {on_bad_rows!r}")
    fmt = fmt or guess_format(path)
    source = open_source(path, fmt, kind, **(options or {}))
    target = output_path(path, out)
    if target.resolve() == path.resolve():
        raise UserInputError(f"{path}: importing would overwrite the file itself; give --out")
    target.parent.mkdir(parents=True, exist_ok=True)

    agreement: SideAgreement | None = None
    if quotes is not None:
        if source.kind != "trades":
            raise UserInputError(f"--quotes checks the sides of a trades file, and {path} holds {source.kind}")
        qpath = Path(quotes)
        qsource = open_source(qpath, quotes_format or guess_format(qpath), "quotes")
        agreement = SideAgreement(qsource.batches(), str(qpath))

    validation = _Validation(source, path, tick_size, on_bad_rows)
    threshold = DEFAULT_GAP_THRESHOLD_NS
    if source.kind == "klines" and source.interval_ns:
        threshold = max(threshold, source.interval_ns)  # consecutive bars are one interval apart
    gaps = GapTracker(threshold)
    has_sides = False

    metadata = {META_KIND: source.kind.encode()}
    if source.interval_ns is not None:
        metadata[META_INTERVAL_NS] = str(source.interval_ns).encode()
    schema = SCHEMAS[source.kind].with_metadata(metadata)
    tmp = target.with_name(target.name + ".tmp")
    try:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            for row0, batch in source.batches():
                writer.write_batch(batch)
                ts = batch.column(0).to_numpy()
                gaps.update(ts, row0)
                validation.push(row0, batch)
                if agreement is not None:
                    has_sides = has_sides or bool(np.any(batch.column("side").to_numpy() != 0))
                    agreement.update(batch)
            validation.finish()
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()

    bad = validation.bad
    span = 0.0 if gaps.min_ts is None or gaps.max_ts is None else (gaps.max_ts - gaps.min_ts) / NS_PER_S
    return QualityReport(
        path=str(path),
        format=fmt,
        kind=source.kind,
        output=str(target),
        rows=gaps.rows,
        first_ts=None if gaps.min_ts is None else iso_utc(gaps.min_ts),
        last_ts=None if gaps.max_ts is None else iso_utc(gaps.max_ts),
        span_s=span,
        interval_ns=source.interval_ns,
        gap_threshold_s=threshold / NS_PER_S,
        gaps_over_threshold=gaps.over_threshold,
        largest_gaps=gaps.largest(),
        bad_rows=bad,
        bad_rows_total=sum(b.count for b in bad.values()),
        side_agreement=agreement.result() if agreement is not None and has_sides else None,
    )


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `sim import`."""
    add = parser.add_argument
    add("file", metavar="FILE", type=Path, help="the recorded file to import")
    add("--format", choices=sorted(READERS), help="the file's format (default: guessed from the file)")
    add("--kind", choices=("trades", "quotes", "klines"), help="what it holds (required for generic Parquet/Feather)")
    add("--interval", help="bar interval of a klines file, e.g. 1m, 1h, 1d (default: from the file)")
    add("--quotes", metavar="FILE", type=Path, help="an L1 quotes file to check the trades' sides against")
    add("--quotes-format", choices=sorted(READERS), help="the quotes file's format (default: guessed)")
    add("--out", metavar="DIR", type=types.out_dir,
        help="directory of the output <stem>.parquet (default: current directory)")
    add("--report", metavar="PATH", type=types.out_file, help="also write the report as JSON to PATH")
    add("--on-bad-rows", choices=("fail", "drop"), default="drop", help="stop at the first bad row, or count (default)")
    add("--tick-size", type=types.positive_float, default=0.1, help="price tick of the instrument (default 0.1)")


def run_import(args: argparse.Namespace) -> int:
    """`sim import`: imports, prints the report, writes `--report` if asked. Returns 0."""
    if args.format and args.format in FORMAT_KINDS and args.kind and FORMAT_KINDS[args.format] != args.kind:
        raise UserInputError(f"--format {args.format} holds {FORMAT_KINDS[args.format]}, not --kind {args.kind}")
    options: dict[str, object] = {}
    if getattr(args, "interval", None):
        options["interval"] = args.interval
    report = import_file(
        args.file,
        args.format,
        args.kind,
        args.out,
        args.on_bad_rows,
        quotes=args.quotes,
        quotes_format=args.quotes_format,
        tick_size=args.tick_size,
        options=options,
    )
    sys.stdout.write(report.to_text())
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report.to_json())
    return 0
