//! The tick loop a [`RunningNode`](super::RunningNode) runs on its own thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zg_components::node::TickProfile;

use super::{Node, NodeError, now_ms};

/// Starts the tick thread.
pub fn spawn(node: Node, tick: Duration, stop: Arc<AtomicBool>) -> Result<JoinHandle<Result<(), NodeError>>, NodeError> {
    std::thread::Builder::new()
        .name("zgnode-tick".into())
        .spawn(move || drive(node, tick, stop))
        .map_err(|source| NodeError::Thread { what: "the tick thread", source })
}

/// The tick loop: one schedule run per `tick` (back to back when zero) until told to stop.
fn drive(mut node: Node, tick: Duration, stop: Arc<AtomicBool>) -> Result<(), NodeError> {
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        node.tick(now_ms())?;
        let elapsed = started.elapsed();
        crate::metrics::record_tick(elapsed, &node.world().resource::<TickProfile>().take_last_tick());
        if let Some(rest) = tick.checked_sub(elapsed) {
            std::thread::sleep(rest);
        }
    }
    Ok(())
}
