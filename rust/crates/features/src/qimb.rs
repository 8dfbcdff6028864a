//! Quote imbalance (spec §5.8): `(bid_sz − ask_sz) / (bid_sz + ask_sz)` and its time-decayed
//! EMA over every quote update, weight `1 − exp(−Δt / span)` (DESIGN §8), never reset.
//!
//! The quotes are folded into the EMA in batches — when a minute closes and reads it, or every
//! `BATCH` quotes — rather than one by one: the weights depend only on the quotes' timestamps,
//! so a batch computes its imbalances, gaps and weights in loops the compiler vectorises (two
//! divisions and a polynomial per quote, no call), and only the EMA recursion itself runs quote
//! after quote. Every number is the same operation on the same operands as one at a time: the
//! same bits (tested against the one-at-a-time recursion).

#[inline]
pub fn imbalance(bid_sz: f64, ask_sz: f64) -> f64 {
    let d = bid_sz + ask_sz;
    if d > 0.0 {
        (bid_sz - ask_sz) / d
    } else {
        f64::NAN
    }
}

/// Quotes held before they are folded in.
const BATCH: usize = 4096;

#[derive(Debug, Clone)]
pub struct QimbEma {
    span_s: f64,
    ema: f64,
    last_ts: Option<i64>,
    /// Quotes not folded in yet: timestamps and sizes.
    ts: Vec<i64>,
    bid_sz: Vec<f64>,
    ask_sz: Vec<f64>,
    /// Scratch of `fold`: the imbalances that count (not NaN), their timestamps, the exponents of
    /// their weights and the weights.
    x: Vec<f64>,
    x_ts: Vec<i64>,
    a: Vec<f64>,
    w: Vec<f64>,
}

impl QimbEma {
    pub fn new(span_s: f64) -> Self {
        QimbEma {
            span_s,
            ema: f64::NAN,
            last_ts: None,
            ts: Vec::with_capacity(BATCH),
            bid_sz: Vec::with_capacity(BATCH),
            ask_sz: Vec::with_capacity(BATCH),
            x: Vec::new(),
            x_ts: Vec::new(),
            a: Vec::new(),
            w: Vec::new(),
        }
    }

    /// The EMA over every quote so far.
    pub fn value(&mut self) -> f64 {
        self.fold();
        self.ema
    }

    #[inline]
    pub fn on_quote(&mut self, ts_ns: i64, bid_sz: f64, ask_sz: f64) {
        self.ts.push(ts_ns);
        self.bid_sz.push(bid_sz);
        self.ask_sz.push(ask_sz);
        if self.ts.len() >= BATCH {
            self.fold();
        }
    }

    /// Folds the held quotes into the EMA: `ema += w · (x − ema)` with `w = 1 − exp(−Δt / span)`,
    /// Δt from the previous quote with a finite imbalance; the first such quote sets the EMA.
    fn fold(&mut self) {
        self.x.clear();
        self.x_ts.clear();
        for i in 0..self.ts.len() {
            let x = imbalance(self.bid_sz[i], self.ask_sz[i]);
            if !x.is_nan() {
                self.x.push(x);
                self.x_ts.push(self.ts[i]);
            }
        }
        self.ts.clear();
        self.bid_sz.clear();
        self.ask_sz.clear();
        let n = self.x.len();
        if n == 0 {
            return;
        }
        // a[i] is the exponent of x[i]'s weight, w[i] the weight (none for the run's first quote).
        let prev = self.last_ts.unwrap_or(self.x_ts[0]);
        let span = self.span_s;
        self.a.clear();
        self.a.push(-((self.x_ts[0] - prev) as f64 / 1e9) / span);
        self.a.extend(self.x_ts.windows(2).map(|t| -((t[1] - t[0]) as f64 / 1e9) / span));
        self.w.clear();
        self.w.extend(self.a.iter().map(|&a| 1.0 - exp_poly(a)));
        // Exponents outside the polynomial's range (rare: a gap beyond ~20 s at a 60 s span, or a
        // few nanoseconds) take libm's exp.
        for (w, &a) in self.w.iter_mut().zip(&self.a) {
            if !in_poly_range(a) {
                *w = 1.0 - libm::exp(a);
            }
        }
        let mut start = 0;
        if self.last_ts.is_none() {
            self.ema = self.x[0];
            start = 1;
        }
        let mut ema = self.ema;
        for i in start..n {
            ema += self.w[i] * (self.x[i] - ema);
        }
        self.ema = ema;
        self.last_ts = Some(self.x_ts[n - 1]);
    }
}

// musl's exp (libm/src/math/exp.rs, from FreeBSD's e_exp.c), written out for its one branch that
// quote gaps take — |x| ≤ ½ ln 2, a gap of up to ~20 s at a 60 s span. The same operations in the
// same order: the same bits (tested against libm::exp).
// As musl writes them (the compiler rounds them to the same doubles).
#[allow(clippy::excessive_precision)]
const P1: f64 = 1.66666666666666019037e-01;
#[allow(clippy::excessive_precision)]
const P2: f64 = -2.77777777770155933842e-03;
#[allow(clippy::excessive_precision)]
const P3: f64 = 6.61375632143793436117e-05;
#[allow(clippy::excessive_precision)]
const P4: f64 = -1.65339022054652515390e-06;
#[allow(clippy::excessive_precision)]
const P5: f64 = 4.13813679705723846039e-08;

/// Whether musl's exp computes `x` with its polynomial alone: 2^-28 < |x| ≤ ½ ln 2.
#[inline]
fn in_poly_range(x: f64) -> bool {
    let hx = ((x.to_bits() >> 32) as u32) & 0x7fff_ffff;
    hx > 0x3e30_0000 && hx <= 0x3fd6_2e42
}

/// musl's exp in that range (meaningless outside it): no branch, so a loop of it vectorises.
#[inline]
fn exp_poly(x: f64) -> f64 {
    let (hi, lo) = (x, 0.0);
    let xx = x * x;
    let c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))));
    1.0 + (x * c / (2.0 - c) - lo + hi)
}

#[cfg(test)]
fn exp(x: f64) -> f64 {
    if in_poly_range(x) {
        exp_poly(x)
    } else {
        libm::exp(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_weights_by_elapsed_time() {
        let mut e = QimbEma::new(60.0);
        assert!(e.value().is_nan());
        e.on_quote(0, 3.0, 1.0);
        assert_eq!(e.value(), 0.5);
        e.on_quote(0, 1.0, 3.0);
        assert_eq!(e.value(), 0.5, "no time elapsed: no weight");
        e.on_quote(60_000_000_000, 1.0, 3.0);
        let w = 1.0 - (-1.0f64).exp();
        assert!((e.value() - (0.5 + w * (-0.5 - 0.5))).abs() < 1e-15);
        assert_eq!(imbalance(0.0, 0.0).is_nan(), true);
    }

    #[test]
    fn inlined_exp_is_libm_exp() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let edges = [0.0, -0.0, 0.5 * std::f64::consts::LN_2, -0.5 * std::f64::consts::LN_2, 3.725290298461914e-9,
                     -3.725290298461914e-9, 1e-300, -1.0, -700.0, -800.0, f64::NEG_INFINITY, f64::NAN];
        for x in edges {
            assert_eq!(exp(x).to_bits(), libm::exp(x).to_bits(), "{x:e}");
        }
        for _ in 0..2_000_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Gaps from 1 ns to ~1 h at spans of 1 s to 10 min, and arbitrary negative floats.
            let gap_s = (state % 3_600_000_000_000) as f64 / 1e9;
            let span = [1.0, 5.0, 60.0, 600.0][(state >> 60) as usize % 4];
            for x in [-gap_s / span, -f64::from_bits(state >> 2)] {
                assert_eq!(exp(x).to_bits(), libm::exp(x).to_bits(), "{x:e}");
            }
        }
    }

    /// The recursion one quote at a time, as the spec writes it.
    struct OneByOne {
        ema: f64,
        last_ts: Option<i64>,
    }

    impl OneByOne {
        fn on_quote(&mut self, ts: i64, bid: f64, ask: f64, span: f64) {
            let x = imbalance(bid, ask);
            if x.is_nan() {
                return;
            }
            match self.last_ts {
                None => self.ema = x,
                Some(t0) => {
                    let w = 1.0 - libm::exp(-((ts - t0) as f64 / 1e9) / span);
                    self.ema += w * (x - self.ema);
                }
            }
            self.last_ts = Some(ts);
        }
    }

    #[test]
    fn batches_are_the_one_by_one_recursion() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        for span in [1.0, 60.0, 600.0] {
            let mut e = QimbEma::new(span);
            let mut r = OneByOne { ema: f64::NAN, last_ts: None };
            let mut ts = 1_700_000_000_000_000_000_i64;
            for i in 0..50_000_u64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Bursts at one instant, millisecond gaps, nanosecond gaps, long silences.
                ts += match state % 8 {
                    0 | 1 => 0,
                    2..=4 => (state >> 8) as i64 % 50 * 1_000_000,
                    5 | 6 => (state >> 8) as i64 % 40_000_000,
                    _ => (state >> 8) as i64 % 600_000_000_000,
                };
                let (bid, ask) = match (state >> 40) % 50 {
                    0 => (0.0, 0.0), // no size on either side: NaN imbalance, skipped
                    _ => (((state >> 20) % 5000) as f64 / 1000.0, ((state >> 33) % 5000) as f64 / 1000.0 + 0.001),
                };
                e.on_quote(ts, bid, ask);
                r.on_quote(ts, bid, ask, span);
                if i.is_multiple_of(997) || (state >> 50).is_multiple_of(64) {
                    assert_eq!(e.value().to_bits(), r.ema.to_bits(), "quote {i}, span {span}");
                }
            }
            assert_eq!(e.value().to_bits(), r.ema.to_bits());
        }
    }
}
