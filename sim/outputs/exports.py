"""Canonical text exports: the files golden comparison works on.

CSV with a header and a fixed column order, rows in the order the run produced them (which is
the total order of events, so no sort is needed afterwards); floats as the shortest repr that
round-trips, NaN as an empty field, text quoted by RFC 4180 when it holds a comma, quote or line
break; JSON with sorted keys and a trailing newline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any


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


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = [",".join(columns)]
    for r in rows:
        if len(r) != len(columns):
            raise ValueError(f"row has {len(r)} fields, header has {len(columns)}")
        out.append(",".join(_field(v) for v in r))
    return "\n".join(out) + "\n"


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
