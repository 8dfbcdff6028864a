"""Canonical text exports: the files golden comparison works on.

CSV with a header and a fixed column order, rows in the order the run produced them (which is
the total order of events, so no sort is needed afterwards); floats as the shortest repr that
round-trips, NaN as an empty field, text quoted by RFC 4180 when it holds a comma, quote or line
break; JSON with sorted keys and a trailing newline.

`csv_text` hands a table to the Rust core column by column (`_core.csv_rows`): float columns as
floats, which it writes as `repr` would (0.5 µs a float in Python, the better part of exporting a
month of minutes), every other column as its fields' text from `fmt`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sim import _core


def fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v == 0.0:
            return "0.0"  # no "-0.0": the sign of a zero is noise
        return repr(v)
    return str(v)


def _field(v: Any) -> str:
    text = fmt(v)
    if isinstance(v, str) and any(c in text for c in ',"\n\r'):
        # RFC 4180: a text field with a comma, quote or line break is quoted, its quotes doubled
        # (alert messages and JSON states have commas), so any CSV reader splits rows right.
        return '"' + text.replace('"', '""') + '"'
    return text


_NONE = type(None)
_NAN = float("nan")


def _quoted(s: str) -> str:
    if "," in s or '"' in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def _column(values: Sequence[Any]) -> tuple[bool, Sequence[Any]]:
    """(is_float, column) for `_core.csv_rows`: a column of plain floats (None for NaN allowed) goes
    as floats, written in Rust as `fmt` writes them (`repr`, NaN empty, either zero "0.0"); any other
    column as the text of each field — in one pass for plain ints, bools or text (None empty), value
    by value otherwise (numpy scalars, mixed columns)."""
    types = set(map(type, values))
    if types <= {float}:
        return True, values
    if types <= {float, _NONE}:
        return True, [_NAN if v is None else v for v in values]
    if types <= {int}:
        return False, list(map(str, values))
    if types <= {str}:
        return False, list(map(_quoted, values))
    if types <= {bool}:
        return False, ["1" if v else "0" for v in values]
    if types <= {str, _NONE}:
        return False, ["" if v is None else _quoted(v) for v in values]
    return False, [_field(v) for v in values]


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = rows if isinstance(rows, list) else list(rows)
    width = len(columns)
    if any(len(r) != width for r in rows):
        bad = next(r for r in rows if len(r) != width)
        raise ValueError(f"row has {len(bad)} fields, header has {width}")
    header = ",".join(columns) + "\n"
    if not rows:
        return header
    kinds, cols = zip(*(_column(c) for c in zip(*rows, strict=True)), strict=True)
    return header + _core.csv_rows(list(cols), list(kinds))


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else (0.0 if v == 0.0 else v)
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def json_text(obj: Any) -> str:
    return json.dumps(_clean(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"
