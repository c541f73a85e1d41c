//! Repair: a DA node that lost pieces, or was away while a blob was dispersed, fetches the rows
//! and columns its slots give it from the members that keep them, checks each against its root
//! and keeps it, for every confirmed blob still in the sampling window.

use alloy_primitives::B256;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zg_components::da::{Axis, AxisRoots, BlobStatus};

use super::DaNode;

/// Axes fetched per pass, so a node that was away long catches up without flooding its peers.
const AXES_PER_PASS: usize = 256;
const PASS_EVERY: Duration = Duration::from_secs(2);
/// Pruning runs one pass in this many (once a minute): it reads every kept blob's status, and
/// a sampling window is hundreds of blocks long.
const PRUNE_EVERY_PASSES: u64 = 30;
/// How often axes no peer serves are rebuilt from a blob, at most.
const REBUILD_EVERY: Duration = Duration::from_secs(20);

/// Whether a kept blob's pieces can go: it failed, expired unconfirmed, was never registered,
/// or is final and its sampling window (from its confirmation) has passed at `head`.
pub fn prunable(status: Option<BlobStatus>, confirmed_at: Option<u64>, head: u64, window: u64) -> bool {
    match status {
        None | Some(BlobStatus::Unknown | BlobStatus::Failed | BlobStatus::InsufficientSignatures) => true,
        Some(BlobStatus::Processing | BlobStatus::Confirmed) => false,
        Some(BlobStatus::Finalized) => confirmed_at.is_some_and(|at| head >= at.saturating_add(window)),
    }
}

impl DaNode {
    /// Resumes accepted dispersals, then repairs missing pieces every few seconds (and prunes
    /// what nobody samples any more, once a minute) until the node goes away.
    pub fn start_maintenance(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            if let Some(node) = weak.upgrade() {
                node.resume_pending().await;
            }
            for pass in 1u64.. {
                tokio::time::sleep(PASS_EVERY).await;
                let Some(node) = weak.upgrade() else { return };
                if node.network.is_some() {
                    node.repair_pass().await;
                }
                if pass.is_multiple_of(PRUNE_EVERY_PASSES) {
                    let pruning = node.clone();
                    let _ = tokio::task::spawn_blocking(move || pruning.prune_pass()).await;
                }
            }
        });
    }

    /// Forgets the pieces of blobs nobody samples any more: failed, never confirmed in time,
    /// never registered, or confirmed before the sampling window; returns how many blobs went.
    pub fn prune_pass(&self) -> usize {
        use zg_systems::da::entrance::{DA_ENTRANCE_ADDRESS, IDAEntrance};
        let Ok(kept) = self.store.da_kept_roots() else { return 0 };
        if kept.is_empty() {
            return 0;
        }
        let Ok((head, _)) = self.handle.head() else { return 0 };
        let Ok(window) = self.handle.call_sol(DA_ENTRANCE_ADDRESS, &IDAEntrance::sampleWindowBlocksCall {}) else { return 0 };
        let window = u64::try_from(window).unwrap_or(u64::MAX);
        let mut pruned = 0;
        for root in kept {
            let data_root = B256::from(root);
            let status = self.chain_status(&data_root).map(|(status, _, _)| status);
            let gone = prunable(status, self.view.get(&data_root).and_then(|b| b.confirmed_at), head, window);
            if gone && self.store.remove_da_blob(&root).is_ok() {
                pruned += 1;
            }
        }
        if pruned > 0 {
            metrics::counter!("zgnode_da_pruned_blobs_total").increment(pruned as u64);
            tracing::info!(pruned, "DA pieces of blobs past their sampling window (or failed) pruned");
        }
        pruned
    }

    /// Axes this node fetched back from its peers so far.
    pub fn repaired(&self) -> u64 {
        self.repaired.load(Ordering::Relaxed)
    }

    /// How much of a blob this node keeps against what its slots give it: (k, held, assigned).
    pub fn pieces(&self, data_root: &B256) -> Option<(usize, usize, usize)> {
        let (k, _) = self.store.da_roots(&data_root.0).ok()??;
        let layout = zg_components::da::SquareLayout { k: k as usize };
        let held = self.store.da_held(&data_root.0).ok()?.len();
        let keep = self.assignments.of(data_root, &self.signers(), self.tokens_per_vote, layout);
        Some((k as usize, held, keep.get(&self.own).map_or(0, |axes| axes.len())))
    }

    async fn repair_pass(&self) {
        let blobs: Vec<B256> = self
            .view
            .blobs
            .read()
            .map(|view| {
                view.values().filter(|b| matches!(b.status, BlobStatus::Confirmed | BlobStatus::Finalized)).map(|b| b.data_root).collect()
            })
            .unwrap_or_default();
        let mut budget = AXES_PER_PASS;
        for data_root in blobs {
            if budget == 0 {
                return;
            }
            let Some(roots) = self.axis_roots(&data_root).await else { continue };
            let keep = self.assignments.of(&data_root, &self.signers(), self.tokens_per_vote, roots.layout);
            let Some(mine) = keep.get(&self.own) else { continue };
            let Ok(held) = self.store.da_held(&data_root.0) else { continue };
            let missing: Vec<_> = mine.iter().filter(|(axis, index)| !held.contains(&(*axis, *index as u32))).copied().collect();
            if missing.is_empty() {
                continue;
            }
            let keepers = self.keepers(&data_root, roots.layout);
            let wire_roots = roots.to_wire();
            // Axes no other member keeps are rebuilt all at once below (one retrieval of the
            // blob however many they are); the rest are fetched within the pass's budget.
            let (mut unfetched, fetchable): (Vec<_>, Vec<_>) = missing.into_iter().partition(|axis| keepers.get(axis).is_none_or(|holders| holders.is_empty()));
            for (axis, index) in fetchable.into_iter().take(budget) {
                budget -= 1;
                let holders = keepers.get(&(axis, index)).cloned().unwrap_or_default();
                match self.fetch_axis(&roots, &holders, axis, index).await {
                    Some(whole) => self.keep_repaired(&data_root, (&roots, &wire_roots), axis, index, whole),
                    None => unfetched.push((axis, index)),
                }
            }
            if !unfetched.is_empty() {
                // No other member serves these: every slot that gives them may be this node's
                // (then no peer was ever sent them). They come out of the blob itself, rebuilt
                // from what the other members keep, re-extended and checked against the roots.
                self.rebuild_axes(&data_root, (&roots, &wire_roots), &unfetched).await;
            }
            tracing::info!(root = %data_root, "repaired DA pieces from peers");
        }
    }

    /// Keeps one repaired axis of the blob under `data_root`, whose axis roots are `roots`
    /// (and, as stored, `wire_roots`: computed once per blob, not per axis).
    fn keep_repaired(&self, data_root: &B256, (roots, wire_roots): (&AxisRoots, &[[u8; 32]]), axis: Axis, index: usize, whole: Vec<u8>) {
        match self.store.put_da_axes(&data_root.0, roots.layout.k as u32, wire_roots, &[(axis, index as u32, whole)]) {
            Ok(_) => {
                self.repaired.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::error!(%error, "cannot keep a repaired DA piece"),
        }
    }

    /// Rebuilds axes no peer serves from the blob: retrieved from the members, extended here,
    /// kept only if the square commits to the same data root.
    async fn rebuild_axes(&self, data_root: &B256, roots: (&AxisRoots, &[[u8; 32]]), axes: &[(Axis, usize)]) {
        let data_root = *data_root;
        // A retrieval is the blob's size over the network and an extension: once in 20 s per
        // blob at most, however often a pass finds the axes still missing.
        if let Ok(mut tried) = self.rebuilds_tried.lock() {
            let now = std::time::Instant::now();
            tried.retain(|_, at| now.duration_since(*at) < REBUILD_EVERY);
            if tried.contains_key(&data_root) {
                return;
            }
            tried.insert(data_root, now);
        }
        let blob = match self.retrieve(&data_root).await {
            Ok(blob) => blob,
            Err(error) => return tracing::warn!(root = %data_root, %error, missing = axes.len(), "DA pieces no peer serves could not be rebuilt from the blob yet"),
        };
        let accelerator = self.accelerator.clone();
        let square = tokio::task::spawn_blocking(move || {
            let square = zg_systems::da::encoding::extend_blob_on(&accelerator, &blob).ok()?;
            let committed = square.commit().data_root();
            (committed == data_root).then_some(square)
        })
        .await;
        let Ok(Some(square)) = square else {
            return tracing::error!(root = %data_root, "the blob retrieved from the members does not extend to its data root: nothing rebuilt");
        };
        for (axis, index) in axes {
            let whole = match axis {
                Axis::Row => square.row(*index).to_vec(),
                Axis::Column => square.column(*index),
            };
            self.keep_repaired(&data_root, roots, *axis, *index, whole);
        }
        tracing::info!(root = %data_root, rebuilt = axes.len(), "DA pieces no peer serves rebuilt from the blob");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_go_when_nobody_can_sample_or_pay_for_them() {
        assert!(prunable(None, None, 10, 100), "never registered");
        assert!(prunable(Some(BlobStatus::Failed), Some(5), 10, 100));
        assert!(prunable(Some(BlobStatus::InsufficientSignatures), None, 10, 100));
        assert!(!prunable(Some(BlobStatus::Processing), None, 10, 100));
        assert!(!prunable(Some(BlobStatus::Confirmed), Some(5), 1_000, 100), "still in its fraud window");
        assert!(!prunable(Some(BlobStatus::Finalized), Some(5), 104, 100), "still sampled");
        assert!(prunable(Some(BlobStatus::Finalized), Some(5), 105, 100), "its window is over");
        assert!(!prunable(Some(BlobStatus::Finalized), None, u64::MAX, 100), "no confirmation block known: kept");
    }
}
