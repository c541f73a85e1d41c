//! Shard repair: a storage node that was away (or is new) rebuilds the shards the placement
//! gives it from any `k` shards its peers hold, and keeps them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;


use super::StorageContext;

/// How often the node looks for shards it should hold and does not.
const REPAIR_INTERVAL: Duration = Duration::from_secs(1);

/// Runs until stopped: each round, every segment whose placement names this node and whose
/// shard is missing is rebuilt and its shards for this node stored.
pub async fn repair_loop(context: StorageContext, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let round = context.clone();
        match tokio::task::spawn_blocking(move || repair_round(&round)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(repaired)) => tracing::info!(repaired, "repaired missing shards"),
            Ok(Err(error)) => tracing::warn!(%error, "shard repair failed; retrying"),
            Err(error) => tracing::warn!(%error, "shard repair task failed"),
        }
        tokio::time::sleep(REPAIR_INTERVAL).await;
    }
}

/// One pass; returns how many shards were restored.
fn repair_round(context: &StorageContext) -> anyhow::Result<usize> {
    let Some(placement) = &context.shards else { return Ok(0) };
    let own = placement.network.own_key();
    let mut repaired = 0;
    for record in context.store.files()? {
        for segment in 0..record.data_segments() {
            let mine: Vec<u8> = (0..placement.config.total())
                .filter(|index| placement.holder(segment, *index) == own)
                .map(|index| index as u8)
                .collect();
            let mut missing = Vec::new();
            for index in &mine {
                if context.store.shard(record.tx_seq, segment, *index)?.is_none() {
                    missing.push(*index);
                }
            }
            if missing.is_empty() {
                continue;
            }
            let held = match context.store.segment(record.tx_seq, segment)? {
                Some(data) => context.store.segment_proof(record.tx_seq, segment)?.map(|proof| (data, proof)),
                None => context.reconstruct(&record, segment).map_err(|e| anyhow::anyhow!(e.message().to_string()))?,
            };
            // Not enough shards reachable yet: try again next round.
            let Some((data, proof)) = held else { continue };
            let shards = zg_systems::storage::erasure::encode_segment(placement.config, &data)?;
            for index in missing {
                let shard = zg_components::consensus::Shard {
                    tx_seq: record.tx_seq,
                    segment,
                    index,
                    segment_len: data.len() as u32,
                    data: shards[index as usize].clone(),
                    proof_lemma: proof.lemma.iter().map(|h| h.0).collect(),
                    proof_path: proof.path.clone(),
                };
                if context.store.put_shard(&shard)? {
                    repaired += 1;
                }
            }
        }
    }
    Ok(repaired)
}
