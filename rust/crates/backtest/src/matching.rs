//! The simulated matching engine (spec §12.2, DESIGN §8).
//!
//! * A market order fills in full at the first quote stamped strictly after its submission:
//!   a buy at ask + slippage ticks, a sell at bid − slippage ticks, taker fee.
//! * A resting limit order fills in full at its own price, maker fee, when a later trade prints
//!   through it (strictly beyond the price) or the opposite quote crosses it (ask ≤ a buy limit,
//!   bid ≥ a sell limit).
//!
//! Every fill carries the mid of the market it filled against, so the spread paid can be
//! measured: the mid of the quote it filled on, or for a limit filled by a trade print the mid of
//! the latest quote at that time (NaN before the first quote).
//!
//! **Bars mode** (`on_kline`; the engine calls it instead of `on_quote`/`on_trade` when features
//! come from one-minute klines and there is no book to fill against):
//!
//! * A one-minute kline is the market for every order submitted at or before its open time
//!   (`open_ts ≥ submit_ts`): a decision at minute close T submits at T, and the kline opening at
//!   T holds only prices printed at or after the decision instant, never the bar that was decided on.
//! * A market buy fills at the kline's open + slippage ticks, a sell at open − slippage ticks,
//!   taker fee. A resting limit buy fills at its price, maker fee, when the kline's low is strictly
//!   below it; a sell when the high is strictly above it.
//! * The fill is stamped at the kline's close (its event time, `open_ts + interval`): the simulator
//!   knows the bar only then, so a fill is always strictly after the decision.
//! * The fill's mid is the kline's open for a market order and the limit price for a limit.
//! * A bar has no spread; an instrument may give one (`InstrumentModel::bar_spread_bps`, the
//!   per-instrument spread model of DESIGN §9): a market buy then fills at open × (1 + spread/2),
//!   a sell at open × (1 − spread/2), before the slippage ticks.
//! * How resting limits fill is the instrument's `FillModel`: `Touch` (trade strictly through, as
//!   above) or `Probabilistic` (the seeds' simulator: each bar fills with probability p).
//!
//! Fees are linear (`price × qty × bps`, in the quote currency) or, for an inverse contract of
//! value CV, in the coin: `qty × CV / price × bps`.
//!
//! Open orders are kept in a `BTreeMap` by id, so orders that fill on the same tick fill in the
//! order they were submitted, in every process.

use std::collections::BTreeMap;

use sim_core::{Kline, Quote, Trade};

use sim_core::price::{price_of, tick_index};

use crate::fill_model::FillModel;

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
        InstrumentModel { tick, fees, contract_value: 0.0, bar_spread_bps: 0.0, fill_model: FillModel::Touch }
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

#[derive(Debug, Clone, Copy)]
struct Resting {
    req: OrderRequest,
    submit_ts_ns: i64,
}

#[derive(Debug, Clone)]
pub struct Matcher {
    tick: f64,
    fees: FeeModel,
    model: InstrumentModel,
    open: BTreeMap<u64, Resting>,
    known: std::collections::BTreeSet<u64>,
    /// Mid of the latest quote seen, for limits that a trade print fills.
    last_mid: f64,
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
        self.known.insert(req.order_id);
        self.open.insert(req.order_id, Resting { req, submit_ts_ns: ts_ns });
        Ok(())
    }

    pub fn cancel(&mut self, order_id: u64) -> Result<(), String> {
        self.open.remove(&order_id).map(|_| ()).ok_or_else(|| format!("order {order_id} is not open"))
    }

    fn fill(&self, r: &Resting, price: f64, maker: bool, mid: f64) -> SimFill {
        let bps = if maker { self.fees.maker_bps } else { self.fees.taker_bps };
        let notional = if self.model.contract_value > 0.0 {
            r.req.qty * self.model.contract_value / price
        } else {
            price * r.req.qty
        };
        let fee = notional * bps / 10_000.0;
        SimFill { order_id: r.req.order_id, side: r.req.side, price, qty: r.req.qty, fee, maker, mid }
    }

    /// A market order's price: `reference` moved by the slippage ticks against the order.
    fn market_price(&self, r: &Resting, reference: f64) -> f64 {
        let slip = r.req.side.sign() as i64 * r.req.slippage_ticks;
        price_of(tick_index(reference, self.tick) + slip, self.tick)
    }

    pub fn on_quote(&mut self, q: &Quote, out: &mut impl FnMut(SimFill)) {
        let mid = (q.bid_px + q.ask_px) / 2.0;
        // Kept even with no open order: a limit submitted later may fill on a print before the
        // next quote, and its mid is this one.
        self.last_mid = mid;
        if self.open.is_empty() {
            return;
        }
        let mut done = Vec::new();
        for (id, r) in &self.open {
            if r.submit_ts_ns >= q.ts_ns {
                continue;
            }
            let fill = match (r.req.order_type, r.req.side) {
                (OrderType::Market, Side::Buy) => Some(self.fill(r, self.market_price(r, q.ask_px), false, mid)),
                (OrderType::Market, Side::Sell) => Some(self.fill(r, self.market_price(r, q.bid_px), false, mid)),
                (OrderType::Limit, Side::Buy) if q.ask_px <= r.req.limit_px => Some(self.fill(r, r.req.limit_px, true, mid)),
                (OrderType::Limit, Side::Sell) if q.bid_px >= r.req.limit_px => Some(self.fill(r, r.req.limit_px, true, mid)),
                _ => None,
            };
            if let Some(f) = fill {
                out(f);
                done.push(*id);
            }
        }
        for id in done {
            self.open.remove(&id);
        }
    }

    pub fn on_trade(&mut self, t: &Trade, out: &mut impl FnMut(SimFill)) {
        if self.open.is_empty() {
            return;
        }
        let mut done = Vec::new();
        for (id, r) in &self.open {
            if r.submit_ts_ns >= t.ts_ns || r.req.order_type != OrderType::Limit {
                continue;
            }
            let through = match r.req.side {
                Side::Buy => t.price < r.req.limit_px,
                Side::Sell => t.price > r.req.limit_px,
            };
            if through {
                out(self.fill(r, r.req.limit_px, true, self.last_mid));
                done.push(*id);
            }
        }
        for id in done {
            self.open.remove(&id);
        }
    }

    /// Bars mode: a one-minute kline fills the orders submitted at or before its open (see the
    /// module documentation). The caller stamps the fills at the kline's close.
    pub fn on_kline(&mut self, k: &Kline, out: &mut impl FnMut(SimFill)) {
        if self.open.is_empty() {
            return;
        }
        let mut done = Vec::new();
        for (id, r) in &self.open {
            if r.submit_ts_ns > k.open_ts_ns {
                continue;
            }
            let limit = r.req.limit_px;
            let half = self.model.bar_spread_bps / 2.0 / 10_000.0;
            let buy = r.req.side == Side::Buy;
            let fill = match r.req.order_type {
                OrderType::Market => {
                    let touch = k.open * (1.0 + r.req.side.sign() * half);
                    Some(self.fill(r, self.market_price(r, touch), false, k.open))
                }
                OrderType::Limit if self.model.fill_model.limit_fills(buy, limit, k.low, k.high, *id, k.open_ts_ns) => {
                    Some(self.fill(r, limit, true, limit))
                }
                OrderType::Limit => None,
            };
            if let Some(f) = fill {
                out(f);
                done.push(*id);
            }
        }
        for id in done {
            self.open.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(ts: i64, bid: f64, ask: f64) -> Quote {
        Quote { ts_ns: ts, bid_px: bid, bid_sz: 1.0, ask_px: ask, ask_sz: 1.0 }
    }

    fn req(id: u64, side: Side, order_type: OrderType, limit_px: f64) -> OrderRequest {
        OrderRequest { order_id: id, instrument: 0, side, order_type, qty: 2.0, limit_px, slippage_ticks: 1 }
    }

    #[test]
    fn market_fills_at_first_quote_strictly_after_submission_with_slippage() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        m.submit(req(1, Side::Buy, OrderType::Market, f64::NAN), 100).unwrap();
        m.submit(req(2, Side::Sell, OrderType::Market, f64::NAN), 100).unwrap();
        let mut fills = Vec::new();
        m.on_quote(&q(100, 100.0, 100.1), &mut |f| fills.push(f));
        assert!(fills.is_empty(), "a quote at the decision instant is not after it");
        m.on_quote(&q(101, 100.0, 100.1), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 2);
        assert_eq!(fills[0].price, 100.2);
        assert_eq!(fills[1].price, 99.9);
        assert!((fills[0].fee - 100.2 * 2.0 * 5.0 / 10_000.0).abs() < 1e-12);
        assert!(!fills[0].maker);
        assert_eq!((fills[0].mid, fills[1].mid), (100.05, 100.05), "the mid of the quote filled on");
    }

    #[test]
    fn limits_fill_on_a_trade_through_or_a_crossing_quote_at_their_price() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        m.submit(req(1, Side::Buy, OrderType::Limit, 99.0), 0).unwrap();
        m.submit(req(2, Side::Sell, OrderType::Limit, 101.0), 0).unwrap();
        let mut fills = Vec::new();
        let at = |p| Trade { ts_ns: 5, price: p, size: 1.0, side: 0, trade_id: -1 };
        m.on_trade(&at(99.0), &mut |f| fills.push(f));
        assert!(fills.is_empty(), "a print at the limit is not through it");
        m.on_trade(&at(98.9), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 1);
        assert_eq!((fills[0].order_id, fills[0].price, fills[0].maker), (1, 99.0, true));
        assert!(fills[0].fee < 0.0);
        assert!(fills[0].mid.is_nan(), "no quote yet: no mid");
        m.on_quote(&q(6, 101.0, 101.1), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 2);
        assert_eq!((fills[1].order_id, fills[1].mid), (2, 101.05));
    }

    #[test]
    fn a_limit_filled_by_a_print_carries_the_mid_of_the_latest_quote() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        // The quote comes while nothing is open; the order that the print fills comes after it.
        m.on_quote(&q(1, 99.5, 99.7), &mut |_| panic!("nothing is open"));
        m.submit(req(1, Side::Buy, OrderType::Limit, 99.0), 2).unwrap();
        let mut fills = Vec::new();
        m.on_trade(&Trade { ts_ns: 3, price: 98.9, size: 1.0, side: -1, trade_id: 1 }, &mut |f| fills.push(f));
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].mid, 99.6);
    }

    fn kline(open_ts: i64, open: f64, high: f64, low: f64, close: f64) -> Kline {
        Kline { open_ts_ns: open_ts, interval_ns: 60, open, high, low, close, volume: 1.0 }
    }

    #[test]
    fn bars_mode_market_orders_fill_at_the_open_of_a_kline_opening_at_or_after_submission() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        m.submit(req(1, Side::Buy, OrderType::Market, f64::NAN), 60).unwrap();
        m.submit(req(2, Side::Sell, OrderType::Market, f64::NAN), 60).unwrap();
        let mut fills = Vec::new();
        m.on_kline(&kline(0, 100.0, 101.0, 99.0, 100.5), &mut |f| fills.push(f));
        assert!(fills.is_empty(), "a kline that opened before the decision holds prices from before it");
        m.on_kline(&kline(60, 100.5, 102.0, 100.0, 101.0), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 2);
        assert_eq!((fills[0].order_id, fills[0].price, fills[0].maker, fills[0].mid), (1, 100.6, false, 100.5));
        assert_eq!((fills[1].order_id, fills[1].price, fills[1].maker, fills[1].mid), (2, 100.4, false, 100.5));
        assert!((fills[0].fee - 100.6 * 2.0 * 5.0 / 10_000.0).abs() < 1e-12);
        assert_eq!(m.open_orders(), 0);
    }

    #[test]
    fn bars_mode_limits_fill_at_their_price_only_when_the_bar_trades_strictly_through() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        m.submit(req(1, Side::Buy, OrderType::Limit, 99.0), 0).unwrap();
        m.submit(req(2, Side::Sell, OrderType::Limit, 101.0), 0).unwrap();
        let mut fills = Vec::new();
        m.on_kline(&kline(0, 100.0, 101.0, 99.0, 100.0), &mut |f| fills.push(f));
        assert!(fills.is_empty(), "touching the limit is not trading through it");
        m.on_kline(&kline(60, 100.0, 100.5, 98.9, 99.5), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 1);
        assert_eq!((fills[0].order_id, fills[0].price, fills[0].maker, fills[0].mid), (1, 99.0, true, 99.0));
        assert!(fills[0].fee < 0.0);
        m.on_kline(&kline(120, 100.0, 101.1, 99.9, 101.0), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 2);
        assert_eq!((fills[1].order_id, fills[1].price, fills[1].maker), (2, 101.0, true));
    }

    #[test]
    fn bars_mode_a_limit_submitted_inside_a_bar_waits_for_the_next_one() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        m.submit(req(1, Side::Buy, OrderType::Limit, 99.0), 30).unwrap();
        let mut fills = Vec::new();
        m.on_kline(&kline(0, 100.0, 100.0, 90.0, 95.0), &mut |f| fills.push(f));
        assert!(fills.is_empty(), "the bar's low may have printed before the order existed");
        m.on_kline(&kline(60, 95.0, 96.0, 94.0, 95.0), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 1);
    }

    #[test]
    fn rejects_and_cancels() {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        assert!(m.submit(OrderRequest { qty: 0.0, ..req(1, Side::Buy, OrderType::Market, 0.0) }, 0).is_err());
        m.submit(req(2, Side::Buy, OrderType::Limit, 10.0), 0).unwrap();
        assert!(m.submit(req(2, Side::Buy, OrderType::Limit, 10.0), 0).is_err());
        m.cancel(2).unwrap();
        assert!(m.cancel(2).is_err());
        assert_eq!(m.open_orders(), 0);
    }

    #[test]
    fn bars_mode_spread_model_and_inverse_fees() {
        let fees = FeeModel { taker_bps: 5.0, maker_bps: 1.0 };
        let model = InstrumentModel { contract_value: 100.0, bar_spread_bps: 4.0, ..InstrumentModel::linear(0.1, fees) };
        let mut m = Matcher::with_model(model);
        m.submit(OrderRequest { qty: 10.0, ..req(1, Side::Buy, OrderType::Market, f64::NAN) }, 0).unwrap();
        m.submit(OrderRequest { qty: 10.0, slippage_ticks: 0, ..req(2, Side::Sell, OrderType::Market, f64::NAN) }, 0).unwrap();
        let mut fills = Vec::new();
        m.on_kline(&kline(0, 50_000.0, 50_100.0, 49_900.0, 50_000.0), &mut |f| fills.push(f));
        // half of 4 bps of 50 000 is 10: the buy at 50 010 + 1 tick, the sell at 49 990.
        assert_eq!((fills[0].price, fills[1].price), (50_010.1, 49_990.0));
        assert_eq!((fills[0].mid, fills[1].mid), (50_000.0, 50_000.0));
        // 10 contracts of 100 USD at 50 010.1: 1000 / 50 010.1 BTC, taker 5 bps, in BTC.
        assert!((fills[0].fee - 1000.0 / 50_010.1 * 5.0 / 10_000.0).abs() < 1e-15);
    }

    #[test]
    fn bars_mode_probabilistic_limits_fill_with_the_seeded_draw_whatever_the_range() {
        let fees = FeeModel { taker_bps: 5.0, maker_bps: 1.0 };
        let seed = 11;
        let model = InstrumentModel { fill_model: FillModel::Probabilistic { p: 0.5, seed }, ..InstrumentModel::linear(0.1, fees) };
        let mut m = Matcher::with_model(model);
        for id in 1..=200 {
            m.submit(req(id, Side::Buy, OrderType::Limit, 10.0), 0).unwrap();
        }
        let mut fills = Vec::new();
        m.on_kline(&kline(0, 100.0, 101.0, 99.0, 100.0), &mut |f| fills.push(f));
        let expected: Vec<u64> = (1..=200).filter(|&id| crate::fill_model::fill_draw(seed, id, 0) < 0.5).collect();
        assert_eq!(fills.iter().map(|f| f.order_id).collect::<Vec<_>>(), expected);
        assert!(fills.iter().all(|f| f.price == 10.0 && f.maker));
        assert!(expected.len() > 70 && expected.len() < 130);
        assert_eq!(m.open_orders(), 200 - expected.len());
    }
}
