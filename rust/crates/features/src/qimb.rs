//! Quote imbalance (spec §5.8): `(bid_sz − ask_sz) / (bid_sz + ask_sz)` and its time-decayed
//! EMA over every quote update, weight `1 − exp(−Δt / span)` (DESIGN §8), never reset.
//!
//! The weight is a function of the integer gap Δt alone, and real feeds repeat gaps all the
//! time (millisecond timestamps; a burst of quotes at one instant has Δt = 0), so the weights
//! of recent gaps are kept in a small table instead of calling `exp` once per quote: the same
//! bits, since each is computed once by the same expression.

#[inline]
pub fn imbalance(bid_sz: f64, ask_sz: f64) -> f64 {
    let d = bid_sz + ask_sz;
    if d > 0.0 {
        (bid_sz - ask_sz) / d
    } else {
        f64::NAN
    }
}

/// Gaps whose weight is remembered (a direct-mapped table; a power of two).
const WEIGHTS: usize = 64;

#[derive(Debug, Clone)]
pub struct QimbEma {
    span_s: f64,
    ema: f64,
    last_ts: Option<i64>,
    /// (gap in ns, its weight); a gap of −1 marks an empty slot (gaps are never negative here).
    weights: [(i64, f64); WEIGHTS],
}

impl QimbEma {
    pub fn new(span_s: f64) -> Self {
        QimbEma { span_s, ema: f64::NAN, last_ts: None, weights: [(-1, f64::NAN); WEIGHTS] }
    }

    /// `1 − exp(−Δt / span)` for a gap of `dt_ns`.
    #[inline]
    fn weight(&mut self, dt_ns: i64) -> f64 {
        let slot = ((dt_ns as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % WEIGHTS;
        let (gap, w) = self.weights[slot];
        if gap == dt_ns {
            return w;
        }
        let dt_s = dt_ns as f64 / 1e9;
        let w = 1.0 - exp(-dt_s / self.span_s);
        if dt_ns >= 0 {
            self.weights[slot] = (dt_ns, w);
        }
        w
    }

    pub fn value(&self) -> f64 {
        self.ema
    }

    #[inline]
    pub fn on_quote(&mut self, ts_ns: i64, bid_sz: f64, ask_sz: f64) {
        let x = imbalance(bid_sz, ask_sz);
        if x.is_nan() {
            return;
        }
        match self.last_ts {
            None => self.ema = x,
            Some(t0) => {
                let w = self.weight(ts_ns - t0);
                self.ema += w * (x - self.ema);
            }
        }
        self.last_ts = Some(ts_ns);
    }
}

// musl's exp (libm/src/math/exp.rs, from FreeBSD's e_exp.c), inlined for its one branch that
// quote gaps take — |x| ≤ ½ ln 2, a gap of up to ~20 s at a 60 s span — so the EMA makes no call
// per quote. The same operations in the same order: the same bits (tested against libm::exp).
const P1: f64 = 1.66666666666666019037e-01;
const P2: f64 = -2.77777777770155933842e-03;
const P3: f64 = 6.61375632143793436117e-05;
const P4: f64 = -1.65339022054652515390e-06;
const P5: f64 = 4.13813679705723846039e-08;

#[inline]
fn exp(x: f64) -> f64 {
    let hx = ((x.to_bits() >> 32) as u32) & 0x7fff_ffff;
    if hx > 0x3fd6_2e42 || hx <= 0x3e30_0000 {
        return libm::exp(x); // beyond ½ ln 2 (argument reduction), or below 2^-28
    }
    let (hi, lo) = (x, 0.0);
    let xx = x * x;
    let c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))));
    1.0 + (x * c / (2.0 - c) - lo + hi)
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

    #[test]
    fn remembered_weights_are_the_computed_ones() {
        let span = 60.0;
        let mut e = QimbEma::new(span);
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        for i in 0..200_000_u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Mostly repeated millisecond gaps, some arbitrary nanosecond ones, and 0.
            let dt = match i % 4 {
                0 => 0,
                1 | 2 => (state % 20) as i64 * 1_000_000,
                _ => (state % 5_000_000_000) as i64,
            };
            let direct = 1.0 - libm::exp(-(dt as f64 / 1e9) / span);
            assert_eq!(e.weight(dt).to_bits(), direct.to_bits(), "gap {dt} ns");
        }
    }
}
