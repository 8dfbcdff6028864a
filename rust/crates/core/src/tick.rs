//! Ticks (trades, L1 quotes, klines) and the minute bar built from them.

/// One trade print. `side` is the exchange-reported taker side: +1 buy, −1 sell, 0 unknown.
/// `trade_id` is −1 when the source has none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    pub ts_ns: i64,
    pub price: f64,
    pub size: f64,
    pub side: i8,
    pub trade_id: i64,
}

/// One top-of-book update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub ts_ns: i64,
    pub bid_px: f64,
    pub bid_sz: f64,
    pub ask_px: f64,
    pub ask_sz: f64,
}

/// A recorded bar of any interval. It is known only at its close, so it is an event at
/// `open_ts_ns + interval_ns`, never at its open time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kline {
    pub open_ts_ns: i64,
    pub interval_ns: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Kline {
    #[inline]
    pub fn close_ts_ns(&self) -> i64 {
        self.open_ts_ns + self.interval_ns
    }
}

/// A finished one-minute bar (spec §3.3 `bars_1m`, §4.2–4.3).
///
/// A minute with no trades has `trade_count == 0` and NaN open/high/low/close/vwap: there is
/// no price to report, and inventing one would be a silent fix. The L1 snapshot is the latest
/// quote stamped before the minute's end (NaN before the first quote of the run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteBar {
    pub ts_min_ns: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub vwap: f64,
    pub trade_count: u32,
    pub bid_px_close: f64,
    pub ask_px_close: f64,
    pub bid_sz_close: f64,
    pub ask_sz_close: f64,
}

impl MinuteBar {
    pub fn spread_close(&self) -> f64 {
        self.ask_px_close - self.bid_px_close
    }
}
