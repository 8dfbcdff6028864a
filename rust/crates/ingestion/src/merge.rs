//! The k-way merge of all sources in the total order `(ts, kind priority, source, row)`.
//!
//! A row is released only when no source could still deliver a row that sorts before it:
//! a source whose buffer is empty and that is not finished may yet push rows stamped at or
//! after its horizon. When that blocks progress the merge names the source to feed
//! (`Step::Starved`), which is how a file larger than memory replays in bounded memory: the
//! driver reads the next batch of exactly that source and nothing else.

use sim_core::{DataError, EventKey, Kline, Quote, Trade};

use crate::source::{BadRowStats, Source, SourceKind};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tick {
    Trade(Trade),
    Quote(Quote),
    Kline(Kline),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The next row in the total order, with its key.
    Tick(EventKey, Tick),
    /// Every row stamped at or before the limit has been released.
    Reached,
    /// This source must be fed (or finished) before the merge can go on.
    Starved(u32),
}

/// What `Merger::peek_run` found: a run of one source's rows that can be released one after
/// another without looking at the other sources again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStep {
    /// Every buffered row of `source` whose key is below `bound` and which is stamped at or
    /// before the limit comes next in the total order, in buffer order.
    Run { source: u32, bound: EventKey },
    Reached,
    Starved(u32),
}

/// A key no row has: the bound of a run when no other source can deliver anything.
const NO_BOUND: EventKey = EventKey { ts_ns: i64::MAX, priority: u8::MAX, source: u32::MAX, seq: u64::MAX };

#[derive(Debug, Default)]
pub struct Merger {
    sources: Vec<Source>,
    released: u64,
}

impl Merger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_source(&mut self, kind: SourceKind) -> u32 {
        let index = self.sources.len() as u32;
        self.sources.push(Source::new(index, kind));
        index
    }

    pub fn source(&self, index: u32) -> Result<&Source, DataError> {
        self.sources.get(index as usize).ok_or(DataError::UnknownSource(index))
    }

    pub fn source_mut(&mut self, index: u32) -> Result<&mut Source, DataError> {
        self.sources.get_mut(index as usize).ok_or(DataError::UnknownSource(index))
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Rows released so far.
    pub fn released(&self) -> u64 {
        self.released
    }

    pub fn bad_rows(&self) -> Vec<(u32, &BadRowStats)> {
        self.sources.iter().map(|s| (s.index, &s.bad)).collect()
    }

    /// The smallest key any row of `s` could have from now on, if `s` has nothing buffered.
    fn future_floor(s: &Source) -> Option<EventKey> {
        if s.finished || s.buffered() > 0 {
            return None;
        }
        Some(EventKey::new(s.horizon_ns, s.kind.event_kind(), s.index, 0))
    }

    /// A source that must be fed before the merge can release rows stamped up to `limit_ns`.
    pub fn starved(&self, limit_ns: i64) -> Option<u32> {
        match self.peek(limit_ns) {
            Step::Starved(s) => Some(s),
            _ => None,
        }
    }

    /// What the merge can do next with rows stamped at or before `limit_ns`, without
    /// releasing anything. One pass over the sources: the smallest buffered head, and the
    /// smallest key any empty, unfinished source could still deliver.
    pub fn peek(&self, limit_ns: i64) -> Step {
        let mut head: Option<(EventKey, usize)> = None;
        let mut floor: Option<EventKey> = None;
        for (i, s) in self.sources.iter().enumerate() {
            if let Some((ts, row)) = s.head() {
                let key = EventKey::new(ts, s.kind.event_kind(), s.index, row);
                if head.is_none_or(|(b, _)| key < b) {
                    head = Some((key, i));
                }
            } else if let Some(f) = Self::future_floor(s) {
                if floor.is_none_or(|g| f < g) {
                    floor = Some(f);
                }
            }
        }
        match head {
            Some((key, i)) if key.ts_ns <= limit_ns => match floor {
                Some(f) if f < key => Step::Starved(f.source),
                _ => Step::Tick(key, self.head_tick(i)),
            },
            _ => match floor {
                Some(f) if f.ts_ns <= limit_ns => Step::Starved(f.source),
                _ => Step::Reached,
            },
        }
    }

    /// `peek`, plus how far the chosen source may run on its own: the smallest key any other
    /// source has buffered or could still deliver. Between two looks at all the sources the
    /// driver then only compares each row of the run with that bound (`head`, `pop`), which is
    /// the whole cost of the merge when one source delivers several rows in a row. A push,
    /// finish or mark on any source ends the run (the driver peeks again).
    pub fn peek_run(&self, limit_ns: i64) -> RunStep {
        // The best and the second best candidate: (key, source position, is a floor).
        let mut best: Option<(EventKey, usize, bool)> = None;
        let mut second = NO_BOUND;
        for (i, s) in self.sources.iter().enumerate() {
            let cand = if let Some((ts, row)) = s.head() {
                (EventKey::new(ts, s.kind.event_kind(), s.index, row), false)
            } else if let Some(f) = Self::future_floor(s) {
                (f, true)
            } else {
                continue;
            };
            match best {
                Some((b, _, _)) if cand.0 >= b => second = second.min(cand.0),
                _ => {
                    if let Some((b, _, _)) = best {
                        second = second.min(b);
                    }
                    best = Some((cand.0, i, cand.1));
                }
            }
        }
        match best {
            Some((key, i, false)) if key.ts_ns <= limit_ns => RunStep::Run { source: i as u32, bound: second },
            Some((key, _, true)) if key.ts_ns <= limit_ns => RunStep::Starved(key.source),
            _ => RunStep::Reached,
        }
    }

    /// The key and tick of the next buffered row of `source`.
    #[inline]
    pub fn head(&self, source: u32) -> Option<(EventKey, Tick)> {
        self.sources[source as usize].head_key_tick()
    }

    /// The next buffered trade of `source` and its row; `None` when it has none or is not a
    /// source of trades. Read in place, so a run over a source copies each row once.
    #[inline]
    pub fn trade_head(&self, source: u32) -> Option<&(Trade, u64)> {
        self.sources[source as usize].trade_head()
    }

    /// The next buffered quote of `source` and its row, as `trade_head`.
    #[inline]
    pub fn quote_head(&self, source: u32) -> Option<&(Quote, u64)> {
        self.sources[source as usize].quote_head()
    }

    fn head_tick(&self, i: usize) -> Tick {
        self.sources[i].head_tick().expect("head exists")
    }

    /// Releases the row `peek` just returned.
    pub fn pop(&mut self, key: EventKey) {
        let s = &mut self.sources[key.source as usize];
        s.drop_head();
        self.released += 1;
    }

    /// Releases the next row stamped at or before `limit_ns`, if it is safe to.
    pub fn next(&mut self, limit_ns: i64) -> Step {
        let step = self.peek(limit_ns);
        if let Step::Tick(key, _) = step {
            self.pop(key);
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::BadRowPolicy;

    fn trade(ts: i64) -> Trade {
        Trade { ts_ns: ts, price: 100.0, size: 1.0, side: 1, trade_id: -1 }
    }
    fn quote(ts: i64) -> Quote {
        Quote { ts_ns: ts, bid_px: 99.0, bid_sz: 1.0, ask_px: 101.0, ask_sz: 1.0 }
    }

    #[test]
    fn quotes_before_trades_at_equal_time_and_starvation_is_reported() {
        let mut m = Merger::new();
        let t = m.add_source(SourceKind::Trades);
        let q = m.add_source(SourceKind::Quotes);
        m.source_mut(t).unwrap().push_trade(trade(10), 1, BadRowPolicy::Fail).unwrap();
        // The quote source has told nothing yet: it could still deliver a row at t=10.
        assert_eq!(m.next(100), Step::Starved(q));
        m.source_mut(q).unwrap().push_quote(quote(10), 1, BadRowPolicy::Fail).unwrap();
        m.source_mut(q).unwrap().finish();
        match m.next(100) {
            Step::Tick(_, Tick::Quote(_)) => {}
            other => panic!("expected the quote first, got {other:?}"),
        }
        // The trade source may still send rows at t=10 or later, but none before 10.
        match m.next(100) {
            Step::Tick(_, Tick::Trade(_)) => {}
            other => panic!("expected the trade, got {other:?}"),
        }
        assert_eq!(m.next(5), Step::Reached);
        assert_eq!(m.next(100), Step::Starved(t));
        m.source_mut(t).unwrap().mark_until(200);
        assert_eq!(m.next(100), Step::Reached);
    }
}
