//! The compute marketplace's node side.

pub mod genesis;
pub mod token;
