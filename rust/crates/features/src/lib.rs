//! The amt feature engine (spec §4–§5): trade/quote alignment, side inference, order flow,
//! quote imbalance, volatility, the rolling volume profile and its value area — computed tick
//! by tick inside the market engine and handed over at each minute close.
//!
//! docs/FEATURES.md defines every number; `tests/reference/features.py` restates it in Python.

pub mod align;
pub mod bars_profile;
pub mod bin_width;
pub mod bvc;
pub mod engine;
pub mod histogram;
pub mod params;
pub mod qimb;
pub mod raw;
pub mod rolling;
pub mod side;
pub mod value_area;

pub use engine::{Agreement, FeatureEngine, MinuteFeatures};
pub use histogram::SpanError;
pub use params::{FeatureInput, FeatureParams, OrderFlowSource, QuoteAlignment, SideSource};
pub use raw::{RawQuotes, RawTrades};
