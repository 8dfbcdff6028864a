//! The market engine: the one object the Python event loop advances in time.
//!
//! `advance_to(t)` consumes every tick stamped at or before `t` in the total order and hands
//! back, in order, what Python must see: minute closes (with their bar), klines, order updates
//! and fills of simulated orders. An order update comes from a call (accepted, rejected,
//! cancelled, cancel_rejected) or from the matcher, which cancels orders on its own by time in
//! force, PostOnly or reduce-only (`crate::matching`), stamped like a fill would have been. It stops as soon as it has something to hand back — after
//! the last tick that shares the event's timestamp, since market data at an instant precedes
//! timers and adapter events at that instant — so a handler that submits an order at time T
//! is matched against the first quote strictly after T and never against one already consumed.
//!
//! Every tick also goes through the feature engine, and each minute close carries the minute's
//! features. In bars mode (`FeatureInput::Bars`) the minutes are built from one-minute klines:
//! a kline stamped at a minute's end is that minute's bar, so it is taken in before the minute
//! closes. In bars mode the one-minute klines are also the only market simulated orders fill
//! against (`Matcher::on_kline`); otherwise quotes and trades are.
//!
//! Made events — minute closes, funding — are emitted once every tick at or before their time
//! has been consumed, whether or not a tick falls at that time, and before any event of the same
//! instant that sorts after them is handed back: a batch handed back never has to be followed by
//! an event that sorts before its last one.
//!
//! Instruments: the run's main instrument is 0 — its ticks make the minute bars and the
//! features, and its prices mark funding. A run trading several instruments (the basis trade:
//! spot and quarterlies) adds more (`add_instrument`) and says which instrument each source
//! quotes (`add_source_for`); their ticks only drive their own matcher and, for klines, come
//! back as `Kline` events. Order ids are unique across instruments.
//!
//! Funding (`set_funding`): at each scheduled time the engine emits the rate with the mark it
//! applies to — the mid of the latest quote at or before that time, or, in bars mode or before
//! any quote, the latest trade price or kline close; NaN when there is none.

use sim_core::order::EventKind;
use sim_core::time::NS_PER_MIN;
use sim_core::{DataError, EventKey, Kline, MinuteBar, Quote, Trade};
use sim_features::{
    Agreement, FeatureEngine, FeatureInput, FeatureParams, MinuteFeatures, RawQuotes, RawTrades, SpanError,
};
use sim_ingestion::merge::{RunStep, Tick};
use sim_ingestion::{BadRowPolicy, Merger, MinuteBarBuilder, SourceKind};

use std::collections::BTreeMap;

use crate::matching::{FeeModel, InstrumentModel, MatchEvent, Matcher, OrderRequest, OrderStatus, SimFill};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// The first minute of the run; without it the first tick opens the first minute.
    pub start_ns: Option<i64>,
    pub policy: BadRowPolicy,
    pub tick_size: f64,
    pub fees: FeeModel,
    pub features: FeatureParams,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    MinuteClose { key: EventKey, bar: MinuteBar, features: MinuteFeatures },
    Kline { key: EventKey, kline: Kline },
    OrderUpdate { key: EventKey, order_id: u64, status: OrderStatus, reason: String },
    Fill { key: EventKey, fill: SimFill },
    /// `rate` per funding interval as a fraction; `mark` the price it applies to.
    Funding { key: EventKey, rate: f64, mark: f64 },
}

impl EngineEvent {
    pub fn key(&self) -> EventKey {
        match self {
            EngineEvent::MinuteClose { key, .. }
            | EngineEvent::Kline { key, .. }
            | EngineEvent::OrderUpdate { key, .. }
            | EngineEvent::Fill { key, .. }
            | EngineEvent::Funding { key, .. } => *key,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    /// Events for Python, in the total order; the engine has not necessarily reached `t`.
    Events(Vec<EngineEvent>),
    /// Everything up to and including `t` is done.
    Reached,
    /// This source must be fed (or finished) before the engine can go on.
    Starved(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// An order submitted for a time the engine has already passed would see the future.
    #[error("order submitted at {ts_ns} ns but the engine is already at {now_ns} ns")]
    SubmitInThePast { ts_ns: i64, now_ns: i64 },
    /// A tick the features cannot take (a price absurdly far from the rest of the window).
    #[error("{detail}")]
    BadTick { src: u32, row: u64, detail: String },
    /// An order or a source for an instrument the engine does not have.
    #[error("unknown instrument {0}")]
    UnknownInstrument(u32),
    /// A funding schedule that cannot be replayed in order; `index` is the 0-based entry.
    #[error("funding schedule, index {index}: {detail}")]
    BadFunding { index: usize, detail: String },
}

#[derive(Debug)]
pub struct MarketEngine {
    merger: Merger,
    bars: MinuteBarBuilder,
    /// One matcher per instrument, by index.
    matchers: Vec<Matcher>,
    /// The instrument of each source, by source index.
    source_instrument: Vec<u32>,
    /// The instrument of each order ever accepted, so a cancel reaches the right matcher.
    order_instrument: BTreeMap<u64, u32>,
    features: FeatureEngine,
    bars_mode: bool,
    policy: BadRowPolicy,
    failed: Option<EngineError>,
    outbox: Vec<EngineEvent>,
    now_ns: i64,
    seq: u64,
    made: u64,
    /// Funding times and rates not yet emitted, in time order (`next_funding` is the next one).
    funding: Vec<(i64, f64)>,
    next_funding: usize,
    /// Latest trade price or kline close: the funding mark without quotes.
    last_price: f64,
    /// Keys of consumed ticks, when tracing (tests and debugging only).
    trace: Option<Vec<EventKey>>,
}

impl MarketEngine {
    pub fn new(config: EngineConfig) -> Self {
        MarketEngine {
            merger: Merger::new(),
            bars: MinuteBarBuilder::new(config.start_ns),
            matchers: vec![Matcher::new(config.tick_size, config.fees)],
            source_instrument: Vec::new(),
            order_instrument: BTreeMap::new(),
            features: FeatureEngine::new(config.features),
            bars_mode: config.features.feature_input == FeatureInput::Bars,
            policy: config.policy,
            failed: None,
            outbox: Vec::new(),
            now_ns: config.start_ns.unwrap_or(i64::MIN),
            seq: 0,
            made: 0,
            funding: Vec::new(),
            next_funding: 0,
            last_price: f64::NAN,
            trace: None,
        }
    }

    /// Adds a source of the main instrument (0).
    pub fn add_source(&mut self, kind: SourceKind) -> u32 {
        self.source_instrument.push(0);
        self.merger.add_source(kind)
    }

    /// Adds a source quoting `instrument`.
    pub fn add_source_for(&mut self, kind: SourceKind, instrument: u32) -> Result<u32, EngineError> {
        if instrument as usize >= self.matchers.len() {
            return Err(EngineError::UnknownInstrument(instrument));
        }
        self.source_instrument.push(instrument);
        Ok(self.merger.add_source(kind))
    }

    /// Sets the model of instrument `index`, or adds a new instrument when `index` is the count
    /// of instruments; returns the index. Only before any order for it.
    pub fn set_instrument(&mut self, index: u32, model: InstrumentModel) -> Result<u32, EngineError> {
        let i = index as usize;
        if i < self.matchers.len() {
            self.matchers[i] = Matcher::with_model(model);
        } else if i == self.matchers.len() {
            self.matchers.push(Matcher::with_model(model));
        } else {
            return Err(EngineError::UnknownInstrument(index));
        }
        Ok(index)
    }

    pub fn instruments(&self) -> usize {
        self.matchers.len()
    }

    /// The net position the simulated fills of `instrument` add up to (positive long): what a
    /// reduce-only order is capped at.
    pub fn position(&self, instrument: u32) -> Result<f64, EngineError> {
        self.matchers.get(instrument as usize).map(Matcher::position).ok_or(EngineError::UnknownInstrument(instrument))
    }

    pub fn merger(&self) -> &Merger {
        &self.merger
    }

    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// Ticks consumed plus events made.
    pub fn events_processed(&self) -> u64 {
        self.merger.released() + self.made
    }

    pub fn last_quote(&self) -> Option<&Quote> {
        self.bars.last_quote()
    }

    /// Keeps the raw tape (trades with their inferred side and quote, quotes) from now on.
    pub fn record_raw(&mut self) {
        self.features.record_raw();
    }

    /// Raw rows recorded since the last call; trades only once their side is final.
    pub fn take_raw(&mut self) -> (RawTrades, RawQuotes) {
        self.features.take_raw()
    }

    pub fn side_agreement(&self) -> Agreement {
        self.features.agreement()
    }

    pub fn push_trade(&mut self, source: u32, t: Trade, row: u64) -> Result<(), DataError> {
        let policy = self.policy;
        self.merger.source_mut(source)?.push_trade(t, row, policy)
    }

    pub fn push_quote(&mut self, source: u32, q: Quote, row: u64) -> Result<(), DataError> {
        let policy = self.policy;
        self.merger.source_mut(source)?.push_quote(q, row, policy)
    }

    /// A batch of trades, each with its row: the same as `push_trade` row by row.
    pub fn push_trades(&mut self, source: u32, rows: impl IntoIterator<Item = (Trade, u64)>) -> Result<(), DataError> {
        let policy = self.policy;
        self.merger.source_mut(source)?.push_trades(rows, policy)
    }

    /// A batch of quotes, each with its row: the same as `push_quote` row by row.
    pub fn push_quotes(&mut self, source: u32, rows: impl IntoIterator<Item = (Quote, u64)>) -> Result<(), DataError> {
        let policy = self.policy;
        self.merger.source_mut(source)?.push_quotes(rows, policy)
    }

    pub fn push_kline(&mut self, source: u32, k: Kline, row: u64) -> Result<(), DataError> {
        let policy = self.policy;
        self.merger.source_mut(source)?.push_kline(k, row, policy)
    }

    pub fn finish_source(&mut self, source: u32) -> Result<(), DataError> {
        self.merger.source_mut(source)?.finish();
        Ok(())
    }

    pub fn mark_source_until(&mut self, source: u32, ts_ns: i64) -> Result<(), DataError> {
        self.merger.source_mut(source)?.mark_until(ts_ns);
        Ok(())
    }

    fn make_key(&mut self, ts_ns: i64, kind: EventKind) -> EventKey {
        self.seq += 1;
        self.made += 1;
        EventKey::new(ts_ns, kind, 0, self.seq)
    }

    /// A matcher's fill, or an order it cancelled on its own (an `OrderUpdate`, cancelled).
    fn emit_match(&mut self, ts_ns: i64, ev: MatchEvent) {
        match ev {
            MatchEvent::Fill(fill) => {
                let key = self.make_key(ts_ns, EventKind::Fill);
                self.outbox.push(EngineEvent::Fill { key, fill });
            }
            MatchEvent::Cancelled { order_id, reason } => {
                let key = self.make_key(ts_ns, EventKind::OrderUpdate);
                self.outbox.push(EngineEvent::OrderUpdate { key, order_id, status: OrderStatus::Cancelled, reason });
            }
        }
    }

    /// Installs the funding schedule, replacing any earlier one: times strictly increasing and
    /// not before the engine's time, rates finite.
    pub fn set_funding(&mut self, schedule: Vec<(i64, f64)>) -> Result<(), EngineError> {
        let bad = |index: usize, detail: String| Err(EngineError::BadFunding { index, detail });
        for (i, &(ts, rate)) in schedule.iter().enumerate() {
            if ts < self.now_ns {
                return bad(i, format!("time {ts} ns is before the engine's time {} ns", self.now_ns));
            }
            if i > 0 && ts <= schedule[i - 1].0 {
                return bad(i, format!("time {ts} ns is not after the previous one {} ns", schedule[i - 1].0));
            }
            if !rate.is_finite() {
                return bad(i, format!("rate {rate} is not finite"));
            }
        }
        self.funding = schedule;
        self.next_funding = 0;
        Ok(())
    }

    fn next_funding_ns(&self) -> Option<i64> {
        self.funding.get(self.next_funding).map(|f| f.0)
    }

    /// Emits the next funding event; every tick at or before its time has been consumed.
    fn emit_funding(&mut self) {
        let (ts_ns, rate) = self.funding[self.next_funding];
        self.next_funding += 1;
        let mark = match self.bars.last_quote() {
            Some(q) if !self.bars_mode => (q.bid_px + q.ask_px) / 2.0,
            _ => self.last_price,
        };
        let key = self.make_key(ts_ns, EventKind::Funding);
        self.outbox.push(EngineEvent::Funding { key, rate, mark });
    }

    fn close_minutes_through(&mut self, ts_ns: i64) {
        let mut closed = Vec::new();
        self.bars.close_through(ts_ns, &mut |bar| closed.push(bar));
        for bar in closed {
            let features = self.features.close_minute(&bar);
            let key = self.make_key(bar.ts_min_ns + NS_PER_MIN, EventKind::MinuteClose);
            self.outbox.push(EngineEvent::MinuteClose { key, bar, features });
        }
    }

    fn take_outbox(&mut self) -> Advance {
        let mut events = std::mem::take(&mut self.outbox);
        events.sort_by_key(|e| e.key());
        Advance::Events(events)
    }

    /// Starts recording the key of every tick consumed from now on.
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The keys recorded since the last call.
    pub fn take_trace(&mut self) -> Vec<EventKey> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn process(&mut self, key: EventKey, tick: Tick) {
        match tick {
            Tick::Trade(t) => self.process_trade(key, &t),
            Tick::Quote(q) => self.process_quote(key, &q),
            Tick::Kline(k) => self.process_kline(key, &k),
        }
    }

    /// What every tick does first: the engine's time, the trace, and the tick's instrument.
    #[inline(always)]
    fn enter(&mut self, key: EventKey) -> usize {
        self.now_ns = key.ts_ns;
        if let Some(t) = self.trace.as_mut() {
            t.push(key);
        }
        self.source_instrument.get(key.source as usize).copied().unwrap_or(0) as usize
    }

    /// Hands the matcher's fills and cancels of a tick to Python.
    #[inline(always)]
    fn emit_matches(&mut self, ts_ns: i64, fills: Vec<MatchEvent>) {
        fills.into_iter().for_each(|ev| self.emit_match(ts_ns, ev));
    }

    fn fail_tick(&mut self, key: EventKey, fed: Result<(), SpanError>) {
        if let Err(e) = fed {
            self.failed = Some(EngineError::BadTick { src: key.source, row: key.seq, detail: e.to_string() });
        }
    }

    // Another instrument's ticks only reach its own matcher (and its klines Python). In bars
    // mode only the one-minute klines fill orders: one fill model per run, whatever other
    // sources the scenario happens to carry.
    #[inline(always)]
    fn process_trade(&mut self, key: EventKey, t: &Trade) {
        let instrument = self.enter(key);
        let mut fills = Vec::new();
        if instrument != 0 {
            if !self.bars_mode {
                self.matchers[instrument].on_trade(t, &mut |f| fills.push(f));
            }
        } else {
            self.last_price = t.price;
            if !self.bars_mode {
                self.matchers[0].on_trade(t, &mut |f| fills.push(f));
                self.bars.on_trade(t);
                let fed = self.features.on_trade(t);
                self.fail_tick(key, fed);
            }
        }
        self.emit_matches(key.ts_ns, fills);
    }

    #[inline(always)]
    fn process_quote(&mut self, key: EventKey, q: &Quote) {
        let instrument = self.enter(key);
        let mut fills = Vec::new();
        if instrument != 0 {
            if !self.bars_mode {
                self.matchers[instrument].on_quote(q, &mut |f| fills.push(f));
            }
        } else {
            if !self.bars_mode {
                self.matchers[0].on_quote(q, &mut |f| fills.push(f));
            }
            self.bars.on_quote(q);
            self.features.on_quote(q);
        }
        self.emit_matches(key.ts_ns, fills);
    }

    fn process_kline(&mut self, key: EventKey, k: &Kline) {
        let instrument = self.enter(key);
        let mut fills = Vec::new();
        let one_minute = self.bars_mode && k.interval_ns == NS_PER_MIN;
        if instrument != 0 {
            if one_minute {
                self.matchers[instrument].on_kline(k, &mut |f| fills.push(f));
            }
            self.outbox.push(EngineEvent::Kline { key, kline: *k });
        } else {
            self.last_price = k.close;
            self.outbox.push(EngineEvent::Kline { key, kline: *k });
            if one_minute {
                self.matchers[0].on_kline(k, &mut |f| fills.push(f));
                self.bars.on_kline(k);
                let fed = self.features.on_kline(k);
                self.fail_tick(key, fed);
            }
        }
        self.emit_matches(key.ts_ns, fills);
    }

    /// Whether the tick is the one-minute kline of the minute ending at its timestamp (bars mode).
    fn is_bar_of_open_minute(&self, key: &EventKey, tick: &Tick) -> bool {
        self.bars_mode
            && self.source_instrument.get(key.source as usize).copied().unwrap_or(0) == 0
            && matches!(tick, Tick::Kline(k) if k.interval_ns == NS_PER_MIN)
    }

    /// See the module documentation. Fails once a tick could not be taken; the run is over.
    pub fn advance_to(&mut self, t_ns: i64) -> Result<Advance, EngineError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let step = self.step_to(t_ns);
        match self.failed.take() {
            Some(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
            None => Ok(step),
        }
    }

    fn step_to(&mut self, t_ns: i64) -> Advance {
        loop {
            if self.failed.is_some() {
                return Advance::Reached;
            }
            let pending = self.outbox.iter().map(|e| e.key().ts_ns).min();
            let limit = pending.map_or(t_ns, |p| p.min(t_ns));
            match self.merger.peek_run(limit) {
                RunStep::Starved(s) => return Advance::Starved(s),
                RunStep::Run { source, bound } => self.run_source(source, bound, limit),
                RunStep::Reached => {
                    // Every tick up to `limit` is in: make what falls due by then before handing
                    // anything back, so that a bar's fill (stamped at its close) never leaves
                    // ahead of the minute close of the same instant.
                    if self.next_funding_ns().is_some_and(|f| f <= limit) {
                        self.emit_funding();
                        continue;
                    }
                    if self.bars.current_end().is_some_and(|end| end <= limit) {
                        self.close_minutes_through(limit);
                        continue;
                    }
                    if !self.outbox.is_empty() {
                        return self.take_outbox();
                    }
                    self.now_ns = self.now_ns.max(t_ns);
                    return Advance::Reached;
                }
            }
        }
    }

    /// Consumes the rows of `source` that come next in the total order (keys below `bound`,
    /// stamped at or before `limit`), until one of them is due after something the engine
    /// makes (a funding or a minute close) or an event for Python is waiting; `step_to` then
    /// looks at every source again.
    fn run_source(&mut self, source: u32, bound: EventKey, limit: i64) {
        // One loop per kind of source, so each row is read straight from the buffer.
        match self.merger.sources()[source as usize].kind {
            SourceKind::Trades => {
                while let Some(&(t, row)) = self.merger.trade_head(source) {
                    let key = EventKey::new(t.ts_ns, EventKind::Trade, source, row);
                    if !self.may_take(key, bound, limit, false) {
                        return;
                    }
                    self.merger.pop(key);
                    self.process_trade(key, &t);
                    if self.failed.is_some() || !self.outbox.is_empty() {
                        return;
                    }
                }
            }
            SourceKind::Quotes => {
                while let Some(&(q, row)) = self.merger.quote_head(source) {
                    let key = EventKey::new(q.ts_ns, EventKind::Quote, source, row);
                    if !self.may_take(key, bound, limit, false) {
                        return;
                    }
                    self.merger.pop(key);
                    self.process_quote(key, &q);
                    if self.failed.is_some() || !self.outbox.is_empty() {
                        return;
                    }
                }
            }
            SourceKind::Klines => {
                while let Some((key, tick)) = self.merger.head(source) {
                    let bar_of_open_minute = self.is_bar_of_open_minute(&key, &tick);
                    if !self.may_take(key, bound, limit, bar_of_open_minute) {
                        return;
                    }
                    self.merger.pop(key);
                    self.process(key, tick);
                    if self.failed.is_some() || !self.outbox.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    /// Whether the tick with `key` can be consumed now, as the next row of a run below `bound`;
    /// when a funding or a minute close is due first, makes it and says no.
    #[inline(always)]
    fn may_take(&mut self, key: EventKey, bound: EventKey, limit: i64, bar_of_open_minute: bool) -> bool {
        if key >= bound || key.ts_ns > limit {
            return false;
        }
        // Funding before a later tick: its mark is the market as of its own time.
        if self.next_funding_ns().is_some_and(|f| f < key.ts_ns) {
            self.emit_funding();
            return false;
        }
        // A tick at or after the end of the open minute belongs to a later minute: the minute
        // is finished first (its snapshot excludes the tick), though its close event sorts
        // after market data stamped at the same instant.
        if let Some(end) = self.bars.current_end() {
            if end < key.ts_ns || (end == key.ts_ns && !bar_of_open_minute) {
                let through = if bar_of_open_minute { key.ts_ns - 1 } else { key.ts_ns };
                self.close_minutes_through(through);
                return false;
            }
        }
        true
    }

    /// Submits a simulated order at `ts_ns` (the handler's time). Its acknowledgement and its
    /// fills come back later from `advance_to`, never as a return value.
    pub fn submit_order(&mut self, req: OrderRequest, ts_ns: i64) -> Result<(), EngineError> {
        if ts_ns < self.now_ns {
            return Err(EngineError::SubmitInThePast { ts_ns, now_ns: self.now_ns });
        }
        let (status, reason) = match self.matchers.get_mut(req.instrument as usize) {
            None => (OrderStatus::Rejected, format!("unknown instrument {}", req.instrument)),
            Some(_) if self.order_instrument.contains_key(&req.order_id) => {
                (OrderStatus::Rejected, format!("duplicate order id {}", req.order_id))
            }
            Some(m) => match m.submit(req, ts_ns) {
                Ok(()) => {
                    self.order_instrument.insert(req.order_id, req.instrument);
                    (OrderStatus::Accepted, String::new())
                }
                Err(reason) => (OrderStatus::Rejected, reason),
            },
        };
        let key = self.make_key(ts_ns, EventKind::OrderUpdate);
        self.outbox.push(EngineEvent::OrderUpdate { key, order_id: req.order_id, status, reason });
        Ok(())
    }

    pub fn cancel_order(&mut self, order_id: u64, ts_ns: i64) -> Result<(), EngineError> {
        if ts_ns < self.now_ns {
            return Err(EngineError::SubmitInThePast { ts_ns, now_ns: self.now_ns });
        }
        let instrument = self.order_instrument.get(&order_id).copied().unwrap_or(0) as usize;
        let (status, reason) = match self.matchers[instrument].cancel(order_id) {
            Ok(()) => (OrderStatus::Cancelled, String::new()),
            Err(reason) => (OrderStatus::CancelRejected, reason),
        };
        let key = self.make_key(ts_ns, EventKind::OrderUpdate);
        self.outbox.push(EngineEvent::OrderUpdate { key, order_id, status, reason });
        Ok(())
    }
}
