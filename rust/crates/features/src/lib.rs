//! Per-minute features computed incrementally from the merged tick stream.
//!
//! The foundation needs only the L1 facts of a finished bar (mid and spread at close); the
//! value-area, order-flow and volatility features are built here on the same streaming shape.

use sim_core::MinuteBar;

/// Mid price at minute close, NaN before the first quote.
pub fn mid_close(bar: &MinuteBar) -> f64 {
    (bar.bid_px_close + bar.ask_px_close) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_is_halfway() {
        let bar = MinuteBar {
            ts_min_ns: 0,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
            vwap: 1.0,
            trade_count: 1,
            bid_px_close: 10.0,
            ask_px_close: 10.5,
            bid_sz_close: 1.0,
            ask_sz_close: 1.0,
        };
        assert_eq!(mid_close(&bar), 10.25);
    }
}
