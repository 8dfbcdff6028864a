//! The volatility-scaled bin width (spec §5.4) and when a new width is applied.
//!
//! A candidate is computed every minute; the applied width changes only when there is none yet,
//! when the candidate differs from it by `rebucket_change_pct` or more, or on the minutes whose
//! index is a multiple of `rebucket_interval_minutes`. Widths are whole numbers of base bins.

use sim_core::time::NS_PER_MIN;
use sim_core::units::round_half_away;

use crate::params::FeatureParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebucket {
    Initial,
    Change,
    Schedule,
}

/// The candidate width in base bins, clamped to [1 tick, `bin_width_max_ticks`].
pub fn candidate_bins(mid: f64, sigma: f64, p: &FeatureParams) -> Option<i64> {
    if !(mid.is_finite() && sigma.is_finite()) {
        return None;
    }
    let ticks = round_half_away(p.alpha_bin * mid * sigma / p.tick_size).clamp(1, p.bin_width_max_ticks as i64);
    Some(round_half_away(ticks as f64 / p.base_bin_ticks as f64).max(1))
}

#[derive(Debug, Clone)]
pub struct BinWidth {
    applied: Option<i64>,
    change_pct: f64,
    interval: i64,
}

impl BinWidth {
    pub fn new(p: &FeatureParams) -> Self {
        BinWidth { applied: None, change_pct: p.rebucket_change_pct, interval: p.rebucket_interval_minutes as i64 }
    }

    /// The width in use, in base bins.
    pub fn applied(&self) -> Option<i64> {
        self.applied
    }

    /// Offers this minute's candidate; says which trigger applied it, if any.
    pub fn update(&mut self, ts_min_ns: i64, candidate: Option<i64>) -> Option<Rebucket> {
        let k = candidate?;
        let trigger = match self.applied {
            None => Rebucket::Initial,
            Some(old) if ((k - old).abs() as f64) / (old as f64) >= self.change_pct => Rebucket::Change,
            Some(_) if ts_min_ns.div_euclid(NS_PER_MIN) % self.interval == 0 => Rebucket::Schedule,
            Some(_) => return None,
        };
        self.applied = Some(k);
        Some(trigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> FeatureParams {
        FeatureParams::defaults(0.1)
    }

    #[test]
    fn width_is_clamped_to_one_tick_and_the_maximum() {
        let p = params();
        assert_eq!(candidate_bins(50_000.0, 0.0, &p), Some(1));
        assert_eq!(candidate_bins(50_000.0, 1e-9, &p), Some(1));
        assert_eq!(candidate_bins(50_000.0, 0.5, &p), Some(200));
        // 0.25 · 50 000 · 0.0004 = 5.0 USD = 50 ticks.
        assert_eq!(candidate_bins(50_000.0, 0.0004, &p), Some(50));
        assert_eq!(candidate_bins(f64::NAN, 0.0004, &p), None);
        let coarse = FeatureParams { base_bin_ticks: 4, ..p };
        assert_eq!(candidate_bins(50_000.0, 0.0004, &coarse), Some(13)); // 50 / 4 = 12.5 → 13
    }

    #[test]
    fn both_rebucketing_triggers() {
        let mut w = BinWidth::new(&params());
        let minute = |m: i64| m * NS_PER_MIN;
        assert_eq!(w.update(minute(1), None), None);
        assert_eq!(w.update(minute(1), Some(40)), Some(Rebucket::Initial));
        assert_eq!(w.update(minute(2), Some(49)), None, "22.5 % is below the 25 % trigger");
        assert_eq!(w.applied(), Some(40));
        assert_eq!(w.update(minute(3), Some(50)), Some(Rebucket::Change), "exactly 25 %");
        assert_eq!(w.update(minute(4), Some(40)), None, "20 % down");
        assert_eq!(w.update(minute(15), Some(41)), Some(Rebucket::Schedule));
        assert_eq!(w.applied(), Some(41));
        assert_eq!(w.update(minute(30), Some(41)), Some(Rebucket::Schedule), "fires even when unchanged");
    }
}
