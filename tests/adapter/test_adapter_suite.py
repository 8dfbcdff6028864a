"""The adapter-level suite, run over the simulated adapter (in-process replay) and over the Bybit
adapter against the emulator: the same scenario, the same assertions about what an adapter must
deliver to the pipeline."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from sim.live.run import run_live
from sim.run import run
from tests.emulator.emulator_process import KEY, SECRET, emulator, state

SCENARIO = "tests/fixtures/emulator/probe_plain.yaml"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module", params=["simulated", "emulator"])
def outcome(request: pytest.FixtureRequest) -> Iterator[dict]:
    if request.param == "simulated":
        r = run(SCENARIO)
        yield {"exports": r.exports, "exchange_qty": r.summary["final_qty"]}
        return
    with emulator(SCENARIO) as base:
        live = run_live(SCENARIO, endpoint=base, api_key=KEY, api_secret=SECRET, max_wall_s=120)
        ex = state(base)
    pos = ex["position"]
    signed = float(pos["size"]) * (1 if pos["side"] == "Buy" else -1 if pos["side"] == "Sell" else 0)
    yield {"exports": live.exports, "exchange_qty": signed}


def test_every_order_is_accepted_and_filled_in_full(outcome: dict) -> None:
    orders = _rows(outcome["exports"]["orders.csv"])
    fills = _rows(outcome["exports"]["fills.csv"])
    # Minutes 2, 4, 6, 8 and 10, then (flatten_at_end_minutes before the end) the close of the long.
    assert [(o["side"], o["reason"]) for o in orders] == [("buy", "hourly_probe"), ("sell", "hourly_probe")] * 2 + [
        ("buy", "hourly_probe"), ("sell", "end_of_run")]
    assert all(o["state"] == "filled" for o in orders)
    filled: dict[str, float] = {}
    for f in fills:
        filled[f["order_id"]] = filled.get(f["order_id"], 0.0) + float(f["qty"])
    assert filled == {o["order_id"]: float(o["qty"]) for o in orders}


def test_fills_come_after_their_decision_as_taker_with_a_fee(outcome: dict) -> None:
    decided = {o["order_id"]: int(o["decision_ts_ms"]) for o in _rows(outcome["exports"]["orders.csv"])}
    for f in _rows(outcome["exports"]["fills.csv"]):
        assert int(f["ts_ms"]) > decided[f["order_id"]]
        assert f["liquidity"] == "taker"
        assert float(f["fee"]) == pytest.approx(float(f["price"]) * float(f["qty"]) * 5e-4)


def test_the_run_ends_flat_and_agrees_with_the_exchange(outcome: dict) -> None:
    equity = _rows(outcome["exports"]["equity.csv"])
    assert float(equity[-1]["position_qty"]) == 0.0
    assert outcome["exchange_qty"] == 0.0
