//! The simulated matching engine (spec §12.2, DESIGN §8): Bybit's execution rules on level-1
//! data. docs/ORDER_SEMANTICS.md is the full statement; in short:
//!
//! * **Arrival.** An order reaches the book at the first quote stamped strictly after its
//!   submission (bars mode: the open of the first one-minute kline opening at or after it); until
//!   then nothing fills it. There (`crate::arrival`) a market order takes the touch ± slippage
//!   ticks; a limit that crosses the book executes at once as taker at the book's price (buy: ask,
//!   sell: bid), never worse than its limit; a PostOnly that would cross is cancelled; IOC and
//!   FOK cancel what does not cross; GTC and PostOnly limits that do not cross rest.
//! * **Resting limits** fill in full at their own price, maker fee, when a later trade prints
//!   strictly through them or the opposite quote crosses them (ask ≤ a buy limit, bid ≥ a sell
//!   limit); bars mode: as the instrument's `FillModel` says (`Touch`: low strictly below a buy,
//!   high strictly above a sell), from the arrival bar on.
//! * **Reduce-only** (`crate::reduce_only`): the matcher keeps the position its own fills add up
//!   to; a reduce-only order's fill is capped at it, the rest is cancelled, and one with nothing to
//!   reduce — on arrival, or resting after another fill flattened or flipped the position — is
//!   cancelled. It never opens, increases or flips a position.
//!
//! Every fill carries the mid of the market it filled against, so the spread paid can be
//! measured: the mid of the quote it filled on, or for a limit filled by a trade print the mid of
//! the latest quote at that time (NaN before the first quote); in bars mode the kline's open for
//! an order that executed on arrival and the limit price for a resting limit.
//!
//! **Bars mode** (`on_kline`; the engine calls it instead of `on_quote`/`on_trade` when features
//! come from one-minute klines and there is no book to fill against):
//!
//! * A one-minute kline is the market for every order submitted at or before its open time
//!   (`open_ts ≥ submit_ts`): a decision at minute close T submits at T, and the kline opening at
//!   T holds only prices printed at or after the decision instant, never the bar that was decided on.
//! * Its open is the book an order arrives at. A bar has no spread; an instrument may give one
//!   (`InstrumentModel::bar_spread_bps`, the per-instrument spread model of DESIGN §9): the ask is
//!   then open × (1 + spread/2) and the bid open × (1 − spread/2). A market buy fills at the ask
//!   + slippage ticks, a sell at the bid − slippage ticks; a crossing limit at the ask or bid.
//! * A limit that rests on arrival can fill later in the same bar: part of the bar happened
//!   after its arrival at the open.
//! * The fill is stamped at the kline's close (its event time, `open_ts + interval`): the simulator
//!   knows the bar only then, so a fill is always strictly after the decision. So is a cancel.
//! * How resting limits fill is the instrument's `FillModel`: `Touch` (trade strictly through, as
//!   above) or `Probabilistic` (the seeds' simulator: each bar fills with probability p). A limit
//!   that crosses the open executes on arrival whatever the model.
//!
//! Fees are linear (`price × qty × bps`, in the quote currency) or, for an inverse contract of
//! value CV, in the coin: `qty × CV / price × bps`.
//!
//! Open orders are kept in a `BTreeMap` by id, so orders that fill on the same tick fill in the
//! order they were submitted, in every process; the position a reduce-only order is capped at is
//! the one after the fills of lower ids on that tick.

use std::collections::BTreeMap;

use sim_core::{Kline, Quote, Trade};

use crate::arrival::{arrive, crosses, Arrival, TimeInForce, Touch};
use crate::fill_model::FillModel;
use crate::reduce_only::Position;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    Market,
    Limit,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderRequest {
    pub order_id: u64,
    /// The engine's index of the instrument (0: the run's main instrument).
    pub instrument: u32,
    pub side: Side,
    pub order_type: OrderType,
    pub qty: f64,
    /// Limit price; ignored for market orders.
    pub limit_px: f64,
    pub slippage_ticks: i64,
    /// Ignored by market orders, which execute in full on arrival (a market PostOnly is refused).
    pub time_in_force: TimeInForce,
    /// May only shrink the instrument's position (`crate::reduce_only`).
    pub reduce_only: bool,
}

impl Default for OrderRequest {
    /// A GTC market buy of no quantity (which `Matcher::submit` refuses): the base for literals
    /// that name the fields that matter.
    fn default() -> Self {
        OrderRequest {
            order_id: 0,
            instrument: 0,
            side: Side::Buy,
            order_type: OrderType::Market,
            qty: 0.0,
            limit_px: f64::NAN,
            slippage_ticks: 0,
            time_in_force: TimeInForce::Gtc,
            reduce_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Accepted,
    Rejected,
    Cancelled,
    CancelRejected,
}

impl OrderStatus {
    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::Accepted => "accepted",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::CancelRejected => "cancel_rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeeModel {
    pub taker_bps: f64,
    pub maker_bps: f64,
}

/// What the matcher needs to know of an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentModel {
    pub tick: f64,
    pub fees: FeeModel,
    /// USD per contract of an inverse contract (fees in the coin); 0 for a linear instrument.
    pub contract_value: f64,
    /// The spread a bar stands for, in bps of the price (bars mode; 0 = none).
    pub bar_spread_bps: f64,
    pub fill_model: FillModel,
}

impl InstrumentModel {
    pub fn linear(tick: f64, fees: FeeModel) -> Self {
        InstrumentModel {
            tick,
            fees,
            contract_value: 0.0,
            bar_spread_bps: 0.0,
            fill_model: FillModel::Touch,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimFill {
    pub order_id: u64,
    pub side: Side,
    pub price: f64,
    pub qty: f64,
    /// Positive is paid, negative a rebate.
    pub fee: f64,
    pub maker: bool,
    /// The mid of the market the order filled against (see the module documentation); NaN when
    /// there was none.
    pub mid: f64,
}

/// What the matcher hands back: a fill, or an order it cancelled on its own (time in force,
/// PostOnly, reduce-only), with a reason that begins with Bybit's `rejectReason` or `cancelType`.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchEvent {
    Fill(SimFill),
    Cancelled { order_id: u64, reason: String },
}

#[derive(Debug, Clone, Copy)]
struct Working {
    req: OrderRequest,
    submit_ts_ns: i64,
    /// On the book: it has arrived and neither executed nor was cancelled there.
    resting: bool,
}

#[derive(Debug, Clone)]
pub struct Matcher {
    tick: f64,
    fees: FeeModel,
    model: InstrumentModel,
    open: BTreeMap<u64, Working>,
    known: std::collections::BTreeSet<u64>,
    /// Mid of the latest quote seen, for limits that a trade print fills.
    last_mid: f64,
    position: Position,
}

impl Matcher {
    pub fn new(tick: f64, fees: FeeModel) -> Self {
        Self::with_model(InstrumentModel::linear(tick, fees))
    }

    pub fn with_model(model: InstrumentModel) -> Self {
        Matcher {
            tick: model.tick,
            fees: model.fees,
            model,
            open: BTreeMap::new(),
            known: Default::default(),
            last_mid: f64::NAN,
            position: Position::default(),
        }
    }

    pub fn model(&self) -> &InstrumentModel {
        &self.model
    }

    pub fn is_open(&self, order_id: u64) -> bool {
        self.open.contains_key(&order_id)
    }

    pub fn open_orders(&self) -> usize {
        self.open.len()
    }

    /// The net position of this instrument's fills (positive long).
    pub fn position(&self) -> f64 {
        self.position.qty()
    }

    /// Accepts or rejects a new order; the reason says why a rejection happened.
    pub fn submit(&mut self, req: OrderRequest, ts_ns: i64) -> Result<(), String> {
        if self.known.contains(&req.order_id) {
            return Err(format!("duplicate order id {}", req.order_id));
        }
        if !(req.qty.is_finite() && req.qty > 0.0) {
            return Err(format!("quantity {} is not positive", req.qty));
        }
        if req.order_type == OrderType::Limit && !(req.limit_px.is_finite() && req.limit_px > 0.0) {
            return Err(format!("limit price {} is not positive", req.limit_px));
        }
        if req.order_type == OrderType::Market && req.time_in_force == TimeInForce::PostOnly {
            return Err(
                "EC_MarketOrderCannotBePostOnly: a market order always takes liquidity".to_string(),
            );
        }
        self.known.insert(req.order_id);
        self.open.insert(
            req.order_id,
            Working {
                req,
                submit_ts_ns: ts_ns,
                resting: false,
            },
        );
        Ok(())
    }

    pub fn cancel(&mut self, order_id: u64) -> Result<(), String> {
        self.open
            .remove(&order_id)
            .map(|_| ())
            .ok_or_else(|| format!("order {order_id} is not open"))
    }

    fn fill(&self, req: &OrderRequest, price: f64, qty: f64, maker: bool, mid: f64) -> SimFill {
        let bps = if maker {
            self.fees.maker_bps
        } else {
            self.fees.taker_bps
        };
        let notional = if self.model.contract_value > 0.0 {
            qty * self.model.contract_value / price
        } else {
            price * qty
        };
        let fee = notional * bps / 10_000.0;
        SimFill {
            order_id: req.order_id,
            side: req.side,
            price,
            qty,
            fee,
            maker,
            mid,
        }
    }

    /// Executes open order `id` in full at `price`, or for a reduce-only order as much of it as
    /// the position allows (the rest cancelled); it leaves the book either way.
    fn execute(
        &mut self,
        id: u64,
        price: f64,
        maker: bool,
        mid: f64,
        out: &mut impl FnMut(MatchEvent),
    ) {
        let Some(w) = self.open.remove(&id) else {
            return;
        };
        let mut qty = w.req.qty;
        if w.req.reduce_only {
            match self.position.reducible(w.req.side, qty) {
                None => {
                    out(MatchEvent::Cancelled {
                        order_id: id,
                        reason: self.nothing_to_reduce(&w.req),
                    });
                    return;
                }
                Some(allowed) if allowed < qty => {
                    // The update goes first: at one instant an order update sorts before a fill
                    // in the total order anyway, and the reason says what does execute.
                    out(MatchEvent::Cancelled {
                        order_id: id,
                        reason: format!(
                            "CancelByReduceOnly: {allowed} of {qty} executes (the whole position), the rest is cancelled"
                        ),
                    });
                    qty = allowed;
                }
                Some(_) => {}
            }
        }
        let f = self.fill(&w.req, price, qty, maker, mid);
        self.position.apply(f.side, f.qty);
        out(MatchEvent::Fill(f));
    }

    fn nothing_to_reduce(&self, req: &OrderRequest) -> String {
        let side = if req.side == Side::Buy { "buy" } else { "sell" };
        format!(
            "CancelByReduceOnly: nothing to reduce (position {}) for a reduce-only {side}",
            self.position.qty()
        )
    }

    /// The order's fate on arrival at `book`: executed, cancelled, or left resting.
    fn on_arrival(&mut self, id: u64, book: &Touch, out: &mut impl FnMut(MatchEvent)) {
        let req = self.open[&id].req;
        match arrive(&req, book, self.tick) {
            Arrival::Take { price } => self.execute(id, price, false, book.mid, out),
            Arrival::Cancel(reason) => {
                self.open.remove(&id);
                out(MatchEvent::Cancelled {
                    order_id: id,
                    reason,
                });
            }
            Arrival::Rest
                if req.reduce_only && self.position.reducible(req.side, req.qty).is_none() =>
            {
                self.open.remove(&id);
                out(MatchEvent::Cancelled {
                    order_id: id,
                    reason: self.nothing_to_reduce(&req),
                });
            }
            Arrival::Rest => {
                if let Some(w) = self.open.get_mut(&id) {
                    w.resting = true;
                }
            }
        }
    }

    /// Once the position has changed, a resting reduce-only order with nothing left to reduce is
    /// cancelled at once, as Bybit does, rather than when it would have executed.
    fn cancel_stranded_reduce_only(&mut self, out: &mut impl FnMut(MatchEvent)) {
        let stranded: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, w)| {
                w.resting
                    && w.req.reduce_only
                    && self.position.reducible(w.req.side, w.req.qty).is_none()
            })
            .map(|(&id, _)| id)
            .collect();
        for id in stranded {
            let w = self.open.remove(&id).expect("listed above");
            out(MatchEvent::Cancelled {
                order_id: id,
                reason: self.nothing_to_reduce(&w.req),
            });
        }
    }

    /// Visits the open orders in id order, letting `step` execute or cancel the one it is given;
    /// then cancels resting reduce-only orders stranded by the fills of the pass.
    fn pass(
        &mut self,
        out: &mut impl FnMut(MatchEvent),
        mut step: impl FnMut(&mut Self, u64, Working, &mut dyn FnMut(MatchEvent)),
    ) {
        let before = self.position;
        let mut next = 0u64;
        while let Some((&id, &w)) = self.open.range(next..).next() {
            next = id + 1;
            step(self, id, w, &mut *out);
        }
        if self.position != before {
            self.cancel_stranded_reduce_only(out);
        }
    }

    pub fn on_quote(&mut self, q: &Quote, out: &mut impl FnMut(MatchEvent)) {
        let book = Touch::quote(q.bid_px, q.ask_px);
        // Kept even with no open order: a limit submitted later may fill on a print before the
        // next quote, and its mid is this one.
        self.last_mid = book.mid;
        if self.open.is_empty() {
            return;
        }
        self.pass(out, |m, id, w, out| {
            if w.submit_ts_ns >= q.ts_ns {
                return;
            }
            if !w.resting {
                m.on_arrival(id, &book, &mut |e| out(e));
            } else if crosses(w.req.side, w.req.limit_px, book.far(w.req.side)) {
                m.execute(id, w.req.limit_px, true, book.mid, &mut |e| out(e));
            }
        });
    }

    pub fn on_trade(&mut self, t: &Trade, out: &mut impl FnMut(MatchEvent)) {
        if self.open.is_empty() {
            return;
        }
        self.pass(out, |m, id, w, out| {
            // Only a resting limit: an order that has not yet arrived is not on the book.
            let through = match w.req.side {
                Side::Buy => t.price < w.req.limit_px,
                Side::Sell => t.price > w.req.limit_px,
            };
            if w.resting && w.submit_ts_ns < t.ts_ns && through {
                let mid = m.last_mid;
                m.execute(id, w.req.limit_px, true, mid, &mut |e| out(e));
            }
        });
    }

    /// Bars mode: a one-minute kline is the market of the orders submitted at or before its open
    /// (see the module documentation). The caller stamps what comes out at the kline's close.
    pub fn on_kline(&mut self, k: &Kline, out: &mut impl FnMut(MatchEvent)) {
        if self.open.is_empty() {
            return;
        }
        let book = Touch::bar_open(k.open, self.model.bar_spread_bps);
        self.pass(out, |m, id, w, out| {
            if w.submit_ts_ns > k.open_ts_ns {
                return;
            }
            if !w.resting {
                m.on_arrival(id, &book, &mut |e| out(e));
            }
            // Resting now, whether from an earlier bar or since this bar's open.
            let Some(w) = m.open.get(&id).copied().filter(|w| w.resting) else {
                return;
            };
            let buy = w.req.side == Side::Buy;
            if m.model
                .fill_model
                .limit_fills(buy, w.req.limit_px, k.low, k.high, id, k.open_ts_ns)
            {
                m.execute(id, w.req.limit_px, true, w.req.limit_px, &mut |e| out(e));
            }
        });
    }
}
