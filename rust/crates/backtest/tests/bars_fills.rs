//! Bars mode through the whole engine: simulated orders fill on the one-minute kline that opens
//! at or after the decision, stamped at that kline's close, after the minute close of the same
//! instant, and every batch comes back in the total order.

use sim_backtest::{Advance, EngineConfig, EngineEvent, FeeModel, MarketEngine, OrderRequest, OrderStatus, OrderType, Side, TimeInForce};
use sim_core::time::NS_PER_MIN;
use sim_core::{Kline, Quote};
use sim_features::{FeatureInput, FeatureParams};
use sim_ingestion::{BadRowPolicy, SourceKind};

fn bars_engine() -> (MarketEngine, u32) {
    let mut features = FeatureParams::defaults(0.1);
    features.feature_input = FeatureInput::Bars;
    let mut e = MarketEngine::new(EngineConfig {
        start_ns: Some(0),
        policy: BadRowPolicy::Fail,
        tick_size: 0.1,
        fees: FeeModel { taker_bps: 5.0, maker_bps: -1.0 },
        features,
    });
    let k = e.add_source(SourceKind::Klines);
    (e, k)
}

/// The one-minute kline of minute `m` (it opens at m minutes and is delivered at m + 1).
fn bar(m: i64, open: f64, high: f64, low: f64, close: f64) -> Kline {
    Kline { open_ts_ns: m * NS_PER_MIN, interval_ns: NS_PER_MIN, open, high, low, close, volume: 1.0 }
}

/// Advances to `t`, checking that the events come back in the total order across batches.
fn drain(e: &mut MarketEngine, t: i64, seen: &mut Vec<EngineEvent>) -> Vec<EngineEvent> {
    let mut out = Vec::new();
    loop {
        match e.advance_to(t).unwrap() {
            Advance::Events(ev) => {
                for x in ev {
                    if let Some(last) = seen.last() {
                        assert!(last.key() < x.key(), "{:?} after {:?}", x.key(), last.key());
                    }
                    seen.push(x.clone());
                    out.push(x);
                }
            }
            Advance::Reached => return out,
            Advance::Starved(s) => panic!("starved on {s}"),
        }
    }
}

fn market(id: u64, side: Side) -> OrderRequest {
    OrderRequest { order_id: id, instrument: 0, side, order_type: OrderType::Market, qty: 1.0, limit_px: f64::NAN, slippage_ticks: 2, ..Default::default() }
}

fn fills(events: &[EngineEvent]) -> Vec<(i64, u64, f64, bool, f64)> {
    events
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::Fill { key, fill } => Some((key.ts_ns, fill.order_id, fill.price, fill.maker, fill.mid)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_market_order_decided_at_a_minute_close_fills_at_the_next_bars_open_stamped_at_its_close() {
    let (mut e, k) = bars_engine();
    for (i, kl) in [
        bar(0, 100.0, 101.0, 99.0, 100.5),
        bar(1, 100.7, 102.0, 100.1, 101.5),
        bar(2, 101.4, 101.9, 100.8, 101.0),
    ]
    .into_iter()
    .enumerate()
    {
        e.push_kline(k, kl, i as u64 + 1).unwrap();
    }
    e.finish_source(k).unwrap();
    let mut seen = Vec::new();

    // The first minute closes at 1 min with its kline; the decision is taken then.
    let first = match e.advance_to(3 * NS_PER_MIN).unwrap() {
        Advance::Events(ev) => ev,
        other => panic!("{other:?}"),
    };
    seen.extend(first.iter().cloned());
    let decision = first.iter().find_map(|ev| match ev {
        EngineEvent::MinuteClose { key, .. } => Some(key.ts_ns),
        _ => None,
    });
    assert_eq!(decision, Some(NS_PER_MIN));
    e.submit_order(market(1, Side::Buy), NS_PER_MIN).unwrap();
    e.submit_order(market(2, Side::Sell), NS_PER_MIN).unwrap();

    let rest = drain(&mut e, 3 * NS_PER_MIN, &mut seen);
    assert_eq!(
        fills(&rest),
        vec![(2 * NS_PER_MIN, 1, 100.9, false, 100.7), (2 * NS_PER_MIN, 2, 100.5, false, 100.7)],
        "the bar opening at the decision instant, +/- 2 ticks from its open, known at its close"
    );
    // At the fill's instant: the kline, then its minute close, then the fills.
    let at_fill: Vec<_> = rest.iter().filter(|ev| ev.key().ts_ns == 2 * NS_PER_MIN).collect();
    assert!(matches!(at_fill[0], EngineEvent::Kline { .. }));
    assert!(matches!(at_fill[1], EngineEvent::MinuteClose { .. }));
    assert!(matches!(at_fill[2], EngineEvent::Fill { .. }));
}

#[test]
fn a_resting_limit_fills_on_the_first_later_bar_that_trades_through_it() {
    let (mut e, k) = bars_engine();
    for (i, kl) in [
        bar(0, 100.0, 101.0, 99.0, 100.5),
        bar(1, 100.5, 101.0, 99.5, 100.0), // low touches the limit: no fill
        bar(2, 100.0, 100.2, 99.4, 99.8),  // low strictly below: fill
        bar(3, 99.8, 100.0, 95.0, 96.0),
    ]
    .into_iter()
    .enumerate()
    {
        e.push_kline(k, kl, i as u64 + 1).unwrap();
    }
    e.finish_source(k).unwrap();
    let mut seen = Vec::new();
    drain(&mut e, NS_PER_MIN, &mut seen);
    let limit = OrderRequest { order_id: 5, instrument: 0, side: Side::Buy, order_type: OrderType::Limit, qty: 1.0, limit_px: 99.5, slippage_ticks: 0, ..Default::default() };
    e.submit_order(limit, NS_PER_MIN).unwrap();
    let rest = drain(&mut e, 4 * NS_PER_MIN, &mut seen);
    assert_eq!(fills(&rest), vec![(3 * NS_PER_MIN, 5, 99.5, true, 99.5)]);
}

#[test]
fn an_order_submitted_inside_a_minute_waits_for_the_bar_that_opens_after_it() {
    let (mut e, k) = bars_engine();
    for (i, kl) in [bar(0, 100.0, 101.0, 99.0, 100.5), bar(1, 100.5, 101.0, 99.5, 100.0), bar(2, 102.0, 102.5, 101.5, 102.0)]
        .into_iter()
        .enumerate()
    {
        e.push_kline(k, kl, i as u64 + 1).unwrap();
    }
    e.finish_source(k).unwrap();
    let mut seen = Vec::new();
    let t = NS_PER_MIN + NS_PER_MIN / 2;
    drain(&mut e, t, &mut seen);
    e.submit_order(market(9, Side::Buy), t).unwrap();
    let rest = drain(&mut e, 3 * NS_PER_MIN, &mut seen);
    assert_eq!(fills(&rest), vec![(3 * NS_PER_MIN, 9, 102.2, false, 102.0)]);
}

#[test]
fn in_bars_mode_quotes_do_not_fill_orders() {
    let (mut e, k) = bars_engine();
    let q = e.add_source(SourceKind::Quotes);
    e.push_kline(k, bar(0, 100.0, 101.0, 99.0, 100.5), 1).unwrap();
    e.push_kline(k, bar(1, 100.5, 101.0, 99.5, 100.0), 2).unwrap();
    e.push_quote(q, Quote { ts_ns: NS_PER_MIN + 1, bid_px: 50.0, bid_sz: 1.0, ask_px: 50.1, ask_sz: 1.0 }, 1).unwrap();
    e.finish_source(k).unwrap();
    e.finish_source(q).unwrap();
    let mut seen = Vec::new();
    drain(&mut e, NS_PER_MIN, &mut seen);
    e.submit_order(market(1, Side::Buy), NS_PER_MIN).unwrap();
    let rest = drain(&mut e, 2 * NS_PER_MIN, &mut seen);
    assert_eq!(fills(&rest), vec![(2 * NS_PER_MIN, 1, 100.7, false, 100.5)]);
}

#[test]
fn a_limit_crossing_the_next_open_is_a_taker_fill_and_a_cancel_on_arrival_is_stamped_at_the_bars_close() {
    let (mut e, k) = bars_engine();
    for (i, kl) in [bar(0, 100.0, 101.0, 99.0, 100.5), bar(1, 100.2, 100.9, 99.9, 100.5)].into_iter().enumerate() {
        e.push_kline(k, kl, i as u64 + 1).unwrap();
    }
    e.finish_source(k).unwrap();
    let mut seen = Vec::new();
    drain(&mut e, NS_PER_MIN, &mut seen);
    let limit = |id, side, px, tif| OrderRequest { order_id: id, side, order_type: OrderType::Limit, qty: 1.0, limit_px: px, time_in_force: tif, ..Default::default() };
    // Decided on the first bar's close of 100.5; the next bar opens at 100.2.
    e.submit_order(limit(1, Side::Buy, 100.5, TimeInForce::Gtc), NS_PER_MIN).unwrap();
    e.submit_order(limit(2, Side::Buy, 100.5, TimeInForce::PostOnly), NS_PER_MIN).unwrap();
    let rest = drain(&mut e, 2 * NS_PER_MIN, &mut seen);
    assert_eq!(fills(&rest), vec![(2 * NS_PER_MIN, 1, 100.2, false, 100.2)], "the open, not the limit, as taker");
    let cancels: Vec<(i64, u64)> = rest
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::OrderUpdate { key, order_id, status: OrderStatus::Cancelled, .. } => Some((key.ts_ns, *order_id)),
            _ => None,
        })
        .collect();
    assert_eq!(cancels, vec![(2 * NS_PER_MIN, 2)]);
}
