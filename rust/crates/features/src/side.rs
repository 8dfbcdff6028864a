//! Prints and trade-side inference (spec §5.7, DESIGN §8).
//!
//! Trades sharing a timestamp are one print (summed size, VWAP price) so a taker order split
//! across makers is judged once. The quote rule signs a print at or through the quote; the
//! tick rule (optional) signs the rest by the change from the previous print, carrying the
//! previous sign on a zero tick.

use crate::align::Alignment;

/// A print being gathered: every trade of one timestamp.
#[derive(Debug, Clone)]
pub struct Print {
    pub ts_ns: i64,
    pub units: i64,
    first_price: f64,
    same_price: bool,
    notional: f64,
    size: f64,
    pub quote: Alignment,
    /// (exchange side, units) of each trade, in order.
    pub trades: Vec<(i8, i64)>,
}

impl Print {
    pub fn new() -> Self {
        Print {
            ts_ns: 0,
            units: 0,
            first_price: f64::NAN,
            same_price: true,
            notional: 0.0,
            size: 0.0,
            quote: Alignment::NONE,
            trades: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.trades.is_empty()
    }

    pub fn start(&mut self, ts_ns: i64, quote: Alignment) {
        self.ts_ns = ts_ns;
        self.units = 0;
        self.first_price = f64::NAN;
        self.same_price = true;
        self.notional = 0.0;
        self.size = 0.0;
        self.quote = quote;
        self.trades.clear();
    }

    #[inline]
    pub fn add(&mut self, price: f64, size: f64, units: i64, side: i8) {
        if self.trades.is_empty() {
            self.first_price = price;
        } else if price != self.first_price {
            self.same_price = false;
        }
        self.notional += price * size;
        self.size += size;
        self.units += units;
        self.trades.push((side, units));
    }

    /// The common price of its trades, or their VWAP when they differ.
    pub fn price(&self) -> f64 {
        if self.same_price {
            self.first_price
        } else {
            self.notional / self.size
        }
    }
}

impl Default for Print {
    fn default() -> Self {
        Self::new()
    }
}

/// +1 at or above the ask, −1 at or below the bid, 0 inside or without a quote.
#[inline]
pub fn quote_sign(price: f64, q: &Alignment) -> i8 {
    if price >= q.ask_px {
        1
    } else if price <= q.bid_px {
        -1
    } else {
        0
    }
}

/// The tick-rule state carried from print to print, across minutes.
#[derive(Debug, Clone, Default)]
pub struct SideInference {
    use_tick_rule: bool,
    prev_price: Option<f64>,
    prev_sign: i8,
}

impl SideInference {
    pub fn new(use_tick_rule: bool) -> Self {
        SideInference { use_tick_rule, prev_price: None, prev_sign: 0 }
    }

    /// The final sign of a print whose quote rule gave `by_quote`.
    #[inline]
    pub fn classify(&mut self, price: f64, by_quote: i8) -> i8 {
        let sign = if by_quote != 0 || !self.use_tick_rule {
            by_quote
        } else {
            match self.prev_price {
                None => 0,
                Some(p) if price > p => 1,
                Some(p) if price < p => -1,
                Some(_) => self.prev_sign,
            }
        };
        self.prev_price = Some(price);
        self.prev_sign = sign;
        sign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(bid: f64, ask: f64) -> Alignment {
        Alignment { bid_px: bid, ask_px: ask, staleness_ns: Some(0), stale: false }
    }

    #[test]
    fn bid_and_ask_boundaries() {
        let q = quote(100.0, 101.0);
        assert_eq!(quote_sign(101.0, &q), 1);
        assert_eq!(quote_sign(101.5, &q), 1);
        assert_eq!(quote_sign(100.0, &q), -1);
        assert_eq!(quote_sign(99.0, &q), -1);
        assert_eq!(quote_sign(100.5, &q), 0);
        assert_eq!(quote_sign(100.5, &Alignment::NONE), 0);
    }

    #[test]
    fn tick_rule_continues_through_zero_ticks() {
        let mut s = SideInference::new(true);
        assert_eq!(s.classify(100.0, 0), 0, "first print: nothing to compare with");
        assert_eq!(s.classify(100.5, 0), 1);
        assert_eq!(s.classify(100.5, 0), 1, "zero tick carries the previous sign");
        assert_eq!(s.classify(100.5, -1), -1, "the quote rule wins when it decides");
        assert_eq!(s.classify(100.5, 0), -1);
        assert_eq!(s.classify(100.0, 0), -1);
        let mut off = SideInference::new(false);
        off.classify(100.0, 1);
        assert_eq!(off.classify(101.0, 0), 0);
    }

    #[test]
    fn a_print_is_priced_at_its_common_price_or_its_vwap() {
        let mut p = Print::new();
        p.start(1, Alignment::NONE);
        p.add(28145.1, 0.002, 200_000, -1);
        p.add(28145.1, 0.020, 2_000_000, -1);
        assert_eq!(p.price(), 28145.1);
        assert_eq!(p.units, 2_200_000);
        p.add(28145.2, 0.022, 2_200_000, -1);
        assert!((p.price() - 28145.15).abs() < 1e-9);
    }
}
