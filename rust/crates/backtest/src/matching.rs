//! The simulated matching engine (spec §12.2, DESIGN §8).
//!
//! * A market order fills in full at the first quote stamped strictly after its submission:
//!   a buy at ask + slippage ticks, a sell at bid − slippage ticks, taker fee.
//! * A resting limit order fills in full at its own price, maker fee, when a later trade prints
//!   through it (strictly beyond the price) or the opposite quote crosses it (ask ≤ a buy limit,
//!   bid ≥ a sell limit).
//!
//! Open orders are kept in a `BTreeMap` by id, so orders that fill on the same tick fill in the
//! order they were submitted, in every process.

use std::collections::BTreeMap;

use sim_core::{Quote, Trade};

use sim_core::price::{price_of, tick_index};

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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimFill {
    pub order_id: u64,
    pub side: Side,
    pub price: f64,
    pub qty: f64,
    /// Positive is paid, negative a rebate.
    pub fee: f64,
    pub maker: bool,
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
    open: BTreeMap<u64, Resting>,
    known: std::collections::BTreeSet<u64>,
}

impl Matcher {
    pub fn new(tick: f64, fees: FeeModel) -> Self {
        Matcher { tick, fees, open: BTreeMap::new(), known: Default::default() }
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

    fn fill(&self, r: &Resting, price: f64, maker: bool) -> SimFill {
        let bps = if maker { self.fees.maker_bps } else { self.fees.taker_bps };
        let fee = price * r.req.qty * bps / 10_000.0;
        SimFill { order_id: r.req.order_id, side: r.req.side, price, qty: r.req.qty, fee, maker }
    }

    pub fn on_quote(&mut self, q: &Quote, out: &mut impl FnMut(SimFill)) {
        if self.open.is_empty() {
            return;
        }
        let mut done = Vec::new();
        for (id, r) in &self.open {
            if r.submit_ts_ns >= q.ts_ns {
                continue;
            }
            let fill = match (r.req.order_type, r.req.side) {
                (OrderType::Market, Side::Buy) => {
                    Some(self.fill(r, price_of(tick_index(q.ask_px, self.tick) + r.req.slippage_ticks, self.tick), false))
                }
                (OrderType::Market, Side::Sell) => {
                    Some(self.fill(r, price_of(tick_index(q.bid_px, self.tick) - r.req.slippage_ticks, self.tick), false))
                }
                (OrderType::Limit, Side::Buy) if q.ask_px <= r.req.limit_px => Some(self.fill(r, r.req.limit_px, true)),
                (OrderType::Limit, Side::Sell) if q.bid_px >= r.req.limit_px => Some(self.fill(r, r.req.limit_px, true)),
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
                out(self.fill(r, r.req.limit_px, true));
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
        OrderRequest { order_id: id, side, order_type, qty: 2.0, limit_px, slippage_ticks: 1 }
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
        m.on_quote(&q(6, 101.0, 101.1), &mut |f| fills.push(f));
        assert_eq!(fills.len(), 2);
        assert_eq!(fills[1].order_id, 2);
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
}
