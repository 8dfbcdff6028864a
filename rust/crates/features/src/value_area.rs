//! POC, VAL and VAH by contiguous expansion (spec §5.6, DESIGN §8).
//!
//! The POC is the bin with the most volume, the lower price on a tie. The area grows one
//! adjacent bin at a time toward the side with more volume — the lower side on a tie, only
//! inward at an edge — until it holds `va_fraction` of the volume. Empty bins inside the span
//! are part of it: the area is strictly contiguous.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueArea {
    /// Indices into the bins given.
    pub poc: usize,
    pub lo: usize,
    pub hi: usize,
    pub cum: i64,
    pub total: i64,
    pub nonempty: usize,
}

impl ValueArea {
    pub fn coverage(&self) -> f64 {
        self.cum as f64 / self.total as f64
    }
}

/// `None` when the bins hold no volume.
pub fn value_area(bins: &[i64], va_fraction: f64) -> Option<ValueArea> {
    let mut total = 0i64;
    let mut nonempty = 0usize;
    let mut poc = 0usize;
    for (i, &v) in bins.iter().enumerate() {
        total += v;
        if v > 0 {
            nonempty += 1;
        }
        if v > bins[poc] {
            poc = i;
        }
    }
    if total == 0 {
        return None;
    }
    let (mut lo, mut hi, mut cum) = (poc, poc, bins[poc]);
    while (cum as f64) / (total as f64) < va_fraction {
        let below = lo.checked_sub(1).map(|i| bins[i]);
        let above = bins.get(hi + 1).copied();
        match (below, above) {
            (Some(b), Some(a)) if a > b => {
                hi += 1;
                cum += a;
            }
            (Some(b), _) => {
                lo -= 1;
                cum += b;
            }
            (None, Some(a)) => {
                hi += 1;
                cum += a;
            }
            (None, None) => break,
        }
    }
    Some(ValueArea { poc, lo, hi, cum, total, nonempty })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_worked_example_20_3() {
        // $49,800 … $50,300 in $100 bins.
        let bins = [100, 250, 400, 300, 150, 50];
        let va = value_area(&bins, 0.70).unwrap();
        assert_eq!((va.poc, va.lo, va.hi), (2, 1, 3));
        assert_eq!((va.cum, va.total), (950, 1250));
        assert_eq!(va.coverage(), 0.76);
    }

    #[test]
    fn poc_at_an_edge_expands_inward_only() {
        let va = value_area(&[10, 5, 1, 1], 0.9).unwrap();
        assert_eq!((va.poc, va.lo, va.hi), (0, 0, 2));
        let va = value_area(&[1, 1, 5, 10], 0.9).unwrap();
        assert_eq!((va.poc, va.lo, va.hi), (3, 1, 3));
    }

    #[test]
    fn gaps_are_included_in_the_contiguous_area() {
        let va = value_area(&[6, 0, 0, 10, 0, 1], 0.9).unwrap();
        assert_eq!((va.lo, va.hi, va.cum, va.nonempty), (0, 3, 16, 3));
    }

    #[test]
    fn ties_go_to_the_lower_price() {
        let va = value_area(&[3, 7, 2, 7, 3], 0.3).unwrap();
        assert_eq!(va.poc, 1, "equal POC candidates: the lower price");
        let va = value_area(&[0, 4, 10, 4, 0], 0.7).unwrap();
        assert_eq!((va.lo, va.hi), (1, 2), "equal neighbours: the lower one first");
    }

    #[test]
    fn empty_histogram_has_no_value_area() {
        assert_eq!(value_area(&[0, 0], 0.7), None);
        assert_eq!(value_area(&[], 0.7), None);
    }
}
