//! The compute marketplace's node side.

pub mod backend;
pub mod client;
pub mod genesis;
pub mod provider;
pub mod receipt;
pub mod token;
pub mod unsettled;
