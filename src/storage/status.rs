//! The storage role's section of the status page (`rpc::node_status`): read from the same
//! store and context its `zgs_*` methods answer from, when asked.

use serde_json::{Value, json};

use super::StorageContext;

/// Files listed on the page, newest first.
const RECENT_FILES: u64 = 6;

impl StorageContext {
    pub fn status_section(&self) -> Value {
        let published = self.store.next_tx_seq().unwrap_or(0);
        let recent: Vec<Value> = (published.saturating_sub(RECENT_FILES)..published)
            .rev()
            .filter_map(|seq| self.file_by_seq(seq).ok().flatten())
            .map(|record| {
                json!({
                    "txSeq": record.tx_seq,
                    "root": alloy_primitives::hex::encode_prefixed(record.root),
                    "bytes": record.size,
                    "block": record.block_number,
                    "finalized": self.is_finalized(&record).map_or("unknown", |done| if done { "yes" } else { "not yet" }),
                })
            })
            .collect();
        let (segments, shards) = self.store.held_counts().unwrap_or_default();
        json!({
            "files": published,
            "segmentsHeld": segments,
            "shardsHeld": shards,
            "syncedToBlock": self.store.storage_indexed().ok().flatten().unwrap_or(0),
            "connectedPeers": self.network.as_ref().map_or(0, |n| n.connected().len()),
            "erasureCoded": self.shards.as_ref().map_or_else(|| "no".to_string(), |s| {
                let coding = s.config();
                format!("{} + {} shards", coding.data_shards, coding.parity_shards)
            }),
            "repairs": self.shards.as_ref().map(|placement| {
                let (running, rebuilt, failed) = placement.repairs.counts();
                json!({"runningNow": running, "segmentsRebuilt": rebuilt, "failedTries": failed})
            }),
            // The chain's record of this miner is added by the page (`status::snapshot`).
            "poraMiner": self.answer_key.as_ref().map(|key| key.address()),
            "servesAt": self.own_url.get().cloned().unwrap_or_default(),
            "recentFiles": recent,
        })
    }
}
