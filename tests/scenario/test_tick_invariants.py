"""Property tests: any script, seed, grid and chunking gives valid, consistent tick streams, and
the segments' guarantees (forced prints, clear zones, silences) hold whatever came before."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario.synthetic import TickGenerator

MIN = 60_000_000_000

_segment = st.one_of(
    st.builds(lambda m: {"type": "walk", "minutes": m}, st.integers(1, 8)),
    st.builds(lambda m: {"type": "quiet", "minutes": m}, st.integers(1, 5)),
    st.builds(
        lambda m, hw: {"type": "rotate", "minutes": m, "half_width_ticks": hw},
        st.integers(1, 20),
        st.floats(2.0, 800.0),
    ),
    st.builds(lambda m, b: {"type": "drift", "minutes": m, "move_bps": b}, st.integers(1, 10), st.floats(-200, 200)),
    st.builds(
        lambda side, b, a, after, ini: {
            "type": "poke", "side": side, "beyond_ticks": b, "approach_minutes": a, "after_minutes": after,
            "initiative": ini,
        },
        st.sampled_from(["low", "high"]),
        st.floats(1.0, 60.0),
        st.integers(0, 3),
        st.integers(0, 2),
        st.sampled_from([None, "buy", "sell"]),
    ),
    st.builds(
        lambda side, k, b, a: {
            "type": "hold_outside", "side": side, "closes": k, "beyond_ticks": b, "approach_minutes": a,
        },
        st.sampled_from(["low", "high"]),
        st.integers(1, 4),
        st.floats(1.0, 40.0),
        st.integers(0, 3),
    ),
    st.builds(
        lambda lvl, n, j: {"type": "gap", "level": lvl, "clear_ticks": n, "jump_ticks": j},
        st.sampled_from(["low", "high"]),
        st.floats(1.0, 80.0),
        st.floats(0.0, 30.0),
    ),
    st.builds(
        lambda x, s, r: {"type": "flash_crash", "drop_bps": x, "drop_seconds": s, "recovery_seconds": r},
        st.floats(5.0, 800.0),
        st.integers(1, 90),
        st.integers(1, 120),
    ),
    st.builds(
        lambda s, o: {"type": "stale", "seconds": s, "offset_seconds": o}, st.integers(1, 200), st.integers(0, 59)
    ),
)

_calibration = st.fixed_dictionaries(
    {},
    optional={
        "inside_trade_frac_wide": st.sampled_from([0.0, 0.5, 1.0]),
        "spread_ticks_share": st.sampled_from([[1.0], [0.5, 0.3, 0.2], [0.0, 0.0, 0.0, 1.0]]),
        "same_ms_trade_frac": st.sampled_from([0.0, 0.68, 0.9]),
    },
)


def _claims(g: TickGenerator, tt: np.ndarray, tp: np.ndarray, qt: np.ndarray, tick: float) -> None:
    for p in g.plan:
        if p.type == "poke":
            m0 = p.info["poke_minute_ns"]
            px = tp[(tt >= m0) & (tt < m0 + MIN)]
            out = -1 if p.info["edge"] == p.info["range_lo"] else 1
            assert out * (px.max() if out > 0 else px.min()) >= out * p.info["extreme"] - 1e-9
            assert out * (px[-1] - p.info["close_level"]) <= 1e-9
        elif p.type == "hold_outside":
            out = 1 if p.info["edge"] >= p.info["range_hi"] else -1
            f = p.info["first_hold_minute_ns"]
            for m0 in range(f, p.end_ns, MIN):
                px = tp[(tt >= m0) & (tt < m0 + MIN)]
                assert out * (px[-1] - p.info["close_beyond"]) >= -1e-9
        elif p.type == "gap":
            w = (tt >= p.info["clear_from_ns"]) & (tt < p.end_ns)
            assert np.all(np.abs(tp[w] - p.info["level"]) > p.info["clear_ticks"] * tick)
        elif p.type == "flash_crash":
            w = (tt >= p.start_ns) & (tt < p.end_ns)
            assert tp[w].min() <= p.info["start_mid"] * (1 - g.segments[p.index].drop_bps / 1e4)
        elif p.type == "stale":
            a, b = p.info["stale_from_ns"], p.info["stale_to_ns"]
            assert not ((tt >= a) & (tt < b)).any() and not ((qt >= a) & (qt < b)).any()


@settings(max_examples=max(5, settings.default.max_examples // 2))
@given(
    seed=st.integers(0, 2**63 - 1),
    segments=st.lists(_segment, min_size=1, max_size=5),
    den=st.sampled_from([10, 2, 100, 1]),
    start_price=st.floats(500.0, 200_000.0),
    chunk_minutes=st.integers(1, 60),
    cal=_calibration,
)
def test_any_script_gives_valid_consistent_ticks(
    seed, segments, den, start_price, chunk_minutes, cal, start_ns, collect, check_ticks  # noqa: ANN001
) -> None:
    script = [{"type": "rotate", "minutes": 30, "half_width_bps": 20}, *segments]
    g = TickGenerator(
        start_ns=start_ns, segments=script, seed=seed, tick_size=1 / den, start_price=start_price,
        chunk_minutes=chunk_minutes, trade_rate_per_s=6.0, quote_rate_per_s=25.0, **cal,
    )
    trades, quotes = collect(g.trades()), collect(g.quotes())
    check_ticks(trades, quotes, tick_den=den)
    tt = trades["ts_ns"].to_numpy()
    qt = quotes["ts_ns"].to_numpy()
    assert tt[0] >= g.start_ns and max(tt[-1], qt[-1]) < g.end_ns
    _claims(g, tt, trades["price"].to_numpy(), qt, 1 / den)


@settings(max_examples=max(3, settings.default.max_examples // 6))
@given(seed=st.integers(0, 2**32), chunk_a=st.integers(1, 40), chunk_b=st.integers(1, 40))
def test_the_path_does_not_depend_on_chunking(seed, chunk_a, chunk_b, start_ns) -> None:  # noqa: ANN001
    script = [{"type": "rotate", "minutes": 20}, {"type": "poke", "side": "high"}, {"type": "stale", "seconds": 30}]
    a = TickGenerator(start_ns=start_ns, segments=script, seed=seed, chunk_minutes=chunk_a)
    b = TickGenerator(start_ns=start_ns, segments=script, seed=seed, chunk_minutes=chunk_b)
    assert np.array_equal(a.mid_path, b.mid_path) and a.plan == b.plan
