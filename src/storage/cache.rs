//! Segments rebuilt from shards, kept in memory for the next reads: rebuilding costs `k` shard
//! fetches and a decode, and a file that was read once is often read again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use zg_components::storage::Proof;

/// A rebuilt segment and the proof its shards carried (segment root to file root).
pub type Rebuilt = Arc<(Vec<u8>, Proof)>;

/// (tx seq, segment index).
type Key = (u64, u64);

/// A byte-bounded cache, oldest insertion out first. Segments never change once published, so
/// nothing here goes stale.
#[derive(Clone, Default)]
pub struct RebuiltSegments {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    budget: usize,
    used: usize,
    order: VecDeque<Key>,
    segments: HashMap<Key, Rebuilt>,
}

impl RebuiltSegments {
    pub fn with_budget(bytes: usize) -> Self {
        Self { inner: Arc::new(Mutex::new(Inner { budget: bytes, ..Inner::default() })) }
    }

    pub fn get(&self, tx_seq: u64, segment: u64) -> Option<Rebuilt> {
        self.inner.lock().ok()?.segments.get(&(tx_seq, segment)).cloned()
    }

    pub fn insert(&self, tx_seq: u64, segment: u64, rebuilt: Rebuilt) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let len = rebuilt.0.len();
        if len > inner.budget || inner.segments.contains_key(&(tx_seq, segment)) {
            return;
        }
        while inner.used + len > inner.budget {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(evicted) = inner.segments.remove(&oldest) {
                inner.used -= evicted.0.len();
            }
        }
        inner.used += len;
        inner.order.push_back((tx_seq, segment));
        inner.segments.insert((tx_seq, segment), rebuilt);
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.inner.lock().map(|inner| inner.used).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebuilt(byte: u8, len: usize) -> Rebuilt {
        Arc::new((vec![byte; len], Proof { lemma: vec![], path: vec![] }))
    }

    #[test]
    fn oldest_segments_leave_first_and_the_budget_holds() {
        let cache = RebuiltSegments::with_budget(10);
        cache.insert(0, 0, rebuilt(1, 4));
        cache.insert(0, 1, rebuilt(2, 4));
        assert_eq!(cache.used(), 8);
        cache.insert(0, 2, rebuilt(3, 4));
        assert!(cache.get(0, 0).is_none(), "oldest out");
        assert_eq!(cache.get(0, 1).unwrap().0, vec![2; 4]);
        assert_eq!(cache.get(0, 2).unwrap().0, vec![3; 4]);
        assert_eq!(cache.used(), 8);
        cache.insert(1, 0, rebuilt(9, 11));
        assert!(cache.get(1, 0).is_none(), "bigger than the whole budget: not kept");
        cache.insert(0, 1, rebuilt(7, 4));
        assert_eq!(cache.get(0, 1).unwrap().0, vec![2; 4], "a segment is kept once");
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = RebuiltSegments::with_budget(0);
        cache.insert(0, 0, rebuilt(1, 1));
        assert!(cache.get(0, 0).is_none());
        assert_eq!(cache.used(), 0);
    }
}
