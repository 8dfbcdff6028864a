//! Bars mode's rolling volume profile, kept as runs of equal base bins instead of bin by bin.
//!
//! A kline spreads its units over every base bin of its range (docs/FEATURES.md, bars-only
//! mode): `units // n` in each of the `n` bins and one more in the lowest `units % n`. At a 0.01
//! tick a one-minute BTC range is thousands of base bins and a 4-hour profile a few hundred
//! thousand, so adding, subtracting and re-aggregating that dense histogram every minute cost
//! far more than everything else in a bars run. Here each kline is at most two runs (a constant
//! over a range of base bins), and the aggregated histogram is summed straight from the runs of
//! the window through a difference array: O(runs + aggregated bins) a minute, independent of
//! the tick.
//!
//! The numbers are the same integers as the dense [`BaseHistogram`]'s: every aggregated bin is
//! the exact sum of the units of its base bins, whatever order they are added in. Even the one
//! failure — a price so far off the market that the profile would span more than
//! [`MAX_SPAN_BINS`] — happens at the same kline with the same message: the dense histogram's
//! allocation is mirrored (offset and length only), since that is where it checks the span.
//!
//! [`BaseHistogram`]: crate::histogram::BaseHistogram

use std::collections::VecDeque;

use sim_core::units::floor_div;

use crate::histogram::{SpanError, MAX_SPAN_BINS};

/// `units` in every base bin `lo..=hi` (`units > 0`, `lo <= hi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub lo: i64,
    pub hi: i64,
    pub units: i64,
}

#[derive(Debug, Clone)]
pub struct RangeProfile {
    /// Closed minutes of the window, oldest first, with their runs.
    minutes: VecDeque<(i64, Vec<Run>)>,
    /// Runs of the open minute.
    open: Vec<Run>,
    total: i64,
    window_ns: i64,
    /// The dense histogram's allocation, `[room_lo, room_lo + room_len)`, where it would check
    /// the span (`BaseHistogram::make_room`).
    room_lo: i64,
    room_len: i64,
    /// Spare run vectors, reused.
    spare: Vec<Vec<Run>>,
}

impl RangeProfile {
    pub fn new(window_minutes: u32) -> Self {
        RangeProfile {
            minutes: VecDeque::new(),
            open: Vec::new(),
            total: 0,
            window_ns: window_minutes as i64 * sim_core::time::NS_PER_MIN,
            room_lo: 0,
            room_len: 0,
            spare: Vec::new(),
        }
    }

    pub fn total_units(&self) -> i64 {
        self.total
    }

    fn runs(&self) -> impl Iterator<Item = &Run> {
        self.minutes.iter().flat_map(|(_, runs)| runs.iter()).chain(self.open.iter())
    }

    /// (lowest, highest) non-empty base bin.
    pub fn range(&self) -> Option<(i64, i64)> {
        self.runs().fold(None, |acc, r| match acc {
            None => Some((r.lo, r.hi)),
            Some((lo, hi)) => Some((lo.min(r.lo), hi.max(r.hi))),
        })
    }

    /// Mirrors the dense histogram adding the non-empty bins `lo..=hi` one by one, in ascending
    /// order: fails where a reallocation would make the profile span too many bins.
    fn reserve(&mut self, lo: i64, hi: i64) -> Result<(), SpanError> {
        let mut cur = lo;
        let mut known: Option<Option<(i64, i64)>> = None;
        loop {
            if cur < self.room_lo || cur >= self.room_lo + self.room_len {
                // The non-empty range just before `cur` is added: the window's and `lo..cur`.
                let window = *known.get_or_insert_with(|| self.range());
                let before = match (window, cur > lo) {
                    (w, false) => w,
                    (None, true) => Some((lo, cur - 1)),
                    (Some((a, b)), true) => Some((a.min(lo), b.max(cur - 1))),
                };
                let (a, b) = before.map_or((cur, cur), |(a, b)| (a.min(cur), b.max(cur)));
                let span = b - a + 1;
                if span > MAX_SPAN_BINS {
                    return Err(SpanError { bin: cur, span });
                }
                let slack = (span / 2).max(4096);
                self.room_lo = a - slack;
                self.room_len = span + 2 * slack;
            }
            let end = hi.min(self.room_lo + self.room_len - 1);
            if end >= hi {
                return Ok(());
            }
            cur = end + 1;
        }
    }

    /// Adds `units` spread over the base bins `lo..=hi` (`lo <= hi`, `units >= 0`, at most
    /// [`MAX_SPAN_BINS`] bins): `units // n` each and one more to each of the lowest `units % n`.
    pub fn add_spread(&mut self, lo: i64, hi: i64, units: i64) -> Result<(), SpanError> {
        let n = hi - lo + 1;
        let (each, extra) = (units / n, units % n);
        let top = if each > 0 { hi } else { lo + extra - 1 };
        if top < lo {
            return Ok(());
        }
        self.reserve(lo, top)?;
        if each > 0 {
            self.open.push(Run { lo, hi, units: each });
        }
        if extra > 0 {
            self.open.push(Run { lo, hi: lo + extra - 1, units: 1 });
        }
        self.total += units;
        Ok(())
    }

    /// Adds `units` to one base bin.
    pub fn add(&mut self, bin: i64, units: i64) -> Result<(), SpanError> {
        if units == 0 {
            return Ok(());
        }
        self.reserve(bin, bin)?;
        self.open.push(Run { lo: bin, hi: bin, units });
        self.total += units;
        Ok(())
    }

    /// Files the open minute as `ts_min_ns` and drops the minutes that fall out of the window
    /// ending with it.
    pub fn close_minute(&mut self, ts_min_ns: i64) {
        let oldest_kept = ts_min_ns - self.window_ns + sim_core::time::NS_PER_MIN;
        let next = self.spare.pop().unwrap_or_default();
        let runs = std::mem::replace(&mut self.open, next);
        self.minutes.push_back((ts_min_ns, runs));
        while self.minutes.front().is_some_and(|m| m.0 < oldest_kept) {
            let (_, mut gone) = self.minutes.pop_front().expect("front exists");
            for r in &gone {
                self.total -= r.units * (r.hi - r.lo + 1);
            }
            gone.clear();
            self.spare.push(gone);
        }
    }

    /// Sums base bins into bins of `k` base bins (`floor_div(b, k)`), from the lowest to the
    /// highest non-empty one; returns the index of `out[0]`, or `None` when empty. Same result
    /// as `BaseHistogram::aggregate` over the same volume.
    pub fn aggregate(&self, k: i64, out: &mut Vec<i64>) -> Option<i64> {
        out.clear();
        let (lo, hi) = self.range()?;
        let a0 = floor_div(lo, k);
        let len = (floor_div(hi, k) - a0 + 1) as usize;
        // A difference array: out[i] − out[i − 1] until the prefix sum below.
        out.resize(len + 1, 0);
        for r in self.runs() {
            let (s, e) = (floor_div(r.lo, k), floor_div(r.hi, k));
            let (i, j) = ((s - a0) as usize, (e - a0) as usize);
            if i == j {
                let v = r.units * (r.hi - r.lo + 1);
                out[i] += v;
                out[i + 1] -= v;
            } else {
                // Partial bins at both ends, whole ones (k bins each) between.
                let first = r.units * ((s + 1) * k - r.lo);
                let last = r.units * (r.hi - e * k + 1);
                let full = r.units * k;
                out[i] += first;
                out[i + 1] += full - first;
                out[j] += last - full;
                out[j + 1] -= last;
            }
        }
        out.pop();
        let mut acc = 0i64;
        for v in out.iter_mut() {
            acc += *v;
            *v = acc;
        }
        Some(a0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::BaseHistogram;

    /// The dense histogram fed the way the engine used to: bin by bin, ascending.
    fn dense_spread(h: &mut BaseHistogram, lo: i64, hi: i64, units: i64) -> Result<(), SpanError> {
        let n = hi - lo + 1;
        let (each, extra) = (units / n, units % n);
        for (i, b) in (lo..=hi).enumerate() {
            h.add(b, each + i64::from((i as i64) < extra))?;
        }
        Ok(())
    }

    #[test]
    fn spread_and_aggregate_match_the_dense_histogram() {
        let mut p = RangeProfile::new(10);
        let mut h = BaseHistogram::default();
        for (lo, hi, u) in [(-7, 12, 1_000_003), (3, 3, 5), (100, 130, 7), (-20, -18, 2), (40, 41, 0)] {
            p.add_spread(lo, hi, u).unwrap();
            dense_spread(&mut h, lo, hi, u).unwrap();
        }
        p.close_minute(0);
        assert_eq!(p.total_units(), h.total_units());
        assert_eq!(p.range(), h.range());
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for k in [1, 2, 3, 7, 13, 50, 1000] {
            assert_eq!(p.aggregate(k, &mut got), h.aggregate(k, &mut want), "k={k}");
            assert_eq!(got, want, "k={k}");
        }
    }

    #[test]
    fn a_far_off_price_fails_where_the_dense_histogram_would() {
        let mut p = RangeProfile::new(10);
        let mut h = BaseHistogram::default();
        let far = 280_000 + MAX_SPAN_BINS;
        p.add_spread(280_000, 280_010, 100).unwrap();
        dense_spread(&mut h, 280_000, 280_010, 100).unwrap();
        // Within the span limit, then past it inside the dense allocation's slack (no check
        // there), then past the slack: the error names the first bin reallocated.
        for (lo, hi) in [(far - 5, far + 5), (far + 6, far + 9), (far + 1000, 3 * far)] {
            let got = p.add_spread(lo, hi, 1_000_000_000);
            assert_eq!(got, dense_spread(&mut h, lo, hi, 1_000_000_000), "{lo}..={hi}");
            if got.is_err() {
                return;
            }
        }
        panic!("the last spread should fail");
    }
}
