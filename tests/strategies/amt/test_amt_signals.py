"""The signal engine on hand-made minutes (spec §6, §20.5, §21.1 "Signal Engine"): each setup's
trigger conditions, acceptance counting, locking and reset, the gap rule, initiative with its
high-ambiguity dual confirmation, and priority."""

from __future__ import annotations

import math

import pytest

from sim.core.config import load_config
from sim.strategies.amt.acceptance import AcceptanceTracker
from sim.strategies.amt.initiative import confirmed
from sim.strategies.amt.setups import choose, evaluate
from tests.strategies.amt.amt_builders import bar, features

CFG = load_config()
TICK = 1.0  # the spec's worked examples count dollars as ticks


def fire(b, f, k: int = 3, tracker: AcceptanceTracker | None = None):  # noqa: ANN001, ANN201
    acc = tracker or AcceptanceTracker(k)
    up, down = acc.update(b, f)
    return evaluate(b, f, up, down, CFG, TICK)


def test_spec_20_5_break_in_long_example() -> None:
    b = bar(49_850, 49_920, 49_820, 49_950)
    f = features(of=0.5, of_norm=0.5, qimb=0.15, amb=0.20)
    cands = fire(b, f)
    assert set(cands) == {"breakin_long"}
    c = cands["breakin_long"]
    assert (c.direction, c.stop, c.tp1, c.tp2) == (1, 49_818.0, 50_000.0, 50_100.0)
    assert choose(cands) == (c, "breakin_long")


@pytest.mark.parametrize(("low", "close", "near", "fires"), [
    (49_899, 49_950, True, True),
    (49_900, 49_950, True, False),  # low must be strictly below VAL
    (49_820, 49_900, True, False),  # close must be strictly above VAL
    (49_820, 49_950, False, False),  # no trade within one spread of VAL: not crossed
])
def test_break_in_long_trigger_conditions(low: float, close: float, near: bool, fires: bool) -> None:
    b = bar(49_850, 49_960, low, close)
    f = features(of=1.0, of_norm=0.5, qimb=0.5, near_val=near)
    assert ("breakin_long" in fire(b, f)) is fires


def test_break_in_short_is_the_mirror() -> None:
    b = bar(50_050, 50_130, 50_020, 50_060)
    f = features(of=-1.0, of_norm=-0.5, qimb=-0.5)
    c = fire(b, f)["breakin_short"]
    assert (c.direction, c.stop, c.tp1, c.tp2) == (-1, 50_132.0, 50_000.0, 49_900.0)


def test_initiative_either_leg_normally_both_when_ambiguous() -> None:
    of_only = features(of=1.0, of_norm=0.5, qimb=0.0, amb=0.2)
    qimb_only = features(of=-1.0, of_norm=-0.5, qimb=0.2, amb=0.2)
    assert confirmed(of_only, CFG, "entry", +1)
    assert confirmed(qimb_only, CFG, "entry", +1)
    assert not confirmed(features(of=1.0, of_norm=0.5, qimb=0.0, amb=0.5), CFG, "entry", +1)
    assert confirmed(features(of=1.0, of_norm=0.5, qimb=0.2, amb=0.5), CFG, "entry", +1)
    # OF_1m alone is not the OF leg: OF_norm must pass too (DESIGN §8)
    assert not confirmed(features(of=1.0, of_norm=0.05, qimb=0.0, amb=0.2), CFG, "entry", +1)
    # no trades: NaN never confirms
    assert not confirmed(features(of=math.nan, of_norm=math.nan, qimb=math.nan, amb=math.nan), CFG, "entry", +1)


def test_failed_breakout_initiative_uses_the_fail_thresholds() -> None:
    assert confirmed(features(of=0.0, of_norm=-0.1, qimb=0.0), CFG, "fail", -1)  # ≤ 0 and ≤ −0.1
    assert not confirmed(features(of=0.1, of_norm=-0.1, qimb=0.0), CFG, "fail", -1)
    assert confirmed(features(of=5.0, of_norm=0.5, qimb=-0.1), CFG, "fail", -1)  # the qimb leg alone


def test_acceptance_counts_closes_outside_with_the_boundary_locked_at_the_start() -> None:
    acc = AcceptanceTracker(3)
    f = features(of=1.0, of_norm=0.5, qimb=0.5)
    up, _ = acc.update(bar(50_090, 50_120, 50_080, 50_110, minute=0), f)
    assert up.started and acc.up.count == 1 and acc.up.level == 50_100.0
    # the value area moves up; the locked level does not
    f2 = features(minute=1, vah=50_130.0, of=1.0, of_norm=0.5, qimb=0.5)
    up, _ = acc.update(bar(50_110, 50_125, 50_105, 50_115, minute=1), f2)
    assert up.counted and acc.up.count == 2 and acc.up.level == 50_100.0
    up, _ = acc.update(bar(50_115, 50_140, 50_110, 50_120, minute=2), f2)
    assert up.completed and acc.up.count == 3
    cands = evaluate(bar(50_115, 50_140, 50_110, 50_120, minute=2), features(minute=2, of=1.0, of_norm=0.5, qimb=0.5),
                     up, acc.update(bar(0, 0, 0, math.nan), f2)[1], CFG, TICK)
    assert cands["breakout_long"].level == 50_100.0
    assert cands["breakout_long"].stop == 50_098.0


def test_one_close_inside_resets_the_count() -> None:
    acc = AcceptanceTracker(3)
    f = features()
    acc.update(bar(50_090, 50_120, 50_080, 50_110), f)
    acc.update(bar(50_110, 50_120, 50_101, 50_105), f)
    up, _ = acc.update(bar(50_105, 50_110, 50_090, 50_100), f)  # a close at VAH is not outside
    assert up.failed and up.failed_count == 2 and up.failed_level == 50_100.0 and up.failed_extreme == 50_120.0
    assert acc.up.count == 0 and math.isnan(acc.up.level)


def test_a_minute_without_trades_changes_nothing() -> None:
    acc = AcceptanceTracker(3)
    acc.update(bar(50_090, 50_120, 50_080, 50_110), features())
    acc.update(bar(math.nan, math.nan, math.nan, math.nan), features())
    assert acc.up.count == 1


def test_a_gap_over_the_boundary_does_not_start_a_sequence() -> None:
    acc = AcceptanceTracker(3)
    up, _ = acc.update(bar(50_150, 50_170, 50_140, 50_160), features(near_vah=False))
    assert up.gap and not up.counted and acc.up.count == 0


def test_breakout_fires_on_the_close_that_completes_acceptance_only() -> None:
    acc = AcceptanceTracker(2)
    f = features(of=1.0, of_norm=0.5, qimb=0.5)
    assert "breakout_long" not in fire(bar(50_090, 50_120, 50_080, 50_110), f, tracker=acc)
    assert "breakout_long" in fire(bar(50_110, 50_130, 50_105, 50_120), f, tracker=acc)
    assert "breakout_long" not in fire(bar(50_120, 50_140, 50_115, 50_130), f, tracker=acc)


def test_failed_breakout_needs_a_prior_close_outside() -> None:
    sell = dict(of=-1.0, of_norm=-0.5, qimb=-0.5)
    poke = bar(50_090, 50_120, 50_080, 50_095)
    # a one-bar poke with no sequence behind it is a break-in, not a failed breakout
    assert set(fire(poke, features(**sell))) == {"breakin_short"}
    acc = AcceptanceTracker(3)
    acc.update(bar(50_090, 50_110, 50_085, 50_105), features())
    cands = fire(poke, features(near_vah=False, **sell), tracker=acc)
    assert set(cands) == {"failbreak_short"}
    assert cands["failbreak_short"].stop == 50_122.0  # above the poke high + 2 ticks
    assert (cands["failbreak_short"].tp1, cands["failbreak_short"].tp2) == (50_000.0, 49_900.0)


def test_priority_break_in_over_failed_breakout_over_breakout() -> None:
    acc = AcceptanceTracker(3)
    acc.update(bar(50_090, 50_110, 50_085, 50_105), features())
    cands = fire(bar(50_090, 50_120, 50_080, 50_095), features(of=-1.0, of_norm=-0.5, qimb=-0.5), tracker=acc)
    assert set(cands) == {"breakin_short", "failbreak_short"}
    assert choose(cands)[1] == "breakin_short"
    only_c = {k: v for k, v in cands.items() if k != "breakin_short"}
    assert choose(only_c)[1] == "failbreak_short"


def test_opposite_candidates_at_the_winning_level_are_a_conflict() -> None:
    # a bar that pokes through both edges and closes inside, with initiative both ways on the two legs
    b = bar(50_000, 50_150, 49_850, 50_000)
    f = features(of=1.0, of_norm=0.5, qimb=-0.5)
    cands = fire(b, f)
    assert {"breakin_long", "breakin_short"} <= set(cands)
    assert choose(cands) == (None, "conflict")


def test_no_candidates_on_an_invalid_value_area() -> None:
    assert fire(bar(49_850, 49_920, 49_820, 49_950), features(of=1.0, of_norm=0.5, qimb=0.5, valid=False)) == {}
