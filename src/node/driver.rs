//! The tick loop a [`RunningNode`](super::RunningNode) runs on its own thread.
//!
//! A node at rest sleeps between ticks: after a tick with nothing left waiting, the loop waits
//! for a message in one of the channels the tick drains ([`super::waiting`]), the next block
//! coming due, or `idle` passing, whichever is first, so timers no input announces still fire
//! (a retry late by at most `idle`, a wall-clock second passing for an empty block). A busy
//! node ticks every `tick` as before. Validators always tick: their consensus timeouts are timers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zg_components::node::TickProfile;

use super::{Node, NodeError, now_ms};

/// When the loop may skip a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// Run the schedule every tick.
    EveryTick,
    /// Skip ticks while nothing waits, but run at least once every `idle`.
    SkipIdle { idle: Duration },
}

impl Pacing {
    /// The pacing a config's `node.idle_tick_ms` asks for (0: every tick), for a node that may
    /// skip (`validator` nodes never do, nor back-to-back ticks).
    pub fn from_config(idle_tick_ms: u64, tick: Duration, validator: bool) -> Self {
        let idle = Duration::from_millis(idle_tick_ms);
        if validator || tick.is_zero() || idle <= tick {
            Self::EveryTick
        } else {
            Self::SkipIdle { idle }
        }
    }
}

/// Starts the tick thread.
pub fn spawn(node: Node, tick: Duration, pacing: Pacing, stop: Arc<AtomicBool>) -> Result<JoinHandle<Result<(), NodeError>>, NodeError> {
    std::thread::Builder::new()
        .name("zgnode-tick".into())
        .spawn(move || drive(node, tick, pacing, stop))
        .map_err(|source| NodeError::Thread { what: "the tick thread", source })
}

/// The tick loop: one schedule run per `tick` (back to back when zero), fewer at rest (see
/// [`Pacing`]), until told to stop.
fn drive(mut node: Node, tick: Duration, pacing: Pacing, stop: Arc<AtomicBool>) -> Result<(), NodeError> {
    let mut sources = node.wake_sources();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let now = now_ms();
        node.tick(now)?;
        crate::metrics::record_tick(started.elapsed(), &node.world().resource::<TickProfile>().take_last_tick());
        let spacing = tick.saturating_sub(started.elapsed());
        match pacing {
            // At rest one wait covers both the spacing between ticks and the idle stretch.
            Pacing::SkipIdle { idle } if !sources.any_waiting() => {
                let until_idle_tick = idle.saturating_sub(started.elapsed());
                let until_deadline = node.next_deadline_after(now).map_or(until_idle_tick, |due| due.saturating_sub(started.elapsed()));
                sources.wait(until_idle_tick.min(until_deadline).max(spacing), spacing);
            }
            _ if !spacing.is_zero() => std::thread::sleep(spacing),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_and_back_to_back_ticks_never_skip() {
        let tick = Duration::from_millis(5);
        assert_eq!(Pacing::from_config(50, tick, true), Pacing::EveryTick);
        assert_eq!(Pacing::from_config(50, Duration::ZERO, false), Pacing::EveryTick);
        assert_eq!(Pacing::from_config(0, tick, false), Pacing::EveryTick, "0 turns skipping off");
        assert_eq!(Pacing::from_config(5, tick, false), Pacing::EveryTick, "an idle interval no longer than a tick is every tick");
        assert_eq!(Pacing::from_config(50, tick, false), Pacing::SkipIdle { idle: Duration::from_millis(50) });
    }
}
