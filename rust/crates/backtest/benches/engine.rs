//! Events per second of validate + merge + minute bars + features through the market engine,
//! on a generated trade/quote stream (10 M events by default; `SIM_BENCH_EVENTS` overrides).
//!
//! Two ways of feeding it: `validate_merge_bars_features` pushes the whole stream before
//! replaying it (about 480 MB of buffered rows, so a good part of it is the kernel handing out
//! fresh pages); `validate_merge_bars_features_batched` feeds each source 65 536 rows at a time
//! when the engine says it is starved of it, as `sim.market.feed.MarketFeed` does in a run, and
//! through the batch calls the Python bindings use (`push_trades`, `push_quotes`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_backtest::{Advance, EngineConfig, FeeModel, MarketEngine};
use sim_core::{Quote, Trade};
use sim_features::FeatureParams;
use sim_ingestion::{BadRowPolicy, SourceKind};

fn stream(n: usize) -> (Vec<Trade>, Vec<Quote>) {
    // 2 quotes for every 5 events... roughly the 2:5 trade:quote mix of a real day.
    let mut trades = Vec::with_capacity(n * 2 / 7);
    let mut quotes = Vec::with_capacity(n * 5 / 7);
    let mut px = 50_000.0_f64;
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut ts = 0_i64;
    for i in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ts += 12_000_000 + (state % 1_000_000) as i64; // ~ 80 events/s
        if i % 7 < 2 {
            trades.push(Trade { ts_ns: ts, price: px, size: 0.001 * ((state % 50) + 1) as f64, side: 1, trade_id: i as i64 });
        } else {
            if state % 3 == 0 {
                px += if state % 2 == 0 { 0.1 } else { -0.1 };
            }
            quotes.push(Quote { ts_ns: ts, bid_px: px, bid_sz: 1.0, ask_px: px + 0.1, ask_sz: 2.0 });
        }
    }
    (trades, quotes)
}

fn engine() -> MarketEngine {
    MarketEngine::new(EngineConfig {
        start_ns: Some(0),
        policy: BadRowPolicy::Fail,
        tick_size: 0.1,
        fees: FeeModel { taker_bps: 5.0, maker_bps: -1.0 },
        features: FeatureParams::defaults(0.1),
    })
}

fn run(trades: &[Trade], quotes: &[Quote]) -> u64 {
    let mut e = engine();
    let ts = e.add_source(SourceKind::Trades);
    let qs = e.add_source(SourceKind::Quotes);
    for (i, t) in trades.iter().enumerate() {
        e.push_trade(ts, *t, i as u64 + 1).unwrap();
    }
    for (i, q) in quotes.iter().enumerate() {
        e.push_quote(qs, *q, i as u64 + 1).unwrap();
    }
    e.finish_source(ts).unwrap();
    e.finish_source(qs).unwrap();
    let end = trades.last().unwrap().ts_ns.max(quotes.last().unwrap().ts_ns);
    let mut bars = 0;
    loop {
        match e.advance_to(end).unwrap() {
            Advance::Events(ev) => bars += ev.len() as u64,
            Advance::Reached => break,
            Advance::Starved(_) => unreachable!(),
        }
    }
    bars
}

const BATCH: usize = 65_536;

fn run_batched(trades: &[Trade], quotes: &[Quote]) -> u64 {
    let mut e = engine();
    let ts = e.add_source(SourceKind::Trades);
    let qs = e.add_source(SourceKind::Quotes);
    let (mut t_at, mut q_at) = (0, 0);
    let end = trades.last().unwrap().ts_ns.max(quotes.last().unwrap().ts_ns);
    let mut bars = 0;
    loop {
        match e.advance_to(end).unwrap() {
            Advance::Events(ev) => bars += ev.len() as u64,
            Advance::Reached => break,
            Advance::Starved(s) if s == ts => {
                let batch = &trades[t_at..(t_at + BATCH).min(trades.len())];
                e.push_trades(ts, batch.iter().enumerate().map(|(i, t)| (*t, (t_at + i) as u64 + 1))).unwrap();
                t_at += batch.len();
                if batch.is_empty() {
                    e.finish_source(ts).unwrap();
                }
            }
            Advance::Starved(_) => {
                let batch = &quotes[q_at..(q_at + BATCH).min(quotes.len())];
                e.push_quotes(qs, batch.iter().enumerate().map(|(i, q)| (*q, (q_at + i) as u64 + 1))).unwrap();
                q_at += batch.len();
                if batch.is_empty() {
                    e.finish_source(qs).unwrap();
                }
            }
        }
    }
    bars
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("SIM_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let (trades, quotes) = stream(n);
    let mut g = c.benchmark_group("market_engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    assert_eq!(run(&trades, &quotes), run_batched(&trades, &quotes), "both ways of feeding make the same minutes");
    g.bench_function("validate_merge_bars_features", |b| b.iter(|| run(&trades, &quotes)));
    g.bench_function("validate_merge_bars_features_batched", |b| b.iter(|| run_batched(&trades, &quotes)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
