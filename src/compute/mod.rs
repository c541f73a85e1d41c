//! The compute marketplace's node side.

pub mod api_error;
pub mod ask;
pub mod backend;
pub mod client;
pub mod dev_provider;
pub mod fine_tuning;
pub mod genesis;
pub mod oversized;
pub mod provider;
pub mod ranking;
pub mod rpc;
pub mod receipt;
pub mod role;
pub mod token;
pub mod training;
pub mod unsettled;
pub mod verifiable;
