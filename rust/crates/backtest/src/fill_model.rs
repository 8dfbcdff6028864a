//! How a resting limit order fills against one-minute bars (bars mode), and the seeded draw the
//! probabilistic model uses (DESIGN §9).
//!
//! * `Touch`: a limit fills at its price when a bar opening at or after its submission trades
//!   strictly through it (a buy when the bar's low is below it, a sell when the high is above).
//! * `Probabilistic { p, seed }`: the seeds' fill simulator — each bar opening at or after the
//!   submission fills the order at its price with probability `p`, whatever the bar's range.
//!
//! The draw for an order at a bar is a pure function of (seed, order id, bar open time): no
//! generator state, so whether an order fills never depends on which other orders were open or
//! in what order the matcher looked at them.

/// The fill model of one instrument's resting limits in bars mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FillModel {
    Touch,
    Probabilistic { p: f64, seed: u64 },
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) for `order_id` at the bar opening at `ts_ns`: splitmix64 chained
/// over the three inputs, top 53 bits.
pub fn fill_draw(seed: u64, order_id: u64, ts_ns: i64) -> f64 {
    let x = splitmix64(splitmix64(splitmix64(seed) ^ order_id) ^ ts_ns as u64);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

impl FillModel {
    /// Whether a resting limit at `limit` fills on the bar (`low`, `high`, opening at `ts_ns`).
    pub fn limit_fills(&self, buy: bool, limit: f64, low: f64, high: f64, order_id: u64, ts_ns: i64) -> bool {
        match *self {
            FillModel::Touch => {
                if buy {
                    low < limit
                } else {
                    high > limit
                }
            }
            FillModel::Probabilistic { p, seed } => fill_draw(seed, order_id, ts_ns) < p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough_and_stable() {
        let n = 20_000;
        let hits = (0..n).filter(|&i| fill_draw(7, i, 60_000_000_000) < 0.9).count();
        let rate = hits as f64 / n as f64;
        assert!((rate - 0.9).abs() < 0.01, "rate {rate}");
        assert_eq!(fill_draw(1, 2, 3), fill_draw(1, 2, 3));
        assert_ne!(fill_draw(1, 2, 3), fill_draw(2, 2, 3));
        assert_ne!(fill_draw(1, 2, 3), fill_draw(1, 3, 3));
        assert_ne!(fill_draw(1, 2, 3), fill_draw(1, 2, 4));
    }

    #[test]
    fn touch_needs_the_bar_to_trade_strictly_through() {
        let m = FillModel::Touch;
        assert!(!m.limit_fills(true, 99.0, 99.0, 101.0, 1, 0));
        assert!(m.limit_fills(true, 99.0, 98.9, 101.0, 1, 0));
        assert!(!m.limit_fills(false, 101.0, 99.0, 101.0, 1, 0));
        assert!(m.limit_fills(false, 101.0, 99.0, 101.1, 1, 0));
    }

    #[test]
    fn probabilistic_ignores_the_range_and_is_certain_at_one() {
        let always = FillModel::Probabilistic { p: 1.0, seed: 3 };
        let never = FillModel::Probabilistic { p: 0.0, seed: 3 };
        for id in 0..100 {
            assert!(always.limit_fills(true, 1.0, 50.0, 60.0, id, 0));
            assert!(!never.limit_fills(true, 100.0, 50.0, 60.0, id, 0));
        }
    }
}
