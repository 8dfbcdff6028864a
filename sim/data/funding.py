"""Funding schedules for a replay: the (times, rates) the market engine settles funding at.

A schedule is two arrays — times in Unix ns (int64, strictly increasing) and rates as a
fraction per funding interval (float64) — for the window `(start_ns, end_ns]`: a settlement at
the very start of the window belongs to the time before it, one at the end to the run.

* `fixed_schedule` — one rate at 00:00, 08:00 and 16:00 UTC (spec §12.3, the backtest model).
* `file_schedule` — recorded rates from a freqtrade funding-rate feather (`date` = settlement
  time, `open` = rate) or a header-less CSV `YYYYMMDD HH:MM:SS, rate` (QuantConnect LEAN).
  The whole file is checked (times strictly increasing, rates finite); then every 00/08/16 UTC
  time inside the window must be in it, so a gap or a window beyond the file is an error
  rather than a run that silently charges no funding. Rows off that grid (an exchange that
  settled more often for a while) are kept.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from sim.core.errors import DataFileError

NS_PER_S = 1_000_000_000
FUNDING_EVERY_NS = 8 * 3600 * NS_PER_S  # Unix time 0 is 00:00 UTC, so multiples fall on 00/08/16

Schedule = tuple[np.ndarray, np.ndarray]
#: A file's schedule with the 1-based row of each entry, for messages.
_Rows = tuple[np.ndarray, np.ndarray, np.ndarray]

_CSV_ROW = re.compile(r"^\s*(\d{8})\s+(\d\d):(\d\d):(\d\d)\s*,\s*(\S+)\s*$")


def _utc(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // NS_PER_S, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def funding_times(start_ns: int, end_ns: int) -> np.ndarray:
    """The 00:00/08:00/16:00 UTC instants strictly after `start_ns` and at or before `end_ns`."""
    first = (start_ns // FUNDING_EVERY_NS + 1) * FUNDING_EVERY_NS
    if first > end_ns:
        return np.empty(0, dtype=np.int64)
    return np.arange(first, end_ns + 1, FUNDING_EVERY_NS, dtype=np.int64)


def fixed_schedule(start_ns: int, end_ns: int, rate_8h: float) -> Schedule:
    """`rate_8h` (a fraction per 8 h; 1 bp = 0.0001) at every funding time of the window."""
    if not math.isfinite(rate_8h):
        raise ValueError(f"funding rate {rate_8h} is not finite")
    ts = funding_times(start_ns, end_ns)
    return ts, np.full(len(ts), float(rate_8h), dtype=np.float64)


def _read_feather(path: Path) -> _Rows:
    try:
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
    except (pa.ArrowException, OSError) as e:
        raise DataFileError(path, f"not a readable Feather file: {e}") from None
    for name in ("date", "open"):
        if name not in table.column_names:
            raise DataFileError(path, f"no column {name!r} (a freqtrade funding-rate file has date and open)")
    date, rate = table.column("date"), table.column("open")
    for name, col in (("date", date), ("open", rate)):
        if col.null_count:
            row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0]) + 1
            raise DataFileError(path, f"empty {name}", row=row)
    if not pa.types.is_timestamp(date.type):
        raise DataFileError(path, f"column 'date' is {date.type}, not a timestamp")
    if not (pa.types.is_floating(rate.type) or pa.types.is_integer(rate.type)):
        raise DataFileError(path, f"column 'open' (the rate) is {rate.type}, not a number")
    try:
        ts = date.cast(pa.timestamp("ns", tz=date.type.tz)).cast(pa.int64())
    except pa.ArrowInvalid as e:
        raise DataFileError(path, f"column 'date' does not fit nanoseconds: {e}") from None
    return (np.asarray(ts.to_numpy(), dtype=np.int64),
            np.asarray(rate.cast(pa.float64()).to_numpy(), dtype=np.float64),
            np.arange(1, len(table) + 1, dtype=np.int64))


def _read_csv(path: Path) -> _Rows:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataFileError(path, f"unreadable: {e}") from None
    ts: list[int] = []
    rates: list[float] = []
    rows: list[int] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue  # a blank line (often the last) is no row, but keeps its line number
        m = _CSV_ROW.match(line)
        if m is None:
            raise DataFileError(path, f"expected 'YYYYMMDD HH:MM:SS, rate', got {line.strip()[:60]!r}", row=n)
        day, hh, mm, ss, rate = m.groups()
        try:
            t = datetime.strptime(f"{day} {hh}:{mm}:{ss}", "%Y%m%d %H:%M:%S").replace(tzinfo=timezone.utc)
            r = float(rate)
        except ValueError:
            raise DataFileError(path, f"not a date and a rate: {line.strip()[:60]!r}", row=n) from None
        # Whole seconds, so integer arithmetic is exact.
        ts.append(int(t.timestamp()) * NS_PER_S)
        rates.append(r)
        rows.append(n)
    return np.asarray(ts, dtype=np.int64), np.asarray(rates, dtype=np.float64), np.asarray(rows, dtype=np.int64)


def _read_checked(path: Path) -> _Rows:
    ext = path.suffix.lower()
    if not path.is_file():
        raise DataFileError(path, "funding-rate file not found")
    if ext in (".feather", ".arrow", ".ipc"):
        ts, rate, rows = _read_feather(path)
    elif ext == ".csv":
        ts, rate, rows = _read_csv(path)
    else:
        raise DataFileError(path, f"unknown funding-rate format {ext or '(no extension)'!r} (expected .feather or .csv)")
    if len(ts) == 0:
        raise DataFileError(path, "no funding rates")
    bad = np.flatnonzero(np.diff(ts) <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        raise DataFileError(path, f"time {_utc(int(ts[i]))} is not after the previous row's {_utc(int(ts[i - 1]))}",
                            row=int(rows[i]))
    bad = np.flatnonzero(~np.isfinite(rate))
    if len(bad):
        i = int(bad[0])
        raise DataFileError(path, f"rate {rate[i]} is not finite", row=int(rows[i]))
    return ts, rate, rows


def read_schedule(path: Path | str) -> Schedule:
    """Every row of a funding-rate file, checked: times strictly increasing, rates finite."""
    ts, rate, _rows = _read_checked(Path(path))
    return ts, rate


def file_schedule(path: Path | str, start_ns: int, end_ns: int) -> Schedule:
    """The rows of a funding-rate file inside `(start_ns, end_ns]`; see the module documentation."""
    path = Path(path)
    ts, rate, rows = _read_checked(path)
    want = funding_times(start_ns, end_ns)
    missing = want[~np.isin(want, ts)]
    if len(missing):
        t = int(missing[0])
        i = int(np.searchsorted(ts, t))
        window = f"the window {_utc(start_ns)} .. {_utc(end_ns)}"
        if i == 0:
            msg = f"the file starts at {_utc(int(ts[0]))}, after the funding time {_utc(t)} of {window}"
        elif i == len(ts):
            i -= 1
            msg = f"the file ends at {_utc(int(ts[-1]))}, before the funding time {_utc(t)} of {window}"
        else:
            msg = f"no rate for the funding time {_utc(t)} of {window} (the file skips from the row before to this one)"
        raise DataFileError(path, msg, row=int(rows[i]))
    inside = (ts > start_ns) & (ts <= end_ns)
    return np.ascontiguousarray(ts[inside]), np.ascontiguousarray(rate[inside])
