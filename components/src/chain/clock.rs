//! Block timestamps: strictly increasing, from the wall clock unless a dev control moved it.

use bevy_ecs::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The chain's clock, shared by the world (which seals blocks) and RPC (which simulates calls in
/// the block that comes next, and serves `evm_increaseTime` / `evm_setNextBlockTimestamp`).
///
/// Ethereum requires a block's timestamp to exceed its parent's, so a block sealed within the
/// same wall-clock second as its parent takes the parent's timestamp + 1: under sub-second
/// blocks the chain clock may run ahead of the wall clock, and the dev producer skips empty
/// blocks until the wall clock catches up again. Validator networks keep whole seconds from the
/// proposer's clock, never going back but possibly shared by sub-second blocks: a strictly
/// increasing clock would run a 250 ms network four times faster than the wall clock, until the
/// validators' drift check refused its proposals.
#[derive(Resource, Clone, Debug, Default)]
pub struct ChainClock {
    offset_s: Arc<AtomicU64>,
    /// The next block's timestamp when set (0: none), used once.
    next_timestamp: Arc<AtomicU64>,
}

impl ChainClock {
    /// Seconds added to the wall clock (`evm_increaseTime`).
    pub fn offset_s(&self) -> u64 {
        self.offset_s.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `seconds`; returns the total offset.
    pub fn advance(&self, seconds: u64) -> u64 {
        let previous = self
            .offset_s
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| Some(offset.saturating_add(seconds)))
            .unwrap_or_default();
        previous.saturating_add(seconds)
    }

    /// Fixes the next block's timestamp (`evm_setNextBlockTimestamp`).
    pub fn set_next_timestamp(&self, timestamp: u64) {
        self.next_timestamp.store(timestamp, Ordering::SeqCst);
    }

    /// The timestamp the next block on `parent_timestamp` would get at `now_s`.
    pub fn peek(&self, now_s: u64, parent_timestamp: u64) -> u64 {
        match self.next_timestamp.load(Ordering::SeqCst) {
            0 => now_s.saturating_add(self.offset_s()),
            fixed => fixed,
        }
        .max(parent_timestamp.saturating_add(1))
    }

    /// The timestamp of the block being sealed now; uses up a fixed next timestamp.
    pub fn take(&self, now_s: u64, parent_timestamp: u64) -> u64 {
        let fixed = self.next_timestamp.swap(0, Ordering::SeqCst);
        if fixed != 0 {
            // Whatever was asked, the wall clock resumes from there.
            let wall = now_s.saturating_add(self.offset_s());
            if fixed > wall {
                self.advance(fixed - wall);
            }
            return fixed.max(parent_timestamp + 1);
        }
        now_s.saturating_add(self.offset_s()).max(parent_timestamp.saturating_add(1))
    }

    /// Whether the wall clock (with its offset) has passed `parent_timestamp`: an empty block
    /// now would not run the chain clock further ahead.
    pub fn caught_up(&self, now_s: u64, parent_timestamp: u64) -> bool {
        self.next_timestamp.load(Ordering::SeqCst) != 0 || now_s.saturating_add(self.offset_s()) > parent_timestamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_strictly_increase_within_a_second() {
        let clock = ChainClock::default();
        assert_eq!(clock.take(100, 99), 100);
        assert_eq!(clock.take(100, 100), 101, "a second block in the same second moves one second on");
        assert_eq!(clock.peek(100, 101), 102);
        assert!(!clock.caught_up(100, 101));
        assert!(clock.caught_up(102, 101));
    }

    #[test]
    fn the_clock_saturates_instead_of_wrapping() {
        let clock = ChainClock::default();
        clock.advance(u64::MAX - 5);
        assert_eq!(clock.advance(100), u64::MAX);
        assert_eq!(clock.peek(100, u64::MAX), u64::MAX);
        assert_eq!(clock.take(100, u64::MAX), u64::MAX);
    }

    #[test]
    fn increase_time_and_next_timestamp_move_the_clock_forward_for_good() {
        let clock = ChainClock::default();
        assert_eq!(clock.advance(3_600), 3_600);
        assert_eq!(clock.peek(100, 50), 3_700);
        clock.set_next_timestamp(10_000);
        assert_eq!(clock.peek(100, 50), 10_000);
        assert_eq!(clock.take(100, 50), 10_000);
        assert_eq!(clock.take(101, 10_000), 10_001, "the clock resumes from the fixed timestamp");
        assert_eq!(clock.peek(102, 10_001), 10_002);
    }
}
