//! Repair: a DA node that lost pieces, or was away while a blob was dispersed, fetches the rows
//! and columns its slots give it from the members that keep them, checks each against its root
//! and keeps it, for every confirmed blob still in the sampling window.

use alloy_primitives::B256;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zg_components::da::BlobStatus;
use zg_systems::da::pieces::assignment;

use super::DaNode;

/// Axes fetched per pass, so a node that was away long catches up without flooding its peers.
const AXES_PER_PASS: usize = 256;
const PASS_EVERY: Duration = Duration::from_secs(2);

impl DaNode {
    /// Resumes accepted dispersals, then repairs missing pieces every few seconds until the
    /// node goes away.
    pub fn start_maintenance(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            if let Some(node) = weak.upgrade() {
                node.resume_pending().await;
            }
            loop {
                tokio::time::sleep(PASS_EVERY).await;
                let Some(node) = weak.upgrade() else { return };
                if node.network.is_some() {
                    node.repair_pass().await;
                }
            }
        });
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
        let keep = assignment(data_root, &self.signers(), self.tokens_per_vote, layout);
        Some((k as usize, held, keep.get(&self.own).map_or(0, |axes| axes.len())))
    }

    async fn repair_pass(&self) {
        let blobs: Vec<B256> = self
            .view
            .0
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
            let keep = assignment(&data_root, &self.signers(), self.tokens_per_vote, roots.layout);
            let Some(mine) = keep.get(&self.own) else { continue };
            let Ok(held) = self.store.da_held(&data_root.0) else { continue };
            let missing: Vec<_> = mine.iter().filter(|(axis, index)| !held.contains(&(*axis, *index as u32))).copied().collect();
            if missing.is_empty() {
                continue;
            }
            let keepers = self.keepers(&data_root, roots.layout);
            let wire_roots = roots.to_wire();
            for (axis, index) in missing.into_iter().take(budget) {
                budget -= 1;
                let holders = keepers.get(&(axis, index)).cloned().unwrap_or_default();
                let Some(whole) = self.fetch_axis(&roots, &holders, axis, index).await else { continue };
                match self.store.put_da_axes(&data_root.0, roots.layout.k as u32, &wire_roots, &[(axis, index as u32, whole)]) {
                    Ok(_) => {
                        self.repaired.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => tracing::error!(%error, "cannot keep a repaired DA piece"),
                }
            }
            tracing::info!(root = %data_root, "repaired DA pieces from peers");
        }
    }
}
