"""A live session's stores in its data directory (spec §2.3, §3.3): besides `raw.duckdb` and its
record in `execution.db`, `features.duckdb` (bars_1m, features_1m), `signals.db` (signals_1m) and
the `positions` table of `execution.db`, written as the session goes.

- An amt paper session on the emulator replaying `amt_ambiguous_va_invalid` on the scenario's own
  clock writes the very rows the in-process replay of that scenario writes into its run directory.
- A probe paper session (positions opened and closed every two minutes) leaves in `positions`
  exactly its positions.csv, each ledger position one row, updated in place as it closed.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sim.run import run
from tests.emulator.emulator_process import emulator
from tests.live.live_harness import Running

QUALITY = "tests/fixtures/emulator/amt_ambiguous_va_invalid.yaml"  # 00:00 .. 00:25, a 20-minute warm-up
PLAIN = "tests/fixtures/emulator/probe_plain.yaml"


def _duck(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _lite(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def amt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data, replay_dir = tmp_path_factory.mktemp("amt-data"), tmp_path_factory.mktemp("amt-replay")
    run(QUALITY, stores_dir=replay_dir)
    with emulator(QUALITY, "--fast-until", "2024-03-01T00:25:00Z", "--clock", "scenario") as base:
        s = Running(QUALITY, base, data, None, mode="paper", warmup_minutes=0)
        s.activate_when_allowed()
        s.join()
    return data, replay_dir


def test_features_duckdb_holds_the_replays_bars_and_features(amt: tuple[Path, Path]) -> None:
    data, replay = amt
    for table in ("bars_1m", "features_1m"):
        live = _duck(data / "features.duckdb", f"SELECT * FROM {table} ORDER BY ts_min")
        assert len(live) == 25 and live == _duck(replay / "features.duckdb", f"SELECT * FROM {table} ORDER BY ts_min")


def test_signals_db_holds_the_replays_signals(amt: tuple[Path, Path]) -> None:
    data, replay = amt
    live = _lite(data / "signals.db", "SELECT * FROM signals_1m ORDER BY ts_min")
    assert live and live == _lite(replay / "signals.db", "SELECT * FROM signals_1m ORDER BY ts_min")


def test_the_positions_table_holds_the_sessions_positions(tmp_path: Path) -> None:
    with emulator(PLAIN, "--speed", "60") as base:
        s = Running(PLAIN, base, tmp_path, None, mode="paper", warmup_minutes=0)
        s.activate_when_allowed()
        exports = s.join()
    expected = list(csv.reader(io.StringIO(exports["positions.csv"])))
    header, rows = expected[0], expected[1:]
    got = _lite(tmp_path / "execution.db", f"SELECT {', '.join(header[1:])} FROM positions ORDER BY id")
    assert len(rows) >= 3 and {r[header.index("status")] for r in rows} == {"CLOSED"}
    assert [[("" if v is None else repr(v) if isinstance(v, float) else str(v)) for v in g] for g in got] == \
        [r[1:] for r in rows]
    links = _lite(tmp_path / "execution.db", "SELECT ledger_id, position_id FROM session_positions ORDER BY ledger_id")
    assert [lid for lid, _ in links] == [int(r[0]) for r in rows]
