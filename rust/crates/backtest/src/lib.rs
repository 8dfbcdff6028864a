//! The market engine (DESIGN §3): ingestion, features and the simulated matching engine behind
//! one `advance_to(t)` call that the Python event loop drives.

pub mod arrival;
pub mod engine;
pub mod fill_model;
pub mod matching;
pub mod reduce_only;

pub use arrival::TimeInForce;
pub use engine::{Advance, EngineConfig, EngineEvent, MarketEngine};
pub use fill_model::FillModel;
pub use matching::{
    FeeModel, InstrumentModel, MatchEvent, Matcher, OrderRequest, OrderStatus, OrderType, Side,
    SimFill,
};
