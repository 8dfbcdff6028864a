//! The matcher on one-minute klines (bars mode, docs/ORDER_SEMANTICS.md): an order arrives at
//! the open of the first kline opening at or after its submission; the open (with the
//! instrument's bar spread) is the book it crosses or not; a resting limit fills at its price as
//! maker when a bar trades strictly through it, from the arrival bar on.

use sim_backtest::fill_model::fill_draw;
use sim_backtest::{FeeModel, FillModel, InstrumentModel, MatchEvent, Matcher, OrderRequest, OrderType, Side, SimFill, TimeInForce};
use sim_core::Kline;

const FEES: FeeModel = FeeModel { taker_bps: 5.0, maker_bps: -1.0 };

fn kline(open_ts: i64, open: f64, high: f64, low: f64, close: f64) -> Kline {
    Kline { open_ts_ns: open_ts, interval_ns: 60, open, high, low, close, volume: 1.0 }
}

fn market(id: u64, side: Side, qty: f64) -> OrderRequest {
    OrderRequest { order_id: id, side, qty, slippage_ticks: 1, ..Default::default() }
}

fn limit(id: u64, side: Side, qty: f64, px: f64, tif: TimeInForce) -> OrderRequest {
    OrderRequest { order_id: id, side, order_type: OrderType::Limit, qty, limit_px: px, time_in_force: tif, ..Default::default() }
}

fn on_kline(m: &mut Matcher, k: Kline) -> Vec<MatchEvent> {
    let mut out = Vec::new();
    m.on_kline(&k, &mut |e| out.push(e));
    out
}

fn fills(events: &[MatchEvent]) -> Vec<SimFill> {
    events
        .iter()
        .filter_map(|e| match e {
            MatchEvent::Fill(f) => Some(*f),
            _ => None,
        })
        .collect()
}

fn cancelled(events: &[MatchEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            MatchEvent::Cancelled { order_id, reason } => Some((*order_id, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn market_orders_fill_at_the_open_of_a_kline_opening_at_or_after_submission() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(market(1, Side::Buy, 2.0), 60).unwrap();
    m.submit(market(2, Side::Sell, 2.0), 60).unwrap();
    assert!(on_kline(&mut m, kline(0, 100.0, 101.0, 99.0, 100.5)).is_empty(), "it opened before the decision");
    let f = fills(&on_kline(&mut m, kline(60, 100.5, 102.0, 100.0, 101.0)));
    assert_eq!((f[0].order_id, f[0].price, f[0].maker, f[0].mid), (1, 100.6, false, 100.5));
    assert_eq!((f[1].order_id, f[1].price, f[1].maker, f[1].mid), (2, 100.4, false, 100.5));
    assert!((f[0].fee - 100.6 * 2.0 * 5.0 / 10_000.0).abs() < 1e-12);
}

#[test]
fn a_limit_crossing_the_open_takes_it_as_taker_and_one_that_rests_fills_at_its_price_as_maker() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 1.0, 100.5, TimeInForce::Gtc), 0).unwrap();
    m.submit(limit(2, Side::Sell, 1.0, 100.0, TimeInForce::Gtc), 0).unwrap(); // at the open: crosses
    m.submit(limit(3, Side::Buy, 1.0, 99.0, TimeInForce::Gtc), 0).unwrap();
    m.submit(limit(4, Side::Sell, 1.0, 101.0, TimeInForce::Gtc), 0).unwrap();
    let f = fills(&on_kline(&mut m, kline(0, 100.0, 101.0, 99.0, 100.0)));
    let got: Vec<(u64, f64, bool, f64)> = f.iter().map(|f| (f.order_id, f.price, f.maker, f.mid)).collect();
    assert_eq!(got, vec![(1, 100.0, false, 100.0), (2, 100.0, false, 100.0)], "touching is not trading through");
    assert!((f[0].fee - 100.0 * 5.0 / 10_000.0).abs() < 1e-12);
    let f = fills(&on_kline(&mut m, kline(60, 100.0, 100.5, 98.9, 99.5)));
    assert_eq!((f[0].order_id, f[0].price, f[0].maker, f[0].mid), (3, 99.0, true, 99.0));
    assert!(f[0].fee < 0.0);
    let f = fills(&on_kline(&mut m, kline(120, 100.0, 101.1, 99.9, 101.0)));
    assert_eq!((f[0].order_id, f[0].price, f[0].maker), (4, 101.0, true));
}

#[test]
fn a_limit_resting_from_the_open_can_fill_later_in_its_arrival_bar() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 1.0, 99.0, TimeInForce::Gtc), 0).unwrap();
    let f = fills(&on_kline(&mut m, kline(0, 100.0, 100.0, 98.0, 99.5)));
    assert_eq!((f[0].price, f[0].maker), (99.0, true));
}

#[test]
fn a_limit_submitted_inside_a_bar_waits_for_the_next_one() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 1.0, 99.0, TimeInForce::Gtc), 30).unwrap();
    assert!(on_kline(&mut m, kline(0, 100.0, 100.0, 90.0, 95.0)).is_empty(), "its low may predate the order");
    let f = fills(&on_kline(&mut m, kline(60, 95.0, 96.0, 94.0, 95.0)));
    assert_eq!((f[0].price, f[0].maker), (95.0, false), "the next bar opens below the buy: it takes the open");
}

#[test]
fn with_a_bar_spread_a_limit_crosses_the_spread_adjusted_open_and_never_pays_past_its_limit() {
    let model = InstrumentModel { bar_spread_bps: 4.0, ..InstrumentModel::linear(0.1, FEES) };
    let mut m = Matcher::with_model(model);
    // Ask 50 010, bid 49 990 around an open of 50 000.
    m.submit(limit(1, Side::Buy, 1.0, 50_005.0, TimeInForce::Gtc), 0).unwrap();
    m.submit(limit(2, Side::Buy, 1.0, 50_010.0, TimeInForce::Gtc), 0).unwrap();
    m.submit(limit(3, Side::Sell, 1.0, 49_980.0, TimeInForce::Gtc), 0).unwrap();
    let ev = on_kline(&mut m, kline(0, 50_000.0, 50_001.0, 49_999.0, 50_000.0));
    let got: Vec<(u64, f64, bool, f64)> = fills(&ev).iter().map(|f| (f.order_id, f.price, f.maker, f.mid)).collect();
    // Below the ask the first rests at the open, then the bar trades through it.
    assert_eq!(got, vec![(1, 50_005.0, true, 50_005.0), (2, 50_010.0, false, 50_000.0), (3, 49_990.0, false, 50_000.0)]);
}

#[test]
fn ioc_fok_and_post_only_on_the_open() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 1.0, 100.0, TimeInForce::Ioc), 0).unwrap();
    m.submit(limit(2, Side::Buy, 1.0, 99.5, TimeInForce::Ioc), 0).unwrap();
    m.submit(limit(3, Side::Sell, 1.0, 100.5, TimeInForce::Fok), 0).unwrap();
    m.submit(limit(4, Side::Sell, 1.0, 99.0, TimeInForce::PostOnly), 0).unwrap();
    m.submit(limit(5, Side::Buy, 1.0, 99.5, TimeInForce::PostOnly), 0).unwrap();
    let ev = on_kline(&mut m, kline(0, 100.0, 100.2, 99.0, 99.8));
    let got: Vec<(u64, f64, bool)> = fills(&ev).iter().map(|f| (f.order_id, f.price, f.maker)).collect();
    assert_eq!(got, vec![(1, 100.0, false), (5, 99.5, true)], "the PostOnly buy rested at the open, then the low went through it");
    let c = cancelled(&ev);
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert!(c[0].1.starts_with("EC_NoImmediateQtyToFill"), "an IOC that rests nowhere, even though the bar later trades through it");
    assert!(c[1].1.starts_with("EC_CancelForNoFullFill"));
    assert!(c[2].1.starts_with("EC_PostOnlyWillTakeLiquidity"));
}

#[test]
fn reduce_only_on_bars_is_capped_and_cancelled_with_nothing_to_reduce() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(market(1, Side::Sell, 0.002), 0).unwrap();
    m.submit(OrderRequest { reduce_only: true, ..limit(2, Side::Buy, 0.005, 101.0, TimeInForce::Gtc) }, 0).unwrap();
    m.submit(OrderRequest { reduce_only: true, ..market(3, Side::Buy, 0.001) }, 0).unwrap();
    let ev = on_kline(&mut m, kline(0, 100.0, 100.2, 99.0, 99.8));
    let got: Vec<(u64, f64, f64)> = fills(&ev).iter().map(|f| (f.order_id, f.qty, f.price)).collect();
    assert_eq!(got, vec![(1, 0.002, 99.9), (2, 0.002, 100.0)], "capped at the short of the fill before it");
    let c = cancelled(&ev);
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2, 3]);
    assert!(c.iter().all(|c| c.1.starts_with("CancelByReduceOnly")));
    assert_eq!(m.position(), 0.0);
}

#[test]
fn spread_model_and_inverse_fees() {
    let fees = FeeModel { taker_bps: 5.0, maker_bps: 1.0 };
    let model = InstrumentModel { contract_value: 100.0, bar_spread_bps: 4.0, ..InstrumentModel::linear(0.1, fees) };
    let mut m = Matcher::with_model(model);
    m.submit(market(1, Side::Buy, 10.0), 0).unwrap();
    m.submit(OrderRequest { slippage_ticks: 0, ..market(2, Side::Sell, 10.0) }, 0).unwrap();
    let f = fills(&on_kline(&mut m, kline(0, 50_000.0, 50_100.0, 49_900.0, 50_000.0)));
    // half of 4 bps of 50 000 is 10: the buy at 50 010 + 1 tick, the sell at 49 990.
    assert_eq!((f[0].price, f[1].price), (50_010.1, 49_990.0));
    assert_eq!((f[0].mid, f[1].mid), (50_000.0, 50_000.0));
    // 10 contracts of 100 USD at 50 010.1: 1000 / 50 010.1 BTC, taker 5 bps, in BTC.
    assert!((f[0].fee - 1000.0 / 50_010.1 * 5.0 / 10_000.0).abs() < 1e-15);
}

#[test]
fn probabilistic_limits_fill_with_the_seeded_draw_whatever_the_range_unless_they_cross_the_open() {
    let fees = FeeModel { taker_bps: 5.0, maker_bps: 1.0 };
    let seed = 11;
    let model = InstrumentModel { fill_model: FillModel::Probabilistic { p: 0.5, seed }, ..InstrumentModel::linear(0.1, fees) };
    let mut m = Matcher::with_model(model);
    for id in 1..=200 {
        m.submit(limit(id, Side::Buy, 1.0, 10.0, TimeInForce::Gtc), 0).unwrap();
    }
    m.submit(limit(201, Side::Buy, 1.0, 150.0, TimeInForce::Gtc), 0).unwrap();
    let f = fills(&on_kline(&mut m, kline(0, 100.0, 101.0, 99.0, 100.0)));
    let mut expected: Vec<u64> = (1..=200).filter(|&id| fill_draw(seed, id, 0) < 0.5).collect();
    expected.push(201);
    assert_eq!(f.iter().map(|f| f.order_id).collect::<Vec<_>>(), expected);
    assert!(f[..f.len() - 1].iter().all(|f| f.price == 10.0 && f.maker));
    assert_eq!((f[f.len() - 1].price, f[f.len() - 1].maker), (100.0, false), "crossing the open is no draw");
    assert!(expected.len() > 70 && expected.len() < 131);
}
