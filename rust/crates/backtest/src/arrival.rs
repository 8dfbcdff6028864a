//! What an order does when it reaches the book: Bybit's rules for order types and time in force,
//! on level-1 data (docs/ORDER_SEMANTICS.md).
//!
//! An order arrives at the first market the simulator has strictly after its submission: the
//! first quote stamped after it (tick mode), or the open of the first one-minute kline opening at
//! or after it (bars mode). There the book is one price a side, the `Touch`:
//!
//! * a market order takes the touch moved by its slippage ticks against it;
//! * a limit that crosses the touch (a buy at or above the ask, a sell at or below the bid)
//!   executes at once as taker at the touch — never worse than its limit, since crossing means
//!   the touch is at or inside it; a PostOnly that would cross is cancelled instead;
//! * a limit that does not cross rests (GTC, PostOnly) or is cancelled (IOC, FOK).
//!
//! Level 1 carries no depth, so the whole quantity executes at the touch or nothing does: IOC and
//! FOK differ only in their cancel reason. The reasons begin with Bybit's `rejectReason`.
//!
//! Prices are on the tick grid (`sim_core::price`), so a bar's touch with a spread model, which is
//! not, is judged and filled at its nearest tick.

use sim_core::price::{price_of, tick_index};

use crate::matching::{OrderRequest, OrderType, Side};

/// How long an order works (Bybit's `timeInForce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeInForce {
    /// Good till cancelled: crosses at once, or rests.
    #[default]
    Gtc,
    /// Immediate or cancel: what crosses on arrival executes, the rest is cancelled.
    Ioc,
    /// Fill or kill: all on arrival or nothing.
    Fok,
    /// Maker only: cancelled if it would cross on arrival.
    PostOnly,
}

impl TimeInForce {
    /// Bybit's spelling.
    pub fn name(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
            TimeInForce::PostOnly => "PostOnly",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::PostOnly,
        ]
        .into_iter()
        .find(|t| t.name() == text)
    }
}

/// The level-1 book an order arrives at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Touch {
    pub bid: f64,
    pub ask: f64,
    /// The mid a fill against this book reports (`SimFill::mid`).
    pub mid: f64,
}

impl Touch {
    pub fn quote(bid: f64, ask: f64) -> Self {
        Touch {
            bid,
            ask,
            mid: (bid + ask) / 2.0,
        }
    }

    /// A bar's open as a book: the instrument's bar spread (bps of the price, 0 = none) split
    /// around it. Written as `open × (1 ± half)` because market orders have always priced so.
    pub fn bar_open(open: f64, bar_spread_bps: f64) -> Self {
        let half = bar_spread_bps / 2.0 / 10_000.0;
        Touch {
            bid: open * (1.0 + Side::Sell.sign() * half),
            ask: open * (1.0 + Side::Buy.sign() * half),
            mid: open,
        }
    }

    /// The price a taker on `side` meets: the ask for a buy, the bid for a sell.
    pub fn far(&self, side: Side) -> f64 {
        match side {
            Side::Buy => self.ask,
            Side::Sell => self.bid,
        }
    }
}

/// What happens to an order on arrival.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// Executes at once, as taker, at `price`.
    Take { price: f64 },
    /// Goes on the book; it can fill later, at its own price, as maker.
    Rest,
    /// Cancelled on arrival; the reason begins with Bybit's `rejectReason`.
    Cancel(String),
}

/// Whether a limit on `side` at `limit` crosses a book whose far side is `far_px`.
pub fn crosses(side: Side, limit: f64, far_px: f64) -> bool {
    match side {
        Side::Buy => far_px <= limit,
        Side::Sell => far_px >= limit,
    }
}

/// The order's fate on arrival at `book` (see the module documentation).
pub fn arrive(req: &OrderRequest, book: &Touch, tick: f64) -> Arrival {
    let far = tick_index(book.far(req.side), tick);
    if req.order_type == OrderType::Market {
        let slip = req.side.sign() as i64 * req.slippage_ticks;
        return Arrival::Take {
            price: price_of(far + slip, tick),
        };
    }
    let far_px = price_of(far, tick);
    let side = if req.side == Side::Buy { "buy" } else { "sell" };
    let touch = if req.side == Side::Buy { "ask" } else { "bid" };
    if crosses(req.side, req.limit_px, far_px) {
        return match req.time_in_force {
            TimeInForce::PostOnly => Arrival::Cancel(format!(
                "EC_PostOnlyWillTakeLiquidity: PostOnly {side} at {} would take the {touch} {far_px}",
                req.limit_px
            )),
            _ => Arrival::Take { price: far_px },
        };
    }
    match req.time_in_force {
        TimeInForce::Gtc | TimeInForce::PostOnly => Arrival::Rest,
        TimeInForce::Ioc => Arrival::Cancel(format!(
            "EC_NoImmediateQtyToFill: IOC {side} at {} does not reach the {touch} {far_px}",
            req.limit_px
        )),
        TimeInForce::Fok => Arrival::Cancel(format!(
            "EC_CancelForNoFullFill: FOK {side} at {} does not reach the {touch} {far_px}",
            req.limit_px
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(side: Side, px: f64, tif: TimeInForce) -> OrderRequest {
        OrderRequest {
            order_id: 1,
            instrument: 0,
            side,
            order_type: OrderType::Limit,
            qty: 1.0,
            limit_px: px,
            slippage_ticks: 3,
            time_in_force: tif,
            reduce_only: false,
        }
    }

    #[test]
    fn tif_names_round_trip_and_unknown_ones_are_refused() {
        for t in [
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::PostOnly,
        ] {
            assert_eq!(TimeInForce::parse(t.name()), Some(t));
        }
        assert_eq!(TimeInForce::parse("gtc"), None);
    }

    #[test]
    fn a_crossing_limit_takes_the_touch_without_slippage_and_a_touching_one_crosses() {
        let book = Touch::quote(99.9, 100.0);
        assert_eq!(
            arrive(&limit(Side::Buy, 100.5, TimeInForce::Gtc), &book, 0.1),
            Arrival::Take { price: 100.0 }
        );
        assert_eq!(
            arrive(&limit(Side::Buy, 100.0, TimeInForce::Gtc), &book, 0.1),
            Arrival::Take { price: 100.0 }
        );
        assert_eq!(
            arrive(&limit(Side::Buy, 99.9, TimeInForce::Gtc), &book, 0.1),
            Arrival::Rest
        );
        assert_eq!(
            arrive(&limit(Side::Sell, 99.0, TimeInForce::Ioc), &book, 0.1),
            Arrival::Take { price: 99.9 }
        );
        assert_eq!(
            arrive(&limit(Side::Sell, 100.0, TimeInForce::Gtc), &book, 0.1),
            Arrival::Rest
        );
    }

    #[test]
    fn tif_decides_what_does_not_cross_and_post_only_what_does() {
        let book = Touch::quote(99.9, 100.0);
        let cancel_reason = |r: Arrival| match r {
            Arrival::Cancel(s) => s,
            other => panic!("{other:?}"),
        };
        assert!(cancel_reason(arrive(
            &limit(Side::Buy, 99.5, TimeInForce::Ioc),
            &book,
            0.1
        ))
        .starts_with("EC_NoImmediateQtyToFill"));
        assert!(cancel_reason(arrive(
            &limit(Side::Buy, 99.5, TimeInForce::Fok),
            &book,
            0.1
        ))
        .starts_with("EC_CancelForNoFullFill"));
        assert!(cancel_reason(arrive(
            &limit(Side::Buy, 100.0, TimeInForce::PostOnly),
            &book,
            0.1
        ))
        .starts_with("EC_PostOnlyWillTakeLiquidity"));
        assert_eq!(
            arrive(&limit(Side::Sell, 100.1, TimeInForce::PostOnly), &book, 0.1),
            Arrival::Rest
        );
        assert_eq!(
            arrive(&limit(Side::Buy, 100.0, TimeInForce::Fok), &book, 0.1),
            Arrival::Take { price: 100.0 }
        );
    }

    #[test]
    fn a_bar_touch_off_the_grid_is_judged_at_its_nearest_tick_and_never_worse_than_the_limit() {
        // 4 bps around 50 000.03: the ask is 50 010.03..., its tick 50 010.0.
        let book = Touch::bar_open(50_000.03, 4.0);
        assert_eq!(
            arrive(&limit(Side::Buy, 50_010.0, TimeInForce::Gtc), &book, 0.1),
            Arrival::Take { price: 50_010.0 }
        );
        assert_eq!(
            arrive(&limit(Side::Buy, 50_009.9, TimeInForce::Gtc), &book, 0.1),
            Arrival::Rest
        );
        assert_eq!(book.mid, 50_000.03);
        let mut market = limit(Side::Sell, f64::NAN, TimeInForce::Gtc);
        market.order_type = OrderType::Market;
        assert_eq!(
            arrive(&market, &book, 0.1),
            Arrival::Take { price: 49_989.7 }
        );
    }
}
