//! Dev-chain controls: mine on demand and edit state (anvil's `evm_mine`, `anvil_setBalance`...).
//! Refused where blocks are decided by consensus.

use bevy_ecs::prelude::*;
use std::sync::Arc;

use zg_components::chain::{
    ChainClock, ChainHead, ChainSpec, DevCommand, DevError, ExternalOrdering, SealedBlock,
};
use zg_components::node::{ReplyTo, TickClock};

use super::producer;

/// Most blocks one `evm_mine` may ask for.
pub const MAX_MINED_PER_REQUEST: u64 = 10_000;

pub use crate::ports::{ChainRewinder, RewinderHandle};

/// Dev controls waiting for their blocks to be persisted before they are answered, so that a
/// client that reads right after `evm_mine` sees the new block.
#[derive(Resource, Default)]
pub struct DevReplies(pub Vec<ReplyTo<Result<u64, DevError>>>);

pub fn run_dev_command(world: &mut World, command: DevCommand, reply: ReplyTo<Result<u64, DevError>>) {
    if world.contains_resource::<ExternalOrdering>() {
        reply.send(Err(DevError::DecidedByConsensus));
        return;
    }
    let now_s = world.resource::<TickClock>().now_ms / 1000;
    let clock = world.get_resource_or_insert_with(ChainClock::default).clone();
    let coinbase = world.resource::<ChainSpec>().coinbase;
    match command {
        DevCommand::Mine { blocks, timestamp } => {
            if let Some(timestamp) = timestamp {
                clock.set_next_timestamp(timestamp);
            }
            for _ in 0..blocks.min(MAX_MINED_PER_REQUEST) {
                let parent_timestamp = world.resource::<ChainHead>().header.timestamp;
                let block = producer::seal_block(world, clock.take(now_s, parent_timestamp));
                world.write_message(SealedBlock(Arc::new(block)));
            }
        }
        DevCommand::Revert { block } => {
            let Some(rewinder) = world.get_resource::<RewinderHandle>().cloned() else {
                reply.send(Err(DevError::CannotRewind));
                return;
            };
            // The store is rewound under no pending commit; what those commits finish is never
            // announced (the blocks are being dropped).
            super::writer::settle(world);
            if let Some(fault) = world.resource::<super::fault::NodeFault>().0.clone() {
                reply.send(Err(DevError::NodeStopped(Arc::new(fault))));
                return;
            }
            if let Some(mut writer) = world.get_resource_mut::<super::writer::BlockWriter>() {
                writer.take_committed();
            }
            if let Err(error) = rewinder.0.rewind(world, block) {
                reply.send(Err(DevError::RewindFailed(Arc::new(error))));
                return;
            }
        }
        DevCommand::Edit(edits) => {
            let parent_timestamp = world.resource::<ChainHead>().header.timestamp;
            let context = producer::BlockContext {
                timestamp_s: clock.take(now_s, parent_timestamp),
                coinbase,
                edits,
                ..Default::default()
            };
            let block = producer::execute_block(world, context, Vec::new());
            world.write_message(SealedBlock(Arc::new(block)));
        }
    }
    world.get_resource_or_insert_with(DevReplies::default).0.push(reply);
}

