//! Prometheus metrics: tick time and per-system time, recorded by the driver after each tick,
//! and the GPU erasure spot checks' counts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Installs the Prometheus exporter, serving `/metrics` on `addr`. Needs a tokio runtime.
pub fn install_exporter(addr: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot start metrics on {addr}: {e}"))
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
