//! BFT consensus: Malachite's Tendermint driven from the tick, the blocks it orders, block sync
//! and double-sign evidence.
//!
//! The node inserts [`driver::ConsensusEngine`], the [`zg_components::consensus::ValidatorSet`],
//! [`zg_components::consensus::ConsensusSettings`] and the network handles; this plugin adds the
//! working-set resources and the systems.

pub mod blocks;
pub mod driver;
pub mod engine;
pub mod evidence;
pub mod staking;
pub mod verify;

use bevy_ecs::prelude::*;
use zg_components::chain::ExternalOrdering;
use zg_components::consensus::{
    ConsensusProgress, ConsensusTimers, DecidedQueue, DeferredEvents, NetOutbox, PendingEvidence, ReceivedBlocks,
    SyncProgress, TxGossip,
};

use crate::{NodePlugin, TickSet};

/// The consensus domain's steps: other domains (and embedding hosts) order against these.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsensusSet {
    /// The BFT engine driven (Consensus).
    Drive,
    /// Decided blocks executed (Execute).
    Execute,
    /// Votes, proposals and sync requests handed to the network (Egress).
    Send,
}

pub struct ConsensusPlugin;

impl NodePlugin for ConsensusPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.insert_resource(ExternalOrdering);
        world.init_resource::<ConsensusProgress>();
        world.init_resource::<ConsensusTimers>();
        world.init_resource::<DecidedQueue>();
        world.init_resource::<DeferredEvents>();
        world.init_resource::<NetOutbox>();
        world.init_resource::<PendingEvidence>();
        world.init_resource::<ReceivedBlocks>();
        world.init_resource::<SyncProgress>();
        world.init_resource::<TxGossip>();
        schedule.add_systems((
            driver::drive_consensus.in_set(TickSet::Consensus).in_set(ConsensusSet::Drive),
            driver::execute_decided_blocks.in_set(TickSet::Execute).in_set(ConsensusSet::Execute).after(crate::chain::ChainSet::Produce),
            driver::send_network_messages.in_set(TickSet::Egress).in_set(ConsensusSet::Send).after(crate::chain::ChainSet::Publish),
        ));
    }
}
#[cfg(test)]
mod tests;
