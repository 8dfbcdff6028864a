//! FeatureEngine-level unit tests (spec §21.1, feature engine items): each drives the whole
//! engine — alignment, prints, side inference, bars, volatility, width, profile, value area —
//! through `on_quote`/`on_trade`/`close_minute` with bars from `MinuteBarBuilder`, the way the
//! market engine does. The pieces' own unit tests (QuoteBook, SideInference, candidate_bins,
//! BinWidth, value_area on bins) live in `src/`; these check that the engine wires them
//! together as docs/FEATURES.md says.

use sim_core::time::{NS_PER_MIN, NS_PER_MS, NS_PER_S};
use sim_core::{MinuteBar, Quote, Trade};
use sim_features::bin_width::Rebucket;
use sim_features::raw::NO_QUOTE;
use sim_features::{Agreement, FeatureEngine, FeatureParams, MinuteFeatures, QuoteAlignment, RawTrades};
use sim_ingestion::MinuteBarBuilder;

/// A FeatureEngine plus the bar builder, fed and closed exactly as `MarketEngine` does:
/// a tick at or after the open minute's end closes that minute first.
struct Harness {
    fe: FeatureEngine,
    bars: MinuteBarBuilder,
    out: Vec<MinuteFeatures>,
    next_id: i64,
}

impl Harness {
    fn new(p: FeatureParams) -> Self {
        let mut fe = FeatureEngine::new(p);
        fe.record_raw();
        Harness { fe, bars: MinuteBarBuilder::new(Some(0)), out: Vec::new(), next_id: 1 }
    }

    fn close_through(&mut self, ts_ns: i64) {
        let mut closed: Vec<MinuteBar> = Vec::new();
        self.bars.close_through(ts_ns, &mut |b| closed.push(b));
        for b in closed {
            self.out.push(self.fe.close_minute(&b));
        }
    }

    fn quote(&mut self, ts_ns: i64, bid: f64, ask: f64) {
        self.close_through(ts_ns);
        let q = Quote { ts_ns, bid_px: bid, bid_sz: 1.0, ask_px: ask, ask_sz: 2.0 };
        self.bars.on_quote(&q);
        self.fe.on_quote(&q);
    }

    fn trade(&mut self, ts_ns: i64, price: f64, size: f64, side: i8) {
        self.close_through(ts_ns);
        let t = Trade { ts_ns, price, size, side, trade_id: self.next_id };
        self.next_id += 1;
        self.bars.on_trade(&t);
        self.fe.on_trade(&t).unwrap();
    }

    /// Closes every minute through the one starting at `m` and returns all features so far.
    fn close_minutes_to(&mut self, m: i64) -> &[MinuteFeatures] {
        self.close_through((m + 1) * NS_PER_MIN);
        &self.out
    }

    fn raw_trades(&mut self) -> RawTrades {
        self.fe.take_raw().0
    }
}

fn min(m: i64) -> i64 {
    m * NS_PER_MIN
}

/// Sample standard deviation exactly as FEATURES.md states it (sums oldest first, libm sqrt).
fn sample_std(r: &[f64]) -> f64 {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    libm::sqrt(r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0))
}

#[test]
fn sigma_counts_minutes_without_ticks_as_zero_returns() {
    // Window 3: the returns window drops the oldest return at minute 5.
    let p = FeatureParams { rolling_window_minutes: 3, ..FeatureParams::defaults(0.1) };
    let mut h = Harness::new(p);
    // Minute 0: nothing (no mid yet). Minutes 1, 2, 4: one quote. Minutes 3, 5: no tick at all.
    let quotes = [(1, 60000.0, 60000.1), (2, 60012.3, 60012.4), (4, 59990.0, 59990.2)];
    for (m, bid, ask) in quotes {
        h.quote(min(m) + 7 * NS_PER_S, bid, ask);
    }
    let f = h.close_minutes_to(5).to_vec();
    let mid = |i: usize| (quotes[i].1 + quotes[i].2) / 2.0;
    let mids: Vec<f64> = f.iter().map(|x| x.mid_close).collect();
    assert!(mids[0].is_nan());
    assert_eq!(mids[1..], [mid(0), mid(1), mid(1), mid(2), mid(2)], "an empty minute carries its mid over");
    let (r2, r4) = (libm::log(mid(1) / mid(0)), libm::log(mid(2) / mid(1)));
    assert!(f[..3].iter().all(|x| x.sigma_240.is_nan()), "fewer than two returns");
    assert_eq!(f[3].sigma_240, sample_std(&[r2, 0.0]));
    assert_eq!(f[4].sigma_240, sample_std(&[r2, 0.0, r4]));
    assert_eq!(f[5].sigma_240, sample_std(&[0.0, r4, 0.0]), "window of 3 returns");
}

/// One minute of trades against quotes at 1 s and two at 2 s (the later one wins), tick 0.5.
fn alignment_run(rule: QuoteAlignment) -> (RawTrades, MinuteFeatures) {
    let p = FeatureParams { quote_alignment: rule, ..FeatureParams::defaults(0.5) };
    let mut h = Harness::new(p);
    let s = NS_PER_S;
    h.trade(s / 2, 100.0, 1.0, 1); // before any quote
    h.quote(s, 100.0, 100.5);
    h.quote(2 * s, 101.0, 101.5);
    h.quote(2 * s, 101.5, 102.0);
    h.trade(2 * s, 101.5, 2.0, 1); // same instant as the latest quotes
    h.trade(2 * s + 100 * NS_PER_MS, 101.5, 4.0, 1);
    h.trade(2 * s + 250 * NS_PER_MS, 101.5, 8.0, 1); // exactly at the staleness limit
    h.trade(2 * s + 250 * NS_PER_MS + 1, 101.5, 16.0, 1); // 1 ns over it
    h.trade(5 * s, 101.5, 32.0, 1);
    let f = h.close_minutes_to(0)[0];
    (h.raw_trades(), f)
}

#[test]
fn the_quote_chosen_for_a_trade_at_or_before_its_time() {
    let (raw, f) = alignment_run(QuoteAlignment::AtOrBefore);
    assert!(raw.quote_bid_px[0].is_nan() && raw.quote_ask_px[0].is_nan());
    assert_eq!(raw.quote_bid_px[1..], [101.5; 5], "the latest quote at or before, even at equal time");
    assert_eq!(raw.quote_ask_px[1..], [102.0; 5]);
    assert_eq!(raw.quote_staleness_ms, [NO_QUOTE, 0, 100, 250, 250, 3000]);
    assert_eq!(raw.inferred_side[1], -1, "101.5 is at the bid of the equal-time quote");
    // Stale: no quote (1), 1 ns over the limit (16), 3 s old but still used (32).
    assert_eq!(f.stale_trade_frac_1m, 49.0 / 63.0);
}

#[test]
fn the_quote_chosen_for_a_trade_strictly_before_its_time() {
    let (raw, f) = alignment_run(QuoteAlignment::Before);
    assert_eq!(raw.quote_bid_px[1], 100.0, "the quotes at the trade's own instant are skipped");
    assert_eq!(raw.quote_bid_px[2..], [101.5; 4]);
    assert_eq!(raw.quote_staleness_ms, [NO_QUOTE, 1000, 100, 250, 250, 3000]);
    assert_eq!(raw.inferred_side[1], 1, "101.5 is above the ask of the 1 s quote");
    assert_eq!(f.stale_trade_frac_1m, 51.0 / 63.0);
}

#[test]
fn the_tick_rule_continues_across_a_minute_boundary() {
    let mut h = Harness::new(FeatureParams::defaults(0.5));
    h.quote(0, 100.0, 101.0);
    h.trade(NS_PER_S, 100.0, 1.0, -1); // at the bid: −1 by the quote rule
    h.trade(2 * NS_PER_S, 100.5, 1.0, 1); // inside, an uptick: +1 by the tick rule
                                          // Minute 1 opens on a zero tick: it carries the +1 of minute 0's last print.
    h.trade(min(1) + NS_PER_S, 100.5, 1.0, 1);
    h.trade(min(1) + 2 * NS_PER_S, 100.5, 2.0, 1);
    let f = h.close_minutes_to(1).to_vec();
    assert_eq!(h.raw_trades().inferred_side, [-1, 1, 1, 1]);
    assert_eq!((f[1].of_1m, f[1].of_norm_1m, f[1].ambiguous_trade_frac_1m), (3.0, 1.0, 1.0));
}

/// Quotes with these (bid, ask) in minutes 0, 1, 2; the width first applies at minute 2.
fn width_after(p: FeatureParams, quotes: [(f64, f64); 3]) -> Vec<MinuteFeatures> {
    let mut h = Harness::new(p);
    for (m, (bid, ask)) in quotes.into_iter().enumerate() {
        h.quote(min(m as i64) + NS_PER_S, bid, ask);
    }
    h.close_minutes_to(2).to_vec()
}

#[test]
fn bin_width_is_clamped_through_the_engine() {
    let calm = [(60000.0, 60000.1); 3]; // σ = 0 → clamped up to one tick
    let wild = [(60000.0, 60000.1), (66000.0, 66000.1), (60000.0, 60000.1)]; // σ ≈ 0.1 → the cap
                                                                             // (base_bin_ticks, bin_width_max_ticks, width when calm, width when wild)
    let cases = [(1, 200, 0.1, 20.0), (4, 200, 0.4, 20.0), (4, 30, 0.4, 3.2)];
    for (bbt, max_ticks, low, high) in cases {
        let p = FeatureParams { base_bin_ticks: bbt, bin_width_max_ticks: max_ticks, ..FeatureParams::defaults(0.1) };
        let f = width_after(p, calm);
        // One tick is ¼ of a base bin of 4 ticks: still at least one base bin (0.4).
        assert!(f[0].bin_width.is_nan() && f[1].bin_width.is_nan(), "no width before σ exists");
        assert_eq!(f[2].bin_width, low, "calm, base_bin_ticks {bbt}");
        // 30 ticks in base bins of 4 is 7.5, rounded half away to 8 base bins (3.2).
        assert_eq!(width_after(p, wild)[2].bin_width, high, "wild, base_bin_ticks {bbt}, max {max_ticks}");
    }
}

#[test]
fn both_rebucket_triggers_are_reported_by_minute() {
    let mut h = Harness::new(FeatureParams::defaults(0.1));
    // One quote a minute from minute 1: flat, a 1 % jump at minute 5, flat again.
    for m in 1..=16 {
        let bid = if m < 5 { 60000.0 } else { 60600.0 };
        h.quote(min(m) + NS_PER_S, bid, bid + 0.1);
    }
    let f = h.close_minutes_to(16).to_vec();
    let got: Vec<Option<Rebucket>> = f.iter().map(|x| x.rebucketed).collect();
    let mut want = vec![None; 17];
    want[3] = Some(Rebucket::Initial); // the first minute with σ (two returns): σ = 0 → 1 tick
    want[5] = Some(Rebucket::Change); // σ jumps: the capped 200 ticks are far over +25 %
    want[15] = Some(Rebucket::Schedule); // candidate still capped at 200: unchanged, yet fired
    assert_eq!(got, want);
    assert_eq!((f[3].bin_width, f[4].bin_width, f[5].bin_width, f[15].bin_width), (0.1, 0.1, 20.0, 20.0));
}

#[test]
fn too_few_value_area_bins_leave_the_area_invalid() {
    let p = FeatureParams { min_va_bins: 3, ..FeatureParams::defaults(0.5) };
    let mut h = Harness::new(p);
    h.quote(0, 100.0, 100.5);
    h.trade(NS_PER_S, 100.0, 1.0, 1);
    h.trade(2 * NS_PER_S, 100.5, 2.0, 1);
    h.trade(min(3) + NS_PER_S, 101.0, 1.0, 1);
    let f = h.close_minutes_to(3).to_vec();
    assert_eq!((f[0].va_bin_count, f[0].bin_width.is_nan()), (0, true), "no width yet: no area computed");
    let g = f[2];
    assert_eq!((g.bin_width, g.va_bin_count, g.va_valid, g.total_volume_4h), (0.5, 2, false, 3.0));
    assert!(g.poc.is_nan() && g.vah.is_nan() && g.val.is_nan() && g.va_coverage.is_nan());
    let g = f[3];
    assert_eq!((g.va_bin_count, g.va_valid), (3, true), "exactly min_va_bins is enough");
    assert_eq!((g.poc, g.val, g.vah, g.va_coverage), (100.5, 100.0, 100.5, 0.75));
}

#[test]
fn near_boundary_flags_look_at_the_minutes_trades_within_one_spread() {
    let p = FeatureParams { min_va_bins: 3, ..FeatureParams::defaults(1.0) };
    let mut h = Harness::new(p);
    h.quote(0, 100.0, 101.0); // a one-tick spread
                              // Minute 2 (σ first exists): profile 98:1 100:5 101:10 102:5 105:1 → VAL 100, VAH 102.
    for (i, (px, sz)) in [(98.0, 1.0), (100.0, 5.0), (101.0, 10.0), (102.0, 5.0), (105.0, 1.0)].into_iter().enumerate()
    {
        h.trade(min(2) + (i as i64 + 1) * NS_PER_S, px, sz, 1);
    }
    h.trade(min(3) + NS_PER_S, 103.0, 1.0, 1); // one tick above VAH, three above VAL
    h.trade(min(4) + NS_PER_S, 99.0, 1.0, 1); // one tick below VAL, three below VAH
    h.trade(min(5) + NS_PER_S, 105.0, 1.0, 1); // far from both
    let f = h.close_minutes_to(6).to_vec(); // minute 6: no trades at all
    for g in &f[2..] {
        assert_eq!((g.va_valid, g.val, g.vah), (true, 100.0, 102.0), "minute {}", g.ts_min_ns / NS_PER_MIN);
    }
    let flags: Vec<(bool, bool)> = f[2..].iter().map(|g| (g.near_val, g.near_vah)).collect();
    assert_eq!(flags, [(true, true), (false, true), (true, false), (false, false), (false, false)]);
}

#[test]
fn a_one_tick_spread_a_hair_under_one_tick_still_reaches_the_next_tick() {
    let p = FeatureParams { min_va_bins: 3, ..FeatureParams::defaults(0.1) };
    let mut h = Harness::new(p);
    h.quote(0, 60000.0, 60000.1);
    // The POC alone holds ≥ 70 %: the area is the single bin 60000.0.
    h.trade(min(2) + NS_PER_S, 60000.0, 100.0, 1);
    h.trade(min(2) + 2 * NS_PER_S, 60000.1, 1.0, 1);
    h.trade(min(2) + 3 * NS_PER_S, 59999.9, 1.0, 1);
    h.trade(min(3) + NS_PER_S, 60000.1, 1.0, 1); // the only trade of minute 3: one tick above
    let f = h.close_minutes_to(3)[3];
    assert!(f.spread_avg_60m / 0.1 < 1.0, "the float spread is under one tick: {}", f.spread_avg_60m / 0.1);
    assert_eq!((f.val, f.vah), (60000.0, 60000.0));
    assert!(f.near_vah && f.near_val);
}

/// Spec §20.4: quotes 50000/50001 each second, four trades, tick 0.5.
fn spec_20_4(use_tick_rule: bool) -> (MinuteFeatures, RawTrades, Agreement) {
    let p = FeatureParams { use_tick_rule_fallback: use_tick_rule, ..FeatureParams::defaults(0.5) };
    let mut h = Harness::new(p);
    let noon = 28_488_240 * NS_PER_MIN; // 2024-03-01 12:00 UTC
    h.bars = MinuteBarBuilder::new(Some(noon));
    for s in 0..5 {
        h.quote(noon + s * NS_PER_S, 50000.0, 50001.0);
    }
    let trades = [(50001.0, 0.1, 1), (50000.0, 0.2, -1), (50000.5, 0.15, 1), (50001.0, 0.25, 1)];
    for (s, (px, sz, side)) in trades.into_iter().enumerate() {
        h.trade(noon + (s as i64 + 1) * NS_PER_S, px, sz, side);
    }
    h.close_through(noon + NS_PER_MIN);
    let f = h.out[0];
    (f, h.raw_trades(), h.fe.agreement())
}

#[test]
fn spec_20_4_order_flow_with_the_tick_rule() {
    let (f, raw, agreement) = spec_20_4(true);
    assert_eq!(f.of_1m, 0.3);
    // Ratios of integer unit sums: 30 M / 70 M and 15 M / 70 M, correctly rounded.
    assert_eq!(f.of_norm_1m, 3.0 / 7.0);
    assert_eq!(f.ambiguous_trade_frac_1m, 3.0 / 14.0, "the tick rule's decision is still ambiguous");
    assert_eq!(f.stale_trade_frac_1m, 0.0);
    assert_eq!(raw.inferred_side, [1, -1, 1, 1]);
    assert_eq!(agreement, Agreement { compared: 4, agreed: 4, compared_units: 70_000_000, agreed_units: 70_000_000 });
}

#[test]
fn spec_20_4_order_flow_without_the_tick_rule() {
    let (f, raw, agreement) = spec_20_4(false);
    assert_eq!(f.of_1m, 0.15);
    assert_eq!(f.of_norm_1m, 3.0 / 14.0);
    assert_eq!(f.ambiguous_trade_frac_1m, 3.0 / 14.0);
    assert_eq!(raw.inferred_side, [1, -1, 0, 1]);
    assert_eq!((agreement.compared, agreement.agreed), (4, 3));
}

#[test]
fn spec_20_3_value_area_through_the_engine() {
    // $100 ticks so each $100 bin is one tick; the width cap of one tick keeps it there.
    let p = FeatureParams { bin_width_max_ticks: 1, min_va_bins: 6, ..FeatureParams::defaults(100.0) };
    let mut h = Harness::new(p);
    h.quote(0, 50000.0, 50100.0); // constant quotes: σ = 0 from minute 2
    let volumes =
        [(49800.0, 100.0), (49900.0, 250.0), (50000.0, 400.0), (50100.0, 300.0), (50200.0, 150.0), (50300.0, 50.0)];
    for (i, (px, sz)) in volumes.into_iter().enumerate() {
        h.trade(min(3) + (i as i64 + 1) * NS_PER_S, px, sz, 0);
    }
    let f = h.close_minutes_to(3)[3];
    assert_eq!((f.bin_width, f.va_bin_count, f.va_valid, f.total_volume_4h), (100.0, 6, true, 1250.0));
    assert_eq!((f.poc, f.val, f.vah, f.va_coverage), (50000.0, 49900.0, 50100.0, 0.76));
}
