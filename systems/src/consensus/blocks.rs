//! Ordered blocks: building one to propose, checking one a peer proposed, and turning a decided
//! one into the transactions execution runs.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{B256, keccak256};
use bevy_ecs::prelude::*;
use malachite_types::Round;
use rayon::prelude::*;

use zg_components::chain::{ChainHead, ChainSpec, MempoolIndex, PooledTx};
use zg_components::consensus::{DoubleSignEvidence, Height, OrderedBlock, ValidatorAddress, ValidatorSet};

use crate::chain::producer::{Candidate, next_base_fee};
use crate::chain::mempool;

/// Most transactions one block may carry (the gas limit bounds it well below this).
pub const MAX_BLOCK_TRANSACTIONS: usize = 20_000;
/// How far ahead of this node's clock a proposal's timestamp may be.
pub const MAX_CLOCK_DRIFT_MS: u64 = 15_000;

/// The next block this validator proposes: the pool's best transactions on top of the head.
pub fn build_block(
    world: &World,
    height: Height,
    round: Round,
    proposer: ValidatorAddress,
    now_ms: u64,
    evidence: Vec<DoubleSignEvidence>,
) -> OrderedBlock {
    let spec = world.resource::<ChainSpec>();
    let head = world.resource::<ChainHead>();
    let base_fee = next_base_fee(&head.header);
    let transactions = mempool::select_transactions(world, base_fee, spec.block_gas_limit)
        .into_iter()
        .filter_map(|entity| world.get::<PooledTx>(entity))
        .take(MAX_BLOCK_TRANSACTIONS)
        .map(|tx| tx.envelope.encoded_2718())
        .collect();
    OrderedBlock {
        height: height.0,
        round: round.as_u32().unwrap_or(0),
        // Header timestamps never go backwards, whatever this node's clock says.
        timestamp_ms: now_ms.max(head.header.timestamp * 1000),
        proposer: proposer.0.0 .0,
        parent_hash: head.hash.0,
        transactions,
        evidence,
    }
}

/// What a received block is to this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockCheck {
    /// For the next height and acceptable.
    Valid,
    /// For the next height and not acceptable: vote nil.
    Invalid(String),
    /// For a later height: keep it until then.
    Future,
    /// For a height already decided.
    Stale,
}

/// Checks a proposed block against the head it must extend.
pub fn check_block(world: &World, block: &OrderedBlock, set: &ValidatorSet, chain_id: u64, now_ms: u64) -> BlockCheck {
    let head = world.resource::<ChainHead>();
    let spec = world.resource::<ChainSpec>();
    if block.height <= head.number() {
        return BlockCheck::Stale;
    }
    if block.height > head.number() + 1 {
        return BlockCheck::Future;
    }
    if set.get(&block.proposer()).is_none() {
        return BlockCheck::Invalid(format!("proposer {} is not a validator", block.proposer()));
    }
    if B256::from(block.parent_hash) != head.hash {
        return BlockCheck::Invalid(format!("parent {} is not the head {}", B256::from(block.parent_hash), head.hash));
    }
    if block.timestamp_ms / 1000 < head.header.timestamp {
        return BlockCheck::Invalid("timestamp before the parent's".into());
    }
    if block.timestamp_ms > now_ms + MAX_CLOCK_DRIFT_MS {
        return BlockCheck::Invalid("timestamp too far in the future".into());
    }
    if block.transactions.len() > MAX_BLOCK_TRANSACTIONS {
        return BlockCheck::Invalid(format!("{} transactions, limit {MAX_BLOCK_TRANSACTIONS}", block.transactions.len()));
    }
    let mut gas = 0u64;
    for raw in &block.transactions {
        let mut buf = raw.as_slice();
        match TxEnvelope::decode_2718(&mut buf) {
            Ok(tx) if buf.is_empty() && tx.chain_id() == Some(chain_id) => gas = gas.saturating_add(tx.gas_limit()),
            _ => return BlockCheck::Invalid("a transaction does not decode for this chain".into()),
        }
    }
    if gas > spec.block_gas_limit {
        return BlockCheck::Invalid(format!("transactions ask {gas} gas, the limit is {}", spec.block_gas_limit));
    }
    for evidence in &block.evidence {
        if let Err(reason) = super::evidence::check(evidence, set, chain_id) {
            return BlockCheck::Invalid(format!("evidence: {reason}"));
        }
    }
    BlockCheck::Valid
}

/// The block's transactions for execution, in order: pooled ones as the pool holds them, the
/// rest decoded and their senders recovered in parallel. One that does not decode or recover
/// is left out (every node leaves it out alike).
pub fn candidates(world: &World, block: &OrderedBlock, chain_id: u64) -> Vec<Candidate> {
    let pool = world.resource::<MempoolIndex>();
    let hashes: Vec<B256> = block.transactions.par_iter().map(keccak256).collect();
    let recovered: Vec<Option<Candidate>> = block
        .transactions
        .par_iter()
        .zip(hashes.par_iter())
        .map(|(raw, hash)| match pool.by_hash.get(hash).and_then(|e| world.get::<PooledTx>(*e).map(|tx| (*e, tx))) {
            Some((entity, tx)) => Some(Candidate { pooled: Some(entity), tx: tx.clone() }),
            None => {
                let (envelope, sender) = mempool::decode_transaction(raw, chain_id, usize::MAX).ok()?;
                Some(Candidate { pooled: None, tx: PooledTx::new(envelope, sender, 0) })
            }
        })
        .collect();
    recovered.into_iter().flatten().collect()
}
