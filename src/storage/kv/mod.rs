//! The KV layer on a storage node (0G's `0g-storage-kv`, served on the storage port): a replayer
//! thread reads every Flow submission in seq order and, for those tagged with followed streams
//! and finalized here, replays its `StreamData` ([`zg_systems::storage::kv`]); `kv_*` answer
//! from the index it keeps, values read from the files that wrote them.
//!
//! Durability: each batch of replayed submissions (results, commits, the next seq) is one redb
//! transaction; at start the index is the recorded commits applied again in order, and the
//! replay resumes at the recorded seq.

pub mod eip712;
mod replayer;
mod rpc;
pub mod tables;

pub use replayer::{Replayer, restore_index};
pub use rpc::register;

use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use zg_components::storage::kv::KvIndex;

/// The index the replayer keeps and `kv_*` read, and a way to wake the replayer.
#[derive(Clone)]
pub struct KvHandle {
    pub index: Arc<RwLock<KvIndex>>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    /// Held by a replay pass and by a reset, so a pass never records over a reset.
    passes: Arc<Mutex<()>>,
    /// The next seq to replay as recorded on disk: every result before it can be read.
    recorded: Arc<std::sync::atomic::AtomicU64>,
}

impl KvHandle {
    pub fn new(index: KvIndex) -> Self {
        let recorded = Arc::new(std::sync::atomic::AtomicU64::new(index.next_seq));
        Self { index: Arc::new(RwLock::new(index)), wake: Arc::default(), passes: Arc::default(), recorded }
    }

    /// Something the replayer may be waiting for happened (a segment stored, a stream added).
    pub fn poke(&self) {
        let (flag, signal) = &*self.wake;
        *flag.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        signal.notify_one();
    }

    fn wait(&self, timeout: Duration) {
        let (flag, signal) = &*self.wake;
        let guard = flag.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut guard, _) = signal.wait_timeout_while(guard, timeout, |poked| !*poked).unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = false;
    }

    /// A consistent view of the index (a poisoned lock still holds a whole index: every change
    /// is applied under one write guard).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, KvIndex> {
        self.index.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How far the replay is recorded (0G's `appliedSeq`: every tx seq below it is settled).
    pub fn recorded(&self) -> u64 {
        self.recorded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Installs a whole index (restored from disk).
    fn replace(&self, index: KvIndex) {
        self.recorded.store(index.next_seq, std::sync::atomic::Ordering::Release);
        *self.write() = index;
    }

    fn exclusive(&self) -> std::sync::MutexGuard<'_, ()> {
        self.passes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, KvIndex> {
        self.index.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
