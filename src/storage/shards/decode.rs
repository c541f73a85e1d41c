//! Rebuilding a segment from shards that may lie: shards that do not fit the file are set
//! aside, and subsets of `k` are tried until one decodes to a segment that matches the root.

use zg_components::consensus::Shard;
use zg_components::storage::{FileRecord, Proof};
use zg_systems::storage::erasure::{self, ErasureConfig};

use super::shard_checks_out;

/// Most subsets of the shards found that one rebuild tries before giving up.
const MAX_DECODE_ATTEMPTS: usize = 32;

/// Decodes a segment from the shards found and checks it against the file root. Shards that do
/// not fit the file are set aside first; when a decode does not match the root (a poisoned
/// parity shard, a shard that lies about the segment), other subsets of `k` shards are tried.
pub fn decode_checked(config: ErasureConfig, record: &FileRecord, segment: u64, found: Vec<Option<Shard>>) -> Option<(Vec<u8>, Proof)> {
    let found: Vec<Option<Shard>> = found
        .into_iter()
        .enumerate()
        .map(|(index, shard)| shard.filter(|s| s.index as usize == index && s.segment == segment && shard_checks_out(config, record, s)))
        .collect();
    let present: Vec<usize> = (0..found.len()).filter(|i| found[*i].is_some()).collect();
    if present.len() < config.data_shards {
        return None;
    }
    for subset in subsets(&present, config.data_shards).take(MAX_DECODE_ATTEMPTS) {
        let chosen: Vec<&Shard> = subset.iter().filter_map(|i| found[*i].as_ref()).collect();
        // Every shard of a subset must agree on the segment it came from.
        let Some(sample) = chosen.first() else { continue };
        if chosen.iter().any(|s| s.segment_len != sample.segment_len || s.proof_lemma != sample.proof_lemma || s.proof_path != sample.proof_path) {
            continue;
        }
        let shards: Vec<Option<Vec<u8>>> =
            (0..found.len()).map(|i| subset.contains(&i).then(|| found[i].as_ref().map(|s| s.data.clone())).flatten()).collect();
        let Ok(data) = erasure::decode_segment(config, &shards, sample.segment_len as usize) else { continue };
        let proof = sample.segment_proof();
        if record.check_segment(segment, &data, &proof).is_ok() {
            return Some((data, proof));
        }
        tracing::warn!(seq = record.tx_seq, segment, ?subset, "shards do not rebuild the file's segment; trying others");
        metrics::counter!("zgnode_storage_bad_rebuilds_total").increment(1);
    }
    None
}

/// The `k`-element subsets of `items`, in lexicographic order (data shards, which were checked,
/// come first, so the first subset is the likeliest to hold).
pub(super) fn subsets(items: &[usize], k: usize) -> impl Iterator<Item = Vec<usize>> + '_ {
    let mut next = (k <= items.len()).then(|| (0..k).collect::<Vec<usize>>());
    std::iter::from_fn(move || {
        let current = next.take()?;
        let out: Vec<usize> = current.iter().map(|i| items[*i]).collect();
        let mut positions = current;
        let n = items.len();
        let mut i = k;
        while i > 0 {
            i -= 1;
            if positions[i] < n - k + i {
                positions[i] += 1;
                for j in i + 1..k {
                    positions[j] = positions[j - 1] + 1;
                }
                next = Some(positions);
                break;
            }
        }
        Some(out)
    })
}

