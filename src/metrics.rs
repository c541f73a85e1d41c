//! Prometheus metrics: every metric the node records is in [`CATALOG`] (name, kind, help); when
//! the exporter starts each is described and, counters and gauges, set to zero, so a dashboard
//! (`assets/grafana/zgnode.json`) shows 0 rather than "no data" for what has not happened yet
//! (a labelled metric starts as one series without labels). The driver records tick time and
//! per-system time after each tick; [`record_chain`] the committed blocks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the node records, by role: (name, kind, help).
pub const CATALOG: &[(&str, Kind, &str)] = &[
    ("zgnode_tick_seconds", Kind::Histogram, "Time one tick of the node's schedule took"),
    ("zgnode_ticks_total", Kind::Counter, "Ticks run"),
    ("zgnode_system_seconds", Kind::Histogram, "Time each system took in the last tick (label system)"),
    ("zgnode_chain_height", Kind::Gauge, "Number of the last committed block"),
    ("zgnode_chain_block_gas_used", Kind::Gauge, "Gas used by the last committed block"),
    ("zgnode_chain_transactions_total", Kind::Counter, "Transactions in blocks committed since the node started"),
    ("zgnode_chain_gas_used_total", Kind::Counter, "Gas used by blocks committed since the node started"),
    ("zgnode_net_peers", Kind::Gauge, "Validator-network peers connected"),
    ("zgnode_net_sent_total", Kind::Counter, "Messages sent to peers (label kind)"),
    ("zgnode_net_received_total", Kind::Counter, "Messages received from peers (label kind)"),
    ("zgnode_net_dropped_total", Kind::Counter, "Messages dropped: a full inbox or queue (label kind)"),
    ("zgnode_net_rejected_total", Kind::Counter, "Peer messages refused as misconduct (label reason)"),
    ("zgnode_net_banned_total", Kind::Counter, "Peers banned for misconduct"),
    ("zgnode_net_refused_connections_total", Kind::Counter, "Connections refused (not a member, over the limit)"),
    ("zgnode_net_gossip_known_total", Kind::Counter, "Gossip already seen, not relayed again"),
    ("zgnode_storage_damaged_segments_total", Kind::Counter, "Stored segments found damaged when served"),
    ("zgnode_storage_bad_shards_replaced_total", Kind::Counter, "Erasure-coded shards found bad and replaced"),
    ("zgnode_storage_repairs_running", Kind::Gauge, "Shard repairs under way"),
    ("zgnode_storage_repairs_rebuilt_total", Kind::Counter, "Segments whose missing shards were rebuilt"),
    ("zgnode_storage_repairs_failed_total", Kind::Counter, "Shard repairs that could not restore their segment yet"),
    ("zgnode_storage_bad_rebuilds_total", Kind::Counter, "Segment rebuilds from shards that did not match the root"),
    ("zgnode_da_pruned_blobs_total", Kind::Counter, "DA blobs pruned after their retention"),
    ("zgnode_da_sampling_rounds_total", Kind::Counter, "DA sampling rounds this node took part in"),
    ("zgnode_da_sampling_drawn_total", Kind::Counter, "DA shares drawn for sampling"),
    ("zgnode_da_sampling_unavailable_total", Kind::Counter, "DA shares drawn that could not be fetched or verified"),
    ("zgnode_da_sampling_submitted_total", Kind::Counter, "DA sampling responses sent to the chain"),
    ("zgnode_da_sampling_accepted_total", Kind::Counter, "DA sampling responses the chain accepted (paid)"),
    ("zgnode_da_refused_batches_total", Kind::Counter, "DA piece batches refused from dispersers"),
    ("compute_requests_served_total", Kind::Counter, "Inference requests the built-in provider served"),
    ("compute_requests_settled_total", Kind::Counter, "Served requests paid on chain"),
    ("compute_tokens_total", Kind::Counter, "Tokens served (label kind: prompt, completion)"),
    ("compute_fine_tuning_tasks", Kind::Gauge, "Fine-tuning tasks by phase (label phase)"),
    ("compute_fine_tuning_tasks_working", Kind::Gauge, "Fine-tuning tasks being worked on"),
    ("compute_verifiable_results_total", Kind::Counter, "Verifiable (halo2-proved) results served"),
    ("compute_verifiable_prove_seconds", Kind::Histogram, "Time to prove one verifiable result"),
    ("compute_verifiable_settled_total", Kind::Counter, "Verifiable results paid on chain"),
    ("compute_verifiable_refused_total", Kind::Counter, "Verifiable results the contract refused at settlement"),
    ("zgnode_gpu_present", Kind::Gauge, "1 when a GPU is in use"),
    ("zgnode_gpu_selftest_failed", Kind::Gauge, "1 when the GPU failed its self-test (the CPU path is used)"),
    ("zgnode_gpu_kernels_unfit_total", Kind::Counter, "Kernels that do not fit the device's limits (label kernel)"),
    ("zgnode_gpu_erasure_batches_total", Kind::Counter, "Erasure-coding batches by where they ran (label route: gpu, cpu)"),
    ("zgnode_gpu_erasure_bytes_total", Kind::Counter, "Bytes erasure-coded on the GPU"),
    ("zgnode_gpu_erasure_seconds", Kind::Histogram, "Time of one erasure batch on the GPU, copies included"),
    ("zgnode_gpu_erasure_failures_total", Kind::Counter, "GPU erasure batches that failed (coded on the CPU instead)"),
    ("zgnode_gpu_erasure_spot_checks", Kind::Gauge, "GPU erasure batches recomputed on the CPU"),
    ("zgnode_gpu_erasure_spot_mismatches", Kind::Gauge, "Spot checks that differed"),
    ("zgnode_gpu_retired", Kind::Gauge, "1 once a spot-check difference retired the GPU"),
    ("zgnode_gpu_matvec_failures_total", Kind::Counter, "LLM matrix products that failed on the GPU"),
];

/// Installs the Prometheus exporter, serving `/metrics` on `addr`, with every metric of
/// [`CATALOG`] described and its counters and gauges at zero. Needs a tokio runtime.
pub fn install_exporter(addr: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot start metrics on {addr}: {e}"))?;
    for (name, kind, help) in CATALOG {
        match kind {
            Kind::Counter => {
                metrics::describe_counter!(*name, *help);
                metrics::counter!(*name).absolute(0);
            }
            Kind::Gauge => {
                metrics::describe_gauge!(*name, *help);
                metrics::gauge!(*name).increment(0.0);
            }
            Kind::Histogram => {
                metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
                let _registered = metrics::histogram!(*name);
            }
        }
    }
    Ok(())
}

pub fn record_tick(elapsed: Duration, systems: &BTreeMap<&'static str, Duration>) {
    metrics::histogram!("zgnode_tick_seconds").record(elapsed.as_secs_f64());
    metrics::counter!("zgnode_ticks_total").increment(1);
    for (system, took) in systems {
        metrics::histogram!("zgnode_system_seconds", "system" => *system).record(took.as_secs_f64());
    }
    // The GPU's erasure answers checked on the CPU so far, the differences found, and whether
    // one retired it (the check runs inside the coding functions, which hold no metrics).
    if let Some((checked, mismatches, retired)) = crate::gpu::accel::status().and_then(|status| status.erasure.spot_checks()) {
        metrics::gauge!("zgnode_gpu_erasure_spot_checks").set(checked as f64);
        metrics::gauge!("zgnode_gpu_erasure_spot_mismatches").set(mismatches as f64);
        metrics::gauge!("zgnode_gpu_retired").set(if retired { 1.0 } else { 0.0 });
    }
}

/// A committed block: the height, its gas and transactions.
pub fn record_chain(number: u64, gas_used: u64, transactions: usize) {
    metrics::gauge!("zgnode_chain_height").set(number as f64);
    metrics::gauge!("zgnode_chain_block_gas_used").set(gas_used as f64);
    metrics::counter!("zgnode_chain_transactions_total").increment(transactions as u64);
    metrics::counter!("zgnode_chain_gas_used_total").increment(gas_used);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `metrics::counter!/gauge!/histogram!("name"` in the node's source is in the catalog,
    /// as that kind, and every catalogued metric is recorded somewhere.
    #[test]
    fn the_catalog_is_every_metric_the_source_records() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found: BTreeMap<String, Kind> = BTreeMap::new();
        let mut folders = vec![root.join("src"), root.join("systems/src")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("a source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("src/metrics.rs") {
                    let text = std::fs::read_to_string(&path).expect("source");
                    for (macro_name, kind) in [("counter!(\"", Kind::Counter), ("gauge!(\"", Kind::Gauge), ("histogram!(\"", Kind::Histogram)] {
                        for (at, _) in text.match_indices(&format!("metrics::{macro_name}")) {
                            let rest = &text[at + "metrics::".len() + macro_name.len()..];
                            let name = &rest[..rest.find('"').expect("a closing quote")];
                            found.insert(name.to_string(), kind);
                        }
                    }
                }
            }
        }
        for (name, kind) in &found {
            assert!(CATALOG.iter().any(|(n, k, _)| n == name && k == kind), "{name} ({kind:?}) is recorded but not in the catalog");
        }
        for (name, _, _) in CATALOG {
            let here = ["zgnode_tick_seconds", "zgnode_ticks_total", "zgnode_system_seconds", "zgnode_gpu_erasure_spot_checks", "zgnode_gpu_erasure_spot_mismatches", "zgnode_gpu_retired"];
            let chain = name.starts_with("zgnode_chain_");
            assert!(found.contains_key(*name) || here.contains(name) || chain, "{name} is in the catalog but never recorded");
        }
    }
}
