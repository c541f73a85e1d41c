//! The single-validator block producer: every `block_time` it takes the best transactions from
//! the pool, executes them with revm against the world's state, applies the result and seals a
//! header committing to the new state, the transactions and the receipts.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, proofs};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use bevy_ecs::prelude::*;
use revm::{ExecuteEvm, context::result::ExecutionResult};
use std::collections::BTreeSet;
use std::sync::Arc;

use zg_components::chain::{
    AccountChange, BlockBody, BlockHeader, BlockIndex, ChainHead, ChainSpec, CommittedBlock,
    PooledTx, RecentBlock, SealedBlocks, TxReceipt,
};
use zg_components::node::TickClock;

use super::{evm, mempool, state};
use crate::profile::timed;

/// How many sealed blocks stay as entities (what BLOCKHASH can reach).
pub const RECENT_BLOCKS: u64 = 256;

/// When the producer seals next.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct SealSchedule {
    pub next_seal_ms: u64,
}

/// The base fee of the block after `parent` (EIP-1559).
pub fn next_base_fee(parent: &Header) -> u64 {
    parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default()
}

/// Seals a block when one is due. Runs in `Execute`.
pub fn seal_block_when_due(world: &mut World) {
    timed(world, "seal_block", seal_if_due)
}

fn seal_if_due(world: &mut World) {
    let now_ms = world.resource::<TickClock>().now_ms;
    let spec = world.resource::<ChainSpec>().clone();
    let schedule = *world.resource::<SealSchedule>();
    if now_ms < schedule.next_seal_ms {
        return;
    }
    if !spec.seal_empty_blocks && world.resource::<zg_components::chain::MempoolIndex>().is_empty() {
        return;
    }
    world.resource_mut::<SealSchedule>().next_seal_ms = now_ms + spec.block_time_ms;
    let block = seal_block(world, now_ms / 1000);
    world.resource_mut::<SealedBlocks>().0.push(Arc::new(block));
}

/// Builds, executes and applies the next block on top of the current head.
pub fn seal_block(world: &mut World, timestamp_s: u64) -> CommittedBlock {
    let spec = world.resource::<ChainSpec>().clone();
    let parent = world.resource::<ChainHead>().clone();
    let number = parent.number() + 1;
    let base_fee = next_base_fee(&parent.header);
    let timestamp = timestamp_s.max(parent.header.timestamp);
    // Not a source of randomness anyone should rely on; 0G's randomness comes with consensus.
    let prevrandao = keccak256([parent.hash.as_slice(), &number.to_be_bytes()].concat());

    let selected = mempool::select_transactions(world, base_fee, spec.block_gas_limit);
    let block_env =
        evm::block_env(number, timestamp, spec.coinbase, spec.block_gas_limit, base_fee, prevrandao);

    let mut included: Vec<(Entity, PooledTx, ExecutionResult)> = Vec::with_capacity(selected.len());
    let mut rejected: Vec<Entity> = Vec::new();
    let evm_state = {
        let mut evm = evm::build_evm(evm::WorldState { world }, evm::cfg_env(spec.chain_id), block_env);
        let mut gas_used = 0u64;
        for entity in selected {
            let tx = world.get::<PooledTx>(entity).expect("selected from the pool").clone();
            if gas_used + tx.envelope.gas_limit() > spec.block_gas_limit {
                continue;
            }
            match evm.transact_one(evm::tx_env(&tx.envelope, tx.sender)) {
                Ok(result) => {
                    gas_used += result.tx_gas_used();
                    included.push((entity, tx, result));
                }
                Err(error) => {
                    tracing::debug!(hash = %tx.hash, %error, "dropping transaction invalid at execution");
                    rejected.push(entity);
                }
            }
        }
        evm.finalize()
    };

    let mut changes = state::changes_from_evm_state(evm_state);
    let block_gas_used: u64 = included.iter().map(|(_, _, r)| r.tx_gas_used()).sum();
    credit_burnt_base_fee(world, &mut changes, spec.coinbase, base_fee, block_gas_used);
    let changes: Vec<AccountChange> = changes.into_values().collect();
    let state_root = state::apply_changes(world, &changes);

    let mut receipts = Vec::with_capacity(included.len());
    let mut transactions = Vec::with_capacity(included.len());
    let mut cumulative = 0u64;
    let mut logs_bloom = Bloom::default();
    for (index, (_, tx, result)) in included.iter().enumerate() {
        let gas_used = result.tx_gas_used();
        cumulative += gas_used;
        let receipt = TxReceipt {
            tx_hash: tx.hash,
            block_hash: B256::ZERO,
            block_number: number,
            tx_index: index as u64,
            tx_type: tx.envelope.tx_type() as u8,
            from: tx.sender,
            to: tx.envelope.to().unwrap_or_default(),
            contract_address: result.created_address().unwrap_or_default(),
            success: result.is_success(),
            gas_used,
            cumulative_gas_used: cumulative,
            effective_gas_price: tx.envelope.effective_gas_price(Some(base_fee)),
            logs: result.logs().to_vec(),
        };
        logs_bloom.accrue_bloom(&receipt.bloom());
        receipts.push(receipt);
        transactions.push((tx.envelope.clone(), tx.sender));
    }
    let envelopes: Vec<_> = transactions.iter().map(|(tx, _)| tx.clone()).collect();
    let receipt_envelopes: Vec<_> = receipts.iter().map(TxReceipt::envelope).collect();
    let header = Header {
        parent_hash: parent.hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: spec.coinbase,
        state_root,
        transactions_root: proofs::calculate_transaction_root(&envelopes),
        receipts_root: proofs::calculate_receipt_root(&receipt_envelopes),
        logs_bloom,
        difficulty: U256::ZERO,
        number,
        gas_limit: spec.block_gas_limit,
        gas_used: cumulative,
        timestamp,
        extra_data: Bytes::new(),
        mix_hash: prevrandao,
        nonce: Default::default(),
        base_fee_per_gas: Some(base_fee),
        ..Default::default()
    };
    let hash = header.hash_slow();
    for receipt in &mut receipts {
        receipt.block_hash = hash;
    }

    let senders: BTreeSet<Address> = included.iter().map(|(_, tx, _)| tx.sender).collect();
    for (entity, _, _) in &included {
        mempool::drop_transaction(world, *entity);
    }
    for entity in rejected {
        mempool::drop_transaction(world, entity);
    }
    mempool::evict_stale(world, senders);
    record_block(world, &header, hash, transactions.iter().map(|(tx, _)| *tx.tx_hash()).collect());

    CommittedBlock { header, hash, transactions, receipts, changes }
}

/// Gas fees go to the block producer in full: revm pays it the tip and burns the base fee, so
/// the burnt part is credited back here. Total supply stays constant.
fn credit_burnt_base_fee(
    world: &World,
    changes: &mut std::collections::BTreeMap<Address, AccountChange>,
    coinbase: Address,
    base_fee: u64,
    gas_used: u64,
) {
    let burnt = U256::from(base_fee) * U256::from(gas_used);
    if burnt.is_zero() {
        return;
    }
    let change = changes.entry(coinbase).or_insert_with(|| AccountChange {
        address: coinbase,
        info: Some(evm::account_info(world, &coinbase).unwrap_or_default()),
        storage: Vec::new(),
        storage_cleared: false,
        code: None,
    });
    let info = change.info.get_or_insert_with(Default::default);
    info.balance += burnt;
}

/// Spawns the block entity, indexes it, moves the head and drops blocks past the recent window.
pub fn record_block(world: &mut World, header: &Header, hash: B256, tx_hashes: Vec<B256>) {
    let number = header.number;
    let entity = world
        .spawn((BlockHeader { header: header.clone(), hash }, BlockBody { tx_hashes }, RecentBlock))
        .id();
    {
        let mut index = world.resource_mut::<BlockIndex>();
        index.by_number.insert(number, entity);
        index.by_hash.insert(hash, entity);
    }
    world.insert_resource(ChainHead { header: header.clone(), hash });
    let old: Vec<(u64, Entity)> = {
        let index = world.resource::<BlockIndex>();
        index.by_number.range(..number.saturating_sub(RECENT_BLOCKS - 1)).map(|(n, e)| (*n, *e)).collect()
    };
    for (old_number, old_entity) in old {
        let old_hash = world.get::<BlockHeader>(old_entity).map(|b| b.hash);
        world.despawn(old_entity);
        let mut index = world.resource_mut::<BlockIndex>();
        index.by_number.remove(&old_number);
        if let Some(old_hash) = old_hash {
            index.by_hash.remove(&old_hash);
        }
    }
}
