//! A published file's bytes at any offset, from its segments: held whole (checked against the
//! file root) or rebuilt from the network's shards. Downloads, KV values and the KV replay read
//! through it.

use zg_components::storage::FileRecord;
use zg_components::storage::merkle::SEGMENT_SIZE;

use super::StorageContext;
use crate::rpc::error::{RpcResult, server_error as server};

/// The last segment a reader took from a file: (index, bytes).
pub(super) type SegmentCache = Option<(u64, std::sync::Arc<Vec<u8>>)>;

impl StorageContext {
    /// Bytes `[offset, offset + len)` of a file (clipped to what its segments hold); None when a
    /// segment is neither held nor rebuildable here.
    pub(super) fn file_bytes(&self, record: &FileRecord, offset: u64, len: u64) -> RpcResult<Option<Vec<u8>>> {
        self.file_bytes_cached(record, offset, len, &mut None)
    }

    /// [`Self::file_bytes`], keeping the last segment read in `cache` for the next call on the
    /// same file (a reader's many small reads check and copy each segment once).
    pub(super) fn file_bytes_cached(&self, record: &FileRecord, offset: u64, len: u64, cache: &mut SegmentCache) -> RpcResult<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 24));
        let end = offset.saturating_add(len);
        let mut at = offset;
        while at < end {
            let segment = at / SEGMENT_SIZE as u64;
            let data = match cache {
                Some((index, data)) if *index == segment => data.clone(),
                _ => {
                    let Some(data) = self.segment_data(record, segment)? else { return Ok(None) };
                    *cache = Some((segment, data.clone()));
                    data
                }
            };
            let base = segment * SEGMENT_SIZE as u64;
            let (from, to) = ((at - base) as usize, ((end - base) as usize).min(SEGMENT_SIZE).min(data.len()));
            if from >= to {
                break;
            }
            out.extend_from_slice(data.get(from..to).ok_or_else(|| server("stored segment is shorter than its chunks"))?);
            at = base + to as u64;
        }
        Ok(Some(out))
    }
}
