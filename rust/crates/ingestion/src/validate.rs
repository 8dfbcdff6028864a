//! Row validation rules (DESIGN §5): what makes a trade, a quote or a kline a bad row.
//!
//! The checks are pure functions of the row and the previous state of its source, so the same
//! rules apply to a file replayed in one batch or a live feed arriving a few rows at a time.

use std::collections::{HashSet, VecDeque};

use sim_core::{BadRowKind, Kline, Quote, Trade};

/// How long a trade id is remembered for the duplicate check.
pub const DUPLICATE_WINDOW_NS: i64 = 60 * sim_core::time::NS_PER_S;

/// What is wrong with a trade, if anything (`check_trade` with its message).
#[inline]
pub fn trade_problem(t: &Trade) -> Option<BadRowKind> {
    if !t.price.is_finite() || !t.size.is_finite() {
        Some(BadRowKind::NotFinite)
    } else if t.price <= 0.0 {
        Some(BadRowKind::NonPositivePrice)
    } else if t.size <= 0.0 {
        Some(BadRowKind::NonPositiveSize)
    } else {
        None
    }
}

pub fn check_trade(t: &Trade) -> Result<(), (BadRowKind, String)> {
    let Some(kind) = trade_problem(t) else { return Ok(()) };
    let detail = match kind {
        BadRowKind::NotFinite => format!("price {}, size {}", t.price, t.size),
        BadRowKind::NonPositivePrice => format!("price {}", t.price),
        _ => format!("size {}", t.size),
    };
    Err((kind, detail))
}

/// What is wrong with a quote, if anything (`check_quote` with its message).
#[inline]
pub fn quote_problem(q: &Quote) -> Option<BadRowKind> {
    if !(q.bid_px.is_finite() && q.bid_sz.is_finite() && q.ask_px.is_finite() && q.ask_sz.is_finite()) {
        Some(BadRowKind::NotFinite)
    } else if q.bid_px <= 0.0 || q.ask_px <= 0.0 {
        Some(BadRowKind::NonPositivePrice)
    } else if q.bid_sz <= 0.0 || q.ask_sz <= 0.0 {
        Some(BadRowKind::NonPositiveSize)
    } else if q.bid_px >= q.ask_px {
        Some(BadRowKind::CrossedQuote)
    } else {
        None
    }
}

pub fn check_quote(q: &Quote) -> Result<(), (BadRowKind, String)> {
    let Some(kind) = quote_problem(q) else { return Ok(()) };
    let detail = match kind {
        BadRowKind::NotFinite => format!("bid {} x {}, ask {} x {}", q.bid_px, q.bid_sz, q.ask_px, q.ask_sz),
        BadRowKind::NonPositivePrice => format!("bid {}, ask {}", q.bid_px, q.ask_px),
        BadRowKind::NonPositiveSize => format!("bid size {}, ask size {}", q.bid_sz, q.ask_sz),
        _ => format!("bid {} >= ask {}", q.bid_px, q.ask_px),
    };
    Err((kind, detail))
}

#[inline]
pub fn check_kline(k: &Kline) -> Result<(), (BadRowKind, String)> {
    let all = [k.open, k.high, k.low, k.close, k.volume];
    if all.iter().any(|v| !v.is_finite()) {
        return Err((
            BadRowKind::NotFinite,
            format!("o {} h {} l {} c {} v {}", k.open, k.high, k.low, k.close, k.volume),
        ));
    }
    if k.open <= 0.0 || k.high <= 0.0 || k.low <= 0.0 || k.close <= 0.0 {
        return Err((BadRowKind::NonPositivePrice, format!("o {} h {} l {} c {}", k.open, k.high, k.low, k.close)));
    }
    if k.volume < 0.0 {
        return Err((BadRowKind::NonPositiveSize, format!("volume {}", k.volume)));
    }
    let lo = k.open.min(k.close);
    let hi = k.open.max(k.close);
    if k.interval_ns <= 0 || k.low > lo || k.high < hi {
        return Err((
            BadRowKind::InconsistentBar,
            format!("o {} h {} l {} c {} interval {} ns", k.open, k.high, k.low, k.close, k.interval_ns),
        ));
    }
    Ok(())
}

/// Remembers the trade ids of the last `DUPLICATE_WINDOW_NS` of a source.
///
/// While ids only increase (exchanges with sequential ids) a new id cannot be a repeat and
/// nothing is hashed; the first id that does not increase switches to a hashed window.
#[derive(Debug, Default)]
pub struct DuplicateWindow {
    recent: VecDeque<(i64, i64)>,
    set: Option<HashSet<i64>>,
    last_id: Option<i64>,
}

impl DuplicateWindow {
    /// Returns true when `id` was already seen in the window. Ids < 0 mean "no id".
    #[inline]
    pub fn seen(&mut self, ts_ns: i64, id: i64) -> bool {
        if id < 0 {
            return false;
        }
        while let Some(&(t, old)) = self.recent.front() {
            if t >= ts_ns - DUPLICATE_WINDOW_NS {
                break;
            }
            self.recent.pop_front();
            if let Some(set) = self.set.as_mut() {
                set.remove(&old);
            }
        }
        let increasing = self.set.is_none() && self.last_id.map_or(true, |last| id > last);
        if !increasing {
            let set = self
                .set
                .get_or_insert_with(|| self.recent.iter().map(|&(_, i)| i).collect());
            if set.contains(&id) {
                return true;
            }
            set.insert(id);
        }
        self.recent.push_back((ts_ns, id));
        self.last_id = Some(self.last_id.map_or(id, |l| l.max(id)));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(price: f64, size: f64) -> Trade {
        Trade { ts_ns: 0, price, size, side: 0, trade_id: -1 }
    }

    #[test]
    fn trade_rules() {
        assert!(check_trade(&trade(1.0, 1.0)).is_ok());
        assert_eq!(check_trade(&trade(f64::NAN, 1.0)).unwrap_err().0, BadRowKind::NotFinite);
        assert_eq!(check_trade(&trade(0.0, 1.0)).unwrap_err().0, BadRowKind::NonPositivePrice);
        assert_eq!(check_trade(&trade(1.0, -2.0)).unwrap_err().0, BadRowKind::NonPositiveSize);
    }

    #[test]
    fn quote_rules() {
        let q = Quote { ts_ns: 0, bid_px: 10.0, bid_sz: 1.0, ask_px: 10.1, ask_sz: 1.0 };
        assert!(check_quote(&q).is_ok());
        let crossed = Quote { bid_px: 10.2, ..q };
        assert_eq!(check_quote(&crossed).unwrap_err().0, BadRowKind::CrossedQuote);
        let locked = Quote { bid_px: 10.1, ..q };
        assert_eq!(check_quote(&locked).unwrap_err().0, BadRowKind::CrossedQuote);
    }

    #[test]
    fn kline_rules() {
        let k = Kline { open_ts_ns: 0, interval_ns: 60, open: 10.0, high: 12.0, low: 9.0, close: 11.0, volume: 0.0 };
        assert!(check_kline(&k).is_ok());
        assert_eq!(check_kline(&Kline { high: 10.5, ..k }).unwrap_err().0, BadRowKind::InconsistentBar);
    }

    #[test]
    fn duplicate_window_sequential_and_unordered_ids() {
        let mut w = DuplicateWindow::default();
        assert!(!w.seen(0, 1));
        assert!(!w.seen(1, 2));
        assert!(w.seen(2, 2));
        assert!(!w.seen(3, 0));
        assert!(w.seen(4, 1));
        assert!(!w.seen(5, -1));
        assert!(!w.seen(5, -1));
        // Outside the window an id is forgotten.
        assert!(!w.seen(DUPLICATE_WINDOW_NS + 10, 1));
    }
}
