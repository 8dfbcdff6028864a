"""The Rust feature engine against the plain-Python reference (docs/FEATURES.md), on random
streams, column by column: bars, features, the raw tape and the side-agreement counts. Also the
guarantees the live path relies on: batching does not matter, and nothing looks ahead."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from sim.core.events import NS_PER_MIN
from tests.market.features_streams import START, TICK, Stream, feature_params, replay, tick_streams
from tests.reference.features import BAR_FIELDS, FEATURE_FIELDS, RAW_TRADE_FIELDS, reference_features

#: Columns fed by ln/exp/erf: Rust uses the `libm` crate, Python the platform's C library.
TRANSCENDENTAL = {"sigma_240", "qimb_ema_60s"}
BVC_COLUMNS = {"of_1m", "of_norm_1m"}


def same(a: Any, b: Any, *, rel: float = 0.0) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or (rel > 0 and math.isclose(a, b, rel_tol=rel, abs_tol=rel))
    return a == b


def engine_bar(ev: Any) -> tuple[Any, ...]:
    b = ev.bar
    return (b.ts_min_ns, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count, b.bid_px_close,
            b.ask_px_close, b.bid_sz_close, b.ask_sz_close, b.spread_close, b.spread_avg_60m)


def engine_features(ev: Any) -> dict[str, Any]:
    f = dataclasses.asdict(ev.features)
    f["rebucketed"] = f["rebucketed"] is not None
    return f


def assert_matches_reference(stream: Stream, closes: list[Any], market: Any, raw: dict[str, list[Any]],
                             klines: list[Any] | None = None) -> None:
    ref = reference_features(stream.trades, stream.quotes, klines or [], START, stream.end_ns, stream.params)
    assert len(closes) == len(ref.bars) == stream.minutes
    bvc = stream.params.order_flow_source == "bvc" or stream.params.feature_input == "bars"
    for ev, rbar, rfeat in zip(closes, ref.bars, ref.features):
        got_bar = engine_bar(ev)
        for name, g, r in zip(BAR_FIELDS, got_bar, rbar):
            assert same(g, r), f"minute {ev.bar.ts_min_ns}: bar {name}: engine {g!r}, reference {r!r}"
        got = engine_features(ev)
        for name in FEATURE_FIELDS:
            rel = 1e-12 if name in TRANSCENDENTAL or (bvc and name in BVC_COLUMNS) else 0.0
            assert same(got[name], rfeat[name], rel=rel), (
                f"minute {ev.bar.ts_min_ns}: {name}: engine {got[name]!r}, reference {rfeat[name]!r}")
    got_raw = list(zip(*(raw.get(n, []) for n in RAW_TRADE_FIELDS)))
    ref_raw = [tuple(-1 if (n == "quote_staleness_ms" and v is None) else v for n, v in zip(RAW_TRADE_FIELDS, r))
               for r in ref.raw_trades]
    assert len(got_raw) == len(ref_raw)
    for g, r in zip(got_raw, ref_raw):
        assert all(same(a, b) for a, b in zip(g, r)), (g, r)
    assert market.engine.side_agreement() == ref.agreement


@settings(max_examples=150, deadline=None)
@given(tick_streams())
def test_every_feature_column_equals_the_reference(stream: Stream) -> None:
    closes, market, raw = replay(stream)
    assert_matches_reference(stream, closes, market, raw)


@st.composite
def kline_streams(draw: Any) -> tuple[Stream, list[tuple[int, float, float, float, float, float]]]:
    minutes = draw(st.integers(1, 20))
    present = draw(st.lists(st.booleans(), min_size=minutes, max_size=minutes))
    klines = []
    close = 300_000
    for m, here in enumerate(present):
        o = close
        close = o + draw(st.integers(-30, 30))
        hi = max(o, close) + draw(st.integers(0, 10))
        lo = min(o, close) - draw(st.integers(0, 10))
        vol = draw(st.integers(0, 10**7)) / 1000
        if here:
            klines.append((START + m * NS_PER_MIN, o * TICK, hi * TICK, lo * TICK, close * TICK, vol))
    params = draw(feature_params(feature_input="bars"))
    return Stream([], [], minutes, params), klines


@settings(max_examples=100, deadline=None)
@given(kline_streams(), st.integers(1, 5))
def test_bars_mode_equals_the_reference(case: Any, batch: int) -> None:
    stream, klines = case
    closes, market, raw = replay(stream, klines=klines, kline_batch=batch)
    assert_matches_reference(stream, closes, market, raw, klines)


def _snapshot(closes: list[Any]) -> list[str]:
    return [repr((ev.key, ev.bar, ev.features)) for ev in closes]  # repr: NaN fields compare equal


@settings(max_examples=80, deadline=None)
@given(tick_streams(), st.integers(1, 7), st.integers(1, 7))
def test_one_batch_many_batches_or_one_tick_at_a_time_give_identical_features(
    stream: Stream, trade_batch: int, quote_batch: int
) -> None:
    whole, _, raw_whole = replay(stream)
    pieces, _, raw_pieces = replay(stream, trade_batch=trade_batch, quote_batch=quote_batch)
    single, _, raw_single = replay(stream, trade_batch=1, quote_batch=1)
    assert _snapshot(whole) == _snapshot(pieces) == _snapshot(single)
    assert repr(raw_whole) == repr(raw_pieces) == repr(raw_single)


@settings(max_examples=80, deadline=None)
@given(tick_streams(max_minutes=10), st.data())
def test_no_look_ahead_features_up_to_minute_t_ignore_every_later_tick(stream: Stream, data: Any) -> None:
    t = data.draw(st.integers(0, stream.minutes - 1), label="minute t")
    cut = START + (t + 1) * NS_PER_MIN  # everything at or after the close of minute t is "later"
    shift = data.draw(st.integers(1, 40), label="price shift (ticks)")

    def perturb_trade(r: tuple) -> tuple:
        ts, px, sz, side, tid = r
        return r if ts < cut else (ts, round(px / TICK + shift) * TICK, sz * 3, -side, tid)

    def perturb_quote(r: tuple) -> tuple:
        ts, bid, bsz, ask, asz = r
        return r if ts < cut else (ts, round(bid / TICK - shift) * TICK, asz, round(ask / TICK - shift) * TICK, bsz + 1)

    extra = [(cut + k * 1_000_000, (300_000 + 10 * shift) * TICK, 5.0, 1, 99_000 + k) for k in range(3)]
    later = Stream([perturb_trade(r) for r in stream.trades] + extra, [perturb_quote(r) for r in stream.quotes],
                   stream.minutes + 1, stream.params)
    later.trades.sort(key=lambda r: r[0])
    a, _, _ = replay(stream)
    b, _, _ = replay(later)
    assert _snapshot(a[: t + 1]) == _snapshot(b[: t + 1])
