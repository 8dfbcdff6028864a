//! Typed data errors. The bindings turn each into a Python exception class, and the CLI turns
//! those into one-line messages naming the source and the row.

use thiserror::Error;

/// Why a row is rejected. Counted per kind; never silently fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadRowKind {
    /// NaN or infinite price, size or timestamp field.
    NotFinite,
    NonPositivePrice,
    NonPositiveSize,
    /// bid ≥ ask.
    CrossedQuote,
    DuplicateTradeId,
    /// Timestamp earlier than the previous accepted row of the same source.
    TimeBackwards,
    /// Kline whose high/low do not bracket its open and close, or a non-positive interval.
    InconsistentBar,
}

impl BadRowKind {
    pub const ALL: [BadRowKind; 7] = [
        BadRowKind::NotFinite,
        BadRowKind::NonPositivePrice,
        BadRowKind::NonPositiveSize,
        BadRowKind::CrossedQuote,
        BadRowKind::DuplicateTradeId,
        BadRowKind::TimeBackwards,
        BadRowKind::InconsistentBar,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BadRowKind::NotFinite => "not_finite",
            BadRowKind::NonPositivePrice => "non_positive_price",
            BadRowKind::NonPositiveSize => "non_positive_size",
            BadRowKind::CrossedQuote => "crossed_quote",
            BadRowKind::DuplicateTradeId => "duplicate_trade_id",
            BadRowKind::TimeBackwards => "time_backwards",
            BadRowKind::InconsistentBar => "inconsistent_bar",
        }
    }
}

#[derive(Debug, Clone, Error, PartialEq)]
pub enum DataError {
    /// A bad row under the `fail` policy. `row` is the 1-based data row of the source.
    #[error("row {row}: {} ({detail})", kind.name())]
    BadRow { src: u32, row: u64, kind: BadRowKind, detail: String },
    #[error("source {src} is a {actual} source, not a {expected} source")]
    WrongSourceKind { src: u32, expected: &'static str, actual: &'static str },
    #[error("unknown source {0}")]
    UnknownSource(u32),
    #[error("source {0} is already finished")]
    SourceFinished(u32),
    #[error("column lengths differ in a batch for source {0}")]
    RaggedBatch(u32),
}
