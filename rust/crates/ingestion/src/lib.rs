//! Ingestion: validation of incoming tick batches, one buffer per data source, the k-way merge
//! of all sources in the total order of `sim_core::order`, and one-minute bars.
//!
//! Batches arrive as columns (from Arrow/numpy buffers on the Python side); rows are validated
//! once, when pushed, and either rejected with a typed error or dropped and counted, by policy.

pub mod bars;
pub mod merge;
pub mod source;
pub mod validate;

pub use bars::MinuteBarBuilder;
pub use merge::{Merger, RunStep, Tick};
pub use source::{BadRowPolicy, BadRowStats, SourceKind};
