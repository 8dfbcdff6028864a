"""Continuous reconciliation (spec §10.4): a live session checks every position and execution push
against its own state, and halts on the first push that shows the position changed behind its back.

Each session trades the plumbing probe (a 0.01 BTC market order every two minutes, buy then sell)
in `live` mode against a real emulator process; once the session holds its minute-6 position,
another client on the same account buys 0.005 BTC with unmodified pybit. Bybit's `seq` (the cross
sequence a fill's execution and position pushes share) names the push that halted the session:
it must be the foreign fill's own.

- `probe_position_first`: every execution and order push is held back 1.5 s from minute 3 to 11,
  so each fill's position push arrives before anything else says the fill happened — the
  session's own fills must never halt it, and the foreign fill is caught by its position push.
- `probe_plain`: pushes in the emulator's order (execution first), so the foreign fill is caught
  by its execution push, before the position push.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.emulator_process import emulator, pybit_http, state
from tests.live.live_harness import Running, get_json

DELAY = "tests/fixtures/emulator/probe_position_first.yaml"
PLAIN = "tests/fixtures/emulator/probe_plain.yaml"
FOREIGN_LINK = "someone-else-1"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _wait(cond: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _session_with_a_foreign_fill(scenario: str, tmp: Path, *emulator_args: str) -> dict[str, Any]:
    with emulator(scenario, *emulator_args) as base:
        s = Running(scenario, base, tmp, None, mode="live", warmup_minutes=0)
        s.activate_when_allowed()
        # The minute-6 buy filled (three of the session's orders at the venue, a position held).
        _wait(lambda: len(state(base)["orders"]) >= 3 and get_json(s.url + "/status")["position"]["qty"] != 0.0,
              "the session never held its minute-6 position")
        http: Any = pybit_http(base)
        try:
            http.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.005",
                             orderLinkId=FOREIGN_LINK)
            _wait(lambda: get_json(s.url + "/status")["state"] == "halted", "the session never halted")
            halted_status = get_json(s.url + "/status")
            exports = s.join()
            [foreign] = http.get_executions(category="linear", symbol="BTCUSDT",
                                            orderLinkId=FOREIGN_LINK)["result"]["list"]
        finally:
            http.client.close()
        exchange = state(base)
    return {"exports": exports, "final": s.final, "halted_status": halted_status, "foreign": foreign,
            "exchange": exchange}


@pytest.fixture(scope="module")
def delayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _session_with_a_foreign_fill(DELAY, tmp_path_factory.mktemp("delay"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _session_with_a_foreign_fill(PLAIN, tmp_path_factory.mktemp("plain"), "--speed", "60")


def _mismatches(out: dict[str, Any]) -> list[dict[str, str]]:
    return [a for a in _rows(out["exports"]["alerts.csv"]) if a["kind"] == "position_mismatch"]


def test_a_position_push_showing_a_foreign_fill_halts_the_session(delayed: dict[str, Any]) -> None:
    seq = delayed["foreign"]["seq"]
    # One alert, from the foreign fill's own position push (its execution push was still held back).
    [alert] = _mismatches(delayed)
    assert alert["message"].startswith("exchange position 0.015 != ours 0.01 (position push, seq "
                                       f"{seq}); trading halted"), alert["message"]
    assert delayed["halted_status"]["state"] == "halted" and delayed["final"]["halted"]


def test_own_fills_whose_position_push_comes_first_never_halt(delayed: dict[str, Any]) -> None:
    assert [f.split(":")[1] for f in delayed["exchange"]["faults_fired"]] == ["delay", "delay"]
    fills = _rows(delayed["exports"]["fills.csv"])
    # The minute-4 sell and minute-6 buy filled under the delay (position push first), and only the
    # foreign fill raised an alert (the previous test).
    assert [f["side"] for f in fills] == ["buy", "sell", "buy"]
    assert len(_mismatches(delayed)) == 1


def test_an_execution_push_of_a_foreign_fill_halts_the_session(plain: dict[str, Any]) -> None:
    f = plain["foreign"]
    [alert] = _mismatches(plain)
    assert alert["message"].startswith(f"execution {f['execId']} (Trade, seq {f['seq']}, orderLinkId "
                                       f"{FOREIGN_LINK}) is not this session's: the exchange position moved by "
                                       "+0.005; trading halted"), alert["message"]


@pytest.mark.parametrize("name", ["delayed", "plain"])
def test_after_the_halt_no_order_leaves(name: str, request: pytest.FixtureRequest) -> None:
    out = request.getfixturevalue(name)
    [alert] = _mismatches(out)
    orders = _rows(out["exports"]["orders.csv"])
    # The three orders decided before the halt filled; every later one was refused, none sent.
    assert [o["state"] for o in orders[:3]] == ["filled"] * 3 and len(orders) > 3
    for o in orders[3:]:
        assert o["state"] == "rejected" and int(o["decision_ts_ms"]) >= int(alert["ts_ms"]), o
    # The venue saw the session's three orders and the other client's, nothing after the halt.
    assert [o["orderLinkId"].endswith(FOREIGN_LINK) for o in out["exchange"]["orders"]] == [False] * 3 + [True]
    # Nothing was adjusted: the exchange keeps the foreign 0.005 on top of the session's position.
    assert float(out["exchange"]["position"]["size"]) == pytest.approx(0.015)
