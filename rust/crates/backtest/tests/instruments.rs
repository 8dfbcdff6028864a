//! Several instruments in one engine (the basis trade): each source quotes one instrument, each
//! order goes to its instrument's matcher, and only the main instrument (0) makes minute bars.

use sim_backtest::{
    Advance, EngineConfig, EngineEvent, FeeModel, FillModel, InstrumentModel, MarketEngine, OrderRequest, OrderStatus,
    OrderType, Side,
};
use sim_core::time::NS_PER_MIN;
use sim_core::Kline;
use sim_features::{FeatureInput, FeatureParams};
use sim_ingestion::{BadRowPolicy, SourceKind};

fn bar(m: i64, open: f64, high: f64, low: f64, close: f64) -> Kline {
    Kline { open_ts_ns: m * NS_PER_MIN, interval_ns: NS_PER_MIN, open, high, low, close, volume: 2.0 }
}

/// A bars-mode engine whose main instrument is spot (0.01 tick, 10 bps fees).
fn bars_engine() -> MarketEngine {
    let mut features = FeatureParams::defaults(0.01);
    features.feature_input = FeatureInput::Bars;
    MarketEngine::new(EngineConfig {
        start_ns: Some(0),
        policy: BadRowPolicy::Fail,
        tick_size: 0.01,
        fees: FeeModel { taker_bps: 10.0, maker_bps: 10.0 },
        features,
    })
}

fn engine() -> (MarketEngine, u32, u32) {
    let mut e = bars_engine();
    let fut = InstrumentModel {
        contract_value: 100.0,
        bar_spread_bps: 2.0,
        ..InstrumentModel::linear(0.1, FeeModel { taker_bps: 5.0, maker_bps: 1.0 })
    };
    assert_eq!(e.set_instrument(1, fut).unwrap(), 1);
    assert!(e.set_instrument(5, fut).is_err());
    let spot = e.add_source(SourceKind::Klines);
    let future = e.add_source_for(SourceKind::Klines, 1).unwrap();
    assert!(e.add_source_for(SourceKind::Klines, 9).is_err());
    for m in 0..3 {
        e.push_kline(spot, bar(m, 100.0, 101.0, 99.0, 100.0), m as u64 + 1).unwrap();
        e.push_kline(future, bar(m, 50_000.0, 50_100.0, 49_900.0, 50_000.0), m as u64 + 1).unwrap();
    }
    e.finish_source(spot).unwrap();
    e.finish_source(future).unwrap();
    (e, spot, future)
}

fn run_to(e: &mut MarketEngine, t: i64) -> Vec<EngineEvent> {
    let mut out = Vec::new();
    loop {
        match e.advance_to(t).unwrap() {
            Advance::Events(ev) => out.extend(ev),
            Advance::Reached => return out,
            Advance::Starved(s) => panic!("starved on {s}"),
        }
    }
}

#[test]
fn orders_fill_on_their_own_instruments_bars_and_only_instrument_zero_makes_minutes() {
    let (mut e, spot, future) = engine();
    let first = run_to(&mut e, NS_PER_MIN);
    let minutes = first.iter().filter(|x| matches!(x, EngineEvent::MinuteClose { .. })).count();
    let klines: Vec<u32> = first
        .iter()
        .filter_map(|x| match x {
            EngineEvent::Kline { key, .. } => Some(key.source),
            _ => None,
        })
        .collect();
    assert_eq!(minutes, 1, "one minute close per minute, from the spot klines only");
    assert_eq!(klines, vec![spot, future]);

    let order = |id, instrument, side| OrderRequest {
        order_id: id,
        instrument,
        side,
        order_type: OrderType::Market,
        qty: 10.0,
        limit_px: f64::NAN,
        slippage_ticks: 0,
        ..Default::default()
    };
    e.submit_order(order(1, 1, Side::Sell), NS_PER_MIN).unwrap();
    e.submit_order(order(2, 0, Side::Buy), NS_PER_MIN).unwrap();
    e.submit_order(order(1, 0, Side::Buy), NS_PER_MIN).unwrap();
    e.submit_order(order(3, 7, Side::Buy), NS_PER_MIN).unwrap();
    let second = run_to(&mut e, 2 * NS_PER_MIN);
    let mut statuses = Vec::new();
    let mut fills = Vec::new();
    for x in &second {
        match x {
            EngineEvent::OrderUpdate { order_id, status, reason, .. } => statuses.push((*order_id, *status, reason.clone())),
            EngineEvent::Fill { fill, .. } => fills.push(*fill),
            _ => {}
        }
    }
    assert_eq!(statuses[0], (1, OrderStatus::Accepted, String::new()));
    assert_eq!(statuses[1], (2, OrderStatus::Accepted, String::new()));
    assert_eq!(statuses[2], (1, OrderStatus::Rejected, "duplicate order id 1".to_string()));
    assert_eq!(statuses[3], (3, OrderStatus::Rejected, "unknown instrument 7".to_string()));
    assert_eq!(fills.len(), 2);
    let fut_fill = fills.iter().find(|f| f.order_id == 1).unwrap();
    let spot_fill = fills.iter().find(|f| f.order_id == 2).unwrap();
    assert_eq!(fut_fill.price, 49_995.0, "the future's sell at open less half its 2-bps spread");
    assert!((fut_fill.fee - 1000.0 / 49_995.0 * 5.0 / 10_000.0).abs() < 1e-15, "inverse fee in BTC");
    assert_eq!(spot_fill.price, 100.0, "spot has no spread model");
    assert!((spot_fill.fee - 100.0 * 10.0 * 10.0 / 10_000.0).abs() < 1e-12);
}

#[test]
fn a_cancel_reaches_the_matcher_of_the_orders_instrument() {
    let (mut e, _, _) = engine();
    run_to(&mut e, NS_PER_MIN);
    let limit = OrderRequest {
        order_id: 4,
        instrument: 1,
        side: Side::Buy,
        order_type: OrderType::Limit,
        qty: 1.0,
        limit_px: 40_000.0,
        slippage_ticks: 0,
        ..Default::default()
    };
    e.submit_order(limit, NS_PER_MIN).unwrap();
    e.cancel_order(4, NS_PER_MIN).unwrap();
    let ev = run_to(&mut e, 3 * NS_PER_MIN);
    let st: Vec<OrderStatus> = ev
        .iter()
        .filter_map(|x| match x {
            EngineEvent::OrderUpdate { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(st, vec![OrderStatus::Accepted, OrderStatus::Cancelled]);
}

#[test]
fn a_probabilistic_instrument_fills_limits_by_the_seeded_draw() {
    let mut e = bars_engine();
    let p = InstrumentModel {
        fill_model: FillModel::Probabilistic { p: 0.9, seed: 42 },
        ..InstrumentModel::linear(0.01, FeeModel { taker_bps: 10.0, maker_bps: 10.0 })
    };
    e.set_instrument(0, p).unwrap();
    let s = e.add_source(SourceKind::Klines);
    for m in 0..2 {
        e.push_kline(s, bar(m, 100.0, 101.0, 99.0, 100.0), m as u64 + 1).unwrap();
    }
    e.finish_source(s).unwrap();
    run_to(&mut e, 0);
    for id in 1..=50u64 {
        let req = OrderRequest {
            order_id: id,
            instrument: 0,
            side: Side::Sell,
            order_type: OrderType::Limit,
            qty: 1.0,
            limit_px: 500.0,
            slippage_ticks: 0,
            ..Default::default()
        };
        e.submit_order(req, 0).unwrap();
    }
    let ev = run_to(&mut e, NS_PER_MIN);
    let filled: Vec<u64> = ev
        .iter()
        .filter_map(|x| match x {
            EngineEvent::Fill { fill, .. } => Some(fill.order_id),
            _ => None,
        })
        .collect();
    let expected: Vec<u64> = (1..=50).filter(|&id| sim_backtest::fill_model::fill_draw(42, id, 0) < 0.9).collect();
    assert_eq!(filled, expected, "a sell limit far above the bar fills by the draw alone");
}
