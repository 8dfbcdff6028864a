"""Position sizing and partial-exit rounding (spec §7, §8, §20.1, §20.2, §21.1 "Position Sizing")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.strategies.amt.sizing import contracts, qty_of, size_position, tp1_contracts


def test_spec_20_1_position_sizing_example() -> None:
    s = size_position(10_000.0, 0.02, 50_000.0, 49_500.0, 10.0, 0.001)
    assert s.qty == 0.4
    assert not s.capped
    assert s.leverage == pytest.approx(2.0)


def test_size_rounds_down_to_the_quantity_step() -> None:
    s = size_position(10_000.0, 0.02, 50_000.0, 49_700.0, 10.0, 0.001)  # 200 / 300 = 0.6667 BTC
    assert s.qty == 0.666


def test_leverage_cap_reduces_the_position_and_says_so() -> None:
    s = size_position(10_000.0, 0.02, 50_000.0, 49_950.0, 10.0, 0.001)  # 200 / 50 = 4 BTC = 20x
    assert s.capped
    assert s.qty == 2.0  # 10 000 × 10 / 50 000
    assert s.leverage == pytest.approx(10.0)
    assert s.risk_qty == pytest.approx(4.0)


def test_no_size_without_a_stop_distance() -> None:
    assert size_position(10_000.0, 0.02, 50_000.0, 50_000.0, 10.0, 0.001).qty == 0.0


def test_spec_20_2_partial_exit_example() -> None:
    n = contracts(0.4, 0.001)
    k = tp1_contracts(n, 0.30)
    assert (n, k) == (400, 120)
    assert qty_of(k, 0.001) == 0.12
    assert qty_of(n - k, 0.001) == 0.28


@pytest.mark.parametrize(("n", "expected"), [(1, 0), (2, 1), (3, 1), (4, 1), (5, 2), (7, 2), (10, 3)])
def test_tp1_rounds_to_the_nearest_contract_at_least_one_and_never_all(n: int, expected: int) -> None:
    assert tp1_contracts(n, 0.30) == expected


@given(st.floats(100.0, 1e6), st.floats(0.001, 0.05), st.floats(1_000.0, 100_000.0), st.floats(0.0005, 0.05),
       st.floats(1.0, 20.0))
def test_sizing_matches_a_plain_reference(available: float, risk_pct: float, entry: float, stop_frac: float,
                                          max_lev: float) -> None:
    stop = entry * (1 - stop_frac)
    s = size_position(available, risk_pct, entry, stop, max_lev, 0.001)
    # reference in integer steps of 0.001
    risk_steps = int(available * risk_pct / (entry - stop) / 0.001 + 1e-9)
    cap_steps = int(available * max_lev / entry / 0.001 + 1e-9)
    assert round(s.qty / 0.001) == min(risk_steps, cap_steps)
    assert s.capped == (risk_steps > cap_steps)
    assert s.qty * entry <= available * max_lev * (1 + 1e-12)
