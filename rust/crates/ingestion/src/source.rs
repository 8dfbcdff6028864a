//! One buffer per data source: validated rows waiting to be merged, plus the source's state
//! (its last timestamp, duplicate window, bad-row counts, and how far it is known to reach).

use std::collections::BTreeMap;

use sim_core::{BadRowKind, DataError, EventKind, Kline, Quote, Trade};

use crate::validate::{check_kline, check_quote, check_trade, quote_problem, trade_problem, DuplicateWindow};

/// What the engine does with a bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRowPolicy {
    /// Stop with a `DataError::BadRow` naming the source and the row.
    Fail,
    /// Drop the row and count it by kind.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Trades,
    Quotes,
    Klines,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Trades => "trades",
            SourceKind::Quotes => "quotes",
            SourceKind::Klines => "klines",
        }
    }

    pub fn event_kind(self) -> EventKind {
        match self {
            SourceKind::Trades => EventKind::Trade,
            SourceKind::Quotes => EventKind::Quote,
            SourceKind::Klines => EventKind::Kline,
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        match s {
            "trades" => Some(SourceKind::Trades),
            "quotes" => Some(SourceKind::Quotes),
            "klines" => Some(SourceKind::Klines),
            _ => None,
        }
    }
}

/// Bad rows of one source, by kind, with the first example of each kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BadRowStats {
    pub counts: BTreeMap<BadRowKind, u64>,
    pub first: BTreeMap<BadRowKind, (u64, String)>,
}

impl BadRowStats {
    fn record(&mut self, kind: BadRowKind, row: u64, detail: String) {
        *self.counts.entry(kind).or_insert(0) += 1;
        self.first.entry(kind).or_insert((row, detail));
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Rows in arrival order, consumed from `head`; the consumed prefix is dropped from time to
/// time so a long replay holds only what has not been merged yet.
#[derive(Debug)]
struct Rows<T> {
    items: Vec<(T, u64)>,
    head: usize,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows { items: Vec::new(), head: 0 }
    }
}

impl<T: Copy> Rows<T> {
    #[inline]
    fn push(&mut self, item: T, row: u64) {
        if self.head > 65_536 && self.head * 2 > self.items.len() {
            self.items.drain(..self.head);
            self.head = 0;
        }
        self.items.push((item, row));
    }
    #[inline]
    fn peek(&self) -> Option<&(T, u64)> {
        self.items.get(self.head)
    }
    #[inline]
    fn pop(&mut self) -> Option<(T, u64)> {
        let it = self.items.get(self.head).copied();
        if it.is_some() {
            self.head += 1;
        }
        it
    }
    fn len(&self) -> usize {
        self.items.len() - self.head
    }
}

#[derive(Debug)]
enum Buffer {
    Trades(Rows<Trade>),
    Quotes(Rows<Quote>),
    Klines(Rows<Kline>),
}

/// A data source: its buffer and validation state.
#[derive(Debug)]
pub struct Source {
    pub index: u32,
    pub kind: SourceKind,
    buf: Buffer,
    /// Every row still to come has an event timestamp ≥ `horizon_ns`.
    pub horizon_ns: i64,
    pub finished: bool,
    pub last_ts_ns: Option<i64>,
    pub rows_seen: u64,
    pub rows_accepted: u64,
    pub bad: BadRowStats,
    dups: DuplicateWindow,
}

impl Source {
    pub fn new(index: u32, kind: SourceKind) -> Self {
        let buf = match kind {
            SourceKind::Trades => Buffer::Trades(Rows::default()),
            SourceKind::Quotes => Buffer::Quotes(Rows::default()),
            SourceKind::Klines => Buffer::Klines(Rows::default()),
        };
        Source {
            index,
            kind,
            buf,
            horizon_ns: i64::MIN,
            finished: false,
            last_ts_ns: None,
            rows_seen: 0,
            rows_accepted: 0,
            bad: BadRowStats::default(),
            dups: DuplicateWindow::default(),
        }
    }

    pub fn buffered(&self) -> usize {
        match &self.buf {
            Buffer::Trades(r) => r.len(),
            Buffer::Quotes(r) => r.len(),
            Buffer::Klines(r) => r.len(),
        }
    }

    /// Event timestamp and row number of the next buffered row.
    #[inline]
    pub(crate) fn head(&self) -> Option<(i64, u64)> {
        match &self.buf {
            Buffer::Trades(r) => r.peek().map(|(t, row)| (t.ts_ns, *row)),
            Buffer::Quotes(r) => r.peek().map(|(q, row)| (q.ts_ns, *row)),
            Buffer::Klines(r) => r.peek().map(|(k, row)| (k.close_ts_ns(), *row)),
        }
    }

    #[inline]
    fn check_open(&self) -> Result<(), DataError> {
        if self.finished {
            Err(DataError::SourceFinished(self.index))
        } else {
            Ok(())
        }
    }

    /// Validates one row against the rules and the source's history. `Ok(true)` keeps it,
    /// `Ok(false)` drops it (counted), `Err` stops under the `Fail` policy.
    #[inline]
    fn admit(
        &mut self,
        ts: i64,
        row: u64,
        verdict: Result<(), (BadRowKind, String)>,
        trade_id: Option<i64>,
        policy: BadRowPolicy,
    ) -> Result<bool, DataError> {
        self.rows_seen += 1;
        let verdict = verdict.and_then(|()| match self.last_ts_ns {
            Some(last) if ts < last => Err((BadRowKind::TimeBackwards, format!("ts {ts} ns after {last} ns"))),
            _ => Ok(()),
        });
        let verdict = verdict.and_then(|()| match trade_id {
            Some(id) if self.dups.seen(ts, id) => Err((BadRowKind::DuplicateTradeId, format!("trade id {id}"))),
            _ => Ok(()),
        });
        match verdict {
            Ok(()) => {
                self.last_ts_ns = Some(ts);
                self.horizon_ns = self.horizon_ns.max(ts);
                self.rows_accepted += 1;
                Ok(true)
            }
            Err((kind, detail)) => match policy {
                BadRowPolicy::Fail => Err(DataError::BadRow { src: self.index, row, kind, detail }),
                BadRowPolicy::Drop => {
                    self.bad.record(kind, row, detail);
                    Ok(false)
                }
            },
        }
    }

    #[inline]
    pub fn push_trade(&mut self, t: Trade, row: u64, policy: BadRowPolicy) -> Result<(), DataError> {
        self.check_open()?;
        let verdict = check_trade(&t);
        if self.admit(t.ts_ns, row, verdict, Some(t.trade_id), policy)? {
            match &mut self.buf {
                Buffer::Trades(r) => r.push(t, row),
                _ => return Err(self.wrong("trades")),
            }
        }
        Ok(())
    }

    #[inline]
    pub fn push_quote(&mut self, q: Quote, row: u64, policy: BadRowPolicy) -> Result<(), DataError> {
        self.check_open()?;
        let verdict = check_quote(&q);
        if self.admit(q.ts_ns, row, verdict, None, policy)? {
            match &mut self.buf {
                Buffer::Quotes(r) => r.push(q, row),
                _ => return Err(self.wrong("quotes")),
            }
        }
        Ok(())
    }

    /// Whether a row stamped `ts` keeps the source's time order.
    #[inline]
    fn in_order(&self, ts: i64) -> bool {
        self.last_ts_ns.is_none_or(|last| ts >= last)
    }

    /// What `admit` does with a good row, without building its verdict.
    #[inline]
    fn accept(&mut self, ts: i64) {
        self.rows_seen += 1;
        self.last_ts_ns = Some(ts);
        self.horizon_ns = self.horizon_ns.max(ts);
        self.rows_accepted += 1;
    }

    /// `push_trade` of each row in turn (a batch of a file or a feed): a good row goes straight
    /// into the buffer, any other through `push_trade` itself, so the outcome is the same.
    pub fn push_trades(
        &mut self,
        rows: impl IntoIterator<Item = (Trade, u64)>,
        policy: BadRowPolicy,
    ) -> Result<(), DataError> {
        self.check_open()?;
        if !matches!(self.buf, Buffer::Trades(_)) {
            return rows.into_iter().try_for_each(|(t, row)| self.push_trade(t, row, policy));
        }
        for (t, row) in rows {
            if trade_problem(&t).is_some() || !self.in_order(t.ts_ns) {
                self.push_trade(t, row, policy)?;
            } else if self.dups.seen(t.ts_ns, t.trade_id) {
                // The id is now known to repeat one: the verdict `admit` would reach, without
                // asking the window again.
                let dup = Err((BadRowKind::DuplicateTradeId, format!("trade id {}", t.trade_id)));
                self.admit(t.ts_ns, row, dup, None, policy)?;
            } else {
                self.accept(t.ts_ns);
                if let Buffer::Trades(r) = &mut self.buf {
                    r.push(t, row);
                }
            }
        }
        Ok(())
    }

    /// `push_quote` of each row in turn, as `push_trades`.
    pub fn push_quotes(
        &mut self,
        rows: impl IntoIterator<Item = (Quote, u64)>,
        policy: BadRowPolicy,
    ) -> Result<(), DataError> {
        self.check_open()?;
        if !matches!(self.buf, Buffer::Quotes(_)) {
            return rows.into_iter().try_for_each(|(q, row)| self.push_quote(q, row, policy));
        }
        for (q, row) in rows {
            if quote_problem(&q).is_some() || !self.in_order(q.ts_ns) {
                self.push_quote(q, row, policy)?;
            } else {
                self.accept(q.ts_ns);
                if let Buffer::Quotes(r) = &mut self.buf {
                    r.push(q, row);
                }
            }
        }
        Ok(())
    }

    pub fn push_kline(&mut self, k: Kline, row: u64, policy: BadRowPolicy) -> Result<(), DataError> {
        self.check_open()?;
        let verdict = check_kline(&k);
        if self.admit(k.close_ts_ns(), row, verdict, None, policy)? {
            match &mut self.buf {
                Buffer::Klines(r) => r.push(k, row),
                _ => return Err(self.wrong("klines")),
            }
        }
        Ok(())
    }

    fn wrong(&self, expected: &'static str) -> DataError {
        DataError::WrongSourceKind { src: self.index, expected, actual: self.kind.name() }
    }

    /// The caller promises that no row stamped before `ts_ns` will follow (live feeds: the
    /// wall clock minus a grace; files: nothing, they finish instead).
    pub fn mark_until(&mut self, ts_ns: i64) {
        self.horizon_ns = self.horizon_ns.max(ts_ns);
    }

    pub fn finish(&mut self) {
        self.finished = true;
    }

    pub(crate) fn head_tick(&self) -> Option<crate::merge::Tick> {
        use crate::merge::Tick;
        match &self.buf {
            Buffer::Trades(r) => r.peek().map(|(t, _)| Tick::Trade(*t)),
            Buffer::Quotes(r) => r.peek().map(|(q, _)| Tick::Quote(*q)),
            Buffer::Klines(r) => r.peek().map(|(k, _)| Tick::Kline(*k)),
        }
    }

    /// The next buffered trade and its row (a source of trades).
    #[inline]
    pub(crate) fn trade_head(&self) -> Option<&(Trade, u64)> {
        match &self.buf {
            Buffer::Trades(r) => r.peek(),
            _ => None,
        }
    }

    /// The next buffered quote and its row (a source of quotes).
    #[inline]
    pub(crate) fn quote_head(&self) -> Option<&(Quote, u64)> {
        match &self.buf {
            Buffer::Quotes(r) => r.peek(),
            _ => None,
        }
    }

    /// Key and tick of the next buffered row, in one look at the buffer.
    #[inline]
    pub(crate) fn head_key_tick(&self) -> Option<(sim_core::EventKey, crate::merge::Tick)> {
        use crate::merge::Tick;
        use sim_core::EventKey;
        let (ts, row, tick) = match &self.buf {
            Buffer::Trades(r) => r.peek().map(|(t, row)| (t.ts_ns, *row, Tick::Trade(*t)))?,
            Buffer::Quotes(r) => r.peek().map(|(q, row)| (q.ts_ns, *row, Tick::Quote(*q)))?,
            Buffer::Klines(r) => r.peek().map(|(k, row)| (k.close_ts_ns(), *row, Tick::Kline(*k)))?,
        };
        Some((EventKey::new(ts, self.kind.event_kind(), self.index, row), tick))
    }

    pub(crate) fn drop_head(&mut self) {
        match &mut self.buf {
            Buffer::Trades(r) => {
                r.pop();
            }
            Buffer::Quotes(r) => {
                r.pop();
            }
            Buffer::Klines(r) => {
                r.pop();
            }
        }
    }
}
