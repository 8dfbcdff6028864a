//! The rolling volume profile against from-scratch rebuilds.
//!
//! The engine keeps one base-resolution histogram, adds every trade to it and subtracts whole
//! minutes as they leave the window, then aggregates to the applied width on demand. These
//! tests check that this incremental bookkeeping is indistinguishable from rebuilding the
//! window from the raw trades: after any sequence of minutes, for any width, at any base bin
//! size, including negative bins (floor division) and jumps that force reallocations.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sim_core::time::NS_PER_MIN;
use sim_core::units::floor_div;
use sim_features::bars_profile::RangeProfile;
use sim_features::histogram::{BaseHistogram, MinuteTrades, RollingProfile, SpanError, MAX_SPAN_BINS};

/// Feeds one minute's trades to the profile the way `FeatureEngine` does: trade by trade into
/// the histogram, then the compacted minute filed for later subtraction.
fn feed_minute(p: &mut RollingProfile, ts_min_ns: i64, trades: &[(i64, i64)]) {
    let mut m = MinuteTrades { ts_min_ns, ticks: Vec::new() };
    for &(tick, units) in trades {
        p.add(tick, units).unwrap();
        m.ticks.push((tick, units));
    }
    m.compact();
    p.close_minute(m);
}

/// The widths compared after every minute: the extremes of the 1..50 range and a few odd
/// ones, so bins straddling zero and the span's ragged ends are exercised.
const WIDTHS: [i64; 7] = [1, 2, 3, 7, 13, 31, 50];

/// Minutes as (minute index, trades as (tick index, units)); indices increase, with gaps.
fn minutes() -> impl Strategy<Value = Vec<(i64, Vec<(i64, i64)>)>> {
    prop::collection::vec((1i64..4, prop::collection::vec((-150i64..150, 0i64..2_000), 0..25)), 1..60).prop_map(|ms| {
        let mut idx = 0;
        ms.into_iter()
            .map(|(step, trades)| {
                idx += step;
                (idx, trades)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rebucketing_the_base_histogram_equals_a_rebuild_from_raw_trades(
        window in 1u32..30,
        base_bin_ticks in 1u32..=4,
        ms in minutes(),
        extra_k in 1i64..=50,
    ) {
        let mut p = RollingProfile::new(window, base_bin_ticks);
        let bbt = base_bin_ticks as i64;
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for (i, (idx, trades)) in ms.iter().enumerate() {
            feed_minute(&mut p, idx * NS_PER_MIN, trades);
            // The window of minute t is t − W + 1 … t, by minute index (gaps count as minutes).
            let mut fresh = BaseHistogram::default();
            for (j, tr) in &ms[..=i] {
                if *j > idx - window as i64 {
                    for &(tick, units) in tr {
                        fresh.add(floor_div(tick, bbt), units).unwrap();
                    }
                }
            }
            prop_assert_eq!(p.base.total_units(), fresh.total_units());
            prop_assert_eq!(p.base.range(), fresh.range());
            prop_assert_eq!(p.base.nonempty(), fresh.nonempty());
            for k in WIDTHS.into_iter().chain([extra_k]) {
                let a = p.base.aggregate(k, &mut got);
                let b = fresh.aggregate(k, &mut want);
                prop_assert_eq!(a, b, "first aggregated bin, k={}", k);
                prop_assert_eq!(&got, &want, "aggregated bins, k={}", k);
            }
        }
    }
}

/// xorshift64: a deterministic stream without a new dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The window's volume by base bin, rebuilt from the raw minutes (non-zero bins only).
fn window_map(minutes: &[Vec<(i64, i64)>], bbt: i64) -> BTreeMap<i64, i64> {
    let mut map = BTreeMap::new();
    for m in minutes {
        for &(tick, units) in m {
            *map.entry(floor_div(tick, bbt)).or_insert(0) += units;
        }
    }
    map.retain(|_, v| *v != 0);
    map
}

fn assert_matches(h: &BaseHistogram, map: &BTreeMap<i64, i64>, minute: usize) {
    assert_eq!(h.total_units(), map.values().sum::<i64>(), "total at minute {minute}");
    assert_eq!(h.nonempty(), map.len(), "non-empty bins at minute {minute}");
    let range = map.keys().next().map(|&lo| (lo, *map.keys().next_back().unwrap()));
    assert_eq!(h.range(), range, "range at minute {minute}");
    // Bins the map holds agree; with equal non-empty counts no other bin can be non-empty.
    for (&b, &v) in map {
        assert_eq!(h.get(b), v, "bin {b} at minute {minute}");
    }
}

/// Aggregation of the map at width `k`, the way FEATURES.md defines it.
fn aggregate_map(map: &BTreeMap<i64, i64>, k: i64) -> Option<(i64, Vec<i64>)> {
    let (&lo, &hi) = (map.keys().next()?, map.keys().next_back()?);
    let a0 = floor_div(lo, k);
    let mut out = vec![0; (floor_div(hi, k) - a0 + 1) as usize];
    for (&b, &v) in map {
        out[(floor_div(b, k) - a0) as usize] += v;
    }
    Some((a0, out))
}

#[test]
fn add_and_subtract_stay_consistent_over_a_long_random_stream() {
    const TRADES: usize = 200_000;
    const MINUTES: usize = 2_500;
    const WINDOW: usize = 37;
    const BBT: i64 = 3;
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut p = RollingProfile::new(WINDOW as u32, BBT as u32);
    let mut raw: Vec<Vec<(i64, i64)>> = Vec::with_capacity(MINUTES);
    // A random walk crossing zero (negative bins), with rare jumps of up to 40 000 ticks that
    // push the span past the histogram's 4096-bin slack and force it to reallocate on either side.
    let mut tick: i64 = 0;
    let mut agg = Vec::new();
    for minute in 0..MINUTES {
        let n = rng.below(2 * (TRADES / MINUTES) as u64 + 1) as usize;
        let mut trades = Vec::with_capacity(n);
        for _ in 0..n {
            tick += rng.below(7) as i64 - 3;
            if rng.below(5_000) == 0 {
                tick += rng.below(80_001) as i64 - 40_000;
            }
            // Some zero-unit trades: they must not create a non-empty bin.
            let units = if rng.below(50) == 0 { 0 } else { 1 + rng.below(1_000_000) as i64 };
            trades.push((tick, units));
        }
        feed_minute(&mut p, minute as i64 * NS_PER_MIN, &trades);
        raw.push(trades);
        let map = window_map(&raw[raw.len().saturating_sub(WINDOW)..], BBT);
        assert_matches(&p.base, &map, minute);
        if minute % 97 == 0 {
            for k in [1, 4, 50] {
                let got = p.base.aggregate(k, &mut agg).map(|a0| (a0, agg.clone()));
                assert_eq!(got, aggregate_map(&map, k), "k={k} at minute {minute}");
            }
        }
    }
    let fed: usize = raw.iter().map(Vec::len).sum();
    assert!(fed >= TRADES - TRADES / 20, "the stream is long: {fed} trades");
    // Closing a whole window of empty minutes subtracts everything that is left, exactly.
    for m in 0..WINDOW {
        feed_minute(&mut p, (MINUTES + m) as i64 * NS_PER_MIN, &[]);
    }
    assert_eq!((p.base.total_units(), p.base.range(), p.base.nonempty()), (0, None, 0));
    assert_eq!(p.base.aggregate(1, &mut agg), None);
    assert!(agg.is_empty());
}

#[test]
fn a_minute_leaves_exactly_when_the_window_moves_past_it() {
    // Window 3: minute 10's volume is in the profile at minutes 10, 11, 12 and gone at 13.
    let mut p = RollingProfile::new(3, 1);
    feed_minute(&mut p, 10 * NS_PER_MIN, &[(5, 7)]);
    for m in 11..=12 {
        feed_minute(&mut p, m * NS_PER_MIN, &[]);
        assert_eq!(p.base.total_units(), 7, "minute {m}");
    }
    feed_minute(&mut p, 13 * NS_PER_MIN, &[(6, 1)]);
    assert_eq!((p.base.total_units(), p.base.range()), (1, Some((6, 6))));
    // A gap in the minutes (none filed for 14..=19) drops everything older than the window.
    feed_minute(&mut p, 20 * NS_PER_MIN, &[(-4, 2)]);
    assert_eq!((p.base.total_units(), p.base.range()), (2, Some((-4, -4))));
}

/// Bars mode as the engine used to feed the dense profile: every base bin of the kline's range
/// added one by one, ascending, `units // n` each and one more to the lowest `units % n`; the
/// bins filed with the minute for subtraction. Stops at the first error, as the engine does.
fn dense_kline(p: &mut RollingProfile, m: &mut MinuteTrades, lo: i64, hi: i64, units: i64, bbt: i64) -> Result<(), SpanError> {
    let n = hi - lo + 1;
    let (each, extra) = (units / n, units % n);
    for (i, b) in (lo..=hi).enumerate() {
        let u = each + i64::from((i as i64) < extra);
        p.base.add(b, u)?;
        m.ticks.push((b * bbt, u));
    }
    Ok(())
}

/// One minute of bars mode: (minute step, klines as (low base bin offset, bins, units), a lone
/// trade as (base bin offset, units) or none).
type BarMinute = (i64, Vec<(i64, i64, i64)>, Option<(i64, i64)>);

/// Minutes of bars mode. The walk wanders, now and then jumps far enough to force
/// reallocations, and rarely far enough (past 2^24 bins) that the profile must refuse a kline.
fn bar_minutes() -> impl Strategy<Value = Vec<BarMinute>> {
    let kline = (
        prop_oneof![
            20 => -400i64..400,
            2 => -40_000i64..40_000,
            1 => Just(MAX_SPAN_BINS - 50),
            1 => Just(-(MAX_SPAN_BINS / 2 + 10)),
        ],
        prop_oneof![4 => 1i64..300, 1 => 1i64..5_000],
        prop_oneof![1 => Just(0i64), 3 => 0i64..1_000, 6 => 0i64..1_000_000_000],
    );
    let trade = prop::option::weighted(0.2, (-300i64..300, 0i64..1_000));
    prop::collection::vec((1i64..3, prop::collection::vec(kline, 0..3), trade), 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The run profile gives the dense histogram's numbers: totals, range and every aggregated
    /// bin after every minute, and the same error at the same kline when a price is far off.
    #[test]
    fn bars_mode_runs_equal_the_dense_histogram(
        window in 1u32..20,
        bbt in 1i64..=3,
        ms in bar_minutes(),
        extra_k in 1i64..=2_000,
    ) {
        let mut dense = RollingProfile::new(window, bbt as u32);
        let mut runs = RangeProfile::new(window);
        let (mut got, mut want) = (Vec::new(), Vec::new());
        let (mut center, mut idx) = (0i64, 0i64);
        'minutes: for (step, klines, trade) in &ms {
            idx += step;
            let mut m = MinuteTrades { ts_min_ns: idx * NS_PER_MIN, ticks: Vec::new() };
            for &(off, n, units) in klines {
                center += off;
                let (lo, hi) = (center, center + n - 1);
                let a = runs.add_spread(lo, hi, units);
                let b = dense_kline(&mut dense, &mut m, lo, hi, units, bbt);
                prop_assert_eq!(&a, &b, "kline {}..={} units {}", lo, hi, units);
                if a.is_err() {
                    break 'minutes;
                }
            }
            if let Some((off, units)) = *trade {
                let bin = center + off;
                let a = runs.add(bin, units);
                let b = dense.base.add(bin, units);
                prop_assert_eq!(&a, &b, "trade at {} units {}", bin, units);
                if a.is_err() {
                    break 'minutes;
                }
                m.ticks.push((bin * bbt, units));
            }
            m.compact();
            dense.close_minute(m);
            runs.close_minute(idx * NS_PER_MIN);
            prop_assert_eq!(runs.total_units(), dense.base.total_units());
            prop_assert_eq!(runs.range(), dense.base.range());
            // After a jump of millions of bins only the bookkeeping is compared (aggregating
            // such spans bin by bin is slow in a test build); the walk comes back later.
            if runs.range().is_some_and(|(lo, hi)| hi - lo > 200_000) {
                continue;
            }
            for k in [1, 2, 7, 50, 1000].into_iter().chain([extra_k]) {
                let a = runs.aggregate(k, &mut got);
                let b = dense.base.aggregate(k, &mut want);
                prop_assert_eq!(a, b, "first aggregated bin, k={}", k);
                prop_assert_eq!(&got, &want, "aggregated bins, k={}", k);
            }
        }
    }
}
