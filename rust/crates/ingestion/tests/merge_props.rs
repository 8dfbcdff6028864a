//! Property: whatever the sources, their batch boundaries and the order in which the driver
//! feeds them, the merge releases every row exactly once, in the total order.

use proptest::prelude::*;
use sim_core::{EventKey, EventKind, Quote, Trade};
use sim_ingestion::merge::{RunStep, Step, Tick};
use sim_ingestion::{BadRowPolicy, Merger, SourceKind};

#[derive(Debug, Clone)]
struct Src {
    kind: SourceKind,
    ts: Vec<i64>,
    chunk: usize,
}

fn sources() -> impl Strategy<Value = Vec<Src>> {
    prop::collection::vec(
        (prop::bool::ANY, prop::collection::vec(0i64..50, 0..40), 1usize..7).prop_map(|(is_trade, mut ts, chunk)| {
            ts.sort();
            Src { kind: if is_trade { SourceKind::Trades } else { SourceKind::Quotes }, ts, chunk }
        }),
        1..5,
    )
}

/// Feeds source `i` its next chunk, or finishes it when nothing is left.
fn feed(m: &mut Merger, srcs: &[Src], cursor: &mut [usize], i: usize) {
    let s = &srcs[i];
    let from = cursor[i];
    let to = (from + s.chunk).min(s.ts.len());
    let src = m.source_mut(i as u32).unwrap();
    if from == to {
        src.finish();
    }
    for (r, &ts) in s.ts[from..to].iter().enumerate() {
        let row = (from + r + 1) as u64;
        match s.kind {
            SourceKind::Trades => src.push_trade(Trade { ts_ns: ts, price: 1.0, size: 1.0, side: 0, trade_id: -1 }, row, BadRowPolicy::Fail).unwrap(),
            _ => src.push_quote(Quote { ts_ns: ts, bid_px: 1.0, bid_sz: 1.0, ask_px: 2.0, ask_sz: 1.0 }, row, BadRowPolicy::Fail).unwrap(),
        }
    }
    cursor[i] = to;
}

fn total_order(srcs: &[Src]) -> Vec<EventKey> {
    let mut expected: Vec<EventKey> = srcs.iter().enumerate().flat_map(|(i, s)| {
        let kind = if s.kind == SourceKind::Trades { EventKind::Trade } else { EventKind::Quote };
        s.ts.iter().enumerate().map(move |(r, &ts)| EventKey::new(ts, kind, i as u32, (r + 1) as u64))
    }).collect();
    expected.sort();
    expected
}

/// A merger over `srcs` with nothing pushed yet, each source's cursor at 0, and the ascending
/// limits to advance to, ending with "everything".
fn start(srcs: &[Src], mut limits: Vec<i64>) -> (Merger, Vec<usize>, Vec<i64>) {
    let mut m = Merger::new();
    for s in srcs {
        m.add_source(s.kind);
    }
    limits.sort();
    limits.push(i64::MAX);
    (m, vec![0usize; srcs.len()], limits)
}

proptest! {
    /// The driver of the market engine: runs of one source below the bound `peek_run` gives.
    #[test]
    fn runs_release_the_total_order(srcs in sources(), limits in prop::collection::vec(0i64..60, 1..6)) {
        let (mut m, mut cursor, limits) = start(&srcs, limits);
        let mut released: Vec<EventKey> = Vec::new();
        for &limit in &limits {
            loop {
                match m.peek_run(limit) {
                    RunStep::Run { source, bound } => {
                        let mut n = 0;
                        while let Some((key, _)) = m.head(source) {
                            if key >= bound || key.ts_ns > limit {
                                break;
                            }
                            m.pop(key);
                            released.push(key);
                            n += 1;
                        }
                        prop_assert!(n > 0, "a run releases at least its first row");
                    }
                    RunStep::Reached => break,
                    RunStep::Starved(i) => feed(&mut m, &srcs, &mut cursor, i as usize),
                }
            }
        }
        prop_assert_eq!(released, total_order(&srcs));
    }

    #[test]
    fn merge_is_the_total_order(srcs in sources(), limits in prop::collection::vec(0i64..60, 1..6)) {
        let (mut m, mut cursor, limits) = start(&srcs, limits);
        let mut released: Vec<EventKey> = Vec::new();
        for &limit in &limits {
            loop {
                match m.next(limit) {
                    Step::Tick(key, tick) => {
                        let ts = match tick { Tick::Trade(t) => t.ts_ns, Tick::Quote(q) => q.ts_ns, Tick::Kline(k) => k.close_ts_ns() };
                        prop_assert_eq!(ts, key.ts_ns);
                        prop_assert!(key.ts_ns <= limit);
                        released.push(key);
                    }
                    Step::Reached => break,
                    Step::Starved(i) => feed(&mut m, &srcs, &mut cursor, i as usize),
                }
            }
        }
        let mut expected: Vec<EventKey> = srcs.iter().enumerate().flat_map(|(i, s)| {
            let kind = if s.kind == SourceKind::Trades { EventKind::Trade } else { EventKind::Quote };
            s.ts.iter().enumerate().map(move |(r, &ts)| EventKey::new(ts, kind, i as u32, (r + 1) as u64))
        }).collect();
        expected.sort();
        prop_assert_eq!(released, expected);
    }
}
