//! Prices on the tick grid. A price's tick index is `round(price / tick)`, never a floor of a
//! float division (0.1 is not exact in binary), and a price is rebuilt from its index by
//! dividing by the whole number of ticks per unit where there is one, so 28145.3 prints as
//! 28145.3 and not 28145.300000000003.

#[inline]
pub fn tick_index(price: f64, tick: f64) -> i64 {
    crate::units::round_half_away(price / tick)
}

#[inline]
pub fn price_of(index: i64, tick: f64) -> f64 {
    let per_unit = 1.0 / tick;
    let whole = per_unit.round();
    if whole >= 1.0 && (per_unit - whole).abs() < 1e-9 {
        index as f64 / whole
    } else {
        index as f64 * tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_on_a_decimal_tick() {
        assert_eq!(price_of(tick_index(28145.2, 0.1) + 1, 0.1), 28145.3);
        assert_eq!(tick_index(0.3, 0.1), 3);
        assert_eq!(price_of(7, 0.5), 3.5);
        assert_eq!(price_of(3, 2.0), 6.0);
    }
}
