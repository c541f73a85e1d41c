//! The DA role's section of the status page (`rpc::node_status`): the blob view its
//! `da_getBlobStatus` answers from, counted by status when asked.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use zg_components::da::DispersalPhase;

use super::DaNode;

/// Blobs listed on the page, newest first.
const RECENT_BLOBS: usize = 6;

impl DaNode {
    pub fn status_section(&self) -> Value {
        let roots: Vec<_> = {
            let mut known: Vec<(u64, alloy_primitives::B256)> = self.view.blobs.read().map(|b| b.values().map(|blob| (blob.uploaded_at, blob.data_root)).collect()).unwrap_or_default();
            let phases = self.view.phases.read().map(|p| p.keys().copied().collect::<Vec<_>>()).unwrap_or_default();
            for root in phases {
                if !known.iter().any(|(_, r)| *r == root) {
                    known.push((u64::MAX, root));
                }
            }
            known.sort_by(|a, b| b.cmp(a));
            known.into_iter().map(|(_, root)| root).collect()
        };
        let reports: Vec<_> = roots.iter().filter_map(|root| self.status(root)).collect();
        let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
        for report in &reports {
            *by_status.entry(report.status.name()).or_default() += 1;
        }
        let recent: Vec<Value> = reports
            .iter()
            .take(RECENT_BLOBS)
            .map(|report| {
                json!({
                    "root": report.data_root,
                    "status": report.status.name(),
                    "epoch": report.epoch,
                    "quorum": report.quorum,
                    "detail": report.detail.clone().unwrap_or_default(),
                })
            })
            .collect();
        json!({
            "blobs": reports.len(),
            "byStatus": by_status,
            // Submitted dispersals stay in `dispersing` (a resubmission joins them): only the
            // phases still working count.
            "dispersingNow": self.view.phases.read().map_or(0, |phases| {
                phases.values().filter(|phase| phase.is_running() && !matches!(phase, DispersalPhase::Submitted)).count()
            }),
            "sampling": self.sampler_account().map(|account| {
                let mut counts = self.sampler_stats().section();
                counts["account"] = json!(account);
                counts
            }),
            "recentBlobs": recent,
        })
    }
}
