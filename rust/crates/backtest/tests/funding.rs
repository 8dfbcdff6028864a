//! Funding events from the engine: one per scheduled time, in the total order, whether or not a
//! tick falls at that time, with the mark as of that time.

use sim_backtest::engine::EngineError;
use sim_backtest::{Advance, EngineConfig, EngineEvent, FeeModel, MarketEngine};
use sim_core::time::NS_PER_MIN;
use sim_core::{Kline, Quote, Trade};
use sim_features::{FeatureInput, FeatureParams};
use sim_ingestion::{BadRowPolicy, SourceKind};

fn engine(input: FeatureInput) -> MarketEngine {
    let mut features = FeatureParams::defaults(0.1);
    features.feature_input = input;
    MarketEngine::new(EngineConfig {
        start_ns: Some(0),
        policy: BadRowPolicy::Fail,
        tick_size: 0.1,
        fees: FeeModel { taker_bps: 5.0, maker_bps: -1.0 },
        features,
    })
}

fn drain(e: &mut MarketEngine, t: i64) -> Vec<EngineEvent> {
    let mut all: Vec<EngineEvent> = Vec::new();
    loop {
        match e.advance_to(t).unwrap() {
            Advance::Events(ev) => all.extend(ev),
            Advance::Reached => break,
            Advance::Starved(s) => panic!("starved on {s}"),
        }
    }
    assert!(all.windows(2).all(|w| w[0].key() < w[1].key()), "events in the total order");
    all
}

fn funding(events: &[EngineEvent]) -> Vec<(i64, f64, f64)> {
    events
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::Funding { key, rate, mark } => Some((key.ts_ns, *rate, *mark)),
            _ => None,
        })
        .collect()
}

fn quote(ts: i64, bid: f64) -> Quote {
    Quote { ts_ns: ts, bid_px: bid, bid_sz: 1.0, ask_px: bid + 1.0, ask_sz: 1.0 }
}

#[test]
fn funding_marks_the_mid_of_the_latest_quote_at_or_before_its_time() {
    let mut e = engine(FeatureInput::Ticks);
    let t = e.add_source(SourceKind::Trades);
    let q = e.add_source(SourceKind::Quotes);
    e.push_trade(t, Trade { ts_ns: 5, price: 77.0, size: 1.0, side: 1, trade_id: 1 }, 1).unwrap();
    e.push_quote(q, quote(10, 100.0), 1).unwrap();
    e.push_quote(q, quote(2 * NS_PER_MIN, 200.0), 2).unwrap(); // at the second funding time
    e.push_quote(q, quote(2 * NS_PER_MIN + 1, 300.0), 3).unwrap();
    e.finish_source(t).unwrap();
    e.finish_source(q).unwrap();
    // Before any quote (a trade only), inside a minute with no tick, at a quote's instant, and
    // after the last tick.
    e.set_funding(vec![(7, 1e-4), (2 * NS_PER_MIN, 2e-4), (NS_PER_MIN + 30, -1e-4), (9 * NS_PER_MIN, 3e-4)])
        .unwrap_err();
    e.set_funding(vec![(7, 1e-4), (NS_PER_MIN + 30, -1e-4), (2 * NS_PER_MIN, 2e-4), (9 * NS_PER_MIN, 3e-4)]).unwrap();
    let events = drain(&mut e, 10 * NS_PER_MIN);
    assert_eq!(
        funding(&events),
        vec![(7, 1e-4, 77.0), (NS_PER_MIN + 30, -1e-4, 100.5), (2 * NS_PER_MIN, 2e-4, 200.5), (9 * NS_PER_MIN, 3e-4, 300.5)]
    );
    // Funding at a minute's end sorts after the market data of that instant, before its close.
    let at: Vec<_> = events.iter().filter(|ev| ev.key().ts_ns == 9 * NS_PER_MIN).collect();
    assert!(matches!(at[0], EngineEvent::Funding { .. }) && matches!(at[1], EngineEvent::MinuteClose { .. }));
}

#[test]
fn funding_in_bars_mode_marks_the_latest_kline_close_and_nan_before_any_price() {
    let mut e = engine(FeatureInput::Bars);
    let k = e.add_source(SourceKind::Klines);
    let kl = |m: i64, close: f64| Kline { open_ts_ns: m * NS_PER_MIN, interval_ns: NS_PER_MIN, open: close, high: close, low: close, close, volume: 1.0 };
    e.push_kline(k, kl(1, 100.0), 1).unwrap();
    e.push_kline(k, kl(2, 110.0), 2).unwrap();
    e.finish_source(k).unwrap();
    e.set_funding(vec![(NS_PER_MIN / 2, 1e-4), (3 * NS_PER_MIN, 1e-4), (4 * NS_PER_MIN, 1e-4)]).unwrap();
    let events = drain(&mut e, 5 * NS_PER_MIN);
    let f = funding(&events);
    assert!(f[0].2.is_nan(), "no price yet");
    assert_eq!(&f[1..], &[(3 * NS_PER_MIN, 1e-4, 110.0), (4 * NS_PER_MIN, 1e-4, 110.0)]);
}

#[test]
fn a_bad_schedule_names_the_entry() {
    let mut e = engine(FeatureInput::Ticks);
    let bad = |e: &mut MarketEngine, s: Vec<(i64, f64)>| match e.set_funding(s) {
        Err(EngineError::BadFunding { index, .. }) => index,
        other => panic!("{other:?}"),
    };
    assert_eq!(bad(&mut e, vec![(10, 0.0), (10, 0.0)]), 1);
    assert_eq!(bad(&mut e, vec![(10, 0.0), (20, f64::NAN)]), 1);
    assert_eq!(bad(&mut e, vec![(-1, 0.0)]), 0, "before the engine's start");
}
