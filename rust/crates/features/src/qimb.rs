//! Quote imbalance (spec §5.8): `(bid_sz − ask_sz) / (bid_sz + ask_sz)` and its time-decayed
//! EMA over every quote update, weight `1 − exp(−Δt / span)` (DESIGN §8), never reset.

#[inline]
pub fn imbalance(bid_sz: f64, ask_sz: f64) -> f64 {
    let d = bid_sz + ask_sz;
    if d > 0.0 {
        (bid_sz - ask_sz) / d
    } else {
        f64::NAN
    }
}

#[derive(Debug, Clone)]
pub struct QimbEma {
    span_s: f64,
    ema: f64,
    last_ts: Option<i64>,
}

impl QimbEma {
    pub fn new(span_s: f64) -> Self {
        QimbEma { span_s, ema: f64::NAN, last_ts: None }
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
                let dt_s = (ts_ns - t0) as f64 / 1e9;
                let w = 1.0 - libm::exp(-dt_s / self.span_s);
                self.ema += w * (x - self.ema);
            }
        }
        self.last_ts = Some(ts_ns);
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
}
