//! The rolling volume profile at base resolution (spec §5.5): a dense array of integer volume
//! units per base bin, added to trade by trade and subtracted minute by minute as minutes leave
//! the window, and aggregated on demand to the volatility-scaled bins.

use std::collections::VecDeque;

use sim_core::units::floor_div;

/// The widest span of base bins the profile will hold (2^24; 1.7 M USD at a 0.1 tick).
pub const MAX_SPAN_BINS: i64 = 1 << 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a trade at base bin {bin} would make the 4-hour profile span {span} bins (limit {MAX_SPAN_BINS}); a price far off the market")]
pub struct SpanError {
    pub bin: i64,
    pub span: i64,
}

#[derive(Debug, Clone, Default)]
pub struct BaseHistogram {
    /// Base bin of `bins[0]`.
    offset: i64,
    bins: Vec<i64>,
    /// Lowest and highest non-empty bins (meaningful when `nonempty > 0`).
    lo: i64,
    hi: i64,
    nonempty: usize,
    total: i64,
}

impl BaseHistogram {
    pub fn total_units(&self) -> i64 {
        self.total
    }

    pub fn nonempty(&self) -> usize {
        self.nonempty
    }

    /// (lowest, highest) non-empty base bin.
    pub fn range(&self) -> Option<(i64, i64)> {
        (self.nonempty > 0).then_some((self.lo, self.hi))
    }

    pub fn get(&self, bin: i64) -> i64 {
        let i = bin - self.offset;
        if i < 0 || i as usize >= self.bins.len() {
            0
        } else {
            self.bins[i as usize]
        }
    }

    /// Reallocates so `bin` fits, keeping the non-empty range, with slack on both sides.
    fn make_room(&mut self, bin: i64) -> Result<(), SpanError> {
        let (lo, hi) = if self.nonempty > 0 { (self.lo.min(bin), self.hi.max(bin)) } else { (bin, bin) };
        let span = hi - lo + 1;
        if span > MAX_SPAN_BINS {
            return Err(SpanError { bin, span });
        }
        let slack = (span / 2).max(4096);
        let new_offset = lo - slack;
        let mut bins = vec![0i64; (span + 2 * slack) as usize];
        if self.nonempty > 0 {
            let from = (self.lo - self.offset) as usize..=(self.hi - self.offset) as usize;
            let to = (self.lo - new_offset) as usize;
            bins[to..to + from.clone().count()].copy_from_slice(&self.bins[from]);
        }
        self.offset = new_offset;
        self.bins = bins;
        Ok(())
    }

    #[inline]
    pub fn add(&mut self, bin: i64, units: i64) -> Result<(), SpanError> {
        if units == 0 {
            return Ok(());
        }
        let mut i = bin - self.offset;
        if i < 0 || i as usize >= self.bins.len() {
            self.make_room(bin)?;
            i = bin - self.offset;
        }
        let slot = &mut self.bins[i as usize];
        if *slot == 0 {
            if self.nonempty == 0 {
                self.lo = bin;
                self.hi = bin;
            } else {
                self.lo = self.lo.min(bin);
                self.hi = self.hi.max(bin);
            }
            self.nonempty += 1;
        }
        *slot += units;
        self.total += units;
        Ok(())
    }

    /// Removes volume added earlier; the bin must hold at least `units`.
    pub fn sub(&mut self, bin: i64, units: i64) {
        if units == 0 {
            return;
        }
        let i = (bin - self.offset) as usize;
        let slot = &mut self.bins[i];
        assert!(*slot >= units, "profile bin {bin} holds {} units, cannot remove {units}", *slot);
        *slot -= units;
        self.total -= units;
        if *slot == 0 {
            self.nonempty -= 1;
            if self.nonempty > 0 {
                if bin == self.lo {
                    while self.bins[(self.lo - self.offset) as usize] == 0 {
                        self.lo += 1;
                    }
                }
                if bin == self.hi {
                    while self.bins[(self.hi - self.offset) as usize] == 0 {
                        self.hi -= 1;
                    }
                }
            }
        }
    }

    /// Sums base bins into bins of `k` base bins (`floor_div(b, k)`), from the lowest to the
    /// highest non-empty one; returns the index of `out[0]`, or `None` when empty.
    pub fn aggregate(&self, k: i64, out: &mut Vec<i64>) -> Option<i64> {
        out.clear();
        if self.nonempty == 0 {
            return None;
        }
        let a_lo = floor_div(self.lo, k);
        let a_hi = floor_div(self.hi, k);
        out.resize((a_hi - a_lo + 1) as usize, 0);
        let base = &self.bins[(self.lo - self.offset) as usize..=(self.hi - self.offset) as usize];
        let mut a = 0usize;
        let mut left = (k - self.lo.rem_euclid(k)) as usize; // base bins that still fall in out[a]
        for &v in base {
            if left == 0 {
                a += 1;
                left = k as usize;
            }
            out[a] += v;
            left -= 1;
        }
        Some(a_lo)
    }
}

/// One minute's trades as (tick index, units), sorted by tick and merged.
#[derive(Debug, Clone, Default)]
pub struct MinuteTrades {
    pub ts_min_ns: i64,
    pub ticks: Vec<(i64, i64)>,
}

impl MinuteTrades {
    pub fn compact(&mut self) {
        self.ticks.sort_unstable_by_key(|&(t, _)| t);
        self.ticks.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
    }

    /// Whether a trade's tick lies within `dist` ticks of `target`.
    pub fn any_within(&self, target: i64, dist: f64) -> bool {
        let d = dist.floor() as i64;
        let first = self.ticks.partition_point(|&(t, _)| t < target - d);
        self.ticks.get(first).is_some_and(|&(t, _)| t <= target + d)
    }
}

/// The profile over the last `window` minutes: the base histogram and the minutes that feed it.
#[derive(Debug, Clone)]
pub struct RollingProfile {
    pub base: BaseHistogram,
    minutes: VecDeque<MinuteTrades>,
    base_bin_ticks: i64,
    window_ns: i64,
}

impl RollingProfile {
    pub fn new(window_minutes: u32, base_bin_ticks: u32) -> Self {
        RollingProfile {
            base: BaseHistogram::default(),
            minutes: VecDeque::new(),
            base_bin_ticks: base_bin_ticks as i64,
            window_ns: window_minutes as i64 * sim_core::time::NS_PER_MIN,
        }
    }

    #[inline]
    pub fn base_bin(&self, tick: i64) -> i64 {
        floor_div(tick, self.base_bin_ticks)
    }

    #[inline]
    pub fn add(&mut self, tick: i64, units: i64) -> Result<(), SpanError> {
        self.base.add(self.base_bin(tick), units)
    }

    /// Files a closed minute and drops the minutes that fall out of the window ending with it.
    pub fn close_minute(&mut self, minute: MinuteTrades) {
        let oldest_kept = minute.ts_min_ns - self.window_ns + sim_core::time::NS_PER_MIN;
        self.minutes.push_back(minute);
        while self.minutes.front().is_some_and(|m| m.ts_min_ns < oldest_kept) {
            let gone = self.minutes.pop_front().expect("front exists");
            for (tick, units) in gone.ticks {
                self.base.sub(floor_div(tick, self.base_bin_ticks), units);
            }
        }
    }

    pub fn last_minute(&self) -> Option<&MinuteTrades> {
        self.minutes.back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_subtract_leaves_nothing_and_tracks_the_range() {
        let mut h = BaseHistogram::default();
        h.add(100, 5).unwrap();
        h.add(90, 3).unwrap();
        h.add(20_000, 1).unwrap();
        assert_eq!(h.range(), Some((90, 20_000)));
        h.sub(20_000, 1);
        assert_eq!(h.range(), Some((90, 100)));
        h.sub(90, 3);
        assert_eq!((h.range(), h.total_units()), (Some((100, 100)), 5));
        h.sub(100, 5);
        assert_eq!((h.range(), h.nonempty(), h.total_units()), (None, 0, 0));
    }

    #[test]
    fn aggregation_floors_negative_and_positive_bins_alike() {
        let mut h = BaseHistogram::default();
        for (b, u) in [(-3, 1), (-1, 2), (0, 4), (2, 8), (3, 16)] {
            h.add(b, u).unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(h.aggregate(3, &mut out), Some(-1));
        assert_eq!(out, vec![1 + 2, 4 + 8, 16]);
        assert_eq!(h.aggregate(1, &mut out), Some(-3));
        assert_eq!(out, vec![1, 0, 2, 4, 0, 8, 16]);
    }

    #[test]
    fn a_price_far_off_the_market_is_an_error() {
        let mut h = BaseHistogram::default();
        h.add(280_000, 1).unwrap();
        assert!(h.add(280_000 + MAX_SPAN_BINS, 1).is_err());
    }

    #[test]
    fn nearest_trade_search() {
        let mut m = MinuteTrades { ts_min_ns: 0, ticks: vec![(105, 1), (100, 1), (100, 2)] };
        m.compact();
        assert_eq!(m.ticks, vec![(100, 3), (105, 1)]);
        assert!(m.any_within(101, 1.000001));
        assert!(!m.any_within(102, 1.000001));
        assert!(m.any_within(104, 1.0));
        assert!(!m.any_within(107, 1.9));
    }
}
