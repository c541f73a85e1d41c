//! Prometheus metrics: tick time and per-system time, recorded by the driver after each tick.

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
}
