"""Timestamp columns of recorded files → Unix nanoseconds (int64, UTC), with unit auto-detection.

Recorded files stamp their rows in many ways (spec §3.2): Unix seconds with a fraction (Bybit's
archive), milliseconds (Binance), microseconds, nanoseconds, ISO 8601 strings, or a typed Arrow
timestamp column (Parquet, Feather). `detect_unit` looks at the first non-null value of a batch;
a reader detects once, from its first batch, and keeps the unit for the whole file, so a file
cannot silently change unit half-way (a row that does not fit the unit is an error naming it).

Numbers are classified by magnitude: s < 1e11 ≤ ms < 1e14 ≤ µs < 1e17 ≤ ns.

Plausible range: every timestamp a file gives must lie in [2009-01-03, 2100-01-01) UTC (Bitcoin's
first block; a fixed end, not the wall clock, so a file accepted today is accepted tomorrow). It
is checked per batch, before anything is sized from the times, so one row stamped in 2200 cannot
make a reader, an import or a run allocate or loop over two centuries of minutes. It also catches
mixed units: a seconds value in a milliseconds file reads as January 1970 and is named as such.

Exactness: CSV readers read timestamp columns as strings, and decimal strings are converted with
integer arithmetic on their integer and fraction digits, so `1670889600.1234` s is exactly
1670889600123400000 ns (digits beyond 1 ns are truncated). Float columns (only in Parquet/Feather
files) cannot carry that exactness: they are rounded to the nearest microsecond, which removes
the binary-float error of any value written with at most 6 decimals of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.core.errors import DataFileError

TimeUnit = Literal["s", "ms", "us", "ns", "iso", "timestamp"]

NS_PER_UNIT: dict[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_FRACTION_DIGITS = {"s": 9, "ms": 6, "us": 3, "ns": 0}
_INT64_MAX = np.iinfo(np.int64).max

#: the plausible range of a recorded timestamp, [EARLIEST_NS, LATEST_NS) in Unix ns
EARLIEST_NS = 1_230_940_800 * 1_000_000_000  # 2009-01-03T00:00:00Z, the genesis block
LATEST_NS = 4_102_444_800 * 1_000_000_000  # 2100-01-01T00:00:00Z
PLAUSIBLE_RANGE = "2009-01-03..2100-01-01"

_NUMBER_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)$"
_DECIMAL_RE = r"^(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?$"
_ISO_RE = r"^\d{4}-\d\d-\d\d(?:$|[Tt ])"
# An explicit zone needs a time part before it, or the day of "2021-01-01" would read as "-01".
_ZONE_RE = r"[Tt ]\d\d(?::?\d\d)*(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"


def unit_of_magnitude(value: int | float) -> str:
    """The unit a Unix timestamp of this magnitude is written in."""
    v = abs(value)
    if v < 10**11:
        return "s"
    if v < 10**14:
        return "ms"
    if v < 10**17:
        return "us"
    return "ns"


def first_bad_index(array: pa.Array, convert: Callable[[pa.Array], object]) -> int | None:
    """Index of the first element `convert` rejects (raises on), or None if it accepts them all.

    Only for error paths: a binary search over prefixes, so every step stays vectorized. It
    relies on conversions being element-wise, so a prefix fails iff it holds a bad element.
    """
    try:
        convert(array)
        return None
    except (pa.ArrowException, ValueError, OverflowError, DataFileError):
        pass
    lo, hi = 0, len(array)  # the prefix [0, hi) fails, the prefix [0, lo) passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(array.slice(0, mid))
            lo = mid
        except (pa.ArrowException, ValueError, OverflowError, DataFileError):
            hi = mid
    return hi - 1


def _first_true(mask: pa.Array | np.ndarray) -> int | None:
    if isinstance(mask, np.ndarray):
        hits = np.flatnonzero(mask)
        return int(hits[0]) if hits.size else None
    i = pc.index(mask.fill_null(False), True).as_py()
    return None if i < 0 else int(i)


def plain_array(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous, non-dictionary array; large/view strings as plain strings."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array


def _check_nulls(array: pa.Array, path: Path | str, row0: int) -> None:
    if array.null_count:
        i = _first_true(array.is_null())
        raise DataFileError(path, "missing timestamp", row=row0 + (i or 0))


def detect_unit(array: pa.Array | pa.ChunkedArray, *, path: Path | str, row0: int) -> TimeUnit:
    """The unit of a timestamp column, decided by its first non-null value.

    Integers and floats by magnitude; strings are numbers (then by magnitude; a decimal
    fraction means seconds below 1e11, else milliseconds) or ISO 8601; typed Arrow timestamps
    and dates are "timestamp". A null first value or an unreadable string is a DataFileError.
    """
    array = plain_array(array)
    if len(array) == 0:
        raise DataFileError(path, "no rows to detect the timestamp unit from")
    _check_nulls(array, path, row0)
    t = array.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "timestamp"
    if pa.types.is_integer(t):
        return unit_of_magnitude(int(array[0].as_py()))  # type: ignore[return-value]
    if pa.types.is_floating(t):
        first = float(array[0].as_py())
        if not np.isfinite(first):
            raise DataFileError(path, f"timestamp {first} is not a number", row=row0)
        return unit_of_magnitude(first)  # type: ignore[return-value]
    if pa.types.is_string(t):
        text = str(array[0].as_py()).strip()
        if pc.match_substring_regex(pa.array([text]), _NUMBER_RE)[0].as_py():
            number = float(text) if "." in text else int(text)
            return unit_of_magnitude(number)  # type: ignore[return-value]
        if pc.match_substring_regex(pa.array([text]), _ISO_RE)[0].as_py():
            return "iso"
        raise DataFileError(path, f"unrecognized timestamp {text!r}", row=row0)
    raise DataFileError(path, f"a timestamp column of type {t} is not supported")


def _scale_ints(values: np.ndarray, factor: int) -> np.ndarray:
    """values × factor as int64; raises OverflowError on the first value that does not fit."""
    if factor == 1:
        return values.astype(np.int64, copy=False)
    limit = _INT64_MAX // factor
    if values.size and np.abs(values).max() > limit:
        raise OverflowError("timestamp out of range")
    return values.astype(np.int64, copy=False) * np.int64(factor)


def _decimal_strings_to_ns(array: pa.Array, unit: str) -> np.ndarray:
    """Decimal strings in `unit` → ns with integer arithmetic only. Raises on a bad value."""
    digits = _FRACTION_DIGITS[unit]
    text = pc.utf8_trim_whitespace(array)
    if not pc.any(pc.match_substring(text, ".")).as_py():
        # The common case (integer ms/µs/ns): Arrow's own integer parser, strict.
        return _scale_ints(text.cast(pa.int64()).to_numpy(), NS_PER_UNIT[unit])
    parts = pc.extract_regex(text, _DECIMAL_RE)
    if parts.null_count:
        raise ValueError("not a decimal number")
    whole = parts.field("int")
    if pc.any(pc.equal(pc.utf8_length(whole), 0)).as_py():
        whole = pc.if_else(pc.equal(pc.utf8_length(whole), 0), "0", whole)
    ns = _scale_ints(whole.cast(pa.int64()).to_numpy(), NS_PER_UNIT[unit])
    if digits:
        frac = pc.utf8_slice_codeunits(pc.utf8_rpad(parts.field("frac"), digits, "0"), 0, digits)
        ns = ns + frac.cast(pa.int64()).to_numpy()
    negative = pc.equal(parts.field("sign"), "-").to_numpy(zero_copy_only=False)
    return np.where(negative, -ns, ns)


def _iso_strings_to_ns(array: pa.Array) -> np.ndarray:
    """ISO 8601 strings → ns; a string without a zone is UTC. Raises on a bad value."""
    text = pc.utf8_trim_whitespace(array)
    zoned = pc.match_substring_regex(text, _ZONE_RE)
    n_zoned = pc.sum(zoned).as_py() or 0
    if n_zoned == len(text):
        out = text.cast(pa.timestamp("ns", tz="UTC"))
    elif n_zoned == 0:
        out = text.cast(pa.timestamp("ns"))
    else:
        aware = pc.if_else(zoned, text, pa.scalar(None, pa.string())).cast(pa.timestamp("ns", tz="UTC"))
        naive = pc.if_else(zoned, pa.scalar(None, pa.string()), text).cast(pa.timestamp("ns"))
        out = pc.if_else(zoned, aware.cast(pa.int64()), naive.cast(pa.int64()))
    return out.cast(pa.int64()).to_numpy()


def _floats_to_ns(values: np.ndarray, unit: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise ValueError("timestamp is not a finite number")
    # Round to whole microseconds: the binary-float error of a value written with ≤ 6 decimals
    # of a second is far below 0.5 µs, so this recovers what the writer meant.
    us = np.rint(values * (NS_PER_UNIT[unit] / 1_000))
    if values.size and np.abs(us).max() > _INT64_MAX // 1_000:
        raise OverflowError("timestamp out of range")
    return us.astype(np.int64) * np.int64(1_000)


def _convert(array: pa.Array, unit: str) -> np.ndarray:
    t = array.type
    if unit == "timestamp":
        if pa.types.is_timestamp(t):
            return array.cast(pa.timestamp("ns", tz=t.tz)).cast(pa.int64()).to_numpy()
        if pa.types.is_date(t):
            return array.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy()
        raise ValueError(f"expected a timestamp column, got {t}")
    if pa.types.is_string(t):
        if unit == "iso":
            return _iso_strings_to_ns(array)
        return _decimal_strings_to_ns(array, unit)
    if unit == "iso":
        raise ValueError(f"expected ISO 8601 strings, got {t}")
    if pa.types.is_integer(t):
        return _scale_ints(array.to_numpy(), NS_PER_UNIT[unit])
    if pa.types.is_floating(t):
        return _floats_to_ns(array.to_numpy(), unit)
    raise ValueError(f"a timestamp column of type {t} is not supported")


def to_ns(
    array: pa.Array | pa.ChunkedArray,
    *,
    path: Path | str,
    row0: int,
    unit: TimeUnit | None = None,
) -> np.ndarray:
    """A timestamp column → int64 Unix nanoseconds.

    `unit` is what `detect_unit` returned for the file's first batch; None detects it from
    this array. `row0` is the 1-based data row of the first element, used in error messages:
    a null or unconvertible value raises DataFileError naming its row.
    """
    array = plain_array(array)
    if len(array) == 0:
        return np.empty(0, dtype=np.int64)
    if unit is None:
        unit = detect_unit(array, path=path, row0=row0)
    _check_nulls(array, path, row0)
    try:
        return np.ascontiguousarray(_convert(array, unit), dtype=np.int64)
    except (pa.ArrowException, ValueError, OverflowError):
        pass
    i = first_bad_index(array, lambda a: _convert(a, unit)) or 0
    value = array[i].as_py()
    own = _own_unit(value)
    if unit in NS_PER_UNIT and own is not None and own != unit:
        raise DataFileError(path, f"timestamp {value!r} looks like {own}, but this file's timestamps are {unit} "
                                  "(mixed units in one column)", row=row0 + i)
    described = "ISO 8601" if unit == "iso" else f"a Unix timestamp in {unit}"
    raise DataFileError(path, f"timestamp {value!r} is not {described}", row=row0 + i)


def _own_unit(value: object) -> str | None:
    """The unit a single number's magnitude says, or None for what is not a number."""
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return unit_of_magnitude(number) if np.isfinite(number) else None


def iso_ns(ns: int) -> str:
    """A Unix-ns time as ISO 8601 UTC to the second (for messages)."""
    import datetime as _dt

    seconds = ns // 1_000_000_000
    try:
        return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} s after 1970"


def check_plausible(ns: np.ndarray, array: pa.Array, *, path: Path | str, row0: int, unit: str) -> None:
    """DataFileError naming the first row whose time lies outside [EARLIEST_NS, LATEST_NS).

    A number whose own magnitude says another unit than the file's is called a mixed unit."""
    if ns.size == 0:
        return
    bad = (ns < EARLIEST_NS) | (ns >= LATEST_NS)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    value = array[i].as_py()
    if unit in NS_PER_UNIT:
        own = _own_unit(value) or unit
        if own != unit:
            raise DataFileError(path, f"timestamp {value!r} looks like {own}, but this file's timestamps are {unit} "
                                      "(mixed units in one column)", row=row0 + i)
    raise DataFileError(path, f"timestamp {value!r} is {iso_ns(int(ns[i]))}, outside the plausible range "
                              f"{PLAUSIBLE_RANGE}", row=row0 + i)


class TimestampColumn:
    """The timestamp column of one file: detects the unit on the first batch and keeps it, and
    checks every value against the plausible range (which also catches a change of unit)."""

    def __init__(self, path: Path | str, unit: TimeUnit | None = None) -> None:
        self.path = path
        self.unit: TimeUnit | None = unit

    def to_ns(self, array: pa.Array | pa.ChunkedArray, row0: int) -> np.ndarray:
        array = plain_array(array)
        if self.unit is None:
            self.unit = detect_unit(array, path=self.path, row0=row0)
            # The value the unit was detected from must itself be plausible: else the rest of the
            # file would be judged against a unit read from a bad first row.
            first = array.slice(0, 1)
            check_plausible(to_ns(first, path=self.path, row0=row0, unit=self.unit), first, path=self.path,
                            row0=row0, unit=self.unit)
        ns = to_ns(array, path=self.path, row0=row0, unit=self.unit)
        check_plausible(ns, array, path=self.path, row0=row0, unit=self.unit)
        return ns
