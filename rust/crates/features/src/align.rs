//! Trade–quote alignment (spec §4.4): the quote a trade is judged against, and how old it is.
//!
//! Ticks arrive in the total order, where the quotes stamped at an instant precede its trades,
//! so when the first trade of an instant arrives the book already holds every quote "at or
//! before" it. For the `before` rule the book also keeps the latest quote of an earlier instant.

use sim_core::Quote;

use crate::params::QuoteAlignment;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// NaN when there was no quote.
    pub bid_px: f64,
    pub ask_px: f64,
    /// Trade time minus quote time; `None` without a quote.
    pub staleness_ns: Option<i64>,
    /// Older than the staleness limit, or no quote at all. A stale quote is still used.
    pub stale: bool,
}

impl Alignment {
    pub const NONE: Alignment = Alignment { bid_px: f64::NAN, ask_px: f64::NAN, staleness_ns: None, stale: true };
}

#[derive(Debug, Clone, Default)]
pub struct QuoteBook {
    last: Option<Quote>,
    /// The latest quote stamped strictly before `last`.
    earlier: Option<Quote>,
}

impl QuoteBook {
    #[inline]
    pub fn on_quote(&mut self, q: &Quote) {
        if let Some(l) = self.last {
            if q.ts_ns > l.ts_ns {
                self.earlier = Some(l);
            }
        }
        self.last = Some(*q);
    }

    pub fn last(&self) -> Option<&Quote> {
        self.last.as_ref()
    }

    /// The quote for a trade at `ts_ns`; every quote stamped at or before it has been seen.
    #[inline]
    pub fn quote_for(&self, ts_ns: i64, rule: QuoteAlignment) -> Option<&Quote> {
        let last = self.last.as_ref()?;
        match rule {
            QuoteAlignment::AtOrBefore => Some(last),
            QuoteAlignment::Before if last.ts_ns < ts_ns => Some(last),
            QuoteAlignment::Before => self.earlier.as_ref(),
        }
    }

    #[inline]
    pub fn align(&self, ts_ns: i64, rule: QuoteAlignment, max_staleness_ns: i64) -> Alignment {
        match self.quote_for(ts_ns, rule) {
            None => Alignment::NONE,
            Some(q) => {
                let age = ts_ns - q.ts_ns;
                Alignment { bid_px: q.bid_px, ask_px: q.ask_px, staleness_ns: Some(age), stale: age > max_staleness_ns }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(ts_ns: i64, bid: f64) -> Quote {
        Quote { ts_ns, bid_px: bid, bid_sz: 1.0, ask_px: bid + 1.0, ask_sz: 1.0 }
    }

    #[test]
    fn equal_timestamp_quote_is_used_at_or_before_but_not_before() {
        let mut b = QuoteBook::default();
        b.on_quote(&q(10, 100.0));
        b.on_quote(&q(20, 101.0));
        b.on_quote(&q(20, 102.0));
        let at = b.align(20, QuoteAlignment::AtOrBefore, 5);
        assert_eq!((at.bid_px, at.staleness_ns, at.stale), (102.0, Some(0), false));
        let before = b.align(20, QuoteAlignment::Before, 5);
        assert_eq!((before.bid_px, before.staleness_ns, before.stale), (100.0, Some(10), true));
    }

    #[test]
    fn the_latest_earlier_quote_is_chosen_and_a_stale_one_still_used() {
        let mut b = QuoteBook::default();
        assert_eq!(b.align(5, QuoteAlignment::AtOrBefore, 250).staleness_ns, None);
        b.on_quote(&q(10, 100.0));
        b.on_quote(&q(30, 101.0));
        let a = b.align(40, QuoteAlignment::AtOrBefore, 250);
        assert_eq!((a.bid_px, a.staleness_ns, a.stale), (101.0, Some(10), false));
        let stale = b.align(1_000, QuoteAlignment::Before, 250);
        assert_eq!((stale.bid_px, stale.staleness_ns, stale.stale), (101.0, Some(970), true));
    }
}
