"""`sim record` of an emulated window, replayed with `sim run`, reproduces the decisions the live
session made: the amt strategy through the emulator replaying `amt/entry_breakout_long`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.emulator.emulator_process import REPO, emulator

SCENARIO = "amt/entry_breakout_long"


def test_a_recorded_window_replays_to_the_sessions_decisions(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    with emulator(SCENARIO, "--speed", "60", "--fast-until", "2024-03-01T04:00:00Z") as base:
        done = subprocess.run([sys.executable, "-m", "sim", "record", SCENARIO, "--endpoint", base, "--out", str(rec),
                               "--name", "breakout_recorded", "--max-wall-s", "240"],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (rec / "breakout_recorded.yaml").exists()
    replay = tmp_path / "replay"
    ran = subprocess.run([sys.executable, "-m", "sim", "run", str(rec / "breakout_recorded.yaml"), "--out", str(replay)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    session = rec / "session"
    for name in ("bars.csv", "features.csv", "signals.csv", "orders.csv", "fills.csv", "positions.csv"):
        assert (replay / name).read_text() == (session / name).read_text(), f"{name} differs from the live session"
    orders = (session / "orders.csv").read_text().splitlines()
    assert len(orders) >= 3  # the session entered and exited: there were decisions to reproduce
