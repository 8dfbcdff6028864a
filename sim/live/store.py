"""A live session's durable record in the data directory, what a restart recovers from (spec §16).

- `raw.duckdb` (`sim.live.collector.RawCollector`): every tick the session's market engine was given,
  written *before* the engine sees it (a write-ahead log), so whatever the pipeline decided on is
  on disk when the process dies.
- `execution.db` (SQLite, the spec's schema plus two tables of our own):
  `live_sessions` — one row per session (scenario, mode, start, state `running`/`finished`);
  `session_commands` — the operator's commands that changed the session (activation, mode
  switches), with their place in the event sequence; `state_snapshots` — the spec's snapshots,
  every `snapshot_interval_minutes` of market time and on every fill; `positions` — the spec's
  positions, the ledger's rows, inserted when opened and updated as they change, with
  `session_positions` saying which row is which session's ledger position (the spec's `id`
  counts over every session of the directory; the ledger's counts within one).

Recovery replays the session's ticks through a fresh pipeline, applying the recorded commands at
their recorded place: the pipeline is deterministic, so the replay rebuilds exactly the state the
dead process had — position, the strategy's acceptance counters, pending orders, account state —
and every snapshot it re-creates is checked against the one on disk. Then the session goes on live.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.outputs.recorder import POSITION_COLUMNS
from sim.outputs.sqlite_stores import EXECUTION_DB, POSITIONS_SQL, STATE_SNAPSHOTS_SQL, position_row

_SESSIONS_SQL = """CREATE TABLE IF NOT EXISTS live_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    scenario    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    network     TEXT NOT NULL,
    start_ns    INTEGER NOT NULL,
    state       TEXT NOT NULL,  -- running | finished | abandoned
    restarts    INTEGER NOT NULL DEFAULT 0
)"""
_COMMANDS_SQL = """CREATE TABLE IF NOT EXISTS session_commands (
    session_id  INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    dispatched  INTEGER NOT NULL,  -- events handled before it was applied
    loop_ns     INTEGER NOT NULL,
    command     TEXT NOT NULL,
    args        TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
)"""
_SESSION_POSITIONS_SQL = """CREATE TABLE IF NOT EXISTS session_positions (
    session_id  INTEGER NOT NULL,
    ledger_id   INTEGER NOT NULL,  -- the position's id in the session's ledger (positions.csv)
    position_id INTEGER NOT NULL,  -- its row in positions
    PRIMARY KEY (session_id, ledger_id)
)"""


#: The positions columns after `id`, in order (positions.csv's after its id).
_POSITION_FIELDS = POSITION_COLUMNS[1:]


def _if_not_exists(sql: str) -> str:
    return sql.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Command:
    dispatched: int
    loop_ns: int
    command: str
    args: dict[str, Any]


@dataclass(frozen=True)
class SessionRow:
    id: int
    start_ns: int
    restarts: int
    resumed: bool


class SessionStore:
    """`execution.db` of a live data directory. Opening never deletes: sessions append."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / EXECUTION_DB
        self.con = sqlite3.connect(self.path, isolation_level=None)  # autocommit: every write is durable
        self.con.execute("PRAGMA journal_mode=WAL")
        for sql in (_if_not_exists(POSITIONS_SQL), _if_not_exists(STATE_SNAPSHOTS_SQL), _SESSIONS_SQL, _COMMANDS_SQL,
                    _SESSION_POSITIONS_SQL):
            self.con.execute(sql)
        self.session: SessionRow | None = None
        self._seq = 0
        self._positions: dict[int, tuple[int, tuple[Any, ...]]] = {}  # ledger id -> (row id, values)

    def open_session(self, scenario: str, mode: str, network: str, start_ns: int) -> SessionRow:
        """Resumes the unfinished session of this scenario, mode and network, or starts one."""
        row = self.con.execute(
            "SELECT id, start_ns, restarts FROM live_sessions WHERE scenario=? AND mode=? AND network=? "
            "AND state='running' ORDER BY id DESC LIMIT 1", (scenario, mode, network)).fetchone()
        if row is not None and row[1] == start_ns:
            self.con.execute("UPDATE live_sessions SET restarts=restarts+1 WHERE id=?", (row[0],))
            self.session = SessionRow(row[0], row[1], row[2] + 1, True)
            n = self.con.execute("SELECT COALESCE(MAX(seq), 0) FROM session_commands WHERE session_id=?",
                                 (row[0],)).fetchone()
            self._seq = int(n[0])
            return self.session
        if row is not None:
            self.con.execute("UPDATE live_sessions SET state='abandoned' WHERE id=?", (row[0],))
        cur = self.con.execute("INSERT INTO live_sessions (scenario, mode, network, start_ns, state) "
                               "VALUES (?,?,?,?,'running')", (scenario, mode, network, start_ns))
        self.session = SessionRow(int(cur.lastrowid or 0), start_ns, 0, False)
        return self.session

    def commands(self) -> list[Command]:
        assert self.session is not None
        rows = self.con.execute("SELECT dispatched, loop_ns, command, args FROM session_commands "
                                "WHERE session_id=? ORDER BY seq", (self.session.id,)).fetchall()
        return [Command(d, t, c, json.loads(a)) for d, t, c, a in rows]

    def record_command(self, dispatched: int, loop_ns: int, command: str, args: dict[str, Any]) -> None:
        assert self.session is not None
        self._seq += 1
        self.con.execute("INSERT INTO session_commands VALUES (?,?,?,?,?,?)",
                         (self.session.id, self._seq, dispatched, loop_ns, command, _json(args)))

    def snapshots_since(self, ts_ms: int) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.con.execute("SELECT ts_ms, snapshot_type, position_state, acceptance_state, pending_orders, "
                                "account_state FROM state_snapshots WHERE ts_ms >= ? ORDER BY id", (ts_ms,)).fetchall()
        return [(ts, kind, {"position_state": json.loads(p), "acceptance_state": json.loads(a),
                            "pending_orders": json.loads(o), "account_state": json.loads(c)})
                for ts, kind, p, a, o, c in rows]

    def append_snapshot(self, ts_ms: int, kind: str, state: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT INTO state_snapshots (ts_ms, snapshot_type, position_state, acceptance_state, pending_orders,"
            " account_state) VALUES (?,?,?,?,?,?)",
            (ts_ms, kind, _json(state["position_state"]), _json(state["acceptance_state"]),
             _json(state["pending_orders"]), _json(state["account_state"])))

    def write_positions(self, rows: list[tuple[Any, ...]]) -> None:
        """The ledger's rows (positions.csv order, its id first): new ones inserted, changed ones
        updated. A recovery replay re-creates the same rows, so they update in place."""
        assert self.session is not None
        if not self._positions:
            self._positions = {lid: (pid, ()) for lid, pid in self.con.execute(
                "SELECT ledger_id, position_id FROM session_positions WHERE session_id=?", (self.session.id,))}
        cols = ", ".join(_POSITION_FIELDS)
        for r in rows:
            lid, values = int(r[0]), position_row(r[1:])
            known = self._positions.get(lid)
            if known is not None and known[1] == values:
                continue
            self.con.execute("BEGIN")
            if known is None:
                cur = self.con.execute(f"INSERT INTO positions ({cols}) VALUES ({','.join('?' * len(values))})", values)
                pid = int(cur.lastrowid or 0)
                self.con.execute("INSERT INTO session_positions VALUES (?,?,?)", (self.session.id, lid, pid))
            else:
                pid = known[0]
                self.con.execute(f"UPDATE positions SET {', '.join(f'{c}=?' for c in _POSITION_FIELDS)} WHERE id=?",
                                 (*values, pid))
            self.con.execute("COMMIT")
            self._positions[lid] = (pid, values)

    def finish(self) -> None:
        if self.session is not None:
            self.con.execute("UPDATE live_sessions SET state='finished' WHERE id=?", (self.session.id,))

    def close(self) -> None:
        self.con.close()
