//! # zg-systems — zgnode's behaviour
//!
//! One module per domain, each exporting a [`NodePlugin`] that adds its resources and systems to
//! the tick [`Schedule`] under a [`TickSet`]. Systems are pure ECS + computation: I/O reaches them
//! only through resources the node provides (the traits in [`ports`], all in one place), so every
//! system runs on a bare `World` in tests.
//!
//! ## Layout
//! - [`alignment`]: the alignment licence NFT and manager as genesis places them (operators,
//!   bonds, epoch reports, vesting rewards, evidence judged through the markets).
//! - [`chain`]: mempool admission and selection, block production with revm, state root, the
//!   chain's ingest/persist/egress systems.
//! - [`consensus`]: Malachite's Tendermint driven from the tick (engine, effects, WAL replay),
//!   ordered blocks, block sync by certificate, double-sign evidence, the staking contract's
//!   view of the validator set, rewards and slashing.
//! - [`compute`]: the inference marketplace's contracts and settlement arithmetic; the fine-tuning
//!   API's digests and fees; fine-tuning tasks as entities of the provider's tick.
//! - [`da`]: extending blobs to their squares, repair, fraud proofs and their precompile.
//! - [`erasure`]: reed-solomon-simd's code as data-independent steps, and their CPU twin (what
//!   the GPU kernels run).
//! - [`governance`]: the Governor, its timelock and the `ChainParams` contract as genesis places
//!   them (the chain reads the parameters in `chain::params`).
//! - [`ports`]: every trait through which the ECS reaches the outside (block store, event sink,
//!   WAL, sign guard, network, file store, shard executor, rewinder).
//! - [`pools`]: thread pools of their own (proofs, sender recovery), apart from rayon's global one.
//! - [`profile`]: per-system timing.
//! - [`shape`]: what a built tick schedule runs, alone and side by side.
//! - [`storage`]: the Flow contract's `Submit` events as file entities, persisted for storage nodes.
//! - [`verifiable`]: verifiable inference: the halo2 circuit, its precompile, proof jobs and
//!   the background warming of registered models' keys.
//!
//! One tick runs the sets in this order; Storage, Da and Compute touch disjoint data and run side
//! by side on the multi-threaded executor. Facts pass between systems as bevy messages
//! ([`add_message`]), never as shared `Vec` resources, and no Storage system takes the whole
//! world, so [`shape::role_shapes`] can show what runs beside what.

pub mod alignment;
pub mod chain;
pub mod compute;
pub mod consensus;
pub mod da;
pub mod erasure;
pub mod governance;
pub mod ports;
pub mod pools;
pub mod profile;
pub mod shape;
pub mod storage;
pub mod verifiable;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleLabel;

/// The phases of one tick (see DESIGN.md).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickSet {
    /// Drain the network and RPC inboxes.
    Ingest,
    /// Drive the BFT engine (validator networks; empty for the dev chain's single producer).
    Consensus,
    /// Seal and execute blocks.
    Execute,
    Storage,
    Da,
    Compute,
    /// Write what changed to disk.
    Persist,
    /// Hand outbound messages to the I/O tasks.
    Egress,
    /// Age the tick's messages ([`add_message`]).
    Retire,
}

/// The label of the one schedule a tick runs.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tick;

/// A domain's contribution to the node: resources and systems.
pub trait NodePlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule);
}

/// Adds a kind of message systems pass facts by (a block sealed, a file published): its queue,
/// and its ageing in `Retire`. A message is read once by each reader, in the tick it was written
/// (or the next, by a reader that runs before its writer), then dropped. Readers and writers
/// need no access to one another, so domains reading the same facts run side by side.
pub fn add_message<M: bevy_ecs::message::Message>(world: &mut World, schedule: &mut Schedule) {
    if world.contains_resource::<Messages<M>>() {
        return;
    }
    world.init_resource::<Messages<M>>();
    schedule.add_systems(age_messages::<M>.in_set(TickSet::Retire));
}

fn age_messages<M: bevy_ecs::message::Message>(mut messages: ResMut<Messages<M>>) {
    messages.update();
}

/// The chain's precompiles: ed25519 (the chain's), DA's fraud-proof check and verifiable
/// compute's verifier. They are rules of the chain, the same on every node whatever roles it
/// runs, so they are registered here, where a world is assembled, rather than by role plugins.
pub fn chain_rules() -> chain::precompile::PrecompileRegistry {
    let mut registry = chain::precompile::PrecompileRegistry::new();
    da::precompile::register(&mut registry);
    verifiable::precompile::register(&mut registry);
    registry
}

/// A tick schedule with the sets in order and the given plugins added.
pub fn tick_schedule(world: &mut World, plugins: &[&dyn NodePlugin]) -> Schedule {
    let mut schedule = Schedule::new(Tick);
    schedule.configure_sets(
        (
            TickSet::Ingest,
            TickSet::Consensus,
            TickSet::Execute,
            (TickSet::Storage, TickSet::Da, TickSet::Compute),
            TickSet::Persist,
            TickSet::Egress,
            TickSet::Retire,
        )
            .chain(),
    );
    world.init_resource::<zg_components::node::TickClock>();
    world.init_resource::<zg_components::node::TickProfile>();
    if !world.contains_resource::<chain::precompile::PrecompileRegistry>() {
        world.insert_resource(chain_rules());
    }
    for plugin in plugins {
        plugin.build(world, &mut schedule);
    }
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings};
    use zg_components::chain::ChainSpec;

    /// Two systems that could run in either order over the same data would make block results
    /// depend on thread timing; the schedule must have none.
    #[test]
    fn the_tick_schedule_has_no_ambiguous_system_order() {
        for with_consensus in [false, true] {
            let mut world = World::new();
            world.insert_resource(ChainSpec::dev(1, Default::default()));
            let mut schedule = if with_consensus {
                tick_schedule(
                    &mut world,
                    &[&chain::ChainPlugin as &dyn NodePlugin, &consensus::ConsensusPlugin, &storage::StoragePlugin],
                )
            } else {
                tick_schedule(&mut world, &[&chain::ChainPlugin as &dyn NodePlugin, &storage::StoragePlugin])
            };
            schedule.set_build_settings(ScheduleBuildSettings {
                ambiguity_detection: LogLevel::Error,
                ..Default::default()
            });
            if let Err(error) = schedule.initialize(&mut world) {
                panic!("{}", error.to_string(schedule.graph(), &world));
            }
        }
    }
}
