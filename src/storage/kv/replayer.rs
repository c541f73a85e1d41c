//! The replayer thread: submissions in seq order, each replayed once its bytes are all here.

use alloy_primitives::{Address, B256};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zg_components::storage::FileRecord;
use zg_components::storage::kv::{FollowedStreams, KvIndex, KvTransaction, ReplayOutcome};
use zg_systems::storage::kv::{self, Replay, StreamBytes, Unavailable};

use super::KvHandle;
use super::tables::Replayed;
use crate::storage::StorageContext;
use crate::storage::file_bytes::SegmentCache;
use crate::store::{ChainStore, StoreError};

/// Most submissions replayed between two durable records of progress.
const BATCH: usize = 512;
/// How long a followed stream write may stay without its bytes here before it is recorded as
/// `DataUnavailable` and passed (its writer never uploaded it; waiting longer would stall every
/// stream behind it).
pub const DATA_WAIT: Duration = Duration::from_secs(600);
/// How often an idle replayer looks for new submissions (uploads wake it sooner).
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The index as recorded: the followed streams (configured, then added), every recorded commit
/// applied in order, the replay's next seq.
pub fn restore_index(store: &ChainStore, configured: &[B256]) -> Result<KvIndex, StoreError> {
    let added = store.kv_added_streams()?;
    let followed = if configured.is_empty() {
        FollowedStreams::All
    } else {
        FollowedStreams::Only(configured.iter().chain(&added).copied().collect::<BTreeSet<_>>())
    };
    let mut index = KvIndex::new(followed);
    let (commits, next) = store.kv_commits()?;
    for (seq, commit) in &commits {
        kv::apply_commit(&mut index, *seq, commit);
    }
    index.next_seq = next;
    Ok(index)
}

pub struct Replayer {
    pub ctx: StorageContext,
    pub kv: KvHandle,
    pub configured: Vec<B256>,
    pub stop: Arc<AtomicBool>,
}

impl Replayer {
    pub fn run(self) {
        let mut waiting: Option<(u64, Instant)> = None;
        while !self.stop.load(Ordering::Relaxed) {
            match self.pass(&mut waiting) {
                Ok(true) => {}
                Ok(false) => self.kv.wait(IDLE_POLL),
                Err(error) => {
                    tracing::warn!(%error, "kv replay: progress not recorded; reloading the recorded index");
                    match restore_index(&self.ctx.store, &self.configured) {
                        Ok(index) => self.kv.replace(index),
                        Err(error) => tracing::error!(%error, "kv replay: the recorded index cannot be read"),
                    }
                    self.kv.wait(Duration::from_secs(1));
                }
            }
        }
    }

    /// Replays what it can (up to a batch) and records it; whether it moved.
    pub fn pass(&self, waiting: &mut Option<(u64, Instant)>) -> Result<bool, StoreError> {
        let _exclusive = self.kv.exclusive();
        let start = self.kv.read().next_seq;
        let mut replayed = Vec::new();
        while replayed.len() < BATCH {
            let seq = self.kv.read().next_seq;
            let Some(record) = self.ctx.store.file(seq)? else { break };
            let Some(replay) = self.replay(&record, waiting) else { break };
            if let Replay::Outcome(outcome) = &replay {
                let commit = match outcome {
                    ReplayOutcome::Commit(commit) => Some(commit.clone()),
                    _ => None,
                };
                tracing::debug!(seq, result = %outcome, "kv replayed");
                replayed.push(Replayed { seq, result: outcome.to_string(), commit });
            }
            kv::apply(&mut self.kv.write(), seq, &replay);
        }
        let next = self.kv.read().next_seq;
        if next == start {
            return Ok(false);
        }
        self.ctx.store.record_kv(&replayed, next)?;
        self.kv.recorded.store(next, std::sync::atomic::Ordering::Release);
        Ok(true)
    }

    /// One submission replayed, or None while its bytes are still to come.
    fn replay(&self, record: &FileRecord, waiting: &mut Option<(u64, Instant)>) -> Option<Replay> {
        let tx = KvTransaction {
            seq: record.tx_seq,
            stream_ids: kv::stream_ids_of(&record.tags),
            sender: Address::from(record.tx_from),
            size: record.size,
        };
        let followed = !tx.stream_ids.is_empty() && tx.stream_ids.iter().all(|id| self.kv.read().followed.follows(id));
        if !followed {
            return Some(Replay::NotFollowed);
        }
        let result = match self.ctx.readable(record) {
            Ok(Some(readable)) => kv::replay(&tx, &self.kv.read(), &mut SegmentReader { ctx: &self.ctx, record: &readable, cached: None }),
            Ok(None) => Err(Unavailable(format!("tx seq {} is not finalized here yet", record.tx_seq))),
            Err(error) => Err(Unavailable(error.message().to_owned())),
        };
        match result {
            Ok(replay) => {
                *waiting = None;
                Some(replay)
            }
            Err(Unavailable(why)) => {
                let since = match waiting {
                    Some((seq, since)) if *seq == record.tx_seq => *since,
                    _ => waiting.insert((record.tx_seq, Instant::now())).1,
                };
                if since.elapsed() < DATA_WAIT {
                    return None;
                }
                tracing::warn!(seq = record.tx_seq, %why, "kv replay: stream write never became available; passed as DataUnavailable");
                *waiting = None;
                Some(Replay::Outcome(ReplayOutcome::DataUnavailable))
            }
        }
    }
}

/// A file's bytes from its segments (held whole or rebuilt from shards), one segment cached.
struct SegmentReader<'a> {
    ctx: &'a StorageContext,
    record: &'a FileRecord,
    cached: SegmentCache,
}

impl StreamBytes for SegmentReader<'_> {
    fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, Unavailable> {
        let bytes = self
            .ctx
            .file_bytes_cached(self.record, offset, len, &mut self.cached)
            .map_err(|e| Unavailable(e.message().to_owned()))?
            .ok_or_else(|| Unavailable(format!("bytes {offset}..{} lie in a segment neither held nor rebuildable here", offset + len)))?;
        if bytes.len() as u64 != len {
            return Err(Unavailable("the stored segments are shorter than the file".into()));
        }
        Ok(bytes)
    }
}
