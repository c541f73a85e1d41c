//! The channels between the async I/O shell and the world.
//!
//! Async tasks (RPC, later the network) push [`NodeRequest`]s; the `Ingest` systems drain them
//! each tick. Replies go back through a [`ReplyTo`], a type-erased callback, so this crate needs
//! no async runtime.

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;
use std::fmt;
use std::sync::Arc;

use crate::chain::{CommittedBlock, PoolError};

/// Delivers one answer to whoever asked. Dropping it unanswered is allowed (the asker sees the
/// channel close).
pub struct ReplyTo<T>(Box<dyn FnOnce(T) + Send + Sync>);

impl<T> ReplyTo<T> {
    pub fn new(deliver: impl FnOnce(T) + Send + Sync + 'static) -> Self {
        Self(Box::new(deliver))
    }

    pub fn send(self, value: T) {
        (self.0)(value)
    }
}

impl<T> fmt::Debug for ReplyTo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyTo")
    }
}

#[derive(Debug)]
pub enum NodeRequest {
    /// A decoded, signature-checked transaction for the mempool.
    SubmitTransaction { envelope: Box<TxEnvelope>, sender: Address, reply: ReplyTo<Result<B256, PoolError>> },
    /// A decoded, signature-checked transaction a peer gossiped; `forward` when the peers should
    /// get it from this node too (validators already sent it to every validator).
    RelayedTransaction { envelope: Box<TxEnvelope>, sender: Address, forward: bool },
    /// The nonce the sender's next transaction should use, counting pooled ones.
    PendingNonce { address: Address, reply: ReplyTo<u64> },
    /// A pooled transaction by hash, for eth_getTransactionByHash before it is mined.
    PooledTransaction { hash: B256, reply: ReplyTo<Option<(TxEnvelope, Address)>> },
    /// A dev-chain control; answered with the head's number once its blocks are persisted.
    Dev { command: crate::chain::DevCommand, reply: ReplyTo<Result<u64, crate::chain::DevError>> },
    /// EIP-1186: an account and some of its slots, proven against the head's state root.
    Proof { address: Address, slots: Vec<alloy_primitives::U256>, reply: ReplyTo<AccountProof> },
    /// The pool's transactions: (pending = executable now, queued = waiting on a nonce gap).
    PoolContent { reply: ReplyTo<PoolContent> },
}

/// eth_getProof's answer, for the head block.
#[derive(Clone, Debug, Default)]
pub struct AccountProof {
    pub block: u64,
    pub info: crate::chain::AccountInfo,
    pub storage_hash: B256,
    pub account_proof: Vec<Vec<u8>>,
    /// (slot, value, proof) for each slot asked for.
    pub storage: Vec<(alloy_primitives::U256, alloy_primitives::U256, Vec<Vec<u8>>)>,
}

/// The mempool as txpool_content shows it.
#[derive(Clone, Debug, Default)]
pub struct PoolContent {
    pub pending: Vec<(TxEnvelope, Address)>,
    pub queued: Vec<(TxEnvelope, Address)>,
}

/// The receiving end of the request channel, drained in `Ingest`.
#[derive(Resource, Clone, Debug)]
pub struct Inbox(pub crossbeam_channel::Receiver<NodeRequest>);

/// What the world tells the I/O shell, handed over in `Egress`.
#[derive(Clone, Debug)]
pub enum NodeEvent {
    /// A block was sealed, executed and persisted.
    BlockCommitted(Arc<CommittedBlock>),
}
