//! The transactions this node has already gossiped or taken from gossip, by hash. Every validator
//! forwards what it admits, so each transaction reaches a node once per peer; recovering its
//! sender each time (the dearest step of intake, ~25 µs) was most of a loaded validator's CPU.
//! A hash (one keccak over the raw bytes) is checked first and a known transaction skipped, as
//! geth's known-transaction cache does.

use alloy_primitives::{B256, keccak256};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many hashes are remembered (32 bytes each, twice: ~16 MiB at most). Past it the oldest
/// are forgotten; a transaction that old is mined or dropped.
pub const SEEN_CAPACITY: usize = 262_144;

#[derive(Debug)]
pub struct SeenTransactions {
    inner: Mutex<Seen>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Seen {
    hashes: HashSet<B256>,
    order: VecDeque<B256>,
}

impl Default for SeenTransactions {
    fn default() -> Self {
        Self::with_capacity(SEEN_CAPACITY)
    }
}

impl SeenTransactions {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { inner: Mutex::new(Seen::default()), capacity: capacity.max(1) }
    }

    /// Remembers the raw transaction and says whether it is new.
    pub fn first_sight(&self, raw: &[u8]) -> bool {
        self.remember(keccak256(raw))
    }

    /// Remembers every raw transaction (ones this node sends out).
    pub fn remember_all<'a>(&self, raw: impl IntoIterator<Item = &'a Vec<u8>>) {
        let hashes: Vec<B256> = raw.into_iter().map(keccak256).collect();
        let Ok(mut seen) = self.inner.lock() else { return };
        for hash in hashes {
            seen.insert(hash, self.capacity);
        }
    }

    fn remember(&self, hash: B256) -> bool {
        // A poisoned lock only means another thread panicked mid-insert; treat as unseen.
        let Ok(mut seen) = self.inner.lock() else { return true };
        seen.insert(hash, self.capacity)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map(|seen| seen.hashes.len()).unwrap_or(0)
    }
}

impl Seen {
    fn insert(&mut self, hash: B256, capacity: usize) -> bool {
        if !self.hashes.insert(hash) {
            return false;
        }
        self.order.push_back(hash);
        while self.order.len() > capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.hashes.remove(&oldest);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_transaction_is_new_once() {
        let seen = SeenTransactions::default();
        assert!(seen.first_sight(b"tx one"));
        assert!(!seen.first_sight(b"tx one"));
        assert!(seen.first_sight(b"tx two"));
    }

    #[test]
    fn sent_transactions_are_not_taken_back() {
        let seen = SeenTransactions::default();
        seen.remember_all(&[b"ours".to_vec()]);
        assert!(!seen.first_sight(b"ours"));
    }

    proptest! {
        /// Never more than the capacity; the newest are always remembered.
        #[test]
        fn bounded_and_keeps_the_newest(capacity in 1usize..64, count in 0usize..300) {
            let seen = SeenTransactions::with_capacity(capacity);
            for i in 0..count {
                prop_assert!(seen.first_sight(&i.to_be_bytes()));
            }
            prop_assert!(seen.len() <= capacity);
            for i in count.saturating_sub(capacity)..count {
                prop_assert!(!seen.first_sight(&i.to_be_bytes()));
            }
        }
    }
}
