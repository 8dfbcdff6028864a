//! Property: from any position, any sequence of reduce-only orders — market or limit, any side,
//! size and time in force, over any quotes, prints and bars — never changes the sign of the
//! position and never grows it.

use proptest::prelude::*;
use sim_backtest::{FeeModel, MatchEvent, Matcher, OrderRequest, OrderType, Side, TimeInForce};
use sim_core::{Kline, Quote, Trade};

#[derive(Debug, Clone)]
enum Step {
    Submit { buy: bool, limit: Option<i64>, lots: u32, tif: u8 },
    Quote { bid: i64 },
    Print { px: i64 },
    Bar { open: i64, down: i64, up: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), proptest::option::of(990i64..1010), 1u32..400, 0u8..4)
            .prop_map(|(buy, limit, lots, tif)| Step::Submit { buy, limit, lots, tif }),
        (990i64..1010).prop_map(|bid| Step::Quote { bid }),
        (985i64..1015).prop_map(|px| Step::Print { px }),
        (990i64..1010, 0i64..10, 0i64..10).prop_map(|(open, down, up)| Step::Bar { open, down, up }),
    ]
}

/// Tick index to price at a 0.1 tick.
fn px(i: i64) -> f64 {
    i as f64 / 10.0
}

proptest! {
    #[test]
    fn reduce_only_orders_never_flip_or_grow_the_position(
        long in any::<bool>(),
        start_lots in 1u32..300,
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut m = Matcher::new(0.1, FeeModel { taker_bps: 5.0, maker_bps: -1.0 });
        let side = if long { Side::Buy } else { Side::Sell };
        // Lots of 0.001: decimal quantities whose float sums are not exact.
        let opening = OrderRequest { order_id: 1, side, qty: start_lots as f64 * 0.001, ..Default::default() };
        m.submit(opening, 0).unwrap();
        m.on_quote(&Quote { ts_ns: 1, bid_px: 100.0, bid_sz: 1.0, ask_px: 100.1, ask_sz: 1.0 }, &mut |_| {});
        let start = m.position();
        prop_assert!(start != 0.0);
        let mut last = start.abs();
        let mut ts = 1;
        let mut id = 1;
        for s in steps {
            ts += 10;
            let mut sink = |_: MatchEvent| {};
            match s {
                Step::Submit { buy, limit, lots, tif } => {
                    id += 1;
                    let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::PostOnly][tif as usize];
                    let (order_type, limit_px, tif) = match limit {
                        Some(l) => (OrderType::Limit, px(l), tif),
                        None => (OrderType::Market, f64::NAN, TimeInForce::Gtc),
                    };
                    let req = OrderRequest {
                        order_id: id,
                        side: if buy { Side::Buy } else { Side::Sell },
                        order_type,
                        qty: lots as f64 * 0.001,
                        limit_px,
                        slippage_ticks: 1,
                        time_in_force: tif,
                        reduce_only: true,
                        ..Default::default()
                    };
                    m.submit(req, ts).unwrap();
                }
                Step::Quote { bid } => {
                    m.on_quote(&Quote { ts_ns: ts, bid_px: px(bid), bid_sz: 1.0, ask_px: px(bid + 1), ask_sz: 1.0 }, &mut sink)
                }
                Step::Print { px: p } => m.on_trade(&Trade { ts_ns: ts, price: px(p), size: 1.0, side: 0, trade_id: -1 }, &mut sink),
                Step::Bar { open, down, up } => {
                    let k = Kline { open_ts_ns: ts, interval_ns: 5, open: px(open), high: px(open + up), low: px(open - down), close: px(open), volume: 1.0 };
                    m.on_kline(&k, &mut sink)
                }
            }
            let now = m.position();
            prop_assert!(now == 0.0 || now.signum() == start.signum(), "position {} from {}", now, start);
            prop_assert!(now.abs() <= last, "position grew from {} to {}", last, now.abs());
            last = now.abs();
        }
    }
}
