//! The compute marketplace's data: fine-tuning tasks as 0G's provider API shows them, and as
//! entities of the provider's tick.

pub mod fine_tuning;
pub mod training_tasks;
