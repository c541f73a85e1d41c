//! The host's wall clock, in milliseconds since the Unix epoch: what a node that ticks itself
//! and the calls that simulate its next block read (a node the host ticks reads the host's).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// The same clock in whole seconds (signed timestamps, task records, cache ages).
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}
