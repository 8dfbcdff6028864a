"""The amt strategy's live session against the emulator at `--speed 1` on its default clock, venue
time starting at the wall clock (docs/DECISIONS.md ("Emulator clock")): the session signs every
request with its own clock and meets no timestamp error, trades (the scenario's breakout entry),
reconciles with the exchange, and "executions since T" — T read from the client's own clock when the
session started — returns exactly that session's fills, stamped between T and the server's time."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone

from sim.live.run import run_live
from sim.scenario.manifest import LoadedScenario, load_scenario
from tests.emulator.emulator_process import KEY, SECRET, emulator, pybit_http, state

SCENARIO = "amt/entry_breakout_long"
#: The session covers the window to half a minute after the entry's minute closes (04:04); the
#: emulator serves all of it.
SESSION_END = datetime(2024, 3, 1, 4, 4, 30, tzinfo=timezone.utc)
DECISION = datetime(2024, 3, 1, 4, 4, tzinfo=timezone.utc)
MAX_WALL_S = 240
#: The entry's minute must still be ahead once the replay has run the warm-up as fast as the session
#: reads (some 20 s here) and caught up with the wall clock: this much market time at least.
AHEAD_S = 35


def _fast_until() -> str:
    """A `--fast-until` whose seconds are the wall clock's now. Venue time puts the replay's origin
    on the wall clock's current minute (whole-minute offset), so the replay, after the warm-up,
    first runs at once the part of the minute that has gone by — with this origin, about the
    time the warm-up took; the entry's minute then closes in real time, at least AHEAD_S later."""
    second = (time.time_ns() // 1_000_000_000) % 60
    start = DECISION.replace(minute=3, second=second)
    if (DECISION - start).total_seconds() < AHEAD_S:
        start -= timedelta(minutes=1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_part() -> LoadedScenario:
    sc = load_scenario(SCENARIO)
    window = sc.spec.window.model_copy(update={"end": SESSION_END})
    return LoadedScenario(sc.spec.model_copy(update={"window": window}), sc.path, sc.id, sc.text)


def test_the_amt_session_at_speed_one_signs_trades_and_finds_its_fills_since_t() -> None:
    with emulator(SCENARIO, "--speed", "1", "--fast-until", _fast_until()) as base:
        t0 = time.time_ns() // 1_000_000
        # No end-of-window flatten: the session's window is cut a minute after the entry.
        live = run_live(_first_part(), endpoint=base, api_key=KEY, api_secret=SECRET, max_wall_s=MAX_WALL_S,
                        overrides={"flatten_at_end_minutes": 0})
        s = pybit_http(base)
        server = int(s.get_server_time()["result"]["timeNano"]) // 1_000_000
        since = s.get_executions(category="linear", symbol="BTCUSDT", startTime=t0, limit=100)["result"]["list"]
        ex = state(base)
    summary = live.summary
    fills = list(csv.DictReader(io.StringIO(live.exports["fills.csv"])))
    orders = [o["order_id"] for o in csv.DictReader(io.StringIO(live.exports["orders.csv"]))]
    assert orders and orders[0] == "amt-000001" and fills and fills[0]["order_id"] == "amt-000001"
    assert summary["halted"] is None and summary["adapter"]["rejected"] == 0
    assert summary["adapter"]["reconciliations"] >= 1
    assert not [a for a in summary["alerts"] if "timestamp" in a[1] or "10002" in a[1]], summary["alerts"]
    assert ex["clock"]["mode"] == "wall" and abs(server - time.time_ns() // 1_000_000) < 2_000
    # Every execution of the account since T is this session's (the end-of-window flatten may fill a
    # moment after the window; the session's closing reconcile finds it there).
    assert len(since) == summary["adapter"]["fills"] == ex["executions"] >= len(fills)
    assert all(e["orderLinkId"].endswith(tuple(f"-{o}" for o in orders)) for e in since)
    assert all(t0 <= int(e["execTime"]) <= server for e in since)
    # The session's own clock is the venue's: its fills are stamped with the executions' times.
    assert {int(f["ts_ms"]) for f in fills} <= {int(e["execTime"]) for e in since}
