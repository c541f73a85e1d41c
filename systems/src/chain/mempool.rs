//! The mempool: checking transactions on the way in, and choosing what goes into a block.
//!
//! Stateless checks (decoding, chain id, signature) are pure functions the I/O shell runs on its
//! own threads before a transaction reaches the world, so the tick only does the stateful ones.

use alloy_consensus::{Transaction, TxEnvelope, TxType, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, U256};
use bevy_ecs::prelude::*;
use std::collections::{BinaryHeap, HashMap};

use zg_components::chain::{
    AccountIndex, AccountInfo, ChainSpec, MempoolIndex, PoolError, PooledTx,
};

/// Price bump a replacement must offer over the transaction it replaces, in percent (geth's).
pub const REPLACEMENT_BUMP_PERCENT: u128 = 10;

/// Decodes an EIP-2718 transaction, checks its chain id and recovers its sender.
pub fn decode_transaction(
    raw: &[u8],
    chain_id: u64,
    max_bytes: usize,
) -> Result<(TxEnvelope, Address), PoolError> {
    let envelope = decode_unrecovered(raw, chain_id, max_bytes)?;
    let sender = recover_sender(&envelope)?;
    Ok((envelope, sender))
}

/// The cheap part of [`decode_transaction`] (a microsecond or two): size, decoding, type and
/// chain id, without recovering the sender.
pub fn decode_unrecovered(raw: &[u8], chain_id: u64, max_bytes: usize) -> Result<TxEnvelope, PoolError> {
    if raw.len() > max_bytes {
        return Err(PoolError::Oversized { size: raw.len(), limit: max_bytes });
    }
    let mut buf = raw;
    let envelope =
        TxEnvelope::decode_2718(&mut buf).map_err(|e| PoolError::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(PoolError::Decode(format!("{} trailing bytes after transaction", buf.len())));
    }
    match envelope.tx_type() {
        TxType::Legacy | TxType::Eip2930 | TxType::Eip1559 => {}
        TxType::Eip4844 | TxType::Eip7702 => return Err(PoolError::UnsupportedType),
    }
    match envelope.chain_id() {
        None => return Err(PoolError::NotReplayProtected),
        Some(got) if got != chain_id => {
            return Err(PoolError::WrongChainId { expected: chain_id, got });
        }
        Some(_) => {}
    }
    Ok(envelope)
}

/// The costly part (~50 µs): the sender from the signature.
pub fn recover_sender(envelope: &TxEnvelope) -> Result<Address, PoolError> {
    envelope.recover_signer().map_err(|e| PoolError::InvalidSignature(e.to_string()))
}

/// The gas a transaction pays before executing anything (Prague rules, including the
/// EIP-7623 calldata floor).
pub fn intrinsic_gas(envelope: &TxEnvelope) -> u64 {
    let input = envelope.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let mut gas = 21_000 + zeros * 4 + non_zeros * 16;
    if envelope.kind().is_create() {
        gas += 32_000 + 2 * (input.len() as u64).div_ceil(32);
    }
    if let Some(list) = envelope.access_list() {
        for item in list.iter() {
            gas += 2_400 + 1_900 * item.storage_keys.len() as u64;
        }
    }
    let floor = 21_000 + 10 * (zeros + 4 * non_zeros);
    gas.max(floor)
}

fn account_state(world: &World, sender: &Address) -> AccountInfo {
    world
        .resource::<AccountIndex>()
        .0
        .get(sender)
        .and_then(|entity| world.get::<AccountInfo>(*entity))
        .copied()
        .unwrap_or_default()
}

/// Admits a transaction to the pool, or says why not.
pub fn admit(world: &mut World, envelope: TxEnvelope, sender: Address) -> Result<B256, PoolError> {
    let spec = world.resource::<ChainSpec>().clone();
    let tx = PooledTx::new(envelope, sender, 0);
    let pool = world.resource::<MempoolIndex>();
    if pool.by_hash.contains_key(&tx.hash) {
        return Err(PoolError::AlreadyKnown);
    }
    let account = account_state(world, &sender);
    let nonce = tx.nonce();
    if nonce < account.nonce {
        return Err(PoolError::NonceTooLow { expected: account.nonce, got: nonce });
    }
    if nonce > account.nonce.saturating_add(spec.max_nonce_gap) {
        return Err(PoolError::NonceGapTooLarge {
            expected: account.nonce,
            got: nonce,
            max_gap: spec.max_nonce_gap,
        });
    }
    let envelope = &tx.envelope;
    if envelope.gas_limit() > spec.block_gas_limit {
        return Err(PoolError::GasLimitExceeded);
    }
    let needed = intrinsic_gas(envelope);
    if envelope.gas_limit() < needed {
        return Err(PoolError::IntrinsicGasTooLow { gas: envelope.gas_limit(), needed });
    }
    if envelope.max_priority_fee_per_gas().is_some_and(|tip| tip > envelope.max_fee_per_gas()) {
        return Err(PoolError::TipAboveFeeCap);
    }
    let cost = U256::from(envelope.gas_limit()) * U256::from(envelope.max_fee_per_gas())
        + envelope.value();
    if account.balance < cost {
        return Err(PoolError::InsufficientFunds { balance: account.balance, cost });
    }
    let replaced = pool.by_sender.get(&sender).and_then(|queue| queue.get(&nonce)).copied();
    if let Some(old_entity) = replaced {
        let old = world.get::<PooledTx>(old_entity).expect("indexed pool entity");
        let bumped = |old: u128| old + old * REPLACEMENT_BUMP_PERCENT / 100;
        let old_tip = old.envelope.max_priority_fee_per_gas().unwrap_or(old.envelope.max_fee_per_gas());
        let new_tip = envelope.max_priority_fee_per_gas().unwrap_or(envelope.max_fee_per_gas());
        if envelope.max_fee_per_gas() < bumped(old.envelope.max_fee_per_gas()) || new_tip < bumped(old_tip) {
            return Err(PoolError::ReplacementUnderpriced);
        }
        let old_hash = old.hash;
        world.despawn(old_entity);
        world.resource_mut::<MempoolIndex>().by_hash.remove(&old_hash);
    } else if pool.len() >= spec.max_pool_size {
        return Err(PoolError::PoolFull);
    }
    let hash = tx.hash;
    let arrival = {
        let mut pool = world.resource_mut::<MempoolIndex>();
        pool.arrivals += 1;
        pool.arrivals
    };
    let entity = world.spawn(PooledTx { arrival, ..tx }).id();
    let mut pool = world.resource_mut::<MempoolIndex>();
    pool.by_hash.insert(hash, entity);
    pool.by_sender.entry(sender).or_default().insert(nonce, entity);
    Ok(hash)
}

/// The nonce a sender's next transaction should carry: its account nonce, advanced past every
/// consecutive pooled transaction.
pub fn pending_nonce(world: &World, sender: &Address) -> u64 {
    let mut nonce = account_state(world, sender).nonce;
    if let Some(queue) = world.resource::<MempoolIndex>().by_sender.get(sender) {
        while queue.contains_key(&nonce) {
            nonce += 1;
        }
    }
    nonce
}

/// The pool split as geth's txpool shows it: pending (each sender's run of consecutive nonces
/// from its account nonce) and queued (behind a nonce gap).
pub fn content(world: &World) -> zg_components::node::inbox::PoolContent {
    let mut out = zg_components::node::inbox::PoolContent::default();
    for (sender, queue) in &world.resource::<MempoolIndex>().by_sender {
        let mut expected = account_state(world, sender).nonce;
        for (nonce, entity) in queue {
            let Some(tx) = world.get::<PooledTx>(*entity) else { continue };
            let entry = (tx.envelope.clone(), tx.sender);
            if *nonce == expected {
                expected += 1;
                out.pending.push(entry);
            } else {
                out.queued.push(entry);
            }
        }
    }
    out
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    tip: u128,
    // Earlier arrivals first among equal tips: reversed so the max-heap pops the smallest.
    arrival: std::cmp::Reverse<u64>,
    entity: Entity,
}

/// Chooses transactions for the next block: highest tip first, each sender's in nonce order
/// from its account nonce, within the gas limit. Deterministic for a given pool and state.
pub fn select_transactions(world: &World, base_fee: u64, gas_limit: u64) -> Vec<Entity> {
    let pool = world.resource::<MempoolIndex>();
    let mut next_nonce: HashMap<Address, u64> = HashMap::with_capacity(pool.by_sender.len());
    let mut heap = BinaryHeap::with_capacity(pool.by_sender.len());
    let candidate = |entity: Entity| {
        let tx = world.get::<PooledTx>(entity)?;
        let tip = tx.tip_at(base_fee)?;
        Some(Candidate { tip, arrival: std::cmp::Reverse(tx.arrival), entity })
    };
    for (sender, queue) in &pool.by_sender {
        let nonce = account_state(world, sender).nonce;
        next_nonce.insert(*sender, nonce);
        if let Some(entity) = queue.get(&nonce) {
            heap.extend(candidate(*entity));
        }
    }
    let mut chosen = Vec::new();
    let mut gas_left = gas_limit;
    while let Some(Candidate { entity, .. }) = heap.pop() {
        if gas_left < 21_000 {
            break;
        }
        let tx = world.get::<PooledTx>(entity).expect("candidates are pool entities");
        if tx.envelope.gas_limit() > gas_left {
            // Too big for what is left; the sender's later nonces must wait for it.
            continue;
        }
        gas_left -= tx.envelope.gas_limit();
        chosen.push(entity);
        let nonce = next_nonce.get_mut(&tx.sender).expect("sender seen above");
        *nonce += 1;
        if let Some(next) = pool.by_sender.get(&tx.sender).and_then(|q| q.get(nonce)) {
            heap.extend(candidate(*next));
        }
    }
    chosen
}

/// Removes transactions from the pool: included ones, and any whose nonce the chain has passed.
pub fn evict_stale(world: &mut World, senders: impl IntoIterator<Item = Address>) {
    for sender in senders {
        let nonce = account_state(world, &sender).nonce;
        let stale: Vec<(u64, Entity)> = {
            let pool = world.resource::<MempoolIndex>();
            let Some(queue) = pool.by_sender.get(&sender) else { continue };
            queue.range(..nonce).map(|(n, e)| (*n, *e)).collect()
        };
        for (tx_nonce, entity) in stale {
            let hash = world.get::<PooledTx>(entity).map(|tx| tx.hash);
            world.despawn(entity);
            let mut pool = world.resource_mut::<MempoolIndex>();
            if let Some(hash) = hash {
                pool.by_hash.remove(&hash);
            }
            if let Some(queue) = pool.by_sender.get_mut(&sender) {
                queue.remove(&tx_nonce);
                if queue.is_empty() {
                    pool.by_sender.remove(&sender);
                }
            }
        }
    }
}

/// Drops one transaction from the pool (one that failed at execution).
pub fn drop_transaction(world: &mut World, entity: Entity) {
    // Only the keys: cloning the whole transaction here was a measurable share of sealing.
    let Some((hash, sender, nonce)) = world.get::<PooledTx>(entity).map(|tx| (tx.hash, tx.sender, tx.nonce())) else {
        return;
    };
    world.despawn(entity);
    let mut pool = world.resource_mut::<MempoolIndex>();
    pool.by_hash.remove(&hash);
    if let Some(queue) = pool.by_sender.get_mut(&sender) {
        queue.remove(&nonce);
        if queue.is_empty() {
            pool.by_sender.remove(&sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::test_support::*;
    use alloy_eips::eip2718::Encodable2718;
    use alloy_signer::SignerSync;

    fn submit(world: &mut World, tx: TxEnvelope) -> Result<B256, PoolError> {
        let (envelope, sender) = decode_transaction(&tx.encoded_2718(), CHAIN_ID, 128 * 1024)?;
        admit(world, envelope, sender)
    }

    #[test]
    fn stateless_checks_refuse_garbage_foreign_chains_and_unprotected_legacy() {
        let alice = signer(0);
        assert!(matches!(decode_transaction(&[], CHAIN_ID, 1024), Err(PoolError::Decode(_))));
        assert!(matches!(decode_transaction(&[0x02, 0xff, 0x00], CHAIN_ID, 1024), Err(PoolError::Decode(_))));
        assert!(matches!(decode_transaction(&[0u8; 2000], CHAIN_ID, 1024), Err(PoolError::Oversized { .. })));
        let foreign = transfer(&alice, Address::ZERO, 1, 0, 1).encoded_2718();
        assert_eq!(
            decode_transaction(&foreign, CHAIN_ID + 1, 1024).unwrap_err(),
            PoolError::WrongChainId { expected: CHAIN_ID + 1, got: CHAIN_ID }
        );
        let unprotected = legacy_transfer(&alice, Address::ZERO, None, 0).encoded_2718();
        assert_eq!(decode_transaction(&unprotected, CHAIN_ID, 1024).unwrap_err(), PoolError::NotReplayProtected);
        let mut trailing = transfer(&alice, Address::ZERO, 1, 0, 1).encoded_2718();
        trailing.push(0);
        assert!(matches!(decode_transaction(&trailing, CHAIN_ID, 1024), Err(PoolError::Decode(_))));
        let (_, sender) = decode_transaction(&legacy_transfer(&alice, Address::ZERO, Some(CHAIN_ID), 0).encoded_2718(), CHAIN_ID, 1024).unwrap();
        assert_eq!(sender, alice.address());
    }

    #[test]
    fn pool_refusals_use_geths_messages() {
        let (mut world, _, _) = chain_world(2);
        let alice = signer(0);
        let broke = signer(9);
        let first = transfer(&alice, Address::ZERO, 1, 0, 1);
        submit(&mut world, first.clone()).unwrap();
        assert_eq!(submit(&mut world, first).unwrap_err().to_string(), "already known");
        let same_price = transfer(&alice, Address::ZERO, 2, 0, 1);
        assert_eq!(submit(&mut world, same_price).unwrap_err().to_string(), "replacement transaction underpriced");
        let error = submit(&mut world, transfer(&broke, Address::ZERO, 1, 0, 1)).unwrap_err().to_string();
        assert!(error.starts_with("insufficient funds for gas * price + value"), "{error}");
        let error = submit(&mut world, transfer(&alice, Address::ZERO, 1, 5_000, 1)).unwrap_err().to_string();
        assert!(error.starts_with("nonce too high"), "{error}");
        assert_eq!(world.resource::<MempoolIndex>().len(), 1);
    }

    #[test]
    fn a_priced_up_replacement_takes_the_slot() {
        let (mut world, _, _) = chain_world(1);
        let alice = signer(0);
        let old = submit(&mut world, transfer(&alice, Address::ZERO, 1, 0, 10)).unwrap();
        let mut bumped = transfer(&alice, Address::ZERO, 1, 0, 11);
        if let TxEnvelope::Eip1559(signed) = &bumped {
            let mut tx = signed.tx().clone();
            tx.max_fee_per_gas = 110_000_000_000;
            let signature = alice.sign_hash_sync(&alloy_consensus::SignableTransaction::signature_hash(&tx)).unwrap();
            bumped = alloy_consensus::SignableTransaction::into_signed(tx, signature).into();
        }
        let new = submit(&mut world, bumped).unwrap();
        let pool = world.resource::<MempoolIndex>();
        assert!(!pool.by_hash.contains_key(&old));
        assert!(pool.by_hash.contains_key(&new));
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn selection_orders_by_tip_then_nonce_and_respects_gas() {
        let (mut world, _, _) = chain_world(3);
        let (a, b, c) = (signer(0), signer(1), signer(2));
        // b pays most, but its nonce 1 cannot precede its nonce 0.
        let b1 = submit(&mut world, transfer(&b, Address::ZERO, 1, 1, 50)).unwrap();
        let b0 = submit(&mut world, transfer(&b, Address::ZERO, 1, 0, 5)).unwrap();
        let a0 = submit(&mut world, transfer(&a, Address::ZERO, 1, 0, 20)).unwrap();
        let c0 = submit(&mut world, transfer(&c, Address::ZERO, 1, 0, 1)).unwrap();
        let hashes = |world: &World, entities: Vec<Entity>| -> Vec<B256> {
            entities.into_iter().map(|e| world.get::<PooledTx>(e).unwrap().hash).collect()
        };
        let chosen = select_transactions(&world, 7, 1_000_000);
        assert_eq!(hashes(&world, chosen), vec![a0, b0, b1, c0]);
        let chosen = select_transactions(&world, 7, 2 * 21_000);
        assert_eq!(hashes(&world, chosen), vec![a0, b0]);
        assert_eq!(pending_nonce(&world, &b.address()), 2);
        assert_eq!(pending_nonce(&world, &c.address()), 1);
    }
}
