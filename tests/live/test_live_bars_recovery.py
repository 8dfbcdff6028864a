"""Bars-mode recovery (spec §16): a paper session whose market is the exchange's confirmed
1-minute klines journals them in `raw.duckdb` before its engine sees them, so a session killed
with SIGKILL and restarted replays them and ends with exactly the replay's bars, orders, fills and
positions.

The emulator replays `probe_bars_recovery` (30 minutes of a real kline archive) on the scenario's
own clock and holds market time while no client is there (`pause_without_clients`); the session
activates itself at its first minute (`require_manual_activation: false`), as the replay trades."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb

from sim.run import run
from tests.emulator.emulator_process import REPO, emulator

SCENARIO = "tests/fixtures/emulator/probe_bars_recovery.yaml"
START_MS = 1_722_816_000_000  # 2024-08-05T00:00:00Z


def _start(base: str, data: Path, out: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYBIT_", "ALERT_"))}
    env.update(ACTIVATION_TOKEN="bars-recovery-token", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "sim", "live", SCENARIO, "--mode", "paper", "--endpoint", base,
                             "--data-dir", str(data), "--warmup-minutes", "0", "--max-wall-s", "200",
                             "--out", str(out)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _market_ms(data: Path) -> int | None:
    try:
        url = json.loads((data / "control.json").read_text())["url"]
        with urllib.request.urlopen(url + "/status", timeout=5) as r:
            return int(json.loads(r.read())["market_time_ms"])
    except (OSError, ValueError, KeyError):
        return None


def test_a_bars_mode_session_killed_and_restarted_ends_as_the_replay(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    replay = run(SCENARIO).exports
    with emulator(SCENARIO, "--clock", "scenario") as base:
        first = _start(base, data, out)
        deadline = time.monotonic() + 90
        while (_market_ms(data) or 0) < START_MS + 12 * 60_000:  # a dozen minutes traded
            assert time.monotonic() < deadline and first.poll() is None, "the first session never got going"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        con = duckdb.connect(str(data / "raw.duckdb"), read_only=True)
        journaled = con.execute("SELECT count(*), min(ts_ms) FROM raw_klines").fetchone()
        con.close()
        last = _start(base, data, out)
        _stdout, stderr = last.communicate(timeout=200)
    assert last.returncode == 0, stderr
    assert journaled is not None and journaled[0] >= 10 and journaled[1] == START_MS
    log_text = (data / "session.log").read_text()
    assert f"replaying 0 trades, 0 quotes, {journaled[0]} klines" in log_text
    status = json.loads((out / "status.json").read_text())
    assert status["resumed"] is True and status["halted"] is None
    for name in ("bars.csv", "features.csv", "orders.csv", "fills.csv", "positions.csv"):
        assert (out / name).read_text() == replay[name], f"{name} differs from the replay"
