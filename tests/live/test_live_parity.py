"""Live/replay parity: the amt pipeline through the Bybit adapter, against the emulator replaying
a scenario, decides exactly what the in-process replay of that scenario decides.

Decisions — the minute-by-minute signals, the orders (side, type, price, quantity, intent,
reason, decision time) — must be identical, and so must the bars and features the live engine
built from the WebSocket ticks. Fills may differ by network latency only: the tolerance is
written here. The emulator fast-forwards the 240-minute warm-up and runs the trading part at 60x.
"""

from __future__ import annotations

import csv
import io

import pytest

from sim.live.run import run_live
from sim.run import run
from tests.emulator.emulator_process import KEY, SECRET, emulator, state

SCENARIO = "amt/entry_breakout_long"
FILL_PRICE_TOLERANCE_TICKS = 10  # a market order sent ~tens of ms (x60) after the replay's
FILL_TIME_TOLERANCE_MS = 5_000


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, str], dict[str, str], dict]:
    replay = run(SCENARIO)
    # The replay's files are on the scenario's times: the emulator serves those (`--clock scenario`).
    with emulator(SCENARIO, "--speed", "60", "--fast-until", "2024-03-01T04:00:00Z", "--clock", "scenario") as base:
        live = run_live(SCENARIO, endpoint=base, api_key=KEY, api_secret=SECRET, max_wall_s=240)
        exchange = state(base)
    return replay.exports, live.exports, {"summary": live.summary, "exchange": exchange}


def test_the_live_session_decides_what_the_replay_decides(both) -> None:  # noqa: ANN001
    replay, live, _ = both
    for name in ("bars.csv", "features.csv", "signals.csv", "orders.csv"):
        assert live[name] == replay[name], f"{name} differs between the live session and the replay"
    assert len(_rows(live["orders.csv"])) >= 2  # the scenario enters and exits


def test_fills_are_within_the_written_tolerance(both) -> None:  # noqa: ANN001
    replay, live, _ = both
    r, lv = _rows(replay["fills.csv"]), _rows(live["fills.csv"])
    assert [(f["order_id"], f["side"], f["qty"]) for f in lv] == [(f["order_id"], f["side"], f["qty"]) for f in r]
    for a, b in zip(r, lv):
        assert abs(float(a["price"]) - float(b["price"])) <= FILL_PRICE_TOLERANCE_TICKS * 0.1 + 1e-9, (a, b)
        assert 0 <= int(b["ts_ms"]) - int(a["ts_ms"]) <= FILL_TIME_TOLERANCE_MS, (a, b)


def test_the_session_ends_with_the_exchanges_position(both) -> None:  # noqa: ANN001
    _, _, info = both
    s, ex = info["summary"], info["exchange"]
    assert s["halted"] is None and s["late_ticks"] == 0
    assert float(ex["position"]["size"]) == abs(s["final_qty"]) == 0.0
    assert ex["executions"] == s["adapter"]["fills"]
