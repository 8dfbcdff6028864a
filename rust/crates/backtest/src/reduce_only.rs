//! Reduce-only orders: the position the matcher's own fills add up to, and how much of a
//! reduce-only order may execute against it (docs/ORDER_SEMANTICS.md).
//!
//! A reduce-only order only ever shrinks the position of its instrument: when it executes, its
//! quantity is capped at the position on the other side, so it can close the position but never
//! open, increase or flip one; with nothing to reduce it is cancelled (Bybit's
//! `CancelByReduceOnly`). The position is kept in integer units of 1e-8 (`sim_core::units`), so
//! sums of decimal quantities leave no float residue that a cap could turn into a dust order.

use sim_core::units::{size_units, units_to_size};

use crate::matching::Side;

/// The net position of one instrument's fills, in units of 1e-8 (positive long).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    units: i64,
}

impl Position {
    pub fn apply(&mut self, side: Side, qty: f64) {
        self.units += side.sign() as i64 * size_units(qty);
    }

    pub fn qty(&self) -> f64 {
        units_to_size(self.units)
    }

    /// How much of a reduce-only order of `qty` on `side` may execute now: `None` when there is
    /// nothing to reduce (flat, or the position is on the order's own side); `qty` itself when
    /// the position covers it; else the whole position.
    pub fn reducible(&self, side: Side, qty: f64) -> Option<f64> {
        let against = -(side.sign() as i64) * self.units;
        if against <= 0 {
            return None;
        }
        if size_units(qty) <= against {
            Some(qty)
        } else {
            Some(units_to_size(against))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_quantities_add_up_exactly() {
        let mut p = Position::default();
        p.apply(Side::Buy, 0.1);
        p.apply(Side::Buy, 0.2);
        assert_eq!(p.qty(), 0.3);
        assert_eq!(
            p.reducible(Side::Sell, 0.3),
            Some(0.3),
            "0.1 + 0.2 covers 0.3: no dust is left"
        );
    }

    #[test]
    fn only_the_opposite_side_reduces_and_at_most_the_position() {
        let mut p = Position::default();
        assert_eq!(p.reducible(Side::Sell, 1.0), None);
        p.apply(Side::Sell, 0.5);
        assert_eq!(
            p.reducible(Side::Sell, 1.0),
            None,
            "a sell would increase a short"
        );
        assert_eq!(p.reducible(Side::Buy, 0.2), Some(0.2));
        assert_eq!(p.reducible(Side::Buy, 2.0), Some(0.5));
    }
}
