//! The EVM chain: mempool, block production with revm, state commitment and the chain's I/O edges.

pub mod changes;
pub mod dev;
pub mod evm;
pub mod fault;
pub mod genesis;
pub mod io;
pub mod mempool;
pub mod params;
pub mod precompile;
pub mod producer;
pub mod simulate;
pub mod state;
pub mod writer;
#[cfg(test)]
pub(crate) mod test_support;

use bevy_ecs::prelude::*;
use zg_components::chain::{
    AccountIndex, BlockIndex, CodeStore, MempoolIndex, SealedBlock, StateTrie,
};

use crate::{NodePlugin, TickSet};

/// Chain resources and systems: ingest requests, seal blocks, persist and announce them.
/// The node inserts [`zg_components::chain::ChainSpec`] and the I/O handles.
/// The chain domain's steps, one per tick phase it works in: other domains order against these
/// (a step of the chain), never against the chain's functions.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainSet {
    /// Requests drained: transactions admitted to the pool (Ingest).
    Ingest,
    /// The dev chain's block sealed and executed (Execute).
    Produce,
    /// Sealed blocks handed to the store (Persist).
    Persist,
    /// Committed blocks announced (Egress).
    Publish,
}

pub struct ChainPlugin;

impl NodePlugin for ChainPlugin {
    fn build(&self, world: &mut World, schedule: &mut Schedule) {
        world.init_resource::<AccountIndex>();
        world.init_resource::<BlockIndex>();
        world.init_resource::<MempoolIndex>();
        world.init_resource::<CodeStore>();
        world.init_resource::<StateTrie>();
        crate::add_message::<SealedBlock>(world, schedule);
        world.init_resource::<producer::SealSchedule>();
        world.init_resource::<zg_components::chain::ChainClock>();
        world.init_resource::<fault::NodeFault>();
        world.init_resource::<dev::DevReplies>();
        schedule.add_systems((
            io::ingest_requests.in_set(TickSet::Ingest).in_set(ChainSet::Ingest),
            producer::seal_block_when_due
                .in_set(TickSet::Execute)
                .in_set(ChainSet::Produce)
                .run_if(not(resource_exists::<zg_components::chain::ExternalOrdering>)),
            io::persist_sealed_blocks.in_set(TickSet::Persist).in_set(ChainSet::Persist),
            io::publish_sealed_blocks.in_set(TickSet::Egress).in_set(ChainSet::Publish),
        ));
    }
}
