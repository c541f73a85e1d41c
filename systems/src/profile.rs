//! Per-system timing. Systems record into [`TickProfile`] (a shared resource with a lock
//! inside, so timing never adds a scheduling conflict); the driver reads it after each tick.

use bevy_ecs::prelude::*;
use std::time::Instant;
use zg_components::node::TickProfile;

/// Records the time from creation until drop, for systems with `Res<TickProfile>`.
pub struct SystemTimer<'a> {
    profile: &'a TickProfile,
    name: &'static str,
    started: Instant,
}

impl<'a> SystemTimer<'a> {
    pub fn of(profile: &'a TickProfile, name: &'static str) -> Self {
        Self { profile, name, started: Instant::now() }
    }
}

impl Drop for SystemTimer<'_> {
    fn drop(&mut self) {
        self.profile.record(self.name, self.started.elapsed());
    }
}

/// Runs an exclusive system's body and records how long it took.
pub fn timed<R>(world: &mut World, name: &'static str, body: impl FnOnce(&mut World) -> R) -> R {
    let started = Instant::now();
    let result = body(world);
    if let Some(profile) = world.get_resource::<TickProfile>() {
        profile.record(name, started.elapsed());
    }
    result
}
