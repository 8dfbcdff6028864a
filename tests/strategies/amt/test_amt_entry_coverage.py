"""Entry and signal coverage of the amt strategy, proven from the outputs of real runs of the
synthetic scenarios `scenarios/amt/entry_*.yaml` (not from goldens).

Each scenario scripts one behaviour (see its `description:`); each test runs it once (cached per
module) and checks the signals, orders, fills and positions rows that show it. Minutes are bar
minutes counted from the window start: the bar of minute m has `ts_min_ms = start + m min` in
bars.csv and features.csv, and its decision row in signals.csv (and the orders it sends) carry
the minute's close, `start + (m + 1) min`. Scripted minutes are derived from the scenario's
segments (a segment starts where the previous ones end; a poke's poke minute and a hold_outside's
first hold minute follow its `approach_minutes`).

A few tests also re-run a scenario with one config override as a control, to show that the
parameter under test is what suppressed the signal (warmup, ambiguity threshold, min_va_bins).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.core.config import load_config
from sim.run import run
from sim.scenario.segments import parse_segments

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios" / "amt"
FLAGS = ("breakin_long", "breakin_short", "breakout_long", "breakout_short", "failbreak_long", "failbreak_short")
MIN_MS = 60_000
TICK = 0.1
BUFFER = 2 * TICK  # stop_buffer_ticks (default 2) × tick
K = 3  # accept_outside_k (default)
AMBIGUOUS_MAX = 0.35  # ambiguous_trade_frac_max (default)
MIN_VA_BINS = 20  # min_va_bins (default)
WARMUP = 240  # warmup_minutes (default)

COVERS = {
    "entry_breakin_long": "breakin-long",
    "entry_breakin_short": "breakin-short",
    "entry_breakout_long": "breakout-long",
    "entry_breakout_short": "breakout-short",
    "entry_breakout_retest": "breakout-retest-entry",
    "entry_failbreak_short": "failed-breakout-short",
    "entry_failbreak_long": "failed-breakout-long",
    "entry_retest_fails": "retest-fails-into-failed-breakout",
    "entry_priority_conflict": "priority-conflict",
    "entry_flip": "flip-on-signal",
    "entry_acceptance_reset": "acceptance-reset",
    "entry_gap": "gap-without-crossing",
    "entry_high_ambiguity": "high-ambiguity-dual-confirmation",
    "entry_va_invalid": "va-invalid-few-bins",
    "entry_warmup": "warmup-blocks-signals",
}


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def num(x: str | None) -> float:
    return math.nan if x in (None, "") else float(x)


class Run:
    """One run of a scenario, its tables indexed by bar minute, and its script's minutes."""

    def __init__(self, name: str, overrides: dict[str, Any] | None = None) -> None:
        path = SCENARIOS / f"{name}.yaml"
        self.doc = yaml.safe_load(path.read_text())
        self.segments = parse_segments(self.doc["synthetic"]["segments"])
        self.cfg = load_config(overrides={**self.doc.get("config", {}), **(overrides or {})})
        r = run(path, overrides)
        ex = r.exports
        self.signals = table(ex["signals.csv"])
        self.bars = {int(b["ts_min_ms"]): b for b in table(ex["bars.csv"])}
        self.features = {int(f["ts_min_ms"]): f for f in table(ex["features.csv"])}
        self.orders = table(ex["orders.csv"])
        self.fills = table(ex["fills.csv"])
        self.positions = table(ex["positions.csv"])
        self.alerts = table(ex["alerts.csv"])
        self.start_ms = int(self.signals[0]["ts_min_ms"]) - MIN_MS
        self._sig = {int(s["ts_min_ms"]): s for s in self.signals}

    # -- the script ----------------------------------------------------------------------------
    def seg_start(self, i: int) -> int:
        return sum(s.duration_s for s in self.segments[:i]) // 60

    def seg_end(self, i: int) -> int:
        return self.seg_start(i + 1)

    def event_minute(self, i: int) -> int:
        """The poke minute of a poke, the first hold minute of a hold_outside, the jump of a gap."""
        return self.seg_start(i) + self.segments[i].approach_minutes  # type: ignore[attr-defined]

    # -- the outputs ---------------------------------------------------------------------------
    def decision_ms(self, m: int) -> int:
        return self.start_ms + (m + 1) * MIN_MS

    def minute_of(self, decision_ms: int) -> int:
        return (decision_ms - self.start_ms) // MIN_MS - 1

    def sig(self, m: int) -> dict[str, str]:
        return self._sig[self.decision_ms(m)]

    def bar(self, m: int) -> dict[str, float]:
        return {k: num(v) for k, v in self.bars[self.start_ms + m * MIN_MS].items()}

    def feat(self, m: int) -> dict[str, float]:
        return {k: num(v) for k, v in self.features[self.start_ms + m * MIN_MS].items() if k != "rebucketed"}

    def flags(self, m: int) -> set[str]:
        s = self.sig(m)
        return {n for n in FLAGS if s[f"signal_{n}"] == "1"}

    def acc(self, m: int) -> dict[str, Any]:
        return json.loads(self.sig(m)["acceptance_state"])

    def actions(self) -> list[tuple[int, str, str]]:
        return [(self.minute_of(int(s["ts_min_ms"])), s["chosen_action"], s["reason_code"])
                for s in self.signals if s["chosen_action"] != "HOLD"]

    def orders_at(self, m: int) -> list[dict[str, str]]:
        return [o for o in self.orders if int(o["decision_ts_ms"]) == self.decision_ms(m)]

    def fills_of(self, order_id: str) -> list[dict[str, str]]:
        return [f for f in self.fills if f["order_id"] == order_id]


@pytest.fixture(scope="module")
def runs() -> Any:
    cache: dict[tuple[str, str], Run] = {}

    def get(name: str, overrides: dict[str, Any] | None = None) -> Run:
        key = (name, json.dumps(overrides, sort_keys=True))
        if key not in cache:
            cache[key] = Run(name, overrides)
        return cache[key]

    return get


def assert_entry(r: Run, m: int, direction: int, reason: str, tag: str) -> tuple[dict, dict, dict]:
    """Minute m's decision is an entry for `reason`: the signal row, the limit order at the bar's
    close with that reason, its fill — or, when the limit rested unfilled (the market had moved
    away by the first quote after the decision), its conversion to a market order at the timeout
    (spec §10.1) and that order's fill — and the positions row it opened. Returns (order, fill, pos)."""
    s = r.sig(m)
    assert s["chosen_action"] == ("ENTER_LONG" if direction > 0 else "ENTER_SHORT"), s
    assert s["reason_code"].split(":")[-1] == reason, s
    entries = [o for o in r.orders_at(m) if o["intent"] == "entry"]
    assert len(entries) == 1, r.orders_at(m)
    o = entries[0]
    assert (o["side"], o["type"], o["reason"]) == ("buy" if direction > 0 else "sell", "limit", reason), o
    assert float(o["price"]) == r.bar(m)["close"]  # the limit sits at the signal bar's close
    if o["state"] == "cancelled":
        assert not r.fills_of(o["order_id"]), o
        timeout = m + r.cfg.limit_order_timeout_minutes
        converted = [x for x in r.orders_at(timeout) if (x["intent"], x["reason"]) == ("entry", "limit_timeout")]
        assert len(converted) == 1, r.orders_at(timeout)
        o = converted[0]
        assert (o["side"], o["type"]) == ("buy" if direction > 0 else "sell", "market"), o
    assert o["state"] == "filled", o
    fills = r.fills_of(o["order_id"])
    assert fills and sum(float(f["qty"]) for f in fills) == pytest.approx(float(o["qty"]))
    opened = [p for p in r.positions if p["ts_ms_open"] == fills[0]["ts_ms"]]
    assert len(opened) == 1, r.positions
    p = opened[0]
    assert (p["side"], p["strategy_tag"]) == ("LONG" if direction > 0 else "SHORT", tag), p
    assert float(p["entry_price"]) == float(fills[0]["price"])
    return o, fills[0], p


def of_leg(f: dict[str, float], direction: int) -> bool:  # entry thresholds (of_entry_min 0, _norm 0.1)
    return f["of_1m"] * direction > 0 and f["of_norm_1m"] * direction > 0.1


def qimb_leg(f: dict[str, float], direction: int) -> bool:  # qimb_entry_min 0.1, qimb_source close
    return f["qimb_close"] * direction > 0.1


# -- the manifests -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COVERS))
def test_each_scenario_covers_its_id(name: str) -> None:
    doc = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    assert doc["strategy"] == "amt" and doc["covers"] == [COVERS[name]]


# -- setup A: break-in -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "direction"), [("entry_breakin_long", +1), ("entry_breakin_short", -1)])
def test_breakin(runs: Any, name: str, direction: int) -> None:
    r = runs(name)
    m = r.event_minute(1)  # the poke minute
    b, f = r.bar(m), r.feat(m)
    long = direction > 0
    # the bar poked through the boundary, closed back inside and printed on it, with initiative
    if long:
        assert b["low"] < f["val"] < b["close"] and f["near_val"] == 1
    else:
        assert b["high"] > f["vah"] > b["close"] and f["near_vah"] == 1
    assert f["ambiguous_trade_frac_1m"] <= AMBIGUOUS_MAX and (of_leg(f, direction) or qimb_leg(f, direction))
    name_ = "breakin_long" if long else "breakin_short"
    assert r.flags(m) == {name_}
    assert r.actions()[0][0] == m  # the scripted poke is the run's first decision
    _, _, p = assert_entry(r, m, direction, name_, "breakin")
    assert (num(p["tp1_price"]), num(p["tp2_price"])) == (f["poc"], f["val"] if not long else f["vah"])
    if p["qty_at_tp1"] == "":  # no partial, so the stop was not moved to breakeven: the initial stop
        assert num(p["stop_price"]) == pytest.approx(b["low"] - BUFFER if long else b["high"] + BUFFER)


# -- setup B: breakout -------------------------------------------------------------------------


def test_breakout_long_immediate_entry_with_retest_mode_off(runs: Any) -> None:
    r = runs("entry_breakout_long")
    assert r.doc["config"] == {"enable_retest_mode": False}
    entries = [a for a in r.actions() if a[1].startswith("ENTER")]
    m = entries[0][0]
    assert r.seg_start(1) <= m < r.seg_end(1)  # during hold_outside
    assert r.flags(m) == {"breakout_long"}
    up = r.acc(m)["up"]
    level = up["level"]
    assert up["count"] == K
    # the sequence: started on a validated crossing of that minute's VAH, K closes above the lock
    for i, mm in enumerate(range(m - K + 1, m + 1)):
        assert r.acc(mm)["up"] == {"count": i + 1, "level": level}
        assert r.bar(mm)["close"] > level
    start = m - K + 1
    assert r.feat(start)["vah"] == level and r.feat(start)["near_vah"] == 1
    assert r.acc(start - 1)["up"]["count"] == 0
    assert r.bar(m)["close"] > r.feat(m)["vah"]
    _, _, p = assert_entry(r, m, +1, "breakout_long", "breakout")
    assert num(p["stop_price"]) == pytest.approx(level - BUFFER)  # inside the area, under the locked VAH
    assert p["tp1_price"] == "" and p["tp2_price"] == ""  # breakouts have no price targets
    assert not any(s["reason_code"] == "pending_retest" for s in r.signals)  # no PENDING_RETEST path


def _pending_then_retest(r: Run, direction: int) -> tuple[int, int, float]:
    """The breakout minute (flag, HOLD pending_retest), the retest entry minute and the level."""
    flag = "breakout_long" if direction > 0 else "breakout_short"
    side = "up" if direction > 0 else "down"
    b = next(r.minute_of(int(s["ts_min_ms"])) for s in r.signals if s[f"signal_{flag}"] == "1")
    s = r.sig(b)
    assert (s["chosen_action"], s["reason_code"]) == ("HOLD", "pending_retest")
    a = r.acc(b)
    level = a[side]["level"]
    assert a[side]["count"] == K and a["pending_retest"] == {"direction": direction, "level": level}
    e = next(m for m, act, _ in r.actions() if act.startswith("ENTER"))
    assert e > b + 1  # waited in PENDING_RETEST at least one full minute
    for m in range(b + 1, e):
        assert (r.sig(m)["chosen_action"], r.sig(m)["reason_code"]) == ("HOLD", "pending_retest")
        assert r.acc(m)["pending_retest"] == {"direction": direction, "level": level}
        assert r.acc(m)[side]["level"] == level  # still accepted, still locked
    assert r.acc(e)["pending_retest"] is None
    return b, e, level


def test_breakout_short_through_pending_retest(runs: Any) -> None:
    r = runs("entry_breakout_short")
    assert r.doc["config"] == {}  # enable_retest_mode: true (default)
    b, e, level = _pending_then_retest(r, -1)
    assert r.bar(b)["close"] < r.feat(b)["val"]
    bar = r.bar(e)
    # the pullback: up to within one typical spread of the locked VAL, close back below it
    assert bar["high"] >= level - bar["spread_avg_60m"] and bar["close"] < level
    _, _, p = assert_entry(r, e, -1, "breakout_retest_short", "breakout")
    assert num(p["stop_price"]) == pytest.approx(bar["high"] + BUFFER)
    assert p["tp1_price"] == "" and p["tp2_price"] == ""


def test_breakout_retest_entry(runs: Any) -> None:
    r = runs("entry_breakout_retest")
    b, e, level = _pending_then_retest(r, +1)
    assert r.bar(b)["close"] > r.feat(b)["vah"]
    bar = r.bar(e)
    assert bar["low"] <= level + bar["spread_avg_60m"] and bar["close"] > level
    # between the breakout and the retest the lows stayed away from the level
    assert all(r.bar(m)["low"] > level + r.bar(m)["spread_avg_60m"] for m in range(b + 1, e))
    _, _, p = assert_entry(r, e, +1, "breakout_retest_long", "breakout")
    assert num(p["stop_price"]) == pytest.approx(bar["low"] - BUFFER)


# -- setup C: failed breakout -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "direction"), [("entry_failbreak_short", -1), ("entry_failbreak_long", +1)])
def test_failed_breakout(runs: Any, name: str, direction: int) -> None:
    r = runs(name)
    m = r.event_minute(2)  # the poke back inside
    side = "up" if direction < 0 else "down"  # a failed breakout above VAH is a short
    before = r.acc(m - 1)[side]
    level = before["level"]
    assert 1 <= before["count"] < K  # a prior close outside, not accepted
    assert not any(s["signal_breakout_long"] == "1" or s["signal_breakout_short"] == "1" for s in r.signals[:m + 1])
    b, f = r.bar(m), r.feat(m)
    if direction < 0:
        assert b["high"] > level > b["close"] and f["near_vah"] == 0  # not a break-in
    else:
        assert b["low"] < level < b["close"] and f["near_val"] == 0
    assert r.acc(m)[side] == {"count": 0, "level": None}
    name_ = "failbreak_short" if direction < 0 else "failbreak_long"
    assert r.flags(m) == {name_}
    assert r.actions()[0][0] == m
    _, _, p = assert_entry(r, m, direction, name_, "failbreak")
    assert num(p["tp1_price"]) == f["poc"]
    assert num(p["tp2_price"]) == (f["val"] if direction < 0 else f["vah"])


def test_retest_fails_into_failed_breakout(runs: Any) -> None:
    r = runs("entry_retest_fails")
    m = r.event_minute(2)
    prev = r.acc(m - 1)
    level = prev["up"]["level"]
    assert prev["up"]["count"] >= K and prev["pending_retest"] == {"direction": 1, "level": level}
    b_min = next(mm for mm in range(m) if r.sig(mm)["signal_breakout_long"] == "1")
    assert r.sig(b_min)["reason_code"] == "pending_retest"
    assert all(r.sig(mm)["reason_code"] == "pending_retest" for mm in range(b_min, m))
    b = r.bar(m)
    assert b["high"] > level > b["close"]  # traded above the locked VAH, closed back inside
    assert r.acc(m)["pending_retest"] is None and r.acc(m)["up"] == {"count": 0, "level": None}
    assert r.flags(m) == {"failbreak_short"}
    assert_entry(r, m, -1, "failbreak_short", "failbreak")
    assert not any("retest" in o["reason"] for o in r.orders)  # the retest never came


# -- priority --------------------------------------------------------------------------------------


def test_priority_conflict_break_in_beats_failed_breakout(runs: Any) -> None:
    r = runs("entry_priority_conflict")
    m = r.event_minute(2)
    prev = r.acc(m - 1)
    level = prev["up"]["level"]
    assert prev["pending_retest"] == {"direction": 1, "level": level}  # a breakout was pending too
    b, f = r.bar(m), r.feat(m)
    assert b["high"] > level > b["close"]  # failed breakout (C) …
    assert b["high"] > f["vah"] > b["close"] and f["near_vah"] == 1  # … and break-in (A) on one bar
    assert f["vah"] != level
    assert r.flags(m) == {"breakin_short", "failbreak_short"}
    s = r.sig(m)
    assert (s["chosen_action"], s["reason_code"]) == ("ENTER_SHORT", "breakin_short")
    o, _, p = assert_entry(r, m, -1, "breakin_short", "breakin")
    assert p["strategy_tag"] != "failbreak" and o["reason"] != "failbreak_short"


# -- flip ---------------------------------------------------------------------------------------------


def test_flip_on_opposite_signal(runs: Any) -> None:
    r = runs("entry_flip")
    m1, m2 = r.event_minute(1), r.event_minute(2)
    _, fill1, long_pos = assert_entry(r, m1, +1, "breakin_long", "breakin")
    # still long when the opposite break-in comes
    assert not [o for o in r.orders if o["intent"] == "exit" and o["reason"] != "tp1"
                and r.decision_ms(m1) < int(o["decision_ts_ms"]) < r.decision_ms(m2)]
    assert "breakin_short" in r.flags(m2)
    s = r.sig(m2)
    assert (s["chosen_action"], s["reason_code"]) == ("ENTER_SHORT", "flip:breakin_short")
    at = r.orders_at(m2)
    exits = [o for o in at if o["intent"] == "exit"]
    assert len(exits) == 1 and len(at) == 2
    x = exits[0]
    remaining = float(long_pos["qty_contracts"]) - num(long_pos["qty_at_tp1"] or "0")
    assert (x["side"], x["type"], x["reason"], x["state"]) == ("sell", "market", "flip", "filled")
    assert float(x["qty"]) == pytest.approx(remaining)
    x_fill = r.fills_of(x["order_id"])[0]
    _, fill2, short_pos = assert_entry(r, m2, -1, "breakin_short", "breakin")
    # two trades: the long closed by the flip, the short opened by it
    assert long_pos["ts_ms_close"] == x_fill["ts_ms"] and long_pos["status"] == "CLOSED"
    assert int(short_pos["ts_ms_open"]) >= int(x_fill["ts_ms"])
    assert [p["side"] for p in r.positions[:2]] == ["LONG", "SHORT"]


# -- acceptance ----------------------------------------------------------------------------------


def test_acceptance_counts_locks_and_resets(runs: Any) -> None:
    r = runs("entry_acceptance_reset")

    def sequence(lo: int, hi: int) -> list[int]:
        return [mm for mm in range(lo, hi) if r.acc(mm)["up"]["count"] > 0]

    # the first sequence resets before acceptance on the poke back inside
    reset1 = r.event_minute(2)
    seq1 = sequence(r.seg_start(1), reset1)
    level1 = r.acc(seq1[0])["up"]["level"]
    assert [r.acc(mm)["up"] for mm in seq1] == [{"count": i + 1, "level": level1} for i in range(len(seq1))]
    assert 1 <= len(seq1) < K and seq1[-1] == reset1 - 1
    assert r.bar(reset1)["close"] <= level1 and r.acc(reset1)["up"] == {"count": 0, "level": None}
    # the second one runs long enough for the value area to move under the locked level
    reset2 = r.event_minute(5)
    seq2 = sequence(r.seg_start(4), reset2)
    level2 = r.acc(seq2[0])["up"]["level"]
    assert seq2 == list(range(seq2[0], reset2)) and len(seq2) > K
    assert [r.acc(mm)["up"] for mm in seq2] == [{"count": i + 1, "level": level2} for i in range(len(seq2))]
    assert r.feat(seq2[0])["vah"] == level2 and r.feat(seq2[0])["near_vah"] == 1
    assert all(r.bar(mm)["close"] > level2 for mm in seq2)
    vahs = {r.feat(mm)["vah"] for mm in seq2}
    assert len(vahs) >= 3 and max(vahs) > level2  # the VA moved; the lock did not
    assert r.bar(reset2)["close"] <= level2 and r.acc(reset2)["up"] == {"count": 0, "level": None}


def test_gap_without_crossing_is_not_counted(runs: Any) -> None:
    r = runs("entry_gap")
    j = r.event_minute(1)  # the jump
    assert r.bar(j - 1)["close"] < r.feat(j - 1)["vah"]
    after = range(j, r.seg_end(1))
    assert len(after) >= K  # enough closes outside to have completed acceptance
    for m in after:
        b, f = r.bar(m), r.feat(m)
        assert b["low"] > f["vah"] and f["near_vah"] == 0  # beyond, and nothing printed on VAH
        assert r.acc(m)["up"] == {"count": 0, "level": None}
        assert r.flags(m) == set()
    assert r.orders == []


# -- initiative ---------------------------------------------------------------------------------


def test_high_ambiguity_needs_both_legs(runs: Any) -> None:
    r = runs("entry_high_ambiguity")
    m1, m2 = r.event_minute(1), r.event_minute(2)
    # minute 1: a break-in long by price, ambiguous, the OF leg only → no signal
    b, f = r.bar(m1), r.feat(m1)
    assert b["low"] < f["val"] < b["close"] and f["near_val"] == 1
    assert f["ambiguous_trade_frac_1m"] > AMBIGUOUS_MAX
    assert of_leg(f, +1) and not qimb_leg(f, +1)
    assert r.flags(m1) == set() and r.sig(m1)["chosen_action"] == "HOLD"
    # minute 2: a break-in short, ambiguous, both legs → signal and entry
    b, f = r.bar(m2), r.feat(m2)
    assert b["high"] > f["vah"] > b["close"] and f["near_vah"] == 1
    assert f["ambiguous_trade_frac_1m"] > AMBIGUOUS_MAX
    assert of_leg(f, -1) and qimb_leg(f, -1)
    assert r.flags(m2) == {"breakin_short"}
    assert_entry(r, m2, -1, "breakin_short", "breakin")
    assert r.actions()[0][0] == m2
    # control: the same market with the threshold out of reach → one leg suffices at minute 1
    c = runs("entry_high_ambiguity", {"ambiguous_trade_frac_max": 1.0})
    assert c.flags(m1) == {"breakin_long"} and c.sig(m1)["reason_code"] == "breakin_long"


def test_high_ambiguous_fraction_is_alerted_once_per_episode_after_the_warm_up(runs: Any) -> None:
    """Spec §15.2 "High ambiguous fraction": an alert at each minute whose fraction is above the
    limit when the minute before was not (or was still in the warm-up, which is not watched)."""
    r = runs("entry_high_ambiguity")
    high = [r.feat(m)["ambiguous_trade_frac_1m"] > AMBIGUOUS_MAX for m in range(len(r.signals))]
    first = WARMUP - 1  # the minute whose close is the 240th: the first one the strategy decides on
    starts = [m for m in range(first, len(high)) if high[m] and (m == first or not high[m - 1])]
    alerts = [a for a in r.alerts if a["kind"] == "high_ambiguous_fraction"]
    assert [r.minute_of(int(a["ts_ms"])) for a in alerts] == starts
    assert len(starts) == 3  # this market flickers below the limit twice after the warm-up
    # The warm-up is mostly ambiguous too (several episodes) and raises nothing.
    assert sum(high[:first]) > first // 2
    for a, m in zip(alerts, starts, strict=True):
        frac = r.feat(m)["ambiguous_trade_frac_1m"]
        assert a["message"].startswith(f"High ambiguous fraction: ambiguous_trade_frac_1m {frac:.3f} > "
                                       f"ambiguous_trade_frac_max {AMBIGUOUS_MAX}")
    # the other alert of this run is unchanged and no alert is doubled
    assert [a["kind"] for a in r.alerts].count("leverage_cap") == 1 and len(r.alerts) == 4
    c = runs("entry_high_ambiguity", {"ambiguous_trade_frac_max": 1.0})
    assert not any(a["kind"] == "high_ambiguous_fraction" for a in c.alerts)


# -- value area, warmup ---------------------------------------------------------------------------


def test_va_invalid_with_few_bins(runs: Any) -> None:
    r = runs("entry_va_invalid")
    first = WARMUP - 1  # the minute whose close is the 240th
    for m in range(first, len(r.signals)):
        f = r.feat(m)
        assert f["va_valid"] == 0 and f["va_bin_count"] < MIN_VA_BINS
        assert math.isnan(f["vah"]) and math.isnan(f["val"]) and math.isnan(f["poc"])
        assert r.flags(m) == set() and r.sig(m)["reason_code"] in ("va_invalid", "end_of_run")
    assert r.sig(first)["reason_code"] == "va_invalid" and r.sig(first - 1)["reason_code"] == "warmup"
    alerts = [a for a in r.alerts if a["kind"] == "va_invalid"]
    assert len(alerts) == 1 and int(alerts[0]["ts_ms"]) == r.decision_ms(first)
    assert f"< min_va_bins {MIN_VA_BINS}" in alerts[0]["message"]
    assert r.orders == [] and r.positions == []
    # the price does move: ranges of several ticks every minute
    assert all(r.bar(m)["high"] - r.bar(m)["low"] >= 5 * TICK for m in range(first, first + 20))
    # control: the bin count is what invalidates it
    c = runs("entry_va_invalid", {"min_va_bins": 8})
    assert all(c.feat(m)["va_valid"] == 1 for m in range(first, first + 20))
    assert all(c.sig(m)["reason_code"] != "va_invalid" for m in range(first, first + 20))


def test_warmup_blocks_signals(runs: Any) -> None:
    r = runs("entry_warmup")
    m1, m2 = r.event_minute(1), r.event_minute(3)
    assert m1 + 1 < WARMUP <= m2
    b, f = r.bar(m1), r.feat(m1)
    # a valid value area and a complete break-in long by price, crossing and initiative …
    assert f["va_valid"] == 1 and f["va_bin_count"] >= MIN_VA_BINS
    assert b["low"] < f["val"] < b["close"] and f["near_val"] == 1 and of_leg(f, +1)
    # … blocked by the warmup
    s = r.sig(m1)
    assert r.flags(m1) == set() and (s["chosen_action"], s["reason_code"]) == ("HOLD", "warmup")
    assert all(r.sig(m)["reason_code"] == "warmup" for m in range(WARMUP - 1))
    assert not r.orders_at(m1)
    # the same poke after the warmup enters, and is the run's first decision
    assert r.actions()[0][0] == m2
    assert_entry(r, m2, +1, "breakin_long", "breakin")
    # control: with a short warmup the first poke enters
    c = runs("entry_warmup", {"warmup_minutes": 60})
    assert c.flags(m1) == {"breakin_long"}
    assert_entry(c, m1, +1, "breakin_long", "breakin")


# -- targets -------------------------------------------------------------------------------------


def test_a_target_behind_the_entry_is_dropped(runs: Any) -> None:
    """setups.py: TP1/TP2 must lie beyond the signal close in the trade's direction. In
    entry_acceptance_reset the second failed breakout closes back under the locked VAH while
    the POC has risen above that close: the short gets no TP1 (not an immediate "TP1" exit)."""
    from sim.strategies.amt.setups import target

    assert target(100.0, 99.0, +1) == 100.0 and math.isnan(target(100.0, 101.0, +1))
    assert target(100.0, 101.0, -1) == 100.0 and math.isnan(target(100.0, 100.0, -1))
    r = runs("entry_acceptance_reset")
    m = r.event_minute(5)
    assert r.flags(m) == {"failbreak_short"}
    o, _, p = assert_entry(r, m, -1, "failbreak_short", "failbreak")
    f = r.feat(m)
    assert f["poc"] > float(o["price"]) > f["val"]
    assert p["tp1_price"] == "" and num(p["tp2_price"]) == f["val"]
    assert not [x for x in r.orders if x["reason"] == "tp1" and int(x["decision_ts_ms"]) > r.decision_ms(m)]
