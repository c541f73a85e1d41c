//! Building the genesis state and block into a world.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header};
use alloy_primitives::{B256, U256, keccak256};
use bevy_ecs::prelude::*;

use zg_components::chain::{AccountChange, AccountInfo, CommittedBlock, Genesis, GenesisError};

use super::{producer, state};

/// The account changes that create the genesis state, in address order.
pub fn genesis_changes(genesis: &Genesis) -> Result<Vec<AccountChange>, GenesisError> {
    let mut changes: std::collections::BTreeMap<_, AccountChange> = genesis
        .balances()?
        .into_iter()
        .map(|(address, balance)| {
            let info = AccountInfo { balance, ..Default::default() };
            (address, AccountChange { address, info: Some(info), storage: vec![], storage_cleared: false, code: None })
        })
        .collect();
    for (address, account) in &genesis.accounts {
        let change = changes.entry(*address).or_insert_with(|| AccountChange {
            address: *address,
            info: Some(AccountInfo::default()),
            storage: vec![],
            storage_cleared: false,
            code: None,
        });
        let info = change.info.get_or_insert_with(Default::default);
        if let Some(code) = account.code.as_ref().filter(|code| !code.is_empty()) {
            info.code_hash = keccak256(code);
            // Contracts start at nonce 1 (EIP-161), as if created.
            info.nonce = info.nonce.max(1);
            change.code = Some(code.clone());
        }
        change.storage = account.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v)).collect();
    }
    Ok(changes.into_values().collect())
}

/// Creates the genesis state in `world` (which must have the chain resources) and records the
/// genesis block as the head. Returns the block, for persisting.
pub fn build_genesis(world: &mut World, genesis: &Genesis) -> Result<CommittedBlock, GenesisError> {
    let changes = genesis_changes(genesis)?;
    let state_root = state::apply_changes(world, &changes);
    let header = genesis_header(genesis, state_root);
    let hash = header.hash_slow();
    producer::record_block(world, &header, hash, Vec::new());
    Ok(CommittedBlock { header, hash, transactions: vec![], receipts: vec![], changes, decided: None })
}

pub fn genesis_header(genesis: &Genesis, state_root: B256) -> Header {
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        difficulty: U256::ZERO,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        base_fee_per_gas: Some(genesis.base_fee_per_gas),
        ..Default::default()
    }
}
