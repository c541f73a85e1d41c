//! The built-in provider's section of the status page (`rpc::node_status`): its unsettled
//! store, fine-tuning tasks and verifiable service, read when asked (the same records its HTTP
//! API and settlement loop use). No key, no user's data.

use std::collections::BTreeMap;

use alloy_primitives::U256;
use serde_json::{Value, json};

use super::ProviderState;

impl ProviderState {
    pub fn status_section(&self) -> Value {
        let unsettled = self.store.unsettled().unwrap_or_default();
        let owed = unsettled.iter().fold(U256::ZERO, |sum, request| sum.saturating_add(request.fee));
        let tasks = self.fine_tuning.as_ref().map(|ft| {
            let mut by_progress: BTreeMap<String, u64> = BTreeMap::new();
            for record in ft.store.all().unwrap_or_default() {
                *by_progress.entry(format!("{:?}", record.task.progress)).or_default() += 1;
            }
            by_progress
        });
        json!({
            "provider": self.provider,
            "serviceUrl": self.url,
            "model": self.config.model(),
            "servingNow": self.config.max_concurrent.saturating_sub(self.running.available_permits()),
            "unsettledRequests": unsettled.len(),
            "unsettledFeesNeuron": owed.to_string(),
            "settlementsInFlight": self.store.in_flight().map_or(0, |s| s.len()),
            "trainingTasks": tasks,
            "verifiable": self.verifiable.as_ref().map(|v| if v.ready() { "proving" } else { "making proving keys" }),
            "proofJobs": self.verifiable.as_ref().map(|v| {
                let stats = v.prover.stats.read();
                json!({
                    "waiting": v.prover.requests.len() as u64 + stats.admitted.saturating_sub(stats.proved + stats.failed + stats.in_flight),
                    "running": stats.in_flight,
                    "proved": stats.proved,
                    "failed": stats.failed,
                })
            }),
        })
    }
}
