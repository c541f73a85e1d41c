//! Shard repairs as they run: how many are under way now and how many ended each way since the
//! node started. The one count of them: the storage section of the status page reads it and
//! the same events record the Prometheus metrics (`zgnode_storage_repairs_*`).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct RepairProgress {
    running: AtomicU64,
    rebuilt: AtomicU64,
    failed: AtomicU64,
}

/// One repair under way; counted as running until dropped.
pub struct RunningRepair<'a>(&'a RepairProgress);

impl Drop for RunningRepair<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("zgnode_storage_repairs_running").decrement(1.0);
    }
}

impl RepairProgress {
    pub fn start(&self) -> RunningRepair<'_> {
        self.running.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("zgnode_storage_repairs_running").increment(1.0);
        RunningRepair(self)
    }

    /// A segment's wanted shards were rebuilt and kept.
    pub fn rebuilt(&self) {
        self.rebuilt.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_storage_repairs_rebuilt_total").increment(1);
    }

    /// A repair that could not restore the segment yet (queued again with back-off).
    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("zgnode_storage_repairs_failed_total").increment(1);
    }

    /// (running now, rebuilt, failed).
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.running.load(Ordering::Relaxed), self.rebuilt.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repair_runs_until_its_guard_drops_and_ends_one_way() {
        let progress = RepairProgress::default();
        let first = progress.start();
        let second = progress.start();
        assert_eq!(progress.counts(), (2, 0, 0));
        drop(first);
        progress.rebuilt();
        assert_eq!(progress.counts(), (1, 1, 0));
        drop(second);
        progress.failed();
        assert_eq!(progress.counts(), (0, 1, 1));
    }
}
