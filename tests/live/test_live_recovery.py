"""Crash recovery (spec §16): a paper session against the emulator, killed with SIGKILL again and
again — at random moments and right after an order has left, before its fill — and restarted
each time, resumes by itself and ends with exactly the position, PnL, orders and fills of an
uninterrupted run over the same market.

"The same market": the ticks the sessions were given, which the write-ahead journal in
`raw.duckdb` holds (ticks a process received but had not yet taken in when it died are lost with
it, as they would be on any crash, and the uninterrupted run must see the same stream). The
reference is `sim run` of those ticks written as a scenario.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb

from sim.live.control import TOKEN_HEADER
from sim.scenario.manifest import load_scenario
from sim.scenario.recording import ScenarioRecording, base_from_scenario
from tests.emulator.emulator_process import REPO, emulator

SCENARIO = "tests/fixtures/emulator/probe_recovery.yaml"
TOKEN = "recovery-test-token-77"
KILLS_AT_RANDOM = 6
KILLS_AFTER_SUBMIT = 6


def _start(base: str, data: Path, out: Path, failpoint: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYBIT_", "ALERT_"))}
    env.update(ACTIVATION_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
    if failpoint:
        env["SIM_FAILPOINT"] = failpoint
    return subprocess.Popen([sys.executable, "-m", "sim", "live", SCENARIO, "--mode", "paper", "--endpoint", base,
                             "--data-dir", str(data), "--warmup-minutes", "0", "--max-wall-s", "300",
                             "--out", str(out)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _activate(data: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            url = json.loads((data / "control.json").read_text())["url"]
            req = urllib.request.Request(url + "/activate", data=b"{}", method="POST",
                                         headers={TOKEN_HEADER: TOKEN, "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status == 200:
                    return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError("the first session never accepted activation")


def _wait_until_live(data: Path, proc: subprocess.Popen) -> None:
    """Until the process has replayed its journal (if any) and is taking live market data."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            url = json.loads((data / "control.json").read_text())["url"]
            with urllib.request.urlopen(url + "/status", timeout=5) as r:
                st = json.loads(r.read())
            if st.get("recovering") is False:  # a first session has nothing to replay
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _reference(data: Path, tmp: Path) -> Path:
    """`sim run` of the ticks the sessions were given: the uninterrupted run."""
    sc = load_scenario(SCENARIO)
    rec = ScenarioRecording(tmp / "reference", "probe_recovery_journal")
    con = duckdb.connect(str(data / "raw.duckdb"), read_only=True)
    for ts, px, sz, side, tid in con.execute("SELECT ts_ms, price, size, COALESCE(exchange_side, 0), "
                                             "COALESCE(trade_id, -1) FROM raw_trades ORDER BY rowid").fetchall():
        rec.trade(ts * 1_000_000, px, sz, side, tid)
    for ts, bp, bs, ap, az in con.execute("SELECT ts_ms, bid_px, bid_sz, ask_px, ask_sz FROM raw_quotes "
                                          "ORDER BY rowid").fetchall():
        rec.quote(ts * 1_000_000, bp, bs, ap, az)
    con.close()
    path = rec.write(base=base_from_scenario(sc.spec), window_start_ns=sc.spec.window.start_ns,
                     window_end_ns=sc.spec.window.end_ns)
    out = tmp / "reference_run"
    done = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def test_a_paper_session_killed_again_and_again_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    rng = random.Random(20261121)
    plan = ["submit:1"] * KILLS_AFTER_SUBMIT + ["random"] * KILLS_AT_RANDOM
    rng.shuffle(plan)
    kills: list[str] = []
    with emulator(SCENARIO, "--clock", "scenario") as base:  # compared with the replay on its own times
        first = True
        for how in plan:
            proc = _start(base, data, out, how if how != "random" else None)
            if first:
                _activate(data)
                first = False
            if how == "random":
                _wait_until_live(data, proc)
                time.sleep(rng.uniform(0.0, 1.5))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=120)
            assert proc.returncode == -signal.SIGKILL, (how, proc.returncode, proc.stderr.read() if proc.stderr else "")
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
            kills.append(how)
        last = _start(base, data, out, None)
        stdout, stderr = last.communicate(timeout=240)
    assert last.returncode == 0, stderr
    assert len(kills) >= 10 and kills.count("submit:1") == KILLS_AFTER_SUBMIT

    con = sqlite3.connect(data / "execution.db")
    (restarts, state), = con.execute("SELECT restarts, state FROM live_sessions").fetchall()
    snapshots = con.execute("SELECT ts_ms, snapshot_type FROM state_snapshots ORDER BY id").fetchall()
    con.close()
    assert (restarts, state) == (len(kills), "finished")

    ref = _reference(data, tmp_path)
    status = json.loads((out / "status.json").read_text())
    assert status["resumed"] is True and status["halted"] is None and status["mode"] == "paper"
    orders = _rows((out / "orders.csv").read_text())
    assert len(orders) >= 20 and {o["state"] for o in orders} == {"filled"}
    # Exactly the uninterrupted run: every order, every fill, the position and the PnL.
    for name in ("orders.csv", "fills.csv", "positions.csv", "equity.csv", "signals.csv"):
        assert (out / name).read_text() == (ref / name).read_text(), f"{name} differs from the uninterrupted run"
    # Spec §15.3: the log carries the feature snapshot every minute and the order lifecycle.
    log_text = (data / "session.log").read_text()
    assert log_text.count(" features {\"bar\":") >= 30
    fill_lines = [line for line in log_text.splitlines() if " fill order=" in line]
    assert fill_lines and all("submitted_ms=" in x and "filled_ms=" in x and "price=" in x and "fee=" in x
                              and "slippage=" in x for x in fill_lines)
    # Snapshots (§16.3): one on every fill and one every 5 minutes, each stored once across the
    # restarts (a resumed session checks the ones it re-creates instead of writing them again).
    fills = _rows((out / "fills.csv").read_text())
    assert sorted(ts for ts, kind in snapshots if kind == "FILL") == sorted(int(f["ts_ms"]) for f in fills)
    assert [ts for ts, kind in snapshots if kind == "SESSION_PERIODIC"] == [
        1709251200000 + k * 300_000 for k in range(1, 8)]
    final = _rows((out / "equity.csv").read_text())[-1]
    assert float(final["position_qty"]) == status["position"]["qty"] == 0.0
