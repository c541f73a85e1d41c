//! The chain's edges: draining requests in `Ingest`, persisting sealed blocks in `Persist` and
//! announcing them in `Egress`. Storage and announcement are traits the node implements, so
//! these systems run unchanged on a bare world in tests.

use bevy_ecs::prelude::*;

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256};
use zg_components::chain::{PoolError, SealedBlock};
use zg_components::consensus::TxGossip;
use zg_components::node::{Inbox, NodeEvent, NodeRequest, TickProfile};

use super::mempool;
use crate::profile::{SystemTimer, timed};

/// Most requests drained per tick, so a flood of requests cannot stretch one tick without bound.
pub const MAX_REQUESTS_PER_TICK: usize = 20_000;

pub use crate::ports::{BlockStore, BlockStoreHandle, EventSink, EventSinkHandle, PersistError};

pub use super::fault::{Fault, NodeFault};

pub fn ingest_requests(world: &mut World) {
    timed(world, "ingest_requests", |world| {
        let Some(inbox) = world.get_resource::<Inbox>().cloned() else { return };
        for request in inbox.0.try_iter().take(MAX_REQUESTS_PER_TICK) {
            handle_request(world, request);
        }
    })
}

/// Admits a transaction to the pool and, when `gossip` and the node has peers, queues it for them.
fn admit_and_gossip(world: &mut World, envelope: TxEnvelope, sender: Address, gossip: bool) -> Result<B256, PoolError> {
    let raw = (gossip && world.contains_resource::<TxGossip>()).then(|| envelope.encoded_2718());
    let result = mempool::admit(world, envelope, sender);
    if let (Ok(_), Some(raw)) = (&result, raw) {
        world.resource_mut::<TxGossip>().0.push(raw);
    }
    result
}

pub fn handle_request(world: &mut World, request: NodeRequest) {
    match request {
        NodeRequest::SubmitTransaction { envelope, sender, reply } => {
            reply.send(admit_and_gossip(world, *envelope, sender, true));
        }
        NodeRequest::RelayedTransaction { envelope, sender, forward } => {
            // A peer's transaction the pool refuses needs no answer: the peer is not waiting.
            let _ = admit_and_gossip(world, *envelope, sender, forward);
        }
        NodeRequest::PendingNonce { address, reply } => {
            reply.send(mempool::pending_nonce(world, &address));
        }
        NodeRequest::PooledTransaction { hash, reply } => {
            let pool = world.resource::<zg_components::chain::MempoolIndex>();
            let tx = pool.by_hash.get(&hash).and_then(|entity| world.get::<zg_components::chain::PooledTx>(*entity));
            let tx = tx.map(|tx| (tx.envelope.clone(), tx.sender)).or_else(|| {
                // Sealed, its block not yet committed: still pending to whoever asks.
                world.get_resource::<super::writer::BlockWriter>().and_then(|writer| writer.pending_transaction(&hash))
            });
            reply.send(tx);
        }
        NodeRequest::Dev { command, reply } => super::dev::run_dev_command(world, command, reply),
        NodeRequest::Proof { address, slots, reply } => {
            // Proofs are against the state readers see: no block may be ahead of the disk.
            super::writer::settle(world);
            reply.send(super::state::account_proof(world, address, &slots));
        }
        NodeRequest::PoolContent { reply } => reply.send(mempool::content(world)),
    }
}

pub fn persist_sealed_blocks(
    mut blocks: MessageReader<SealedBlock>,
    store: Option<Res<BlockStoreHandle>>,
    writer: Option<ResMut<super::writer::BlockWriter>>,
    profile: Res<TickProfile>,
    mut fault: ResMut<NodeFault>,
) {
    let _timer = SystemTimer::of(&profile, "persist_blocks");
    if fault.0.is_some() {
        blocks.clear();
        return;
    }
    if let Some(mut writer) = writer {
        for SealedBlock(block) in blocks.read() {
            if let Err(error) = writer.submit(block.clone()) {
                tracing::error!(number = block.header.number, %error, "stopping: block not persisted");
                fault.0 = Some(Fault::BlockNotPersisted(error));
                return;
            }
        }
        return;
    }
    let Some(store) = store else {
        blocks.clear();
        return;
    };
    for SealedBlock(block) in blocks.read() {
        if let Err(error) = store.0.commit_block(block) {
            tracing::error!(number = block.header.number, %error, "stopping: block not persisted");
            fault.0 = Some(Fault::BlockNotPersisted(error));
            return;
        }
        let (number, txs, gas) = (block.header.number, block.transactions.len(), block.header.gas_used);
        if txs > 0 {
            tracing::info!(number, txs, gas, hash = %block.hash, "sealed block");
        } else {
            tracing::debug!(number, hash = %block.hash, "sealed empty block");
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn publish_sealed_blocks(
    mut blocks: MessageReader<SealedBlock>,
    sink: Option<Res<EventSinkHandle>>,
    mut fault: ResMut<NodeFault>,
    profile: Res<TickProfile>,
    head: Option<Res<zg_components::chain::ChainHead>>,
    dev_replies: Option<ResMut<super::dev::DevReplies>>,
    writer: Option<ResMut<super::writer::BlockWriter>>,
) {
    let _timer = SystemTimer::of(&profile, "publish_blocks");
    let sealed: Vec<_> = blocks.read().map(|SealedBlock(block)| block.clone()).collect();
    // With the block writer, what is announced is what its commits finished, not what was sealed.
    let (blocks, all_on_disk) = match writer {
        Some(mut writer) => {
            if fault.0.is_none()
                && let Err(error) = writer.collect()
            {
                tracing::error!(%error, "stopping: block not persisted");
                fault.0 = Some(Fault::BlockNotPersisted(error));
            }
            (writer.take_committed(), writer.is_idle())
        }
        None => (sealed, true),
    };
    if let Some(mut replies) = dev_replies.filter(|_| all_on_disk || fault.0.is_some()) {
        let answer = match (&fault.0, head) {
            (Some(fault), _) => Err(zg_components::chain::DevError::NodeStopped(std::sync::Arc::new(fault.clone()))),
            (None, Some(head)) => Ok(head.number()),
            (None, None) => Err(zg_components::chain::DevError::NoHead),
        };
        for reply in replies.0.drain(..) {
            reply.send(answer.clone());
        }
    }
    // A block that is not on disk is never announced: a receipt seen is a receipt kept.
    if fault.0.is_some() {
        return;
    }
    if let Some(sink) = sink {
        for block in blocks {
            sink.0.publish(NodeEvent::BlockCommitted(block));
        }
    }
}
