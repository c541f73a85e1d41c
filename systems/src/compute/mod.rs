//! The compute marketplace: the serving contracts 0G's user SDK talks to, and the rules a
//! provider settles by.

pub mod contracts;
pub mod fine_tuning;
pub mod settlement;
