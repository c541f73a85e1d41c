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
    let sealed = world.resource::<Messages<SealedBlock>>();
    assert_eq!(sealed.iter_current_update_messages().count(), 0, "the tick aged its sealed block out");
    assert_eq!(sealed.len(), 1, "kept one more tick, for readers that run before the producer");
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
