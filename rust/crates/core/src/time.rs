//! Time: every timestamp in the engine is Unix nanoseconds (UTC) in an `i64`.

pub const NS_PER_MS: i64 = 1_000_000;
pub const NS_PER_S: i64 = 1_000_000_000;
pub const NS_PER_MIN: i64 = 60 * NS_PER_S;

/// Start of the minute that contains `ts` (spec §4.1: `floor(ts / 60 s) * 60 s`).
#[inline]
pub fn minute_floor(ts: i64) -> i64 {
    ts.div_euclid(NS_PER_MIN) * NS_PER_MIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_floor_is_a_floor_for_negative_times_too() {
        assert_eq!(minute_floor(0), 0);
        assert_eq!(minute_floor(NS_PER_MIN - 1), 0);
        assert_eq!(minute_floor(NS_PER_MIN), NS_PER_MIN);
        assert_eq!(minute_floor(-1), -NS_PER_MIN);
    }
}
