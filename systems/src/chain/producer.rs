//! The single-validator block producer: every `block_time` it takes the best transactions from
//! the pool, executes them with revm against the world's state, applies the result and seals a
//! header committing to the new state, the transactions and the receipts.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, proofs};
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
    if schedule.next_seal_ms == 0 {
        // The first block comes one block time after start, like every later one.
        world.resource_mut::<SealSchedule>().next_seal_ms = now_ms + spec.block_time_ms;
        return;
    }
    // Block time 0 is automine: a block as soon as transactions wait, none without them.
    let automine = spec.block_time_ms == 0;
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
    world.resource_mut::<SealedBlocks>().0.push(Arc::new(block));
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
        let mut evm = evm::build_evm(evm::WorldState { world }, evm::cfg_env(spec.chain_id), block_env);
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
        receipts.push(receipt);
        transactions.push((tx.envelope.clone(), tx.sender));
    }
    let mut changes = state::changes_from_evm_state(world, evm_state);
    credit_burnt_base_fee(world, &mut changes, coinbase, base_fee, cumulative);
    if let Some(plan) = &context.rewards {
        pay_rewards(world, &mut changes, coinbase, plan);
    }
    super::dev::apply_edits(world, &mut changes, &context.edits);
    let changes: Vec<AccountChange> = changes.into_values().collect();

    // The three commitments are independent: hash them side by side. Each receipt's bloom is
    // computed once (keccak-heavy, so in parallel) and serves both the root and the header.
    let (state_root, (transactions_root, (receipts_root, logs_bloom))) = rayon::join(
        || state::apply_changes(world, &changes),
        || {
            rayon::join(
                // What `proofs::calculate_transaction_root` does, without copying the envelopes.
                || ordered_trie_root_with_encoder(&transactions, |(tx, _), buf| tx.encode_2718(buf)),
                || {
                    let receipt_envelopes: Vec<_> = receipts.par_iter().map(TxReceipt::envelope).collect();
                    let mut logs_bloom = Bloom::default();
                    for envelope in &receipt_envelopes {
                        logs_bloom.accrue_bloom(envelope.logs_bloom());
                    }
                    (proofs::calculate_receipt_root(&receipt_envelopes), logs_bloom)
                },
            )
        },
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

    let senders: BTreeSet<Address> = included.iter().map(|(_, tx, _)| tx.sender).collect();
    for (pooled, tx, _) in &included {
        // A decided block may carry a pooled transaction this node did not offer itself.
        let entity = pooled.or_else(|| world.resource::<zg_components::chain::MempoolIndex>().by_hash.get(&tx.hash).copied());
        if let Some(entity) = entity {
            mempool::drop_transaction(world, entity);
        }
    }
    for entity in rejected {
        mempool::drop_transaction(world, entity);
    }
    mempool::evict_stale(world, senders);
    record_block(world, &header, hash, transactions.iter().map(|(tx, _)| *tx.tx_hash()).collect());

    CommittedBlock { header, hash, transactions, receipts, changes, decided: None }
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
    change_entry(world, changes, address).info.get_or_insert_with(Default::default)
}

/// The block's change of `address`, begun from the world's account when the block has none yet.
pub(super) fn change_entry<'a>(
    world: &World,
    changes: &'a mut std::collections::BTreeMap<Address, AccountChange>,
    address: Address,
) -> &'a mut AccountChange {
    changes.entry(address).or_insert_with(|| AccountChange {
        address,
        info: Some(evm::account_info(world, &address).unwrap_or_default()),
        storage: Vec::new(),
        storage_cleared: false,
        code: None,
    })
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
mod tests {
    use super::*;
    use crate::chain::test_support::*;
    use alloy_primitives::{TxKind, hex};
    use alloy_trie::{HashBuilder, Nibbles};
    use proptest::prelude::*;
    use zg_components::chain::{AccountAddress, AccountInfo, AccountStorage, MempoolIndex};

    fn submit(world: &mut World, tx: alloy_consensus::TxEnvelope) -> B256 {
        let sender = alloy_consensus::transaction::SignerRecoverable::recover_signer(&tx).unwrap();
        mempool::admit(world, tx, sender).expect("admitted")
    }

    /// The state root rebuilt from every account entity with alloy-trie's HashBuilder.
    fn from_scratch_root(world: &mut World) -> B256 {
        let mut leaves: Vec<(B256, Vec<u8>)> = world
            .query::<(&AccountAddress, &AccountInfo, &AccountStorage)>()
            .iter(world)
            .map(|(address, info, storage)| {
                let mut slots: Vec<_> = storage
                    .slots
                    .iter()
                    .map(|(k, v)| (keccak256(k.to_be_bytes::<32>()), alloy_rlp::encode(v)))
                    .collect();
                slots.sort();
                let mut builder = HashBuilder::default();
                for (k, v) in &slots {
                    builder.add_leaf(Nibbles::unpack(k), v);
                }
                (keccak256(address.0), info.trie_value(builder.root()))
            })
            .collect();
        leaves.sort();
        let mut builder = HashBuilder::default();
        for (k, v) in &leaves {
            builder.add_leaf(Nibbles::unpack(k), v);
        }
        builder.root()
    }

    #[test]
    fn a_block_moves_value_pays_the_producer_and_commits_to_its_contents() {
        let (mut world, _, genesis) = chain_world(2);
        let (alice, bob) = (signer(0), signer(1));
        let receiver = Address::repeat_byte(7);
        submit(&mut world, transfer(&alice, receiver, 1_000, 0, 2));
        submit(&mut world, transfer(&alice, receiver, 500, 1, 2));
        submit(&mut world, transfer(&bob, receiver, 1, 0, 3));
        let before = balance(&world, alice.address());
        let block = seal_block(&mut world, 1);

        assert_eq!(block.header.number, 1);
        assert_eq!(block.receipts.len(), 3);
        assert!(block.receipts.iter().all(|r| r.success && r.gas_used == 21_000));
        assert_eq!(block.header.gas_used, 63_000);
        assert_eq!(balance(&world, receiver), U256::from(1_501));
        let base_fee = block.header.base_fee_per_gas.unwrap() as u128;
        let alice_paid = U256::from(1_500u64) + U256::from(2 * 21_000 * (base_fee + 2));
        assert_eq!(before - balance(&world, alice.address()), alice_paid);
        assert_eq!(evm::account_info(&world, &alice.address()).unwrap().nonce, 2);
        let fees = U256::from(21_000 * 2 * (base_fee + 2) + 21_000 * (base_fee + 3));
        assert_eq!(balance(&world, COINBASE), fees);
        assert_eq!(total_supply(&mut world), genesis.max_supply_wei());
        assert!(world.resource::<MempoolIndex>().is_empty());
        assert_eq!(block.header.state_root, from_scratch_root(&mut world));
        assert_eq!(world.resource::<ChainHead>().hash, block.hash);
        assert_eq!(block.header.hash_slow(), block.hash);
        let envelopes: Vec<_> = block.transactions.iter().map(|(tx, _)| tx.clone()).collect();
        assert_eq!(block.header.transactions_root, proofs::calculate_transaction_root(&envelopes));
        let receipts: Vec<_> = block.receipts.iter().map(TxReceipt::envelope).collect();
        assert_eq!(block.header.receipts_root, proofs::calculate_receipt_root(&receipts));
    }

    #[test]
    fn contracts_deploy_store_and_revert_with_data() {
        let (mut world, _, _) = chain_world(1);
        let alice = signer(0);
        // Runtime: with calldata, store calldata[0..32] at slot 0; without, revert with 0xdead.
        // CALLDATASIZE PUSH1 0f JUMPI PUSH2 dead PUSH1 0 MSTORE PUSH1 2 PUSH1 1e REVERT
        // JUMPDEST PUSH1 0 CALLDATALOAD PUSH1 0 SSTORE STOP
        let runtime = hex!("36600f5761dead6000526002601efd5b60003560005500");
        let mut init = hex!("6017600c60003960176000f3").to_vec();
        init.extend_from_slice(&runtime);
        submit(&mut world, call(&alice, TxKind::Create, init.into(), 0, 200_000));
        let block = seal_block(&mut world, 1);
        let contract = block.receipts[0].contract_address;
        assert!(block.receipts[0].success, "deploy failed");
        assert_eq!(contract, alice.address().create(0));

        submit(&mut world, call(&alice, TxKind::Call(contract), U256::from(99).to_be_bytes::<32>().to_vec().into(), 1, 100_000));
        submit(&mut world, call(&alice, TxKind::Call(contract), Default::default(), 2, 100_000));
        let block = seal_block(&mut world, 2);
        assert!(block.receipts[0].success);
        assert!(!block.receipts[1].success, "empty calldata must revert");
        let entity = world.resource::<zg_components::chain::AccountIndex>().0[&contract];
        assert_eq!(world.get::<AccountStorage>(entity).unwrap().get(&U256::ZERO), U256::from(99));
        assert_eq!(block.header.state_root, from_scratch_root(&mut world));
        let code_hash = world.get::<AccountInfo>(entity).unwrap().code_hash;
        assert_eq!(world.resource::<zg_components::chain::CodeStore>().by_hash[&code_hash].as_ref(), &runtime[..]);
    }

    /// revm re-baselines a slot's original value when a later transaction touches it; a write
    /// followed by a same-value write in one block must still be kept.
    #[test]
    fn a_slot_written_then_touched_again_in_one_block_keeps_its_value() {
        let (mut world, _, _) = chain_world(1);
        let alice = signer(0);
        let runtime = hex!("36600f5761dead6000526002601efd5b60003560005500");
        let mut init = hex!("6017600c60003960176000f3").to_vec();
        init.extend_from_slice(&runtime);
        submit(&mut world, call(&alice, TxKind::Create, init.into(), 0, 200_000));
        let contract = seal_block(&mut world, 1).receipts[0].contract_address;
        let value = U256::from(7).to_be_bytes::<32>().to_vec();
        submit(&mut world, call(&alice, TxKind::Call(contract), value.clone().into(), 1, 100_000));
        submit(&mut world, call(&alice, TxKind::Call(contract), value.into(), 2, 100_000));
        let block = seal_block(&mut world, 2);
        assert_eq!(block.receipts.len(), 2);
        let entity = world.resource::<zg_components::chain::AccountIndex>().0[&contract];
        assert_eq!(world.get::<AccountStorage>(entity).unwrap().get(&U256::ZERO), U256::from(7));
        assert!(block.changes.iter().any(|c| c.address == contract && c.storage == vec![(U256::ZERO, U256::from(7))]));
        assert_eq!(block.header.state_root, from_scratch_root(&mut world));
    }

    #[test]
    fn empty_blocks_chain_and_lower_the_base_fee() {
        let (mut world, _, genesis) = chain_world(0);
        let first = seal_block(&mut world, 1);
        let second = seal_block(&mut world, 1);
        assert_eq!(second.header.parent_hash, first.hash);
        assert!(second.header.base_fee_per_gas < first.header.base_fee_per_gas);
        assert!(first.header.base_fee_per_gas.unwrap() < genesis.base_fee_per_gas);
        assert_eq!(second.header.state_root, first.header.state_root);
    }

    #[test]
    fn old_blocks_leave_the_working_set() {
        let (mut world, _, _) = chain_world(0);
        for _ in 0..RECENT_BLOCKS + 10 {
            seal_block(&mut world, 1);
        }
        let index = world.resource::<BlockIndex>();
        assert_eq!(index.by_number.len() as u64, RECENT_BLOCKS);
        assert_eq!(index.by_hash.len() as u64, RECENT_BLOCKS);
        assert_eq!(*index.by_number.keys().next().unwrap(), 11);
    }

    #[test]
    fn the_scheduled_system_seals_on_time_and_only_when_asked_to() {
        let (mut world, mut schedule, _) = chain_world(1);
        world.resource_mut::<ChainSpec>().seal_empty_blocks = false;
        world.resource_mut::<TickClock>().now_ms = 10_000;
        schedule.run(&mut world);
        world.resource_mut::<TickClock>().now_ms = 10_250;
        schedule.run(&mut world);
        assert_eq!(world.resource::<ChainHead>().number(), 0, "no empty block when not asked");
        submit(&mut world, transfer(&signer(0), Address::ZERO, 1, 0, 1));
        schedule.run(&mut world);
        assert_eq!(world.resource::<ChainHead>().number(), 1);
        assert!(world.resource::<SealedBlocks>().0.is_empty(), "egress drained the sealed block");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Whatever transfers run, total supply stays the max supply and the incremental root
        /// equals the root rebuilt from scratch.
        #[test]
        fn supply_is_conserved_and_roots_agree(
            transfers in prop::collection::vec((0u8..4, 0u8..6, 0u64..2_000_000_000_000_000_000u64, 1u128..5), 1..30)
        ) {
            let (mut world, _, genesis) = chain_world(4);
            let mut nonces = [0u64; 4];
            for (i, (from, to, value, tip)) in transfers.into_iter().enumerate() {
                let from_index = from as usize;
                let to = if to < 4 { signer(to).address() } else { Address::repeat_byte(to) };
                let tx = transfer(&signer(from), to, value, nonces[from_index], tip);
                let sender = signer(from).address();
                if mempool::admit(&mut world, tx, sender).is_ok() {
                    nonces[from_index] += 1;
                }
                if i % 7 == 6 {
                    seal_block(&mut world, 1);
                }
            }
            let block = seal_block(&mut world, 1);
            prop_assert_eq!(total_supply(&mut world), genesis.max_supply_wei());
            prop_assert_eq!(block.header.state_root, from_scratch_root(&mut world));
        }
    }
}

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
