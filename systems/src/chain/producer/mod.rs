//! The single-validator block producer: every `block_time` it takes the best transactions from
//! the pool, executes them with revm against the world's state, applies the result and seals a
//! header committing to the new state, the transactions and the receipts.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, TxEnvelope, proofs};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip2718::Encodable2718;
use alloy_trie::root::ordered_trie_root_with_encoder;
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use bevy_ecs::prelude::*;
use rayon::prelude::*;
use revm::{ExecuteEvm, context::result::ExecutionResult};
use std::collections::BTreeSet;
use std::sync::Arc;

use zg_components::chain::{
    AccountChange, BlockBody, BlockHeader, BlockIndex, ChainClock, ChainHead, ChainSpec, CommittedBlock,
    PooledTx, RecentBlock, SealedBlock, TxReceipt,
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
    /// When the last block was sealed (tick clock).
    pub last_seal_ms: u64,
}

/// How long an idle dev chain whose clock ran ahead of the wall clock waits between empty
/// blocks: each adds a second to the chain clock, so the lead shrinks by half a second a second
/// while confirmations keep coming.
pub const EMPTY_BLOCK_PACE_AHEAD_MS: u64 = 2_000;

/// The base fee of the block after `parent` (EIP-1559).
pub fn next_base_fee(parent: &Header) -> u64 {
    parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default()
}

/// The environment of the block after `parent` (what eth_call and eth_estimateGas simulate in
/// for the pending block, and what the producer then executes in).
pub fn next_block_env(parent: &Header, parent_hash: B256, timestamp: u64, coinbase: Address, gas_limit: u64) -> revm::context::BlockEnv {
    let number = parent.number + 1;
    // Not a source of randomness anyone should rely on; 0G's randomness comes with consensus.
    let prevrandao = keccak256([parent_hash.as_slice(), &number.to_be_bytes()].concat());
    evm::block_env(number, timestamp, coinbase, gas_limit, next_base_fee(parent), prevrandao)
}

/// Seals a block when one is due. Runs in `Execute`.
pub fn seal_block_when_due(world: &mut World) {
    timed(world, "seal_block", seal_if_due)
}

fn seal_if_due(world: &mut World) {
    let now_ms = world.resource::<TickClock>().now_ms;
    let spec = world.resource::<ChainSpec>().clone();
    let schedule = *world.resource::<SealSchedule>();
    // Block time 0 is automine: a block as soon as transactions wait, none without them.
    let automine = spec.block_time_ms == 0;
    if schedule.next_seal_ms == 0 && !automine {
        // The first block comes one block time after start, like every later one.
        world.resource_mut::<SealSchedule>().next_seal_ms = now_ms + spec.block_time_ms;
        return;
    }
    if now_ms < schedule.next_seal_ms && !automine {
        return;
    }
    let empty = world.resource::<zg_components::chain::MempoolIndex>().is_empty();
    let parent_timestamp = world.resource::<ChainHead>().header.timestamp;
    let clock = world.get_resource_or_insert_with(ChainClock::default).clone();
    // An empty block sealed before the wall clock passes its parent's second would only run the
    // chain clock ahead of the wall clock (timestamps strictly increase).
    let paced = now_ms.saturating_sub(schedule.last_seal_ms) >= EMPTY_BLOCK_PACE_AHEAD_MS;
    if empty && (automine || !spec.seal_empty_blocks || !(clock.caught_up(now_ms / 1000, parent_timestamp) || paced)) {
        return;
    }
    let mut schedule = world.resource_mut::<SealSchedule>();
    schedule.next_seal_ms = now_ms + spec.block_time_ms;
    schedule.last_seal_ms = now_ms;
    let block = seal_block(world, clock.take(now_ms / 1000, parent_timestamp));
    world.write_message(SealedBlock(Arc::new(block)));
}

/// Where and when a block runs: what its header says besides the commitments, and what the
/// chain itself does at the end of the block.
#[derive(Clone, Debug, Default)]
pub struct BlockContext {
    pub timestamp_s: u64,
    pub coinbase: Address,
    /// Calls the chain makes after the transactions: (from, to, calldata), gas-free and
    /// without nonce checks. A failing call changes nothing and is logged.
    pub system_calls: Vec<(Address, Address, Bytes)>,
    /// Pays the coinbase's balance plus a block reward out pro rata, when set.
    pub rewards: Option<RewardPlan>,
    /// Dev-chain state edits, applied after the transactions.
    pub edits: Vec<zg_components::chain::StateEdit>,
}

/// How the fees collected at the coinbase and the block reward are shared out.
#[derive(Clone, Debug, Default)]
pub struct RewardPlan {
    /// Whom to pay and their weights (voting power), in a fixed order.
    pub recipients: Vec<(Address, u64)>,
    /// Taken from `reward_source` each block, as long as it lasts.
    pub block_reward: U256,
    pub reward_source: Address,
}

/// A transaction offered to a block: from the pool (with its entity) or from a decided block.
pub struct Candidate {
    pub pooled: Option<Entity>,
    pub tx: PooledTx,
}

/// Builds, executes and applies the next block on top of the current head.
pub fn seal_block(world: &mut World, timestamp_s: u64) -> CommittedBlock {
    let spec = world.resource::<ChainSpec>().clone();
    let base_fee = next_base_fee(&world.resource::<ChainHead>().header);
    let candidates = mempool::select_transactions(world, base_fee, spec.block_gas_limit)
        .into_iter()
        .map(|entity| Candidate {
            pooled: Some(entity),
            tx: world.get::<PooledTx>(entity).expect("selected from the pool").clone(),
        })
        .collect();
    execute_block(world, BlockContext { timestamp_s, coinbase: spec.coinbase, ..Default::default() }, candidates)
}

/// Executes `candidates` in order as the next block: transactions invalid at execution (nonce,
/// funds, gas) are left out, the rest are applied, and the header commits to the result.
/// Included and invalid pooled transactions leave the pool.
pub fn execute_block(world: &mut World, context: BlockContext, candidates: Vec<Candidate>) -> CommittedBlock {
    let spec = world.resource::<ChainSpec>().clone();
    let parent = world.resource::<ChainHead>().clone();
    let number = parent.number() + 1;
    // Never before the parent. The dev producer's clock already gives strictly increasing
    // timestamps (Ethereum's rule); a validator network's sub-second blocks may share a second
    // (see ChainClock for why the two differ).
    let timestamp = context.timestamp_s.max(parent.header.timestamp);
    let coinbase = context.coinbase;
    let block_env = next_block_env(&parent.header, parent.hash, timestamp, coinbase, spec.block_gas_limit);
    let prevrandao = block_env.prevrandao.unwrap_or_default();
    let base_fee = block_env.basefee;

    let mut included: Vec<(Option<Entity>, PooledTx, ExecutionResult)> = Vec::with_capacity(candidates.len());
    let mut rejected: Vec<Entity> = Vec::new();
    let mut included_hashes = std::collections::HashSet::with_capacity(candidates.len());
    let evm_state = {
        let precompiles = world.resource::<evm::PrecompileRegistry>().provider();
        let mut evm = evm::build_evm(evm::WorldState { world }, evm::cfg_env(spec.chain_id), block_env, precompiles);
        let mut gas_used = 0u64;
        for Candidate { pooled, tx } in candidates {
            if gas_used + tx.envelope.gas_limit() > spec.block_gas_limit || !included_hashes.insert(tx.hash) {
                continue;
            }
            match evm.transact_one(evm::tx_env(&tx.envelope, tx.sender)) {
                Ok(result) => {
                    gas_used += result.tx_gas_used();
                    included.push((pooled, tx, result));
                }
                Err(error) => {
                    tracing::debug!(hash = %tx.hash, %error, "dropping transaction invalid at execution");
                    included_hashes.remove(&tx.hash);
                    rejected.extend(pooled);
                }
            }
        }
        if !context.system_calls.is_empty() {
            // The chain's own calls pay no gas and need no nonce.
            evm.ctx.block.basefee = 0;
            evm.ctx.cfg.disable_nonce_check = true;
            for (from, to, data) in &context.system_calls {
                let call = revm::context::TxEnv {
                    caller: *from,
                    kind: alloy_primitives::TxKind::Call(*to),
                    data: data.clone(),
                    gas_limit: SYSTEM_CALL_GAS.min(spec.block_gas_limit),
                    gas_price: 0,
                    chain_id: Some(spec.chain_id),
                    ..Default::default()
                };
                match evm.transact_one(call) {
                    Ok(result) if result.is_success() => {}
                    Ok(result) => tracing::warn!(%to, ?result, "system call failed"),
                    Err(error) => tracing::warn!(%to, %error, "system call invalid"),
                }
            }
        }
        evm.finalize()
    };

    let mut receipts = Vec::with_capacity(included.len());
    let mut transactions = Vec::with_capacity(included.len());
    let mut cumulative = 0u64;
    // (pool entity, hash, sender) of each included transaction, its envelope moved into the block.
    let mut included_keys = Vec::with_capacity(included.len());
    for (index, (pooled, tx, result)) in included.into_iter().enumerate() {
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
        receipts.push(receipt);
        included_keys.push((pooled, tx.hash, tx.sender));
        transactions.push((tx.envelope, tx.sender));
    }
    let mut changes = state::changes_from_evm_state(world, evm_state);
    credit_burnt_base_fee(world, &mut changes, coinbase, base_fee, cumulative);
    if let Some(plan) = &context.rewards {
        pay_rewards(world, &mut changes, coinbase, plan);
    }
    super::changes::apply_edits(world, &mut changes, &context.edits);
    let changes: Vec<AccountChange> = changes.into_values().collect();

    // The three commitments are independent: hash them side by side.
    let (state_root, (transactions_root, receipts_root, logs_bloom)) = rayon::join(
        || state::apply_changes(world, &changes),
        || transactions_and_receipts_roots(&transactions, &receipts),
    );
    let header = Header {
        parent_hash: parent.hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: coinbase,
        state_root,
        transactions_root,
        receipts_root,
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

    let senders: BTreeSet<Address> = included_keys.iter().map(|(_, _, sender)| *sender).collect();
    for (pooled, hash, _) in &included_keys {
        // A decided block may carry a pooled transaction this node did not offer itself.
        let entity = pooled.or_else(|| world.resource::<zg_components::chain::MempoolIndex>().by_hash.get(hash).copied());
        if let Some(entity) = entity {
            mempool::drop_transaction(world, entity);
        }
    }
    for entity in rejected {
        mempool::drop_transaction(world, entity);
    }
    mempool::evict_stale(world, senders);
    record_block(world, &header, hash, transactions.iter().map(|(tx, _)| *tx.tx_hash()).collect());
    // Only a block that wrote to ChainParams can change what the next one is built with.
    if changes.iter().any(|change| change.address == super::params::CHAIN_PARAMS_ADDRESS) {
        super::params::apply(world);
    }

    CommittedBlock { header, hash, transactions, receipts, changes, decided: None }
}

/// A block's transactions root, receipts root and logs bloom, the two roots hashed side by side.
/// Each receipt's bloom is computed once (keccak-heavy, so in parallel) and serves both the
/// receipts root and the header's bloom.
pub fn transactions_and_receipts_roots(transactions: &[(TxEnvelope, Address)], receipts: &[TxReceipt]) -> (B256, B256, Bloom) {
    let (transactions_root, (receipts_root, logs_bloom)) = rayon::join(
        // What `proofs::calculate_transaction_root` does, without copying the envelopes.
        || ordered_trie_root_with_encoder(transactions, |(tx, _), buf| tx.encode_2718(buf)),
        || {
            let receipt_envelopes: Vec<_> = receipts.par_iter().map(TxReceipt::envelope).collect();
            let mut logs_bloom = Bloom::default();
            for envelope in &receipt_envelopes {
                logs_bloom.accrue_bloom(envelope.logs_bloom());
            }
            (proofs::calculate_receipt_root(&receipt_envelopes), logs_bloom)
        },
    );
    (transactions_root, receipts_root, logs_bloom)
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
    let info = account_change(world, changes, coinbase);
    info.balance += burnt;
}

/// Gas a system call may use.
pub const SYSTEM_CALL_GAS: u64 = 5_000_000;

fn account_change<'a>(
    world: &World,
    changes: &'a mut std::collections::BTreeMap<Address, AccountChange>,
    address: Address,
) -> &'a mut zg_components::chain::AccountInfo {
    super::changes::change_entry(world, changes, address).info.get_or_insert_with(Default::default)
}


/// Shares the coinbase's balance and the block reward among the recipients by weight. What
/// division leaves over stays at the coinbase for the next block, so no wei is created or lost.
fn pay_rewards(
    world: &World,
    changes: &mut std::collections::BTreeMap<Address, AccountChange>,
    coinbase: Address,
    plan: &RewardPlan,
) {
    let total_weight: u64 = plan.recipients.iter().map(|(_, w)| *w).sum();
    if total_weight == 0 {
        return;
    }
    let source = account_change(world, changes, plan.reward_source);
    let reward = plan.block_reward.min(source.balance);
    source.balance -= reward;
    let pool = account_change(world, changes, coinbase);
    pool.balance += reward;
    let available = pool.balance;
    let mut paid = U256::ZERO;
    for (recipient, weight) in &plan.recipients {
        let share = available * U256::from(*weight) / U256::from(total_weight);
        if share.is_zero() {
            continue;
        }
        paid += share;
        account_change(world, changes, *recipient).balance += share;
    }
    account_change(world, changes, coinbase).balance -= paid;
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod determinism {
    use super::*;
    use crate::chain::test_support::*;

    /// The same genesis and the same transactions, arriving in the same order, give the same
    /// block, hash for hash, in independent worlds.
    #[test]
    fn identical_inputs_give_identical_blocks() {
        let run = || {
            let (mut world, _, _) = chain_world(4);
            for round in 0..3u64 {
                for sender in 0..4u8 {
                    let tx = transfer(&signer(sender), Address::repeat_byte(9 + sender), 1 + round, round, (sender as u128) % 3);
                    mempool::admit(&mut world, tx, signer(sender).address()).expect("admitted");
                }
            }
            (0..3).map(|_| seal_block(&mut world, 1).hash).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
