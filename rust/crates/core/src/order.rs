//! The total order of events — the one place it is written down.
//!
//! Every event, whether produced by the Rust market engine or by the Python event loop, is
//! ordered by the key `(ts_ns, kind priority, source index, sequence number)`:
//!
//! * `ts_ns` — the exchange timestamp in Unix nanoseconds.
//! * kind priority — at one instant, market data comes before timers, and timers before
//!   adapter events. Among market data, a kline (which summarises the time *before* its close)
//!   comes first, then quotes, then trades (so a trade sees the quotes stamped with its own
//!   time, as spec §4.4 "at or before" requires), then funding.
//! * source index — the position of the data source in the scenario (0 for engine-made events).
//! * sequence number — the row within the source, or a counter for made events.
//!
//! Python reads the priorities from `sim._core.KIND_PRIORITY`; it never restates them.

use std::cmp::Ordering;

/// Kinds of event, with their priority at equal timestamps (lower first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum EventKind {
    Kline = 0,
    Quote = 1,
    Trade = 2,
    Funding = 3,
    MinuteClose = 10,
    Timer = 11,
    OrderUpdate = 20,
    Fill = 21,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::Kline,
        EventKind::Quote,
        EventKind::Trade,
        EventKind::Funding,
        EventKind::MinuteClose,
        EventKind::Timer,
        EventKind::OrderUpdate,
        EventKind::Fill,
    ];

    #[inline]
    pub fn priority(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Kline => "kline",
            EventKind::Quote => "quote",
            EventKind::Trade => "trade",
            EventKind::Funding => "funding",
            EventKind::MinuteClose => "minute_close",
            EventKind::Timer => "timer",
            EventKind::OrderUpdate => "order_update",
            EventKind::Fill => "fill",
        }
    }

    pub fn is_market_data(self) -> bool {
        self.priority() < EventKind::MinuteClose.priority()
    }
}

/// The sort key of an event. Derived `Ord` compares fields in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub ts_ns: i64,
    pub priority: u8,
    pub source: u32,
    pub seq: u64,
}

impl EventKey {
    #[inline]
    pub fn new(ts_ns: i64, kind: EventKind, source: u32, seq: u64) -> Self {
        EventKey { ts_ns, priority: kind.priority(), source, seq }
    }

    pub fn cmp_ts_first(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_data_precedes_timers_which_precede_adapter_events() {
        let t = 1_000;
        let quote = EventKey::new(t, EventKind::Quote, 5, 9);
        let close = EventKey::new(t, EventKind::MinuteClose, 0, 0);
        let timer = EventKey::new(t, EventKind::Timer, 0, 0);
        let fill = EventKey::new(t, EventKind::Fill, 0, 0);
        assert!(quote < close && close < timer && timer < fill);
        assert!(EventKey::new(t - 1, EventKind::Fill, 9, 9) < quote);
    }

    #[test]
    fn ties_break_on_source_then_sequence() {
        let a = EventKey::new(7, EventKind::Trade, 1, 100);
        let b = EventKey::new(7, EventKind::Trade, 2, 0);
        let c = EventKey::new(7, EventKind::Trade, 2, 1);
        assert!(a < b && b < c);
    }
}
