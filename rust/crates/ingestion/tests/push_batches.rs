//! Property: pushing a batch (`push_trades`, `push_quotes`) is pushing its rows one by one — the
//! same rows buffered, the same counts, the same bad rows, the same error — under either policy,
//! whatever the bad rows (not finite, crossed, backwards in time, repeated trade ids).

use proptest::prelude::*;
use sim_core::{Quote, Trade};
use sim_ingestion::merge::{Step, Tick};
use sim_ingestion::{BadRowPolicy, Merger, SourceKind};

/// (time step, price code, id step): small ranges so bad rows are common.
fn rows() -> impl Strategy<Value = Vec<(i64, u8, i64)>> {
    prop::collection::vec((-2i64..5, 0u8..12, -2i64..3), 0..60)
}

fn trade(ts: i64, code: u8, id: i64) -> Trade {
    let price = match code {
        0 => f64::NAN,
        1 => -1.0,
        _ => 100.0 + code as f64,
    };
    Trade { ts_ns: ts, price, size: if code == 2 { 0.0 } else { 1.0 }, side: 1, trade_id: id }
}

fn quote(ts: i64, code: u8) -> Quote {
    let (bid, ask) = match code {
        0 => (f64::NAN, 1.0),
        1 => (101.0, 100.0),
        _ => (100.0, 100.0 + code as f64),
    };
    Quote { ts_ns: ts, bid_px: bid, bid_sz: 1.0, ask_px: ask, ask_sz: 1.0 }
}

/// What a source holds after the pushes: its released rows, counts and bad-row stats.
fn state(m: &mut Merger, pushed: Result<(), sim_core::DataError>) -> String {
    let s = m.source(0).unwrap();
    let head = format!("{pushed:?} seen {} accepted {} bad {:?}", s.rows_seen, s.rows_accepted, s.bad);
    m.source_mut(0).unwrap().finish();
    let mut released = Vec::new();
    while let Step::Tick(key, tick) = m.next(i64::MAX) {
        let px = match tick {
            Tick::Trade(t) => t.price,
            Tick::Quote(q) => q.ask_px,
            Tick::Kline(k) => k.close,
        };
        released.push((key, px.to_bits()));
    }
    format!("{head} released {released:?}")
}

proptest! {
    #[test]
    fn a_batch_of_trades_is_its_rows_one_by_one(rows in rows(), drop in any::<bool>(), split in 0usize..60) {
        let policy = if drop { BadRowPolicy::Drop } else { BadRowPolicy::Fail };
        let mut ts = 0;
        let mut id = 0;
        let rows: Vec<(Trade, u64)> = rows.iter().enumerate().map(|(i, &(dt, code, di))| {
            ts += dt;
            id += di;
            (trade(ts, code, id), i as u64 + 1)
        }).collect();
        let (mut one, mut batch) = (Merger::new(), Merger::new());
        one.add_source(SourceKind::Trades);
        batch.add_source(SourceKind::Trades);
        let by_row = rows.iter().try_for_each(|&(t, r)| one.source_mut(0).unwrap().push_trade(t, r, policy));
        let at = split.min(rows.len());
        let by_batch = batch.source_mut(0).unwrap().push_trades(rows[..at].iter().copied(), policy)
            .and_then(|()| batch.source_mut(0).unwrap().push_trades(rows[at..].iter().copied(), policy));
        prop_assert_eq!(state(&mut one, by_row), state(&mut batch, by_batch));
    }

    #[test]
    fn a_batch_of_quotes_is_its_rows_one_by_one(rows in rows(), drop in any::<bool>()) {
        let policy = if drop { BadRowPolicy::Drop } else { BadRowPolicy::Fail };
        let mut ts = 0;
        let rows: Vec<(Quote, u64)> = rows.iter().enumerate().map(|(i, &(dt, code, _))| {
            ts += dt;
            (quote(ts, code), i as u64 + 1)
        }).collect();
        let (mut one, mut batch) = (Merger::new(), Merger::new());
        one.add_source(SourceKind::Quotes);
        batch.add_source(SourceKind::Quotes);
        let by_row = rows.iter().try_for_each(|&(q, r)| one.source_mut(0).unwrap().push_quote(q, r, policy));
        let by_batch = batch.source_mut(0).unwrap().push_quotes(rows.iter().copied(), policy);
        prop_assert_eq!(state(&mut one, by_row), state(&mut batch, by_batch));
    }

    #[test]
    fn a_batch_of_the_wrong_kind_fails_as_its_rows_do(rows in rows()) {
        let quotes: Vec<(Quote, u64)> = rows.iter().enumerate().map(|(i, &(_, code, _))| (quote(i as i64, code), i as u64 + 1)).collect();
        let (mut one, mut batch) = (Merger::new(), Merger::new());
        one.add_source(SourceKind::Trades);
        batch.add_source(SourceKind::Trades);
        let by_row = quotes.iter().try_for_each(|&(q, r)| one.source_mut(0).unwrap().push_quote(q, r, BadRowPolicy::Drop));
        let by_batch = batch.source_mut(0).unwrap().push_quotes(quotes.iter().copied(), BadRowPolicy::Drop);
        prop_assert_eq!(state(&mut one, by_row), state(&mut batch, by_batch));
    }
}
