//! A window of the last N values with the mean and the sample standard deviation, summed
//! oldest first every time (N is at most a few hundred), so the result depends only on the
//! values in the window and not on the history of additions and removals.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct RollingWindow {
    cap: usize,
    values: VecDeque<f64>,
}

impl RollingWindow {
    pub fn new(cap: usize) -> Self {
        RollingWindow { cap, values: VecDeque::with_capacity(cap + 1) }
    }

    pub fn push(&mut self, v: f64) {
        self.values.push_back(v);
        if self.values.len() > self.cap {
            self.values.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            return f64::NAN;
        }
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    /// Sample standard deviation (ddof 1); NaN with fewer than two values.
    pub fn sample_std(&self) -> f64 {
        let n = self.values.len();
        if n < 2 {
            return f64::NAN;
        }
        let mean = self.mean();
        let ss: f64 = self.values.iter().map(|v| (v - mean) * (v - mean)).sum();
        libm::sqrt(ss / (n - 1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_last_values() {
        let mut w = RollingWindow::new(3);
        assert!(w.mean().is_nan());
        for v in [1.0, 2.0, 3.0, 4.0] {
            w.push(v);
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.mean(), 3.0);
        assert_eq!(w.sample_std(), 1.0);
        let mut one = RollingWindow::new(3);
        one.push(5.0);
        assert!(one.sample_std().is_nan());
    }
}
