"""The paced scheduler's arithmetic and the slot weights, against the seeds' formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.strategies.basis.pacing import aggression, child_size, limit_price, pov, slot_share
from sim.strategies.basis.params import BasisParams
from sim.strategies.plugin import with_overrides
from sim.strategies.basis.weights import flat, leaderboard, normalized, opportunity_factor


def test_pov_follows_the_seed_formula_and_its_bounds() -> None:
    assert pov(0.10, 0.02, 0.25, 0.8, 0.0) == 0.10
    assert pov(0.10, 0.02, 0.25, 0.8, -0.5) == pytest.approx(0.14)  # behind: more participation
    assert pov(0.10, 0.02, 0.25, 0.8, 0.5) == pytest.approx(0.06)  # ahead: less
    assert pov(0.10, 0.02, 0.25, 0.8, 3.0) == 0.02 and pov(0.25, 0.02, 0.25, 0.8, -1.0) == 0.25


@given(st.lists(st.floats(0.01, 10.0), min_size=2, max_size=96))
def test_the_twap_backbone_ends_exactly_at_the_last_slot(ws: list[float]) -> None:
    w = np.array(ws) / sum(ws)
    remaining = 1000.0
    for k in range(len(w)):
        remaining -= child_size(remaining, slot_share(w, k), 1.0, 1e12)
    assert abs(remaining) < 1e-6


def test_child_is_the_smaller_of_the_schedule_and_the_participation_cap() -> None:
    assert child_size(10.0, 0.1, 0.1, 5.0) == 0.5  # the cap binds
    assert child_size(10.0, 0.01, 0.1, 5.0) == 0.1  # the schedule binds


def test_limit_prices_passive_aggressive_and_retries() -> None:
    assert aggression(0, False, 0.1, 0.75, 0.5, 0.25) == -0.1
    assert aggression(0, True, 0.1, 0.75, 0.5, 0.25) == 0.75
    assert aggression(1, False, 0.1, 0.75, 0.5, 0.25) == 0.5 and aggression(2, False, 0.1, 0.75, 0.5, 0.25) == 0.75
    assert limit_price(+1, 100.0, 1.0, -0.1, 0.1) == 99.9  # a passive buy below the mid
    assert limit_price(-1, 100.0, 1.0, 0.75, 0.1) == 99.2  # an aggressive sell across it (99.25 on the grid)


def test_weights() -> None:
    assert np.allclose(flat(4), 0.25)
    w, ok = leaderboard(np.array([100.0, 0.0, 300.0, -5.0]), np.array([1.0, 1.0, 1.0, 1.0]), 1.0, 1.0)
    assert ok and np.allclose(w, [0.25, 0.0, 0.75, 0.0])
    w, ok = normalized(np.zeros(4))
    assert not ok and np.allclose(w, 0.25)
    assert opportunity_factor(300.0, 200.0, 0.5, 1.5) == 1.5 and opportunity_factor(50.0, 200.0, 0.5, 1.5) == 0.5
    assert opportunity_factor(100.0, 0.0, 0.5, 1.5) == 1.0


def test_params_are_strict_and_take_dotted_overrides() -> None:
    p = BasisParams.model_validate(with_overrides({}, {"rehedge.delta_model": "seed", "exchange.fill_prob": 0.5}))
    assert p.rehedge.delta_model == "seed" and p.exchange.fill_prob == 0.5 and p.roll.window_days == 2
    with pytest.raises(ValidationError):
        BasisParams.model_validate({"rehedge": {"threshold": 0.1}})
    with pytest.raises(ValidationError):
        BasisParams.model_validate({"entry": {"pov_min": 0.3}})
