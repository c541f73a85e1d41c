//! Blocks as entities, the chain head, and the unit a sealed block is persisted and announced as.

use alloy_consensus::{Header, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, U256};
use bevy_ecs::prelude::*;
use std::sync::Arc;

use super::{AccountInfo, TxReceipt};

/// A sealed header with its hash, on a block entity.
#[derive(Component, Clone, Debug)]
pub struct BlockHeader {
    pub header: Header,
    pub hash: B256,
}

/// The hashes of a block's transactions, in order.
#[derive(Component, Clone, Debug, Default)]
pub struct BlockBody {
    pub tx_hashes: Vec<B256>,
}

/// Marks block entities kept in the ECS working set (the last 256, for BLOCKHASH).
#[derive(Component, Clone, Copy, Debug)]
pub struct RecentBlock;

/// The latest sealed block.
#[derive(Resource, Clone, Debug)]
pub struct ChainHead {
    pub header: Header,
    pub hash: B256,
}

impl ChainHead {
    pub fn number(&self) -> u64 {
        self.header.number
    }
}

/// What one account looks like after a block: `info: None` means it was deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountChange {
    pub address: Address,
    pub info: Option<AccountInfo>,
    /// Slots written in this block; a zero value deletes the slot.
    pub storage: Vec<(U256, U256)>,
    /// Set when the account was wiped (self-destructed or recreated): drop all its old slots.
    pub storage_cleared: bool,
    /// New code, with its hash in `info.code_hash`.
    pub code: Option<Bytes>,
}

/// A sealed block with everything needed to persist it in one write and to announce it.
#[derive(Clone, Debug)]
pub struct CommittedBlock {
    pub header: Header,
    pub hash: B256,
    pub transactions: Vec<(TxEnvelope, Address)>,
    pub receipts: Vec<TxReceipt>,
    pub changes: Vec<AccountChange>,
    /// The ordered block and commit certificate consensus decided it by (none on a single-producer chain).
    pub decided: Option<Arc<crate::consensus::DecidedBlock>>,
}

/// A block executed this tick: `Persist` writes it, `Egress` announces it, and every domain that
/// follows what blocks did (storage's Flow and PoRA events) reads it. Each reader sees it once;
/// the tick's `Retire` step ages it out.
#[derive(Message, Clone, Debug)]
pub struct SealedBlock(pub Arc<CommittedBlock>);
