//! The compute marketplace's data: fine-tuning tasks as 0G's provider API shows them.

pub mod fine_tuning;
