//! Sizes as exact integers: one unit is 1e-8 of the size (a satoshi of BTC).
//!
//! Volumes, order flow and the rolling histogram are sums of these integers, so adding and
//! subtracting a trade over a four-hour window leaves no residue and a sum cannot depend on the
//! order of its terms — the guarantee that one batch, many batches or one tick at a time give
//! the same features.

pub const UNITS_PER_SIZE: f64 = 1e8;

/// Rounds half away from zero (as `f64::round`), exactly, on the float given.
#[inline]
pub fn round_half_away(x: f64) -> i64 {
    x.round() as i64
}

#[inline]
pub fn size_units(size: f64) -> i64 {
    round_half_away(size * UNITS_PER_SIZE)
}

#[inline]
pub fn units_to_size(units: i64) -> f64 {
    units as f64 / UNITS_PER_SIZE
}

/// Floor division for possibly negative indices.
#[inline]
pub fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_sizes_become_exact_units() {
        assert_eq!(size_units(0.1) + size_units(0.2), size_units(0.3));
        assert_eq!(units_to_size(size_units(0.1) + size_units(0.2)), 0.3);
        assert_eq!(size_units(0.00000002), 2);
        assert_eq!(size_units(0.004), 400_000);
        assert_eq!(floor_div(-1, 3), -1);
        assert_eq!(floor_div(5, 3), 1);
    }
}
