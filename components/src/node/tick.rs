//! The tick's clock and its profile.

use bevy_ecs::prelude::*;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Set by the driver before each tick. Systems read time only from here, so tests control it.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct TickClock {
    pub tick: u64,
    /// Milliseconds since the Unix epoch at the start of this tick.
    pub now_ms: u64,
}

/// How long each system took in the last tick, and in total since start.
///
/// Systems record through a shared reference (a mutex inside), so recording never makes two
/// systems conflict in the scheduler's eyes.
#[derive(Resource, Debug, Default)]
pub struct TickProfile {
    inner: Mutex<ProfileData>,
}

#[derive(Clone, Debug, Default)]
pub struct ProfileData {
    pub last_tick: BTreeMap<&'static str, Duration>,
    pub totals: BTreeMap<&'static str, (u64, Duration)>,
}

impl TickProfile {
    pub fn record(&self, system: &'static str, elapsed: Duration) {
        let mut data = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *data.last_tick.entry(system).or_default() += elapsed;
        let total = data.totals.entry(system).or_default();
        total.0 += 1;
        total.1 += elapsed;
    }

    /// Takes the last tick's per-system times and starts a new tick.
    pub fn take_last_tick(&self) -> BTreeMap<&'static str, Duration> {
        let mut data = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut data.last_tick)
    }

    pub fn snapshot(&self) -> ProfileData {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}
