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
        info.nonce = info.nonce.max(account.nonce);
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
    super::params::apply(world);
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

/// Why a contract could not be deployed into genesis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("the deployment transaction is invalid: {0}")]
    Invalid(String),
    #[error("the constructor created nothing")]
    NothingCreated,
    #[error("the constructor failed: {0}")]
    ConstructorFailed(String),
}

/// Runs a contract's constructor as the account at `target` itself (the init code placed there
/// and called), so whatever the constructor records about `address(this)` (a timelock that
/// administers itself, an EIP-712 domain) names the address genesis puts the contract at, not a
/// scratch CREATE address. `beside` are genesis accounts the constructor may call (a governor
/// asks its token for the clock). Returns the runtime code and storage for `target`.
pub fn deploy_contract_at(
    target: alloy_primitives::Address,
    init_code: &[u8],
    beside: &[(alloy_primitives::Address, &zg_components::chain::GenesisAccount)],
) -> Result<zg_components::chain::GenesisAccount, DeployError> {
    use revm::database::{CacheDB, EmptyDB};
    use revm::{ExecuteCommitEvm, MainBuilder, MainContext};
    let deployer = alloy_primitives::Address::repeat_byte(0xde);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(deployer, revm::state::AccountInfo::default());
    for (address, account) in beside {
        let code = revm::bytecode::Bytecode::new_raw(account.code.clone().unwrap_or_default());
        db.insert_account_info(*address, revm::state::AccountInfo { code_hash: code.hash_slow(), code: Some(code), nonce: 1, ..Default::default() });
        for (slot, value) in &account.storage {
            db.insert_account_storage(*address, *slot, *value).map_err(|e| DeployError::Invalid(e.to_string()))?;
        }
    }
    let init = revm::bytecode::Bytecode::new_raw(init_code.to_vec().into());
    db.insert_account_info(target, revm::state::AccountInfo { code_hash: init.hash_slow(), code: Some(init), nonce: 1, ..Default::default() });
    let mut evm = revm::Context::mainnet().with_db(db).with_cfg(super::evm::cfg_env(1)).build_mainnet();
    let result = evm
        .transact_commit(revm::context::TxEnv {
            caller: deployer,
            kind: alloy_primitives::TxKind::Call(target),
            gas_limit: 30_000_000,
            gas_price: 0,
            chain_id: Some(1),
            ..Default::default()
        })
        .map_err(|e| DeployError::Invalid(e.to_string()))?;
    let code = match result {
        revm::context::result::ExecutionResult::Success { output, .. } => output.into_data(),
        other => return Err(DeployError::ConstructorFailed(format!("{other:?}"))),
    };
    if code.is_empty() {
        return Err(DeployError::NothingCreated);
    }
    let db = &evm.ctx.journaled_state.database;
    let account = db.cache.accounts.get(&target).ok_or(DeployError::NothingCreated)?;
    let storage = account.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v)).collect();
    Ok(zg_components::chain::GenesisAccount { code: Some(code), storage, nonce: 0 })
}

/// Runs `init_code` (creation code with its constructor arguments) in a scratch EVM with `value`
/// attached and returns the account genesis should hold for the contract: its runtime code and
/// storage. The contract may then sit at any address, as long as its constructor did not store
/// its own address. Its balance is granted separately (from an allocation), so supply holds.
pub fn deploy_contract(init_code: &[u8], value: U256) -> Result<zg_components::chain::GenesisAccount, DeployError> {
    use revm::database::{CacheDB, EmptyDB};
    use revm::{ExecuteCommitEvm, MainBuilder, MainContext};
    let deployer = alloy_primitives::Address::repeat_byte(0xde);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(deployer, revm::state::AccountInfo { balance: value, ..Default::default() });
    let mut evm = revm::Context::mainnet().with_db(db).with_cfg(super::evm::cfg_env(1)).build_mainnet();
    let result = evm
        .transact_commit(revm::context::TxEnv {
            caller: deployer,
            kind: alloy_primitives::TxKind::Create,
            data: init_code.to_vec().into(),
            value,
            gas_limit: 30_000_000,
            gas_price: 0,
            chain_id: Some(1),
            ..Default::default()
        })
        .map_err(|e| DeployError::Invalid(e.to_string()))?;
    let created = match result {
        revm::context::result::ExecutionResult::Success { output, .. } => {
            output.address().copied().ok_or(DeployError::NothingCreated)?
        }
        other => return Err(DeployError::ConstructorFailed(format!("{other:?}"))),
    };
    let db = &evm.ctx.journaled_state.database;
    let account = db.cache.accounts.get(&created).ok_or(DeployError::NothingCreated)?;
    let code = account.info.code.as_ref().map(|c| c.original_bytes()).unwrap_or_default();
    let storage = account.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v)).collect();
    Ok(zg_components::chain::GenesisAccount { code: Some(code), storage, nonce: 0 })
}
