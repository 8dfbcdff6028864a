//! Sizes as exact integers: one unit is 1e-8 of the size (a satoshi of BTC).
//!
//! Volumes, order flow and the rolling histogram are sums of these integers, so adding and
//! subtracting a trade over a four-hour window leaves no residue and a sum cannot depend on the
//! order of its terms — the guarantee that one batch, many batches or one tick at a time give
//! the same features.

pub const UNITS_PER_SIZE: f64 = 1e8;

/// Rounds half away from zero, exactly as `f64::round(x) as i64`, without the call to the C
/// library's `round` that `f64::round` becomes on x86-64 without SSE4.1 (a few percent of a
/// replay: every trade rounds its size and its price). Below 2^52 in magnitude `x - trunc(x)` is
/// exact, so comparing it with ±0.5 rounds exactly; above, every float is already whole.
#[inline]
pub fn round_half_away(x: f64) -> i64 {
    const WHOLE_FROM: f64 = 4_503_599_627_370_496.0; // 2^52
    if x.is_nan() || x.abs() >= WHOLE_FROM {
        return x as i64; // whole already, infinite or NaN: the same saturating cast
    }
    let t = x as i64;
    let frac = x - t as f64;
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
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

    #[test]
    fn rounding_is_f64_round_on_edges_and_on_random_bit_patterns() {
        let edges = [
            0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.49999999999999994, -0.49999999999999994,
            4_503_599_627_370_495.5, -4_503_599_627_370_495.5, 4_503_599_627_370_496.0, 9.3e18, -9.3e18,
            f64::MAX, f64::MIN, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MIN_POSITIVE, 1e-300,
        ];
        for x in edges {
            assert_eq!(round_half_away(x), x.round() as i64, "{x:e}");
        }
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..2_000_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Random bits, and random values near the half-integers of sizes in units.
            let bits = f64::from_bits(state);
            let near = (state % 1_000_000_000) as f64 * 0.5 + f64::from_bits(state >> 40 | 0x3c00_0000_0000_0000) - 1e9;
            for x in [bits, near, (state % 100_000) as f64 * 1e-3 * UNITS_PER_SIZE] {
                assert_eq!(round_half_away(x), x.round() as i64, "{x:e}");
            }
        }
    }
}
