//! The feature engine: told every tick in the total order and asked to close minutes, it keeps
//! the state of spec §4–§5 up to date incrementally and returns each minute's features.
//!
//! The same object serves replay and live: its output depends only on the sequence of ticks,
//! never on how they were batched (docs/FEATURES.md defines every number).

use sim_core::price::{price_of, tick_index};
use sim_core::units::{floor_div, size_units, units_to_size};
use sim_core::{Kline, MinuteBar, Quote, Trade};

use crate::align::QuoteBook;
use crate::bars_profile::RangeProfile;
use crate::bin_width::{candidate_bins, BinWidth, Rebucket};
use crate::bvc::Bvc;
use crate::histogram::{MinuteTrades, RollingProfile, SpanError, MAX_SPAN_BINS};
use crate::params::{FeatureInput, FeatureParams, SideSource};
use crate::qimb::{imbalance, QimbEma};
use crate::raw::{RawQuotes, RawTape, RawTrades};
use crate::rolling::RollingWindow;
use crate::side::{quote_sign, Print, SideInference};
use crate::value_area::value_area;

/// Tolerance, in ticks, of the "within one spread of the boundary" test: a one-tick spread
/// computed as a difference of two prices can come out a hair under one tick.
const NEAR_TOLERANCE_TICKS: f64 = 1e-6;

/// One minute's features (spec §3.3 `features_1m`, plus `spread_avg_60m` of `bars_1m`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteFeatures {
    pub ts_min_ns: i64,
    pub spread_avg_60m: f64,
    pub mid_close: f64,
    pub sigma_240: f64,
    pub bin_width: f64,
    pub poc: f64,
    pub vah: f64,
    pub val: f64,
    pub va_coverage: f64,
    pub va_bin_count: u32,
    pub of_1m: f64,
    pub of_norm_1m: f64,
    pub qimb_close: f64,
    pub qimb_ema_60s: f64,
    pub ambiguous_trade_frac_1m: f64,
    pub total_volume_4h: f64,
    pub va_valid: bool,
    pub rebucketed: Option<Rebucket>,
    pub near_vah: bool,
    pub near_val: bool,
    pub stale_trade_frac_1m: f64,
}

/// Inferred-versus-reported side counts over trades with a reported side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Agreement {
    pub compared: u64,
    pub agreed: u64,
    pub compared_units: i64,
    pub agreed_units: i64,
}

/// Integer sums over the prints and trades of the open minute.
#[derive(Debug, Clone, Copy, Default)]
struct MinuteFlow {
    volume: i64,
    of_inferred: i64,
    ambiguous_inferred: i64,
    of_exchange: i64,
    ambiguous_exchange: i64,
    stale: i64,
}

#[derive(Debug)]
pub struct FeatureEngine {
    p: FeatureParams,
    book: QuoteBook,
    sides: SideInference,
    print: Print,
    flow: MinuteFlow,
    minute: MinuteTrades,
    /// Bars mode: (low, high) tick of the open minute's kline.
    bar_range: Option<(i64, i64)>,
    /// Tick mode's profile, bin by bin.
    profile: RollingProfile,
    /// Bars mode's profile, as runs of equal bins (the same numbers).
    bars_profile: RangeProfile,
    agg: Vec<i64>,
    returns: RollingWindow,
    prev_mid: f64,
    spreads: RollingWindow,
    width: BinWidth,
    qimb: QimbEma,
    bvc: Bvc,
    bvc_close: f64,
    kline_close: f64,
    agreement: Agreement,
    raw: Option<RawTape>,
}

fn ratio(num: i64, den: i64) -> f64 {
    if den > 0 {
        num as f64 / den as f64
    } else {
        f64::NAN
    }
}

impl FeatureEngine {
    pub fn new(p: FeatureParams) -> Self {
        FeatureEngine {
            book: QuoteBook::default(),
            sides: SideInference::new(p.use_tick_rule_fallback),
            print: Print::new(),
            flow: MinuteFlow::default(),
            minute: MinuteTrades::default(),
            bar_range: None,
            profile: RollingProfile::new(p.rolling_window_minutes, p.base_bin_ticks),
            bars_profile: RangeProfile::new(p.rolling_window_minutes),
            agg: Vec::new(),
            returns: RollingWindow::new(p.rolling_window_minutes as usize),
            prev_mid: f64::NAN,
            spreads: RollingWindow::new(p.spread_lookback_minutes as usize),
            width: BinWidth::new(&p),
            qimb: QimbEma::new(p.qimb_ema_span_seconds),
            bvc: Bvc::new(p.bvc_lookback_minutes),
            bvc_close: f64::NAN,
            kline_close: f64::NAN,
            agreement: Agreement::default(),
            raw: None,
            p,
        }
    }

    pub fn params(&self) -> &FeatureParams {
        &self.p
    }

    /// Keeps the raw tape from now on, for the run's stores.
    pub fn record_raw(&mut self) {
        self.raw.get_or_insert_with(RawTape::default);
    }

    /// Rows recorded since the last call (trades only once their side is final).
    pub fn take_raw(&mut self) -> (RawTrades, RawQuotes) {
        self.raw.as_mut().map(RawTape::take).unwrap_or_default()
    }

    pub fn agreement(&self) -> Agreement {
        self.agreement
    }

    #[inline]
    pub fn on_quote(&mut self, q: &Quote) {
        self.book.on_quote(q);
        if self.p.feature_input == FeatureInput::Ticks {
            self.qimb.on_quote(q.ts_ns, q.bid_sz, q.ask_sz);
        }
        if let Some(raw) = self.raw.as_mut() {
            raw.push_quote(q);
        }
    }

    /// A trade of the open minute (tick mode). Fails only on a price far off the market.
    #[inline]
    pub fn on_trade(&mut self, t: &Trade) -> Result<(), SpanError> {
        let units = size_units(t.size);
        let tick = tick_index(t.price, self.p.tick_size);
        match self.p.feature_input {
            FeatureInput::Ticks => self.profile.add(tick, units)?,
            FeatureInput::Bars => self.bars_profile.add(self.profile.base_bin(tick), units)?,
        }
        if !self.print.is_empty() && self.print.ts_ns != t.ts_ns {
            self.finish_print();
        }
        if self.print.is_empty() {
            let q = self.book.align(t.ts_ns, self.p.quote_alignment, self.p.max_quote_staleness_ns);
            self.print.start(t.ts_ns, q);
        }
        self.print.add(t.price, t.size, units, t.side);
        self.minute.ticks.push((tick, units));
        let f = &mut self.flow;
        f.volume += units;
        f.of_exchange += t.side as i64 * units;
        if t.side == 0 {
            f.ambiguous_exchange += units;
        }
        if let Some(raw) = self.raw.as_mut() {
            let q = &self.print.quote;
            raw.push_trade(t, q.bid_px, q.ask_px, q.staleness_ns);
        }
        Ok(())
    }

    fn finish_print(&mut self) {
        let price = self.print.price();
        let by_quote = quote_sign(price, &self.print.quote);
        let sign = self.sides.classify(price, by_quote);
        let units = self.print.units;
        let f = &mut self.flow;
        f.of_inferred += sign as i64 * units;
        if by_quote == 0 {
            f.ambiguous_inferred += units;
        }
        if self.print.quote.stale {
            f.stale += units;
        }
        let a = &mut self.agreement;
        for &(side, u) in &self.print.trades {
            if side != 0 {
                a.compared += 1;
                a.compared_units += u;
                if side == sign {
                    a.agreed += 1;
                    a.agreed_units += u;
                }
            }
        }
        if let Some(raw) = self.raw.as_mut() {
            raw.sign_last(self.print.trades.len(), sign);
        }
        self.print.trades.clear();
    }

    /// Bars mode: the one-minute kline of the open minute, its volume spread over its range.
    pub fn on_kline(&mut self, k: &Kline) -> Result<(), SpanError> {
        let tick = self.p.tick_size;
        let (lo, hi) = (tick_index(k.low, tick), tick_index(k.high, tick));
        let bbt = self.p.base_bin_ticks as i64;
        let (b_lo, b_hi) = (floor_div(lo, bbt), floor_div(hi, bbt));
        let n = b_hi - b_lo + 1;
        if n > MAX_SPAN_BINS {
            return Err(SpanError { bin: b_hi, span: n });
        }
        let units = size_units(k.volume);
        self.bars_profile.add_spread(b_lo, b_hi, units)?;
        self.flow.volume += units;
        self.kline_close = k.close;
        self.bar_range = Some((lo, hi));
        Ok(())
    }

    /// Closes the minute of `bar` (its L1 snapshot included) and returns its features.
    pub fn close_minute(&mut self, bar: &MinuteBar) -> MinuteFeatures {
        if !self.print.is_empty() {
            self.finish_print();
        }
        let p = self.p;
        let ticks_mode = p.feature_input == FeatureInput::Ticks;

        let spread = bar.spread_close();
        if spread.is_finite() {
            self.spreads.push(spread);
        }
        let spread_avg = self.spreads.mean();

        let mid = if ticks_mode { (bar.bid_px_close + bar.ask_px_close) / 2.0 } else { self.kline_close };
        if mid.is_finite() && self.prev_mid.is_finite() {
            self.returns.push(libm::log(mid / self.prev_mid));
        }
        if mid.is_finite() {
            self.prev_mid = mid;
        }
        let sigma = self.returns.sample_std();

        if ticks_mode {
            let mut minute = std::mem::take(&mut self.minute);
            minute.ts_min_ns = bar.ts_min_ns;
            minute.compact();
            self.profile.close_minute(minute);
        } else {
            self.minute.ticks.clear();
            self.bars_profile.close_minute(bar.ts_min_ns);
        }
        let total_units =
            if ticks_mode { self.profile.base.total_units() } else { self.bars_profile.total_units() };
        let rebucketed = self.width.update(bar.ts_min_ns, candidate_bins(mid, sigma, &p));

        let mut f = MinuteFeatures {
            ts_min_ns: bar.ts_min_ns,
            spread_avg_60m: spread_avg,
            mid_close: mid,
            sigma_240: sigma,
            bin_width: f64::NAN,
            poc: f64::NAN,
            vah: f64::NAN,
            val: f64::NAN,
            va_coverage: f64::NAN,
            va_bin_count: 0,
            of_1m: f64::NAN,
            of_norm_1m: f64::NAN,
            qimb_close: f64::NAN,
            qimb_ema_60s: f64::NAN,
            ambiguous_trade_frac_1m: f64::NAN,
            total_volume_4h: units_to_size(total_units),
            va_valid: false,
            rebucketed,
            near_vah: false,
            near_val: false,
            stale_trade_frac_1m: f64::NAN,
        };
        self.value_area_into(&mut f, spread_avg);
        self.order_flow_into(&mut f, bar);
        if ticks_mode {
            f.qimb_close = imbalance(bar.bid_sz_close, bar.ask_sz_close);
            f.qimb_ema_60s = self.qimb.value();
        }
        self.flow = MinuteFlow::default();
        self.bar_range = None;
        f
    }

    fn value_area_into(&mut self, f: &mut MinuteFeatures, spread_avg: f64) {
        let p = self.p;
        let Some(k) = self.width.applied() else { return };
        let bbt = p.base_bin_ticks as i64;
        f.bin_width = price_of(k * bbt, p.tick_size);
        let a0 = match p.feature_input {
            FeatureInput::Ticks => self.profile.base.aggregate(k, &mut self.agg),
            FeatureInput::Bars => self.bars_profile.aggregate(k, &mut self.agg),
        };
        let Some(a0) = a0 else { return };
        let Some(va) = value_area(&self.agg, p.va_fraction) else { return };
        f.va_bin_count = va.nonempty as u32;
        if (va.nonempty as u64) < p.min_va_bins as u64 {
            return;
        }
        let edge_tick = |i: usize| (a0 + i as i64) * k * bbt;
        let (val_tick, vah_tick) = (edge_tick(va.lo), edge_tick(va.hi));
        f.va_valid = true;
        f.poc = price_of(edge_tick(va.poc), p.tick_size);
        f.val = price_of(val_tick, p.tick_size);
        f.vah = price_of(vah_tick, p.tick_size);
        f.va_coverage = va.coverage();

        let dist = if spread_avg.is_finite() {
            spread_avg / p.tick_size
        } else if p.feature_input == FeatureInput::Bars {
            1.0
        } else {
            return;
        } + NEAR_TOLERANCE_TICKS;
        match (p.feature_input, self.bar_range) {
            (FeatureInput::Ticks, _) => {
                let m = self.profile.last_minute().expect("the minute was just filed");
                f.near_vah = m.any_within(vah_tick, dist);
                f.near_val = m.any_within(val_tick, dist);
            }
            (FeatureInput::Bars, Some((lo, hi))) => {
                let d = dist.floor() as i64;
                f.near_vah = lo - d <= vah_tick && vah_tick <= hi + d;
                f.near_val = lo - d <= val_tick && val_tick <= hi + d;
            }
            (FeatureInput::Bars, None) => {}
        }
    }

    fn order_flow_into(&mut self, f: &mut MinuteFeatures, bar: &MinuteBar) {
        let fl = self.flow;
        if self.p.feature_input == FeatureInput::Ticks {
            let (of, ambiguous) = match self.p.side_source {
                SideSource::Inferred => (fl.of_inferred, fl.ambiguous_inferred),
                SideSource::Exchange => (fl.of_exchange, fl.ambiguous_exchange),
            };
            f.of_1m = units_to_size(of);
            f.of_norm_1m = ratio(of, fl.volume);
            f.ambiguous_trade_frac_1m = ratio(ambiguous, fl.volume);
            f.stale_trade_frac_1m = ratio(fl.stale, fl.volume);
        }
        if self.p.uses_bvc() {
            if bar.close.is_finite() {
                self.bvc_close = bar.close;
            }
            let (of, norm) = self.bvc.on_minute(self.bvc_close, units_to_size(fl.volume));
            f.of_1m = of;
            f.of_norm_1m = norm;
        }
    }
}
