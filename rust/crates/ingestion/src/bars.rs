//! One-minute bars from trades, with the L1 snapshot at minute close (spec §4.2–4.3).
//!
//! The builder is told the ticks in the total order and asked to close minutes; it never
//! looks at a clock. A minute `[m, m + 60 s)` closes at `m + 60 s`; its L1 snapshot is the
//! latest quote stamped before that instant. Volume is summed in integer size units
//! (`sim_core::units`), so it is exact and independent of the order of the trades.
//!
//! With klines as the only price source (bars mode), a one-minute kline delivered at its close
//! gives the minute's OHLCV instead (`on_kline`).

use sim_core::time::{minute_floor, NS_PER_MIN};
use sim_core::units::{size_units, units_to_size};
use sim_core::{Kline, MinuteBar, Quote, Trade};

#[derive(Debug, Clone)]
pub struct MinuteBarBuilder {
    /// Start of the minute being built; `None` until the first tick or explicit start.
    current: Option<i64>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    units: i64,
    notional: f64,
    count: u32,
    /// A kline's volume (bars mode), which has no trades to count.
    kline_volume: Option<f64>,
    last_quote: Option<Quote>,
}

impl Default for MinuteBarBuilder {
    fn default() -> Self {
        Self::new(None)
    }
}

impl MinuteBarBuilder {
    pub fn new(start_ns: Option<i64>) -> Self {
        MinuteBarBuilder {
            current: start_ns.map(minute_floor),
            open: f64::NAN,
            high: f64::NAN,
            low: f64::NAN,
            close: f64::NAN,
            units: 0,
            notional: 0.0,
            count: 0,
            kline_volume: None,
            last_quote: None,
        }
    }

    /// The end (close instant) of the minute being built.
    pub fn current_end(&self) -> Option<i64> {
        self.current.map(|m| m + NS_PER_MIN)
    }

    pub fn last_quote(&self) -> Option<&Quote> {
        self.last_quote.as_ref()
    }

    fn finish_current(&mut self) -> MinuteBar {
        let m = self.current.expect("a minute is open");
        let q = self.last_quote;
        let volume = self.kline_volume.unwrap_or(units_to_size(self.units));
        let bar = MinuteBar {
            ts_min_ns: m,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume,
            vwap: if self.count > 0 { self.notional / volume } else { f64::NAN },
            trade_count: self.count,
            bid_px_close: q.map_or(f64::NAN, |q| q.bid_px),
            ask_px_close: q.map_or(f64::NAN, |q| q.ask_px),
            bid_sz_close: q.map_or(f64::NAN, |q| q.bid_sz),
            ask_sz_close: q.map_or(f64::NAN, |q| q.ask_sz),
        };
        self.current = Some(m + NS_PER_MIN);
        self.open = f64::NAN;
        self.high = f64::NAN;
        self.low = f64::NAN;
        self.close = f64::NAN;
        self.units = 0;
        self.notional = 0.0;
        self.count = 0;
        self.kline_volume = None;
        bar
    }

    /// Closes every minute that ends at or before `ts_ns`, pushing the bars to `out`.
    pub fn close_through(&mut self, ts_ns: i64, out: &mut impl FnMut(MinuteBar)) {
        while let Some(end) = self.current_end() {
            if end > ts_ns {
                break;
            }
            out(self.finish_current());
        }
    }

    /// Opens the first minute at the first tick when no start was given.
    #[inline]
    fn ensure_started(&mut self, ts_ns: i64) {
        if self.current.is_none() {
            self.current = Some(minute_floor(ts_ns));
        }
    }

    /// The tick must belong to the current minute: call `close_through(ts)` first.
    #[inline]
    pub fn on_trade(&mut self, t: &Trade) {
        self.ensure_started(t.ts_ns);
        if self.count == 0 {
            self.open = t.price;
            self.high = t.price;
            self.low = t.price;
        } else {
            self.high = self.high.max(t.price);
            self.low = self.low.min(t.price);
        }
        self.close = t.price;
        self.units += size_units(t.size);
        self.notional += t.price * t.size;
        self.count += 1;
    }

    /// Bars mode: the one-minute kline of the open minute (delivered at its close) is its bar.
    pub fn on_kline(&mut self, k: &Kline) {
        self.ensure_started(k.open_ts_ns);
        self.open = k.open;
        self.high = k.high;
        self.low = k.low;
        self.close = k.close;
        self.kline_volume = Some(units_to_size(size_units(k.volume)));
    }

    #[inline]
    pub fn on_quote(&mut self, q: &Quote) {
        self.ensure_started(q.ts_ns);
        self.last_quote = Some(*q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_close_at_minute_end_with_the_last_quote_before_it() {
        let mut b = MinuteBarBuilder::new(Some(0));
        let mut bars = Vec::new();
        b.on_quote(&Quote { ts_ns: 1, bid_px: 9.0, bid_sz: 1.0, ask_px: 11.0, ask_sz: 2.0 });
        b.on_trade(&Trade { ts_ns: 2, price: 10.0, size: 1.0, side: 1, trade_id: 1 });
        b.on_trade(&Trade { ts_ns: 3, price: 12.0, size: 3.0, side: 1, trade_id: 2 });
        b.close_through(NS_PER_MIN - 1, &mut |bar| bars.push(bar));
        assert!(bars.is_empty());
        b.close_through(3 * NS_PER_MIN, &mut |bar| bars.push(bar));
        assert_eq!(bars.len(), 3);
        assert_eq!((bars[0].open, bars[0].high, bars[0].low, bars[0].close), (10.0, 12.0, 10.0, 12.0));
        assert_eq!(bars[0].vwap, (10.0 + 36.0) / 4.0);
        assert_eq!(bars[0].bid_px_close, 9.0);
        assert_eq!(bars[1].trade_count, 0);
        assert!(bars[1].close.is_nan());
        assert_eq!(bars[2].ask_sz_close, 2.0);
    }
}
