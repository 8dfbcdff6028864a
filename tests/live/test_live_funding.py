"""Paper funding (spec §12.3): a paper session charges its position at each funding settlement
with the rate the live ticker announced for it, as the replay charges the scenario's rate.

The emulator replays `probe_funding` (a fixed 10 bp per 8 h; the probe holds 0.01 BTC through
the 08:00 settlement) on the scenario's own clock, so the live session and the in-process replay
see the same settlement, rate and mark."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from sim.run import run
from tests.emulator.emulator_process import emulator, state
from tests.live.live_harness import Running

SCENARIO = "tests/fixtures/emulator/probe_funding.yaml"
SETTLEMENT_MS = 1_709_280_000_000  # 2024-03-01T08:00:00Z


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_paper_session_pays_the_announced_funding_as_the_replay_does(tmp_path: Path) -> None:
    replay = run(SCENARIO)
    with emulator(SCENARIO, "--clock", "scenario") as base:
        s = Running(SCENARIO, base, tmp_path, None, mode="paper", warmup_minutes=0)
        s.activate_when_allowed()
        live = s.join()
        exchange = state(base)
    [r], [lv] = _rows(replay.exports["positions.csv"]), _rows(live["positions.csv"])
    assert float(r["funding_paid"]) > 0.6  # 0.01 BTC x ~62,000 x 10 bp
    # The same settlement, rate and mark (the 08:00 closing mid) on the same position.
    assert lv["funding_paid"] == r["funding_paid"]
    assert float(lv["qty_contracts"]) == 0.01 and int(lv["ts_ms_open"]) < SETTLEMENT_MS <= int(lv["ts_ms_close"])
    # Paper: the venue held nothing and charged nothing.
    assert exchange["orders"] == [] and exchange["executions"] == 0
    # Recorded in the session's record, so a restart's replay charges it again at the same place.
    con = sqlite3.connect(tmp_path / "execution.db")
    try:
        [(args,)] = con.execute("SELECT args FROM session_commands WHERE command = 'funding'").fetchall()
        [(funding_paid,)] = con.execute("SELECT funding_paid FROM positions").fetchall()
    finally:
        con.close()
    assert json.loads(args)["ts_ms"] == SETTLEMENT_MS and json.loads(args)["rate"] == 0.001
    assert repr(funding_paid) == lv["funding_paid"]
