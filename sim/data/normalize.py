"""Shared by every reader: finding columns by name, converting them to the normalized dtypes
(`sim.data.schema`), and building the normalized record batches.

All conversions are vectorized (pyarrow.compute / numpy). A value that cannot be converted is a
DataFileError naming the file and the 1-based data row; locating it is the only place that
looks at single values, and only on the error path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.data.schema import SCHEMAS, SourceKind
from sim.data.timestamps import TimestampColumn, first_bad_index, plain_array
from sim.core.errors import DataFileError, UserInputError

# Column names each role is found by, in order of preference, compared case-insensitively.
# Single letters (Binance's "p", "q", "b") are left out on purpose: "b" and "B" would collide.
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts_ns", "ts_us", "ts_ms", "ts_s", "ts", "timestamp", "time", "datetime", "date"),
    "open_ts": ("open_ts_ns", "open_time_ms", "open_time", "ts", "timestamp", "date", "datetime", "time"),
    "price": ("price", "px", "trade_price"),
    "size": ("size", "qty", "quantity", "amount", "volume"),
    "side": ("side", "taker_side"),
    "buyer_maker": ("buyer_maker", "is_buyer_maker", "isbuyermaker"),
    "trade_id": ("trade_id", "id", "tradeid", "trdmatchid"),
    "bid_px": ("bid_px", "bid", "bid_price", "best_bid", "bidprice"),
    "bid_sz": ("bid_sz", "bid_size", "bid_qty", "bid_amount", "bidsize", "bidqty"),
    "ask_px": ("ask_px", "ask", "ask_price", "best_ask", "askprice"),
    "ask_sz": ("ask_sz", "ask_size", "ask_qty", "ask_amount", "asksize", "askqty"),
    "open": ("open", "mark_open"),
    "high": ("high", "mark_high"),
    "low": ("low", "mark_low"),
    "close": ("close", "mark_close"),
    "volume": ("volume", "vol", "base_volume"),
}

# Roles per kind; the first group is required, the second optional.
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "trades": (("ts", "price", "size"), ("side", "buyer_maker", "trade_id")),
    "quotes": (("ts", "bid_px", "bid_sz", "ask_px", "ask_sz"), ()),
    "klines": (("open_ts", "open", "high", "low", "close"), ("volume",)),
}

_UUID_RE = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_UUID_ID_DIGITS = 15  # 60 bits: the largest id is 16**15 - 1 < 2**63, so it stays a positive int64
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX_VALUE[_c] = 10 + _i
_HEX_WEIGHTS = 16 ** np.arange(_UUID_ID_DIGITS - 1, -1, -1, dtype=np.int64)

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*(ns|us|ms|s|m|min|h|d|w)\s*$")
_INTERVAL_UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}


def parse_interval(value: int | str) -> int:
    """A bar interval as ns: an int is ns already; a string is like "1m", "15s", "1h", "1d"."""
    if isinstance(value, bool):
        raise UserInputError(f"interval must be a duration like '1m' or a number of ns, not {value!r}")
    if isinstance(value, int):
        ns = value
    else:
        m = _INTERVAL_RE.match(str(value))
        if not m:
            raise UserInputError(f"interval {value!r} is not a duration like '1m', '1h' or '1d'")
        ns = int(m.group(1)) * _INTERVAL_UNITS[m.group(2)]
    if ns <= 0:
        raise UserInputError(f"interval must be positive, not {value!r}")
    return ns


def find_columns(
    names: Sequence[str],
    kind: SourceKind,
    *,
    path: Path | str,
    overrides: Mapping[str, str] | None = None,
    aliases: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, str]:
    """role → column name for the columns of a file; a missing required role is an error.

    `overrides` maps a role to a column name and wins over the aliases.
    """
    table = dict(ALIASES)
    if aliases:
        table.update(aliases)
    required, optional = ROLES[kind]
    lower = {n.lower(): n for n in reversed(names)}  # first spelling wins on duplicates
    found: dict[str, str] = {}
    for role, column in (overrides or {}).items():
        if role not in required + optional:
            known = ", ".join(required + optional)
            raise UserInputError(f"{path}: unknown column role {role!r} for {kind}; roles: {known}")
        if column not in names:
            raise DataFileError(path, f"no column {column!r} (columns: {', '.join(names)})")
        found[role] = column
    taken = set(found.values())
    for role in required + optional:
        if role in found:
            continue
        for alias in table[role]:
            name = lower.get(alias)
            if name is not None and name not in taken:
                found[role] = name
                taken.add(name)
                break
    missing = [r for r in required if r not in found]
    if missing:
        wanted = "; ".join(f"{r}: one of {', '.join(table[r])}" for r in missing)
        raise DataFileError(path, f"no {kind} columns found for {wanted} (columns: {', '.join(names)})")
    return found


def _cast(array: pa.Array, to: pa.DataType) -> pa.Array:
    if pa.types.is_string(array.type):
        # pyarrow's CSV parser tolerates blanks around numbers; cast() does not.
        array = pc.utf8_trim_whitespace(array)
    return array.cast(to)


def describe(to: pa.DataType) -> str:
    """How an error message names what a value should have been."""
    if pa.types.is_floating(to):
        return "a number"
    if pa.types.is_integer(to):
        return "an integer"
    return f"a {to}"


def _cast_located(array: pa.Array, to: pa.DataType, *, path: Path | str, row0: int, column: str) -> pa.Array:
    try:
        return _cast(array, to)
    except (pa.ArrowException, ValueError):
        i = first_bad_index(array, lambda a: _cast(a, to)) or 0
        raise DataFileError(path, f"column {column}: {array[i].as_py()!r} is not {describe(to)}", row=row0 + i) from None


def floats(array: pa.Array | pa.ChunkedArray, *, path: Path | str, row0: int, column: str) -> np.ndarray:
    """A numeric column → float64; null (an empty field) becomes NaN for the engine to judge."""
    array = plain_array(array)
    if array.type != pa.float64():
        array = _cast_located(array, pa.float64(), path=path, row0=row0, column=column)
    if array.null_count:
        array = array.fill_null(np.nan)
    return np.ascontiguousarray(array.to_numpy(), dtype=np.float64)


def _first_row(mask: pa.Array) -> int:
    return int(pc.index(mask.fill_null(False), True).as_py())


def sides(array: pa.Array | pa.ChunkedArray, *, path: Path | str, row0: int, column: str) -> np.ndarray:
    """A taker-side column → int8: "buy"/"sell" in any case, or integers −1/0/+1; null → 0."""
    array = plain_array(array)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        ok = pc.is_in(array, value_set=pa.array([-1, 0, 1], type=array.type))
        if not pc.all(ok.fill_null(True)).as_py():
            i = _first_row(pc.invert(ok))
            raise DataFileError(path, f"column {column}: side {array[i].as_py()!r} is not -1, 0 or 1", row=row0 + i)
        return array.fill_null(0).cast(pa.int8()).to_numpy()
    if not pa.types.is_string(array.type):
        raise DataFileError(path, f"column {column}: a side column of type {array.type} is not supported")
    text = pc.utf8_lower(pc.utf8_trim_whitespace(array))
    buy = pc.equal(text, "buy")
    sell = pc.equal(text, "sell")
    known = pc.or_(pc.or_(buy, sell), pc.equal(text, ""))
    if not pc.all(known.fill_null(True)).as_py():
        i = _first_row(pc.invert(known))
        raise DataFileError(path, f"column {column}: side {array[i].as_py()!r} is not buy or sell", row=row0 + i)
    buy_np = buy.fill_null(False).to_numpy(zero_copy_only=False)
    sell_np = sell.fill_null(False).to_numpy(zero_copy_only=False)
    return (buy_np.astype(np.int8) - sell_np.astype(np.int8)).astype(np.int8)


def buyer_maker_sides(array: pa.Array | pa.ChunkedArray, *, path: Path | str, row0: int, column: str) -> np.ndarray:
    """Binance's buyer-is-maker flag → taker side: maker buyer means a sell taker (−1)."""
    array = plain_array(array)
    if pa.types.is_string(array.type):
        text = pc.utf8_lower(pc.utf8_trim_whitespace(array))
        known = pc.is_in(text, value_set=pa.array(["true", "false", "1", "0", ""]))
        if not pc.all(known.fill_null(True)).as_py():
            i = _first_row(pc.invert(known))
            raise DataFileError(path, f"column {column}: {array[i].as_py()!r} is not true or false", row=row0 + i)
        maker = pc.is_in(text, value_set=pa.array(["true", "1"]))
        empty = pc.or_(pc.equal(text, ""), pc.is_null(text))
    elif pa.types.is_boolean(array.type) or pa.types.is_integer(array.type):
        maker = pc.not_equal(array, pa.scalar(0, array.type)) if pa.types.is_integer(array.type) else array
        empty = pc.is_null(array)
    else:
        raise DataFileError(path, f"column {column}: a buyer-maker column of type {array.type} is not supported")
    side = np.where(maker.fill_null(False).to_numpy(zero_copy_only=False), -1, 1).astype(np.int8)
    side[empty.fill_null(True).to_numpy(zero_copy_only=False)] = 0
    return side


def uuid_ids(array: pa.Array | pa.ChunkedArray, *, path: Path | str, row0: int, column: str) -> np.ndarray:
    """UUID trade ids (Bybit's trdMatchID) → int64: the first 15 hex digits, dashes removed.

    15 digits are 60 bits, so the id is a non-negative int64; of a version-4 UUID 56 of them are
    random, so two ids in the engine's 60-second duplicate window collide with probability
    ~n²/2⁵⁷ (nil for any real tape). A null id becomes −1 (no id).
    """
    array = plain_array(array)
    if not pa.types.is_string(array.type):
        raise DataFileError(path, f"column {column}: trade ids of type {array.type} are not UUID strings")
    text = pc.utf8_trim_whitespace(array)
    ok = pc.match_substring_regex(text, _UUID_RE)
    if not pc.all(ok.fill_null(True)).as_py():
        i = _first_row(pc.invert(ok))
        raise DataFileError(path, f"column {column}: trade id {array[i].as_py()!r} is not a UUID", row=row0 + i)
    missing = pc.is_null(text).to_numpy(zero_copy_only=False)
    digits = pc.utf8_slice_codeunits(pc.replace_substring(text.fill_null("0" * 32), "-", ""), 0, _UUID_ID_DIGITS)
    digits = digits.take(pa.array(np.arange(len(digits)))) if digits.offset else digits
    n = len(digits)
    offsets = np.frombuffer(digits.buffers()[1], dtype=np.int32, count=n + 1)
    data = np.frombuffer(digits.buffers()[2], dtype=np.uint8)
    start = int(offsets[0])
    # Every id is exactly 15 ASCII digits here, so the string buffer is an (n, 15) byte matrix.
    chars = data[start : start + n * _UUID_ID_DIGITS].reshape(n, _UUID_ID_DIGITS)
    ids = _HEX_VALUE[chars].astype(np.int64) @ _HEX_WEIGHTS
    ids[missing] = -1
    return ids


def trade_ids(array: pa.Array | pa.ChunkedArray, *, path: Path | str, row0: int, column: str) -> np.ndarray:
    """An integer trade-id column → int64, null → −1; UUID strings go through `uuid_ids`."""
    array = plain_array(array)
    if pa.types.is_string(array.type):
        sample = pc.drop_null(array)
        if len(sample) and pc.match_substring_regex(sample.slice(0, 1), _UUID_RE)[0].as_py():
            return uuid_ids(array, path=path, row0=row0, column=column)
    if array.type != pa.int64():
        array = _cast_located(array, pa.int64(), path=path, row0=row0, column=column)
    return np.ascontiguousarray(array.fill_null(-1).to_numpy(), dtype=np.int64)


def make_batch(kind: SourceKind, columns: Mapping[str, np.ndarray]) -> pa.RecordBatch:
    """The normalized batch of `kind` from numpy columns named as in `sim.data.schema`."""
    schema = SCHEMAS[kind]
    arrays = [pa.array(np.ascontiguousarray(columns[f.name]), type=f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def normalized_batch(
    kind: SourceKind,
    batch: pa.RecordBatch,
    roles: Mapping[str, str],
    ts: TimestampColumn,
    *,
    path: Path | str,
    row0: int,
) -> pa.RecordBatch:
    """The normalized batch of `kind` from a raw batch whose columns play `roles`.

    Optional roles default as the schema says: side 0 (unknown), trade_id −1, volume 0.0.
    """
    n = batch.num_rows

    def column(role: str) -> pa.Array:
        return batch.column(roles[role])

    def f(role: str) -> np.ndarray:
        if role not in roles:
            return np.zeros(n)
        return floats(column(role), path=path, row0=row0, column=roles[role])

    if kind == "trades":
        if "side" in roles:
            side = sides(column("side"), path=path, row0=row0, column=roles["side"])
        elif "buyer_maker" in roles:
            side = buyer_maker_sides(column("buyer_maker"), path=path, row0=row0, column=roles["buyer_maker"])
        else:
            side = np.zeros(n, dtype=np.int8)
        ids = (
            trade_ids(column("trade_id"), path=path, row0=row0, column=roles["trade_id"])
            if "trade_id" in roles
            else np.full(n, -1, dtype=np.int64)
        )
        ts_ns = ts.to_ns(column("ts"), row0)
        cols = {"ts_ns": ts_ns, "price": f("price"), "size": f("size"), "side": side, "trade_id": ids}
        return make_batch("trades", cols)
    if kind == "quotes":
        cols = {k: f(k) for k in ("bid_px", "bid_sz", "ask_px", "ask_sz")}
        return make_batch("quotes", {"ts_ns": ts.to_ns(column("ts"), row0), **cols})
    cols = {k: f(k) for k in ("open", "high", "low", "close", "volume")}
    return make_batch("klines", {"open_ts_ns": ts.to_ns(column("open_ts"), row0), **cols})
