//! Throughput of the feature engine on its own, and the cost of one value area.
//!
//! `feature_engine/day`: a generated day at Binance BTCUSDT-perp rates (≈ 1.2 M trades and
//! ≈ 5 M quote updates; `SIM_BENCH_EVENTS` overrides the total), already in the total order,
//! fed to `FeatureEngine` with a minute close each minute from `MinuteBarBuilder` — alignment,
//! prints, side inference, the 4-hour histogram, width and value area, as inside the market
//! engine but without the merge. Elements are ticks.
//!
//! `feature_engine/value_area`: one aggregation plus value area on a 4-hour profile spanning
//! about 3000 base bins, at the widths a calm (k = 5) and a busy (k = 50) market give.
//!
//! `feature_engine/bars_month`: bars mode over a generated month of one-minute klines (43 200)
//! at a 0.01 tick with `bin_width_max_ticks` 2000, as in `scenarios/amt/binance_spot_month_bars`:
//! every kline's volume spread over the thousands of base bins of its range, a 4-hour profile
//! spanning a few hundred thousand base bins, a value area each minute. Elements are klines.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::price::price_of;
use sim_core::time::{NS_PER_MIN, NS_PER_S};
use sim_core::{Kline, MinuteBar, Quote, Trade};
use sim_features::histogram::BaseHistogram;
use sim_features::value_area::value_area;
use sim_features::{FeatureEngine, FeatureInput, FeatureParams, OrderFlowSource};
use sim_ingestion::MinuteBarBuilder;

const TICK: f64 = 0.1;
/// 60 000.0 in ticks of 0.1.
const CENTER: i64 = 600_000;
const DAY_NS: i64 = 86_400 * NS_PER_S;

#[derive(Clone, Copy)]
enum Tick {
    Trade(Trade),
    Quote(Quote),
}

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A mid-price random walk: steps of up to ±8 ticks per quote update give ≈ 300 ticks
/// ($30, 0.05 %) a minute at 3500 updates a minute, BTC's usual one-minute move, pulled back
/// when it strays more than 5 % from 60 000.
fn walk(mid: &mut i64, rng: &mut XorShift) {
    *mid += rng.below(17) as i64 - 8;
    if (*mid - CENTER).abs() > CENTER / 20 {
        *mid += if *mid > CENTER { -4 } else { 4 };
    }
}

/// `n` ticks over one day in the total order, ≈ 1.2 : 5 trades to quotes. Trades come in
/// prints of 1–6 trades sharing a timestamp (a taker order filled by several makers, walking
/// up or down the book), mostly at the touch, sometimes inside a two-tick spread or through it.
fn day(n: usize) -> Vec<Tick> {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let trade_share = 1.2 / 6.2;
    // Time slots are quote updates plus prints (≈ 3.5 trades each), spread over the day.
    let slots = (n as f64 * (1.0 - trade_share) + n as f64 * trade_share / 3.5) as i64;
    let dt_mean = (DAY_NS / slots.max(1)).max(2);
    let mut out = Vec::with_capacity(n + 8);
    let (mut ts, mut mid, mut spread, mut id, mut last_trade_ts) = (0i64, CENTER, 1i64, 0i64, -1i64);
    let quote_per_mille = ((1.0 - trade_share) / (1.0 - trade_share + trade_share / 3.5) * 1000.0) as u64;
    while out.len() < n {
        // A quarter of the events share the previous one's timestamp (bursts).
        ts += if rng.below(4) == 0 { 0 } else { 1 + rng.below(2 * dt_mean as u64 * 4 / 3) as i64 };
        if rng.below(1000) < quote_per_mille {
            // Total order: a quote never follows a trade of its own instant.
            if ts == last_trade_ts {
                ts += 1;
            }
            walk(&mut mid, &mut rng);
            spread = if rng.below(5) == 0 { 2 } else { 1 };
            let (bid_sz, ask_sz) = (0.001 * (1 + rng.below(5000)) as f64, 0.001 * (1 + rng.below(5000)) as f64);
            out.push(Tick::Quote(Quote {
                ts_ns: ts,
                bid_px: price_of(mid, TICK),
                bid_sz,
                ask_px: price_of(mid + spread, TICK),
                ask_sz,
            }));
        } else {
            last_trade_ts = ts;
            let buy = rng.below(2) == 0;
            let mut px = match rng.below(10) {
                // Through the bid, at it, inside a two-tick spread, at the ask.
                0 => mid + rng.below(spread as u64 + 2) as i64 - 1,
                _ if buy => mid + spread,
                _ => mid,
            };
            for _ in 0..1 + rng.below(6) {
                id += 1;
                // Mostly small fills, now and then a large one (up to 100 BTC).
                let max = if rng.below(50) == 0 { 100_000 } else { 500 };
                let size = 0.001 * (1 + rng.below(max)) as f64;
                let side = if buy { 1 } else { -1 };
                out.push(Tick::Trade(Trade { ts_ns: ts, price: price_of(px, TICK), size, side, trade_id: id }));
                if rng.below(4) == 0 {
                    px += if buy { 1 } else { -1 }; // walks a level of the book
                }
            }
        }
    }
    out.truncate(n);
    out
}

/// The measured pipeline: bars and features over the day, a close each minute (empty minutes
/// included), exactly as the market engine calls them.
fn run(ticks: &[Tick], p: FeatureParams) -> u64 {
    let mut fe = FeatureEngine::new(p);
    let mut bars = MinuteBarBuilder::new(Some(0));
    let mut valid = 0u64;
    let mut closed: Vec<MinuteBar> = Vec::with_capacity(4);
    let mut close = |ts: i64, bars: &mut MinuteBarBuilder, fe: &mut FeatureEngine, closed: &mut Vec<MinuteBar>| {
        bars.close_through(ts, &mut |b| closed.push(b));
        for b in closed.drain(..) {
            valid += u64::from(fe.close_minute(&b).va_valid);
        }
    };
    for tk in ticks {
        match tk {
            Tick::Trade(t) => {
                close(t.ts_ns, &mut bars, &mut fe, &mut closed);
                bars.on_trade(t);
                fe.on_trade(t).unwrap();
            }
            Tick::Quote(q) => {
                close(q.ts_ns, &mut bars, &mut fe, &mut closed);
                bars.on_quote(q);
                fe.on_quote(q);
            }
        }
    }
    let last = ticks.last().map_or(0, |t| match t {
        Tick::Trade(t) => t.ts_ns,
        Tick::Quote(q) => q.ts_ns,
    });
    close((last / NS_PER_MIN + 1) * NS_PER_MIN, &mut bars, &mut fe, &mut closed);
    valid
}

/// A 4-hour profile: ≈ 200 k trades (4 h at 1.2 M a day) from a walk wandering over ≈ 3000
/// ticks, so uneven levels with several humps as in a real window.
fn four_hour_profile() -> BaseHistogram {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut h = BaseHistogram::default();
    let mut px = CENTER;
    for _ in 0..200_000 {
        px += rng.below(33) as i64 - 16;
        // Reflected at ±1500 ticks, so the span is ≈ 3000 bins, not piled up at the edges.
        if (px - CENTER).abs() > 1500 {
            px = 2 * (CENTER + 1500 * (px - CENTER).signum()) - px;
        }
        h.add(px, 100_000 * (1 + rng.below(500) as i64)).unwrap();
    }
    h
}

/// A month of one-minute klines at a 0.01 tick: a walk from 60 000 USD with one-minute moves of
/// a few tens of dollars (≈ 0.05 %) and wicks on both sides, so ranges of 1 000–10 000 ticks; a
/// burst of ten times the volatility for two hours in the middle (a crash day).
fn bars_month(minutes: i64) -> Vec<Kline> {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut close = 6_000_000i64; // ticks of 0.01
    (0..minutes)
        .map(|m| {
            let scale = if (minutes / 2..minutes / 2 + 120).contains(&m) { 10 } else { 1 };
            let open = close;
            close = open + (rng.below(8001) as i64 - 4000) * scale;
            let low = open.min(close) - rng.below(1500) as i64 * scale;
            let high = open.max(close) + rng.below(1500) as i64 * scale;
            Kline {
                open_ts_ns: m * NS_PER_MIN,
                interval_ns: NS_PER_MIN,
                open: price_of(open, 0.01),
                high: price_of(high, 0.01),
                low: price_of(low, 0.01),
                close: price_of(close, 0.01),
                volume: 0.00001 * (1 + rng.below(10_000_000)) as f64,
            }
        })
        .collect()
}

/// Bars mode as the market engine runs it: each kline is its minute's bar, closed at once.
fn run_bars(klines: &[Kline], p: FeatureParams) -> u64 {
    let mut fe = FeatureEngine::new(p);
    let mut bars = MinuteBarBuilder::new(Some(0));
    let mut valid = 0u64;
    for k in klines {
        bars.on_kline(k);
        fe.on_kline(k).unwrap();
        bars.close_through(k.open_ts_ns + NS_PER_MIN, &mut |b| valid += u64::from(fe.close_minute(&b).va_valid));
    }
    valid
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("SIM_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(6_200_000);
    let ticks = day(n);
    let p = FeatureParams::defaults(TICK);
    let trades = ticks.iter().filter(|t| matches!(t, Tick::Trade(_))).count();
    let valid = run(&ticks, p);
    eprintln!("day: {} ticks ({trades} trades), {valid} minutes with a valid value area", ticks.len());

    let mut g = c.benchmark_group("feature_engine");
    g.sample_size(10);
    // A default day takes ≈ 0.2 s: ten samples need more than criterion's default 5 s.
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(ticks.len() as u64));
    g.bench_function("day", |b| b.iter(|| run(black_box(&ticks), p)));

    let h = four_hour_profile();
    let (lo, hi) = h.range().unwrap();
    eprintln!("4-hour profile: {} base bins span, {} non-empty", hi - lo + 1, h.nonempty());
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::new();
    for k in [5i64, 50] {
        g.bench_with_input(BenchmarkId::new("value_area", format!("k{k}")), &k, |b, &k| {
            b.iter(|| {
                let a0 = h.aggregate(black_box(k), &mut out).unwrap();
                (a0, value_area(&out, 0.70).unwrap())
            })
        });
    }

    let klines = bars_month(43_200);
    let bars_p = FeatureParams {
        bin_width_max_ticks: 2000,
        feature_input: FeatureInput::Bars,
        order_flow_source: OrderFlowSource::Bvc,
        ..FeatureParams::defaults(0.01)
    };
    eprintln!("bars month: {} klines, {} minutes with a valid value area", klines.len(), run_bars(&klines, bars_p));
    g.throughput(Throughput::Elements(klines.len() as u64));
    g.bench_function("bars_month", |b| b.iter(|| run_bars(black_box(&klines), bars_p)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
