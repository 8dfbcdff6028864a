//! The feature engine's parameters (spec §17.3 names), fixed for a run.

/// Which side the order flow counts (DESIGN §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideSource {
    /// Quote rule, then the tick rule (spec §5.7).
    Inferred,
    /// The exchange-reported taker side.
    Exchange,
}

/// Which quote a trade is aligned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteAlignment {
    /// The latest quote stamped at or before the trade (spec §4.4).
    AtOrBefore,
    /// The latest quote stamped strictly before the trade: on feeds where a quote stamped in the
    /// trade's own millisecond already shows the book the trade left behind.
    Before,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFlowSource {
    Trades,
    /// The bulk-volume-classification proxy of spec §5.9.
    Bvc,
}

/// Where minutes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureInput {
    Ticks,
    /// One-minute klines only: profile from bar ranges, BVC order flow, no quote imbalance.
    Bars,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureParams {
    pub tick_size: f64,
    pub rolling_window_minutes: u32,
    pub va_fraction: f64,
    pub base_bin_ticks: u32,
    pub alpha_bin: f64,
    pub bin_width_max_ticks: u32,
    pub rebucket_interval_minutes: u32,
    pub rebucket_change_pct: f64,
    pub min_va_bins: u32,
    pub max_quote_staleness_ns: i64,
    pub use_tick_rule_fallback: bool,
    pub qimb_ema_span_seconds: f64,
    pub spread_lookback_minutes: u32,
    pub side_source: SideSource,
    pub quote_alignment: QuoteAlignment,
    pub order_flow_source: OrderFlowSource,
    pub bvc_lookback_minutes: u32,
    pub feature_input: FeatureInput,
}

impl FeatureParams {
    /// The spec's defaults for an instrument with this tick.
    pub fn defaults(tick_size: f64) -> Self {
        FeatureParams {
            tick_size,
            rolling_window_minutes: 240,
            va_fraction: 0.70,
            base_bin_ticks: 1,
            alpha_bin: 0.25,
            bin_width_max_ticks: 200,
            rebucket_interval_minutes: 15,
            rebucket_change_pct: 0.25,
            min_va_bins: 20,
            max_quote_staleness_ns: 250 * sim_core::time::NS_PER_MS,
            use_tick_rule_fallback: true,
            qimb_ema_span_seconds: 60.0,
            spread_lookback_minutes: 60,
            side_source: SideSource::Inferred,
            quote_alignment: QuoteAlignment::AtOrBefore,
            order_flow_source: OrderFlowSource::Trades,
            bvc_lookback_minutes: 240,
            feature_input: FeatureInput::Ticks,
        }
    }

    /// The first parameter that cannot work, as "name: why".
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("tick_size", self.tick_size),
            ("va_fraction", self.va_fraction),
            ("alpha_bin", self.alpha_bin),
            ("rebucket_change_pct", self.rebucket_change_pct),
            ("qimb_ema_span_seconds", self.qimb_ema_span_seconds),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name}: must be a positive number, not {v}"));
            }
        }
        if self.va_fraction > 1.0 {
            return Err(format!("va_fraction: must be at most 1, not {}", self.va_fraction));
        }
        let counts = [
            ("rolling_window_minutes", self.rolling_window_minutes),
            ("base_bin_ticks", self.base_bin_ticks),
            ("bin_width_max_ticks", self.bin_width_max_ticks),
            ("rebucket_interval_minutes", self.rebucket_interval_minutes),
            ("min_va_bins", self.min_va_bins),
            ("spread_lookback_minutes", self.spread_lookback_minutes),
        ];
        for (name, v) in counts {
            if v == 0 {
                return Err(format!("{name}: must be at least 1"));
            }
        }
        if self.bvc_lookback_minutes < 2 {
            return Err("bvc_lookback_minutes: must be at least 2".into());
        }
        if self.max_quote_staleness_ns < 0 {
            return Err("max_quote_staleness_ms: must not be negative".into());
        }
        Ok(())
    }

    /// Whether order flow comes from the BVC proxy (always in bars mode).
    pub fn uses_bvc(&self) -> bool {
        self.order_flow_source == OrderFlowSource::Bvc || self.feature_input == FeatureInput::Bars
    }
}
