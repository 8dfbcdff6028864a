//! The matcher on quotes and trades (tick mode), as Bybit executes (docs/ORDER_SEMANTICS.md):
//! orders arrive at the first quote strictly after submission; a crossing limit takes the touch
//! as taker, a resting one fills later at its price as maker; time in force and reduce-only.

use sim_backtest::{FeeModel, MatchEvent, Matcher, OrderRequest, OrderType, Side, SimFill, TimeInForce};
use sim_core::{Quote, Trade};

const FEES: FeeModel = FeeModel { taker_bps: 5.0, maker_bps: -1.0 };

fn q(ts: i64, bid: f64, ask: f64) -> Quote {
    Quote { ts_ns: ts, bid_px: bid, bid_sz: 1.0, ask_px: ask, ask_sz: 1.0 }
}

fn print(ts: i64, price: f64) -> Trade {
    Trade { ts_ns: ts, price, size: 1.0, side: 0, trade_id: -1 }
}

fn market(id: u64, side: Side, qty: f64) -> OrderRequest {
    OrderRequest { order_id: id, side, qty, slippage_ticks: 1, ..Default::default() }
}

fn limit(id: u64, side: Side, qty: f64, px: f64, tif: TimeInForce) -> OrderRequest {
    OrderRequest { order_id: id, side, order_type: OrderType::Limit, qty, limit_px: px, time_in_force: tif, ..Default::default() }
}

fn reduce_only(r: OrderRequest) -> OrderRequest {
    OrderRequest { reduce_only: true, ..r }
}

/// What the matcher hands back for one quote or one trade.
fn on_quote(m: &mut Matcher, quote: Quote) -> Vec<MatchEvent> {
    let mut out = Vec::new();
    m.on_quote(&quote, &mut |e| out.push(e));
    out
}

fn on_trade(m: &mut Matcher, t: Trade) -> Vec<MatchEvent> {
    let mut out = Vec::new();
    m.on_trade(&t, &mut |e| out.push(e));
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

fn cancels(events: &[MatchEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            MatchEvent::Cancelled { order_id, reason } => Some((*order_id, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn market_fills_at_first_quote_strictly_after_submission_with_slippage() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(market(1, Side::Buy, 2.0), 100).unwrap();
    m.submit(market(2, Side::Sell, 2.0), 100).unwrap();
    assert!(on_quote(&mut m, q(100, 100.0, 100.1)).is_empty(), "a quote at the decision instant is not after it");
    let f = fills(&on_quote(&mut m, q(101, 100.0, 100.1)));
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].price, f[1].price), (100.2, 99.9));
    assert!((f[0].fee - 100.2 * 2.0 * 5.0 / 10_000.0).abs() < 1e-12);
    assert!(!f[0].maker);
    assert_eq!((f[0].mid, f[1].mid), (100.05, 100.05), "the mid of the quote filled on");
}

#[test]
fn a_limit_crossing_on_arrival_takes_the_touch_as_taker_never_worse_than_its_limit() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 2.0, 101.0, TimeInForce::Gtc), 0).unwrap();
    m.submit(limit(2, Side::Sell, 2.0, 99.0, TimeInForce::Gtc), 0).unwrap();
    // At the limit exactly is crossing too: it matches the opposite best at once.
    m.submit(limit(3, Side::Buy, 2.0, 100.1, TimeInForce::Gtc), 0).unwrap();
    let f = fills(&on_quote(&mut m, q(1, 100.0, 100.1)));
    let got: Vec<(u64, f64, bool, f64)> = f.iter().map(|f| (f.order_id, f.price, f.maker, f.mid)).collect();
    assert_eq!(got, vec![(1, 100.1, false, 100.05), (2, 100.0, false, 100.05), (3, 100.1, false, 100.05)]);
    assert!((f[0].fee - 100.1 * 2.0 * 5.0 / 10_000.0).abs() < 1e-12, "the taker fee");
    for (f, lim) in f.iter().zip([101.0, 99.0, 100.1]) {
        assert!(f.side.sign() * (f.price - lim) <= 0.0, "{f:?} is worse than its limit {lim}");
    }
    assert_eq!(m.open_orders(), 0);
}

#[test]
fn a_resting_limit_fills_at_its_price_as_maker_on_a_print_through_or_a_crossing_quote() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 2.0, 99.0, TimeInForce::Gtc), 0).unwrap();
    m.submit(limit(2, Side::Sell, 2.0, 101.0, TimeInForce::Gtc), 0).unwrap();
    assert!(on_quote(&mut m, q(1, 99.5, 99.7)).is_empty(), "neither crosses: both rest");
    assert!(on_trade(&mut m, print(5, 99.0)).is_empty(), "a print at the limit is not through it");
    let f = fills(&on_trade(&mut m, print(5, 98.9)));
    assert_eq!((f[0].order_id, f[0].price, f[0].maker, f[0].mid), (1, 99.0, true, 99.6), "the latest quote's mid");
    assert!(f[0].fee < 0.0, "the maker rebate");
    // The bid reaching the sell's price crosses it: it fills at its own price, not the bid's.
    let f = fills(&on_quote(&mut m, q(6, 101.2, 101.3)));
    assert_eq!((f[0].order_id, f[0].price, f[0].maker, f[0].mid), (2, 101.0, true, 101.25));
}

#[test]
fn an_order_is_not_on_the_book_before_it_arrives() {
    let mut m = Matcher::new(0.1, FEES);
    m.on_quote(&q(1, 99.5, 99.7), &mut |_| panic!("nothing is open"));
    m.submit(limit(1, Side::Buy, 1.0, 99.0, TimeInForce::Gtc), 2).unwrap();
    assert!(on_trade(&mut m, print(3, 98.0)).is_empty(), "a print before the first quote after submission");
    assert!(on_quote(&mut m, q(4, 99.5, 99.7)).is_empty(), "arrives and rests");
    assert_eq!(fills(&on_trade(&mut m, print(4, 98.9))).len(), 1, "a print of the arrival instant comes after its quote");
}

#[test]
fn ioc_and_fok_execute_in_full_at_the_touch_or_are_cancelled_on_arrival() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 3.0, 100.5, TimeInForce::Ioc), 0).unwrap();
    m.submit(limit(2, Side::Buy, 3.0, 100.5, TimeInForce::Fok), 0).unwrap();
    m.submit(limit(3, Side::Buy, 3.0, 99.9, TimeInForce::Ioc), 0).unwrap();
    m.submit(limit(4, Side::Sell, 3.0, 100.1, TimeInForce::Fok), 0).unwrap();
    let ev = on_quote(&mut m, q(1, 100.0, 100.1));
    let f = fills(&ev);
    assert_eq!(f.iter().map(|f| (f.order_id, f.price, f.qty, f.maker)).collect::<Vec<_>>(), vec![
        (1, 100.1, 3.0, false),
        (2, 100.1, 3.0, false)
    ]);
    let c = cancels(&ev);
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), vec![3, 4]);
    assert!(c[0].1.starts_with("EC_NoImmediateQtyToFill"), "{}", c[0].1);
    assert!(c[1].1.starts_with("EC_CancelForNoFullFill"), "{}", c[1].1);
    assert_eq!(m.open_orders(), 0, "nothing of an IOC or FOK rests");
}

#[test]
fn post_only_is_cancelled_if_it_would_cross_and_otherwise_rests_as_maker() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(limit(1, Side::Buy, 1.0, 100.1, TimeInForce::PostOnly), 0).unwrap();
    m.submit(limit(2, Side::Buy, 1.0, 100.0, TimeInForce::PostOnly), 0).unwrap();
    let ev = on_quote(&mut m, q(1, 100.0, 100.1));
    assert!(fills(&ev).is_empty(), "a PostOnly never takes");
    let c = cancels(&ev);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].0, 1);
    assert!(c[0].1.starts_with("EC_PostOnlyWillTakeLiquidity"), "{}", c[0].1);
    let f = fills(&on_quote(&mut m, q(2, 99.8, 100.0)));
    assert_eq!((f[0].order_id, f[0].price, f[0].maker), (2, 100.0, true));
}

#[test]
fn a_market_post_only_is_refused_at_submission() {
    let mut m = Matcher::new(0.1, FEES);
    let err = m.submit(OrderRequest { time_in_force: TimeInForce::PostOnly, ..market(1, Side::Buy, 1.0) }, 0).unwrap_err();
    assert!(err.starts_with("EC_MarketOrderCannotBePostOnly"), "{err}");
}

#[test]
fn reduce_only_is_capped_at_the_position_and_never_flips_it() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(market(1, Side::Buy, 0.3), 0).unwrap();
    on_quote(&mut m, q(1, 100.0, 100.1));
    assert_eq!(m.position(), 0.3);
    m.submit(reduce_only(market(2, Side::Sell, 0.5)), 1).unwrap();
    let ev = on_quote(&mut m, q(2, 100.0, 100.1));
    let f = fills(&ev);
    assert_eq!((f[0].order_id, f[0].qty, f[0].price), (2, 0.3, 99.9), "capped at the position");
    assert!((f[0].fee - 99.9 * 0.3 * 5.0 / 10_000.0).abs() < 1e-12, "the fee of what executed");
    let c = cancels(&ev);
    assert_eq!(c[0].0, 2);
    assert!(c[0].1.starts_with("CancelByReduceOnly"), "the rest is cancelled: {}", c[0].1);
    assert!(matches!(ev[0], MatchEvent::Cancelled { .. }), "the update comes first, as the total order has it");
    assert_eq!(m.position(), 0.0);
}

#[test]
fn reduce_only_with_nothing_to_reduce_is_cancelled_on_arrival() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(reduce_only(market(1, Side::Sell, 1.0)), 0).unwrap();
    m.submit(reduce_only(limit(2, Side::Buy, 1.0, 99.0, TimeInForce::Gtc)), 0).unwrap();
    let ev = on_quote(&mut m, q(1, 100.0, 100.1));
    assert!(fills(&ev).is_empty());
    assert_eq!(cancels(&ev).iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2], "flat: neither rests nor fills");
    // Long: a reduce-only buy would increase it.
    m.submit(market(3, Side::Buy, 1.0), 1).unwrap();
    m.submit(reduce_only(market(4, Side::Buy, 1.0)), 1).unwrap();
    let ev = on_quote(&mut m, q(2, 100.0, 100.1));
    assert_eq!(fills(&ev).iter().map(|f| f.order_id).collect::<Vec<_>>(), vec![3]);
    assert_eq!(cancels(&ev).iter().map(|c| c.0).collect::<Vec<_>>(), vec![4], "the fill of a lower id came first");
    assert_eq!(m.position(), 1.0);
}

#[test]
fn a_resting_reduce_only_order_is_cancelled_once_another_fill_leaves_nothing_to_reduce() {
    let mut m = Matcher::new(0.1, FEES);
    m.submit(market(1, Side::Buy, 1.0), 0).unwrap();
    on_quote(&mut m, q(1, 100.0, 100.1));
    m.submit(reduce_only(limit(2, Side::Sell, 1.0, 105.0, TimeInForce::Gtc)), 1).unwrap();
    assert!(on_quote(&mut m, q(2, 100.0, 100.1)).is_empty(), "a take-profit rests");
    m.submit(market(3, Side::Sell, 1.0), 2).unwrap();
    let ev = on_quote(&mut m, q(3, 100.0, 100.1));
    assert_eq!(fills(&ev).iter().map(|f| f.order_id).collect::<Vec<_>>(), vec![3]);
    let c = cancels(&ev);
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2]);
    assert!(c[0].1.starts_with("CancelByReduceOnly"));
    assert_eq!(m.open_orders(), 0);
    assert!(on_trade(&mut m, print(4, 106.0)).is_empty(), "gone from the book");
}

#[test]
fn rejects_and_cancels() {
    let mut m = Matcher::new(0.1, FEES);
    assert!(m.submit(market(1, Side::Buy, 0.0), 0).is_err());
    m.submit(limit(2, Side::Buy, 1.0, 10.0, TimeInForce::Gtc), 0).unwrap();
    assert!(m.submit(limit(2, Side::Buy, 1.0, 10.0, TimeInForce::Gtc), 0).is_err());
    m.cancel(2).unwrap();
    assert!(m.cancel(2).is_err());
    assert_eq!(m.open_orders(), 0);
}
