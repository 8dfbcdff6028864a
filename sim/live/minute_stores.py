"""A live session's analysis stores in the data directory (spec §2.3, §3.3): `features.duckdb`
(bars_1m, features_1m) and `signals.db` (signals_1m), written as the session goes, and the
`positions` table of `execution.db` (through `SessionStore.write_positions`).

- Minute rows go in at each minute close, one Arrow INSERT per table in one transaction (a live
  session closes a minute a minute; buffering a day of them would lose the day on a crash).
- Signals rows go in as the strategy records them, with `INSERT OR IGNORE` on the minute key.
- Positions are the ledger's rows, inserted when they open and updated as they change (fills,
  funding, closing).
- Sessions append: a restart's recovery replay re-creates minutes, signals and positions already
  stored, so minutes at or before the last stored one are skipped, signals are ignored on their
  key, and positions are updated in place (the replay makes the same values).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb

from sim.core.events import NS_PER_MS, MinuteClose
from sim.outputs.recorder import FEATURE_COLUMNS, Recorder, bar_row, feature_row
from sim.outputs.sqlite_stores import SIGNALS_1M_SQL, SIGNALS_DB, signals_1m_row
from sim.outputs.stores import FEATURES_DB, insert_arrow, minute_arrow, minute_create_sql


class MinuteStores:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._feat = duckdb.connect(str(data_dir / FEATURES_DB))
        try:
            for table in ("bars_1m", "features_1m"):
                self._feat.execute(minute_create_sql(table))
            last = self._feat.execute("SELECT max(ts_min) FROM bars_1m").fetchone()
            self._last_min_ms: int | None = last[0] if last else None
            self._sig = sqlite3.connect(data_dir / SIGNALS_DB, isolation_level=None)  # autocommit
        except BaseException:
            self._feat.close()
            raise
        self._sig.execute("PRAGMA journal_mode=WAL")
        self._sig.execute(SIGNALS_1M_SQL.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1))
        self._signals_done = 0
        self.minutes_written = 0

    def minute(self, ev: MinuteClose) -> None:
        """The closed minute's bar and features (skipped if stored before a restart)."""
        if self._last_min_ms is not None and ev.bar.ts_min_ns // NS_PER_MS <= self._last_min_ms:
            return
        features: list[Any] = list(feature_row(ev.features))
        features[FEATURE_COLUMNS.index("rebucketed")] = ev.features.rebucketed is not None  # a BOOLEAN column
        bars_t, feats_t = minute_arrow("bars_1m", [bar_row(ev.bar)]), minute_arrow("features_1m", [tuple(features)])
        self._feat.execute("BEGIN TRANSACTION")
        insert_arrow(self._feat, "bars_1m", bars_t, in_transaction=True)  # rolls back on failure
        insert_arrow(self._feat, "features_1m", feats_t, in_transaction=True)
        self._feat.execute("COMMIT")
        self._last_min_ms = ev.bar.ts_min_ns // NS_PER_MS
        self.minutes_written += 1

    def signals(self, recorder: Recorder) -> None:
        """The signals rows the strategy recorded since the last call."""
        new = recorder.signals[self._signals_done:]
        if not new:
            return
        snaps = recorder.feature_snapshots[self._signals_done:self._signals_done + len(new)]
        self._sig.execute("BEGIN")
        self._sig.executemany("INSERT OR IGNORE INTO signals_1m VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                              (signals_1m_row(r, s) for r, s in zip(new, snaps, strict=True)))
        self._sig.execute("COMMIT")
        self._signals_done += len(new)

    def close(self) -> None:
        try:
            self._feat.close()
        finally:
            self._sig.close()
