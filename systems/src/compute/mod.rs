//! The compute marketplace: the serving contracts 0G's user SDK talks to, the rules a
//! provider settles by, and the fine-tuning task lifecycle of the provider's tick.

pub mod contracts;
pub mod fine_tuning;
pub mod settlement;
pub mod training_tasks;
