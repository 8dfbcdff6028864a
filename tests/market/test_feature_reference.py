"""Tests of the plain-Python feature reference itself (tests/reference/features.py): the spec's
worked examples and the edge rules of docs/FEATURES.md, before it is used to judge the Rust engine."""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timezone

import pytest

from tests.reference.features import (
    FEATURE_FIELDS,
    NS_PER_MIN,
    RAW_TRADE_FIELDS,
    FeatureParams,
    price_of,
    reference_features,
    sample_std,
    size_units,
    tick_index,
    value_area,
)

S = 1_000_000_000
NOON = int(datetime(2024, 3, 1, 12, tzinfo=timezone.utc).timestamp()) * S
TICK = 0.5


def _run(trades, quotes, minutes=1, klines=(), **params):
    p = FeatureParams(tick_size=params.pop("tick_size", TICK), **params)
    return reference_features(trades, quotes, list(klines), NOON, NOON + minutes * NS_PER_MIN, p)


def _raw(run, i):
    return dict(zip(RAW_TRADE_FIELDS, run.raw_trades[i]))


# -- helpers -------------------------------------------------------------------------------------


def test_rounding_helpers():
    assert size_units(0.1) == 10_000_000
    assert size_units(0.000000005) == 1  # half away from zero
    assert size_units(0.0000000049) == 0
    assert tick_index(50000.25, 0.5) == 100001  # 100000.5 rounds away from zero
    assert tick_index(-0.25, 0.5) == -1
    assert price_of(500001, 0.1) == 50000.1
    assert price_of(3, 0.25) == 0.75


# -- value area ----------------------------------------------------------------------------------


def test_spec_20_3_value_area_example():
    volumes = {498: 100, 499: 250, 500: 400, 501: 300, 502: 150, 503: 50}
    va = value_area(volumes, 0.70, 1)
    assert (va.poc_bin, va.val_bin, va.vah_bin) == (500, 499, 501)
    assert va.coverage == 950 / 1250 == 0.76
    assert va.valid and va.nonempty == 6


def test_poc_at_lower_edge_expands_upward_only():
    va = value_area({10: 100, 11: 10, 12: 5, 13: 1}, 0.95, 1)
    assert (va.poc_bin, va.val_bin, va.vah_bin) == (10, 10, 12)


def test_poc_at_upper_edge_expands_downward_only():
    va = value_area({10: 1, 11: 5, 12: 10, 13: 100}, 0.95, 1)
    assert (va.poc_bin, va.val_bin, va.vah_bin) == (13, 11, 13)


def test_zero_bins_inside_the_span_are_included():
    # Below the POC is a gap (bin 9 empty) and above it a bin with volume: the empty neighbour
    # loses, then is taken when the upper edge is reached.
    va = value_area({8: 30, 10: 50, 11: 20}, 0.9, 1)
    assert (va.poc_bin, va.val_bin, va.vah_bin) == (10, 8, 11)
    assert va.coverage == 1.0
    assert va.nonempty == 3  # the empty bin is inside the span but not counted as non-empty


def test_poc_tie_goes_to_the_lower_price():
    va = value_area({5: 40, 6: 10, 7: 40}, 0.3, 1)
    assert (va.poc_bin, va.val_bin, va.vah_bin) == (5, 5, 5)


def test_equal_neighbours_add_the_lower_first():
    va = value_area({4: 20, 5: 50, 6: 20, 7: 10}, 0.7, 1)
    assert (va.poc_bin, va.val_bin, va.vah_bin) == (5, 4, 5)
    assert va.coverage == 0.7


def test_too_few_bins_or_empty_is_invalid():
    few = value_area({1: 5, 2: 6}, 0.7, 3)
    assert not few.valid and few.nonempty == 2 and few.poc_bin is None and math.isnan(few.coverage)
    empty = value_area({}, 0.7, 1)
    assert not empty.valid and empty.nonempty == 0
    zeros = value_area({1: 0, 2: 0}, 0.7, 1)
    assert not zeros.valid and zeros.nonempty == 0


# -- order flow: the spec's worked example -------------------------------------------------------


def _spec_20_4(use_tick_rule):
    quotes = [(NOON + s * S, 50000.0, 1.0, 50001.0, 2.0) for s in range(0, 5)]
    trades = [
        (NOON + 1 * S, 50001.0, 0.1, 1, 1),
        (NOON + 2 * S, 50000.0, 0.2, -1, 2),
        (NOON + 3 * S, 50000.5, 0.15, 1, 3),
        (NOON + 4 * S, 50001.0, 0.25, 1, 4),
    ]
    return _run(trades, quotes, use_tick_rule_fallback=use_tick_rule)


def test_spec_20_4_order_flow_with_tick_rule():
    run = _spec_20_4(True)
    f = run.features[0]
    assert f["of_1m"] == 0.3
    assert round(f["of_norm_1m"], 2) == 0.43
    assert round(f["ambiguous_trade_frac_1m"], 2) == 0.21
    assert f["stale_trade_frac_1m"] == 0.0
    assert [_raw(run, i)["inferred_side"] for i in range(4)] == [1, -1, 1, 1]
    assert run.agreement == (4, 4, 70_000_000, 70_000_000)
    bar = run.bars[0]
    assert bar[5] == 0.7 and bar[7] == 4  # volume, trade_count


def test_spec_20_4_order_flow_without_tick_rule():
    run = _spec_20_4(False)
    f = run.features[0]
    assert f["of_1m"] == 0.15
    assert round(f["of_norm_1m"], 2) == 0.21
    assert round(f["ambiguous_trade_frac_1m"], 2) == 0.21
    assert _raw(run, 2)["inferred_side"] == 0
    assert run.agreement[:2] == (4, 3)


def test_feature_rows_have_every_field():
    run = _spec_20_4(True)
    assert tuple(run.features[0]) == FEATURE_FIELDS
    assert len(run.bars[0]) == 14


# -- volatility ----------------------------------------------------------------------------------


def test_sample_std_basics():
    assert math.isnan(sample_std([])) and math.isnan(sample_std([1.0]))
    assert sample_std([1.0, 3.0]) == math.sqrt(2.0)


def test_minute_without_quotes_is_a_zero_return():
    # Quotes in minutes 0, 1 and 3; minute 2 has none and carries its mid over.
    mids = {0: 100.25, 1: 101.25, 3: 100.75}
    quotes = [(NOON + m * NS_PER_MIN + 10 * S, mid - 0.25, 1.0, mid + 0.25, 1.0) for m, mid in mids.items()]
    run = _run([], quotes, minutes=4)
    got = [f["mid_close"] for f in run.features]
    assert got == [100.25, 101.25, 101.25, 100.75]
    returns = [math.log(101.25 / 100.25), 0.0, math.log(100.75 / 101.25)]
    sigmas = [f["sigma_240"] for f in run.features]
    assert math.isnan(sigmas[0]) and math.isnan(sigmas[1])  # 0 and 1 returns
    assert sigmas[2] == sample_std(returns[:2])
    assert sigmas[3] == sample_std(returns)
    assert sigmas[3] == pytest.approx(statistics.stdev(returns), rel=1e-12)


# -- alignment and staleness ---------------------------------------------------------------------


def test_stale_quote_is_still_used():
    quotes = [(NOON, 100.0, 1.0, 100.5, 1.0)]
    trades = [(NOON + 1 * S, 100.5, 1.0, 1, 1)]  # at the ask, 1 s after the only quote
    run = _run(trades, quotes)
    raw = _raw(run, 0)
    assert raw["inferred_side"] == 1
    assert raw["quote_staleness_ms"] == 1000
    assert (raw["quote_bid_px"], raw["quote_ask_px"]) == (100.0, 100.5)
    f = run.features[0]
    assert f["stale_trade_frac_1m"] == 1.0
    assert f["ambiguous_trade_frac_1m"] == 0.0  # the quote rule decided it


def test_trade_before_the_first_quote_has_no_quote():
    run = _run([(NOON + S, 100.0, 1.0, 1, 1)], [(NOON + 2 * S, 99.5, 1.0, 100.5, 1.0)])
    raw = _raw(run, 0)
    assert raw["quote_staleness_ms"] is None and math.isnan(raw["quote_bid_px"])
    assert raw["inferred_side"] == 0  # first print of the run: no tick rule either
    assert run.features[0]["stale_trade_frac_1m"] == 1.0
    assert run.features[0]["ambiguous_trade_frac_1m"] == 1.0


def test_equal_timestamp_quote_depends_on_alignment():
    t = NOON + 5 * S
    quotes = [(NOON, 100.0, 1.0, 100.5, 1.0), (t, 101.0, 1.0, 101.5, 1.0)]
    trades = [(t, 100.5, 1.0, 1, 1)]
    at_or_before = _raw(_run(trades, quotes, quote_alignment="at_or_before"), 0)
    assert at_or_before["inferred_side"] == -1  # 100.5 <= bid 101.0 of the quote at t
    assert at_or_before["quote_staleness_ms"] == 0
    before = _raw(_run(trades, quotes, quote_alignment="before"), 0)
    assert before["inferred_side"] == 1  # 100.5 >= ask 100.5 of the earlier quote
    assert before["quote_staleness_ms"] == 5000


# -- prints --------------------------------------------------------------------------------------


def test_same_timestamp_trades_are_one_print_but_counted_raw():
    quotes = [(NOON, 100.0, 1.0, 101.0, 1.0)]
    trades = [
        (NOON + 1 * S, 101.0, 1.0, 1, 1),  # at the ask: +1
        (NOON + 2 * S, 100.5, 1.0, -1, 2),  # one print at 100.75: inside the quote,
        (NOON + 2 * S, 101.0, 1.0, 1, 3),  # below the previous print -> tick rule -1
    ]
    run = _run(trades, quotes)
    sides = [_raw(run, i)["inferred_side"] for i in range(3)]
    assert sides == [1, -1, -1]  # trade 3 alone would be +1 (at the ask)
    bar = run.bars[0]
    assert bar[7] == 3 and bar[5] == 3.0
    f = run.features[0]
    assert f["of_1m"] == -1.0
    assert f["ambiguous_trade_frac_1m"] == 2 / 3  # both trades of the ambiguous print
    assert f["total_volume_4h"] == 3.0
    assert run.agreement == (3, 2, 300_000_000, 200_000_000)


def test_histogram_counts_every_raw_trade_of_a_print():
    # Enough distinct prices for a valid VA with min_va_bins 3 once a width is applied.
    quotes = [(NOON + m * NS_PER_MIN, 100.0 + 0.5 * (m % 2), 1.0, 100.5 + 0.5 * (m % 2), 1.0) for m in range(3)]
    t = NOON + 2 * NS_PER_MIN + S
    trades = [(t, 100.0, 1.0, 1, 1), (t, 100.5, 2.0, 1, 2), (t, 101.0, 1.0, 1, 3)]
    run = _run(trades, quotes, minutes=3, min_va_bins=3, alpha_bin=1e-9)
    f = run.features[2]
    assert run.bars[2][7] == 3 and run.bars[2][5] == 4.0  # raw trades, not the one print
    assert f["bin_width"] == 0.5 and f["va_valid"] and f["va_bin_count"] == 3
    assert (f["poc"], f["val"], f["vah"]) == (100.5, 100.0, 100.5)
    assert f["va_coverage"] == 0.75
    assert f["rebucketed"]  # first width of the run
    # spread_avg = 0.5 (one tick): every level within a tick of a trade is near.
    assert f["near_vah"] and f["near_val"]


# -- quote imbalance -----------------------------------------------------------------------------


def test_qimb_ema_follows_the_stated_recursion():
    quotes = [(NOON, 100.0, 3.0, 100.5, 1.0), (NOON + 30 * S, 100.0, 1.0, 100.5, 3.0),
              (NOON + 61 * S, 100.0, 0.0, 100.5, 0.0)]  # zero size sum: skipped by the EMA
    run = _run([], quotes, minutes=2)
    w = 1 - math.exp(-30.0 / 60.0)
    expected = 0.5 + w * (-0.5 - 0.5)
    assert run.features[0]["qimb_ema_60s"] == expected
    assert run.features[0]["qimb_close"] == -0.5
    assert run.features[1]["qimb_ema_60s"] == expected
    assert math.isnan(run.features[1]["qimb_close"])


# -- bars mode -----------------------------------------------------------------------------------


def test_bars_mode_spreads_units_over_the_range_and_uses_bvc():
    klines = [(NOON + m * NS_PER_MIN, 100.0, 101.0, 100.0, c, 1.0) for m, c in enumerate([100.5, 101.0, 100.0])]
    run = _run([], [], minutes=4, klines=klines, feature_input="bars", min_va_bins=1)
    f = run.features
    assert [x["mid_close"] for x in f] == [100.5, 101.0, 100.0, 100.0]
    assert all(math.isnan(x["qimb_close"]) and math.isnan(x["ambiguous_trade_frac_1m"]) for x in f)
    assert math.isnan(f[1]["of_1m"])  # one delta so far
    deltas = [0.5, -1.0]
    expected = 2 * (0.5 * (1 + math.erf(-1.0 / (sample_std(deltas) * math.sqrt(2))))) - 1
    assert f[2]["of_norm_1m"] == expected and f[2]["of_1m"] == 1.0 * expected
    assert math.isnan(f[3]["of_norm_1m"]) and f[3]["of_1m"] == 0.0  # missing kline: zero delta, no volume
    assert run.bars[3][5] == 0.0 and math.isnan(run.bars[3][1])
    assert f[3]["total_volume_4h"] == 3.0
    assert run.raw_trades == [] and run.agreement == (0, 0, 0, 0)


# -- rebucketing ---------------------------------------------------------------------------------


def test_scheduled_rebucket_fires_even_with_an_unchanged_width():
    # A tiny alpha keeps the candidate at one tick; NOON's minute index is a multiple of 2.
    quotes = [(NOON + m * NS_PER_MIN, 100.0 + 0.5 * (m % 2), 1.0, 100.5 + 0.5 * (m % 2), 1.0) for m in range(6)]
    run = _run([], quotes, minutes=6, alpha_bin=1e-9, rebucket_interval_minutes=2)
    got = [f["rebucketed"] for f in run.features]
    assert got == [False, False, True, False, True, False]  # no candidate before two returns
    assert math.isnan(run.features[1]["bin_width"]) and run.features[5]["bin_width"] == 0.5
    assert run.features[5]["va_bin_count"] == 0 and not run.features[5]["va_valid"]
