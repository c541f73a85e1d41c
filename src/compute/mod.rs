//! The compute marketplace's node side.

pub mod client;
pub mod genesis;
pub mod receipt;
pub mod token;
pub mod unsettled;
