//! The bulk-volume-classification proxy (spec §5.9), only when configured or in bars mode:
//! a minute's volume split by the normal CDF of its close-to-close change over the
//! standard deviation of recent changes.

use crate::rolling::RollingWindow;

#[derive(Debug, Clone)]
pub struct Bvc {
    deltas: RollingWindow,
    prev_close: f64,
}

impl Bvc {
    pub fn new(lookback_minutes: u32) -> Self {
        Bvc { deltas: RollingWindow::new(lookback_minutes as usize), prev_close: f64::NAN }
    }

    /// (order flow, normalised order flow) of a minute; `close` is carried over by the caller.
    pub fn on_minute(&mut self, close: f64, volume: f64) -> (f64, f64) {
        let mut delta = f64::NAN;
        if close.is_finite() && self.prev_close.is_finite() {
            delta = close - self.prev_close;
            self.deltas.push(delta);
        }
        if close.is_finite() {
            self.prev_close = close;
        }
        if delta.is_nan() || self.deltas.len() < 2 {
            return (f64::NAN, f64::NAN);
        }
        let std = self.deltas.sample_std();
        let buy_frac = if std == 0.0 { 0.5 } else { 0.5 * (1.0 + libm::erf(delta / (std * std::f64::consts::SQRT_2))) };
        let net = 2.0 * buy_frac - 1.0;
        (volume * net, if volume > 0.0 { net } else { f64::NAN })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_moves_count_as_buying() {
        let mut b = Bvc::new(240);
        assert!(b.on_minute(100.0, 1.0).0.is_nan());
        assert!(b.on_minute(101.0, 1.0).0.is_nan(), "one delta: no deviation yet");
        let (of, norm) = b.on_minute(103.0, 2.0);
        assert!(of > 0.0 && norm > 0.0 && (of - 2.0 * norm).abs() < 1e-15);
        let (of, norm) = b.on_minute(103.0, 2.0);
        assert_eq!((of, norm), (0.0, 0.0), "an unchanged close is split evenly");
        let (of, _) = b.on_minute(102.0, 2.0);
        assert!(of < 0.0);
    }
}
