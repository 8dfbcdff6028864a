//! The engine's contract with the event loop, on small hand-made streams.

use sim_backtest::{Advance, EngineConfig, EngineEvent, FeeModel, MarketEngine, OrderRequest, OrderStatus, OrderType, Side, TimeInForce};
use sim_core::time::NS_PER_MIN;
use sim_core::{Quote, Trade};
use sim_features::FeatureParams;
use sim_ingestion::{BadRowPolicy, SourceKind};

fn engine() -> (MarketEngine, u32, u32) {
    let mut e = MarketEngine::new(EngineConfig {
        start_ns: Some(0),
        policy: BadRowPolicy::Fail,
        tick_size: 0.1,
        fees: FeeModel { taker_bps: 5.0, maker_bps: -1.0 },
        features: FeatureParams::defaults(0.1),
    });
    let t = e.add_source(SourceKind::Trades);
    let q = e.add_source(SourceKind::Quotes);
    (e, t, q)
}

fn quote(ts: i64, bid: f64) -> Quote {
    Quote { ts_ns: ts, bid_px: bid, bid_sz: 1.0, ask_px: bid + 0.1, ask_sz: 2.0 }
}

fn drain(e: &mut MarketEngine, t: i64) -> Vec<EngineEvent> {
    let mut all = Vec::new();
    loop {
        match e.advance_to(t).unwrap() {
            Advance::Events(ev) => all.extend(ev),
            Advance::Reached => return all,
            Advance::Starved(s) => panic!("starved on {s}"),
        }
    }
}

#[test]
fn a_market_order_at_minute_close_fills_at_the_next_quote_not_one_already_consumed() {
    let (mut e, t, q) = engine();
    e.push_quote(q, quote(10, 100.0), 1).unwrap();
    e.push_trade(t, Trade { ts_ns: 20, price: 100.0, size: 1.0, side: 1, trade_id: 1 }, 1).unwrap();
    // A quote stamped exactly at the minute's end, then one after it.
    e.push_quote(q, quote(NS_PER_MIN, 101.0), 2).unwrap();
    e.push_quote(q, quote(NS_PER_MIN + 5, 102.0), 3).unwrap();
    e.finish_source(t).unwrap();
    e.finish_source(q).unwrap();

    let first = match e.advance_to(10 * NS_PER_MIN).unwrap() {
        Advance::Events(ev) => ev,
        other => panic!("{other:?}"),
    };
    assert_eq!(first.len(), 1);
    let EngineEvent::MinuteClose { key, bar, .. } = &first[0] else { panic!() };
    assert_eq!(key.ts_ns, NS_PER_MIN);
    assert_eq!(bar.bid_px_close, 100.0, "the snapshot is taken before the quote at the end instant");
    assert_eq!(e.now_ns(), NS_PER_MIN, "the quote at the close instant was consumed, the later one not");

    let req = OrderRequest { order_id: 7, instrument: 0, side: Side::Buy, order_type: OrderType::Market, qty: 1.0, limit_px: f64::NAN, slippage_ticks: 1, ..Default::default() };
    e.submit_order(req, key.ts_ns).unwrap();
    let rest = drain(&mut e, 10 * NS_PER_MIN);
    let fills: Vec<_> = rest.iter().filter_map(|ev| if let EngineEvent::Fill { key, fill } = ev { Some((key.ts_ns, fill.price)) } else { None }).collect();
    assert_eq!(fills, vec![(NS_PER_MIN + 5, 102.2)]);
    let closes = rest.iter().filter(|ev| matches!(ev, EngineEvent::MinuteClose { .. })).count();
    assert_eq!(closes, 9, "one close per minute through the end, empty minutes included");
    let keys: Vec<_> = rest.iter().map(|ev| ev.key()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn submitting_in_the_past_is_an_error() {
    let (mut e, t, q) = engine();
    e.finish_source(t).unwrap();
    e.finish_source(q).unwrap();
    drain(&mut e, 5 * NS_PER_MIN);
    let req = OrderRequest { order_id: 1, instrument: 0, side: Side::Sell, order_type: OrderType::Market, qty: 1.0, limit_px: f64::NAN, slippage_ticks: 0, ..Default::default() };
    assert!(e.submit_order(req, NS_PER_MIN).is_err());
}

#[test]
fn the_matchers_own_cancels_come_back_as_order_updates_at_the_arrival_quote_and_the_position_is_kept() {
    let (mut e, t, q) = engine();
    e.push_quote(q, quote(10, 100.0), 1).unwrap();
    e.push_quote(q, quote(30, 100.0), 2).unwrap();
    e.finish_source(t).unwrap();
    e.finish_source(q).unwrap();
    drain(&mut e, 20);
    let limit = |id, side, px, tif| OrderRequest { order_id: id, side, order_type: OrderType::Limit, qty: 1.0, limit_px: px, time_in_force: tif, ..Default::default() };
    e.submit_order(limit(1, Side::Buy, 100.1, TimeInForce::PostOnly), 20).unwrap();
    e.submit_order(limit(2, Side::Buy, 100.5, TimeInForce::Ioc), 20).unwrap();
    e.submit_order(OrderRequest { reduce_only: true, ..limit(3, Side::Buy, 100.5, TimeInForce::Gtc) }, 20).unwrap();
    let ev = drain(&mut e, 40);
    let updates: Vec<(i64, u64, OrderStatus, bool)> = ev
        .iter()
        .filter_map(|x| match x {
            EngineEvent::OrderUpdate { key, order_id, status, reason } => Some((key.ts_ns, *order_id, *status, reason.is_empty())),
            _ => None,
        })
        .collect();
    assert_eq!(updates, vec![
        (20, 1, OrderStatus::Accepted, true),
        (20, 2, OrderStatus::Accepted, true),
        (20, 3, OrderStatus::Accepted, true),
        (30, 1, OrderStatus::Cancelled, false),
        (30, 3, OrderStatus::Cancelled, false),
    ], "the PostOnly would take, the reduce-only has nothing to reduce");
    let fills: Vec<(i64, u64, f64, bool)> =
        ev.iter().filter_map(|x| if let EngineEvent::Fill { key, fill } = x { Some((key.ts_ns, fill.order_id, fill.price, fill.maker)) } else { None }).collect();
    assert_eq!(fills, vec![(30, 2, 100.1, false)], "the IOC takes the ask");
    assert_eq!(e.position(0), Ok(1.0));
    assert!(e.position(1).is_err());
}
