"""The run's SQLite stores (spec §2.3, §3.3): `signals.db` with `signals_1m`, and `execution.db`
with `positions` and `state_snapshots`, in the spec's schemas.

They are written from the run's recorder when the run ends (a replay has everything in memory
by then; live mode appends as it goes through the same functions). Opening a store deletes a
previous file of that name, so a re-run never appends to an old run. NaN is stored as NULL. Like
the DuckDB stores these are for analysis and the dashboard; golden comparison works on the text
exports.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SIGNALS_DB = "signals.db"
EXECUTION_DB = "execution.db"

_SIGNALS_1M = """CREATE TABLE signals_1m (
    ts_min                  INTEGER PRIMARY KEY,
    signal_breakin_long     INTEGER,
    signal_breakin_short    INTEGER,
    signal_breakout_long    INTEGER,
    signal_breakout_short   INTEGER,
    signal_failbreak_long   INTEGER,
    signal_failbreak_short  INTEGER,
    acceptance_state        TEXT,
    chosen_action           TEXT,
    reason_code             TEXT,
    feature_snapshot        TEXT
)"""
POSITIONS_SQL = _POSITIONS = """CREATE TABLE positions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms_open          INTEGER NOT NULL,
    ts_ms_close         INTEGER,
    side                TEXT NOT NULL,
    entry_price         DOUBLE NOT NULL,
    exit_price          DOUBLE,
    qty_contracts       DOUBLE NOT NULL,
    qty_at_tp1          DOUBLE,
    stop_price          DOUBLE,  -- NULL for strategies without a stop (the plumbing probe)
    tp1_price           DOUBLE,
    tp2_price           DOUBLE,
    strategy_tag        TEXT,
    status              TEXT,
    realized_pnl        DOUBLE,
    fees_paid           DOUBLE,
    funding_paid        DOUBLE,
    leverage_used       DOUBLE,
    risk_pct_used       DOUBLE
)"""
STATE_SNAPSHOTS_SQL = _STATE_SNAPSHOTS = """CREATE TABLE state_snapshots (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms           INTEGER NOT NULL,
    snapshot_type   TEXT,
    position_state  TEXT,
    acceptance_state TEXT,
    pending_orders  TEXT,
    account_state   TEXT
)"""


def _null(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _fresh(path: Path, schema: Sequence[str]) -> sqlite3.Connection:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    for stmt in schema:
        con.execute(stmt)
    return con


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


#: The feature values a decision saw, as the strategy reports them with each signals row.
SNAPSHOT_KEYS = ("poc", "vah", "val", "of_1m", "of_norm_1m", "qimb", "ambiguous_frac")

# The snapshot's fields in the sorted-key order of its JSON, with their '"key":' prefixes.
_SNAPSHOT_ORDER = sorted(range(len(SNAPSHOT_KEYS)), key=lambda i: SNAPSHOT_KEYS[i])
_SNAPSHOT_PREFIX = tuple(json.dumps(SNAPSHOT_KEYS[i]) + ":" for i in _SNAPSHOT_ORDER)


def _snapshot_json(snap: tuple[float, ...]) -> str:
    """`_json` of a feature snapshot (NaN as null), written directly when every value is a finite
    float or NaN — one per minute of a run, where json.dumps of a dict was most of the store's
    time; the same text (json writes a float as its repr). Anything else goes through `_json`."""
    if len(snap) == len(SNAPSHOT_KEYS):
        parts = []
        for prefix, i in zip(_SNAPSHOT_PREFIX, _SNAPSHOT_ORDER):
            v = snap[i]
            if type(v) is not float or v in (math.inf, -math.inf):
                break
            parts.append(prefix + ("null" if v != v else repr(v)))
        else:
            return "{" + ",".join(parts) + "}"
    return _json({k: _null(v) for k, v in zip(SNAPSHOT_KEYS, snap, strict=True)})


SIGNALS_1M_SQL = _SIGNALS_1M


def signals_1m_row(r: tuple[Any, ...], snap: tuple[float, ...]) -> tuple[Any, ...]:
    """A signals.csv row (ts_min_ms, six flags, action, reason, acceptance JSON) and its feature
    snapshot as a `signals_1m` row."""
    return (r[0], *r[1:7], r[9], r[7], r[8], _snapshot_json(snap))


def position_row(r: tuple[Any, ...]) -> tuple[Any, ...]:
    """A positions.csv row as stored (NaN as NULL)."""
    return tuple(_null(v) for v in r)


def write_signals_db(path: Path, rows: Iterable[tuple[Any, ...]], feature_snapshots: Iterable[tuple[float, ...]]) -> None:
    """`rows` as in signals.csv (ts_min_ms, six flags, action, reason, acceptance JSON);
    `feature_snapshots` the matching SNAPSHOT_KEYS values, stored as JSON."""
    con = _fresh(path, [_SIGNALS_1M])
    with con:
        con.executemany(
            "INSERT INTO signals_1m VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (signals_1m_row(r, snap) for r, snap in zip(rows, feature_snapshots, strict=True)),
        )
    con.close()


def write_execution_db(path: Path, positions: Iterable[tuple[Any, ...]],
                       snapshots: Iterable[tuple[int, str, dict[str, Any]]]) -> None:
    """`positions` rows as in positions.csv (ledger order), `snapshots` as (ts_ms, type, state)."""
    con = _fresh(path, [_POSITIONS, _STATE_SNAPSHOTS])
    with con:
        con.executemany("INSERT INTO positions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (position_row(r) for r in positions))
        con.executemany(
            "INSERT INTO state_snapshots (ts_ms, snapshot_type, position_state, acceptance_state, pending_orders,"
            " account_state) VALUES (?,?,?,?,?,?)",
            ((ts, kind, _json(s["position_state"]), _json(s["acceptance_state"]), _json(s["pending_orders"]),
              _json(s["account_state"])) for ts, kind, s in snapshots),
        )
    con.close()
