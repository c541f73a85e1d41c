//! What the KV layer keeps in redb: each replayed stream write's result, what each committed one
//! changed, the next tx seq to replay, and the streams added while running. A batch of replayed
//! submissions and the new cursor commit in one write transaction.

use alloy_primitives::B256;
use redb::{ReadableDatabase, ReadableTable};

use zg_components::storage::kv::KvCommit;

use crate::store::tables::*;
use crate::store::{ChainStore, StoreError};

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: "kv commit", detail: error.to_string() }
}

/// One replayed stream write: its result text and, when committed, what it changed.
pub struct Replayed {
    pub seq: u64,
    pub result: String,
    pub commit: Option<KvCommit>,
}

impl ChainStore {
    /// Records replayed submissions and the next seq to replay, atomically.
    pub fn record_kv(&self, replayed: &[Replayed], next_seq: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut results = txn.open_table(KV_RESULTS)?;
            let mut commits = txn.open_table(KV_COMMITS)?;
            for entry in replayed {
                results.insert(entry.seq, entry.result.as_str())?;
                if let Some(commit) = &entry.commit {
                    let bytes = borsh::to_vec(commit).map_err(corrupt)?;
                    commits.insert(entry.seq, bytes.as_slice())?;
                }
            }
            txn.open_table(META)?.insert(KV_NEXT_SEQ_KEY, next_seq)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Every commit in seq order, and the next seq to replay.
    pub fn kv_commits(&self) -> Result<(Vec<(u64, KvCommit)>, u64), StoreError> {
        let txn = self.db.begin_read()?;
        let next = txn.open_table(META)?.get(KV_NEXT_SEQ_KEY)?.map(|v| v.value()).unwrap_or(0);
        let mut out = Vec::new();
        for entry in txn.open_table(KV_COMMITS)?.iter()? {
            let (seq, bytes) = entry?;
            out.push((seq.value(), borsh::from_slice(bytes.value()).map_err(corrupt)?));
        }
        Ok((out, next))
    }

    /// The result of replaying tx `seq`, when it was a stream write replayed here.
    pub fn kv_result(&self, seq: u64) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(KV_RESULTS)?.get(seq)?.map(|v| v.value().to_owned()))
    }

    pub fn kv_added_streams(&self) -> Result<Vec<B256>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(KV_ADDED_STREAMS)?.iter()? {
            let (id, _) = entry?;
            out.push(B256::try_from(id.value()).map_err(corrupt)?);
        }
        Ok(out)
    }

    /// Adds a stream to follow and forgets every replayed result, so the next replay (from seq 0)
    /// sees the submissions that touch it too: one transaction.
    pub fn kv_add_stream_and_reset(&self, stream: &B256) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            txn.open_table(KV_ADDED_STREAMS)?.insert(stream.as_slice(), 0)?;
            txn.open_table(KV_RESULTS)?.retain(|_, _| false)?;
            txn.open_table(KV_COMMITS)?.retain(|_, _| false)?;
            txn.open_table(META)?.insert(KV_NEXT_SEQ_KEY, 0)?;
        }
        txn.commit()?;
        Ok(())
    }
}
