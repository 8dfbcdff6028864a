//! Shared types of the replay simulator.
//!
//! Nothing here knows about Python, files or exchanges: timestamps, ticks, minute bars,
//! the total order of events (`order`), prices on the tick grid (`price`), sizes as exact integer
//! units (`units`), and the typed data errors every layer above reports.

pub mod error;
pub mod order;
pub mod price;
pub mod tick;
pub mod time;
pub mod units;

pub use error::{BadRowKind, DataError};
pub use order::{EventKey, EventKind};
pub use tick::{Kline, MinuteBar, Quote, Trade};
