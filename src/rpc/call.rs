//! eth_call, eth_estimateGas and eth_createAccessList: revm over a read snapshot, never touching
//! the world. What a call runs and how gas is estimated are the chain's
//! (`zg_systems::chain::simulate`); this module builds the site (snapshot, block, overrides)
//! from the request and answers in geth's shapes.
//!
//! Where a call runs matters as much as what it runs: a call for the pending block (no block
//! given, or "pending"; for eth_estimateGas "latest" too, since an estimate is for the block that
//! will include the transaction) runs on the head's state in the environment of the next block
//! — its number, the timestamp it will get, its base fee — as geth does with its pending header.
//! A call at a stored block runs on that block's state and in that block's environment.

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256};
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::context::{BlockEnv, TxEnv};
use revm::database::CacheDB;
use revm::state::{AccountInfo as RevmAccountInfo, Bytecode};
use revm::{DatabaseRef, InspectEvm};
use revm_inspectors::access_list::AccessListInspector;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

use zg_systems::chain::simulate::{self, SimulationError};
use zg_systems::chain::{evm, producer};

use super::RpcContext;
use super::error::{RpcResult, invalid_params, reverted, server_error};
use super::eth::state_at;
use super::types::{BlockRef, CallRequest, quantity};
use crate::store::{SnapshotDbError, StateSnapshot};

/// Rounds of eth_createAccessList before the list must have settled (geth loops until it does).
const ACCESS_LIST_ROUNDS: usize = 8;

/// The state a call reads: a snapshot with the request's state overrides on top.
pub type CallDb = CacheDB<StateSnapshot>;

/// Where a call runs: the state it reads and the block it runs in.
pub struct CallSite {
    pub db: CallDb,
    pub block: BlockEnv,
    /// The chain's precompiles, as blocks run them.
    pub precompiles: evm::ChainPrecompiles,
}

impl CallSite {
    /// The site as the chain's simulation takes it.
    pub fn simulation(&self, chain_id: u64) -> simulate::Site<'_, CallDb> {
        simulate::Site { db: &self.db, block: &self.block, precompiles: &self.precompiles, chain_id }
    }
}

/// Which block environment a call without an explicit older block gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LatestMeans {
    /// "latest" is the head block (eth_call, as geth).
    Head,
    /// "latest" is the block that will include the transaction (eth_estimateGas).
    Pending,
}

/// The call site for `block` with `overrides` applied.
pub fn call_site(
    ctx: &RpcContext,
    block: Option<BlockRef>,
    latest: LatestMeans,
    overrides: Option<StateOverrides>,
) -> RpcResult<CallSite> {
    let snapshot = ctx.reader.snapshot()?;
    let pending = match block {
        None | Some(BlockRef::Pending) => true,
        Some(BlockRef::Latest) => latest == LatestMeans::Pending,
        Some(_) => false,
    };
    let (snapshot, block) = if pending {
        let block = next_block_env(&snapshot, &ctx.clock)?;
        (snapshot, block)
    } else {
        let snapshot = state_at(snapshot, block)?;
        let (header, _) =
            snapshot.header(snapshot.state_block())?.ok_or_else(|| server_error("header not found"))?;
        (snapshot, evm::block_env_of(&header))
    };
    let mut db = CacheDB::new(snapshot);
    if let Some(overrides) = overrides {
        apply_overrides(&mut db, overrides)?;
    }
    Ok(CallSite { db, block, precompiles: ctx.precompiles.provider() })
}

/// The environment of the block that comes next on `snapshot`'s head: its number, the
/// timestamp it will get, its base fee (geth's pending header).
pub fn next_block_env(snapshot: &StateSnapshot, clock: &zg_components::chain::ChainClock) -> RpcResult<BlockEnv> {
    let head = snapshot.head_number().unwrap_or_default();
    let (header, hash) = snapshot.header(head)?.ok_or_else(|| server_error("header not found"))?;
    let timestamp = clock.peek(crate::wall_clock::now_ms() / 1000, header.timestamp);
    Ok(producer::next_block_env(&header, hash, timestamp, header.beneficiary, header.gas_limit))
}

/// geth's state override set: per account, replacements for balance, nonce, code, and either
/// the whole storage (`state`) or some slots (`stateDiff`).
pub type StateOverrides = HashMap<Address, AccountOverride>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccountOverride {
    pub balance: Option<U256>,
    pub nonce: Option<U64>,
    pub code: Option<Bytes>,
    pub state: Option<HashMap<B256, B256>>,
    pub state_diff: Option<HashMap<B256, B256>>,
}

/// Most accounts one override set may name, and most slots overall: each costs memory per call.
const MAX_OVERRIDE_ACCOUNTS: usize = 1_000;
const MAX_OVERRIDE_SLOTS: usize = 10_000;

fn apply_overrides(db: &mut CallDb, overrides: StateOverrides) -> RpcResult<()> {
    if overrides.len() > MAX_OVERRIDE_ACCOUNTS {
        return Err(invalid_params(format!("too many state overrides (at most {MAX_OVERRIDE_ACCOUNTS} accounts)")));
    }
    let slots: usize = overrides
        .values()
        .map(|o| o.state.as_ref().map_or(0, HashMap::len) + o.state_diff.as_ref().map_or(0, HashMap::len))
        .sum();
    if slots > MAX_OVERRIDE_SLOTS {
        return Err(invalid_params(format!("too many storage overrides (at most {MAX_OVERRIDE_SLOTS} slots)")));
    }
    for (address, account) in overrides {
        if account.state.is_some() && account.state_diff.is_some() {
            return Err(invalid_params(format!("account {address} has both 'state' and 'stateDiff'")));
        }
        let mut info = db.basic_ref(address).map_err(database_error)?.unwrap_or_default();
        if let Some(balance) = account.balance {
            info.balance = balance;
        }
        if let Some(nonce) = account.nonce {
            info.nonce = nonce.to();
        }
        if let Some(code) = account.code {
            info = RevmAccountInfo { code_hash: keccak256(&code), code: Some(Bytecode::new_raw(code)), ..info };
        }
        db.insert_account_info(address, info);
        if let Some(state) = account.state {
            let storage = state.into_iter().map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0))).collect();
            db.replace_account_storage(address, storage).map_err(database_error)?;
        }
        for (slot, value) in account.state_diff.unwrap_or_default() {
            db.insert_account_storage(address, U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0))
                .map_err(database_error)?;
        }
    }
    Ok(())
}

fn database_error(error: SnapshotDbError) -> ErrorObjectOwned {
    super::error::internal(error.0)
}

/// The transaction a call request describes, run at `site`.
pub fn prepare_tx(site: &mut CallSite, chain_id: u64, request: &CallRequest) -> RpcResult<TxEnv> {
    let input = request.input()?;
    let caller = request.from.unwrap_or(Address::ZERO);
    let gas_cap = site.block.gas_limit;
    let gas = request.gas.map(|g| g.to::<u64>()).unwrap_or(gas_cap);
    if gas > gas_cap {
        return Err(invalid_params(format!("gas {gas} exceeds the block gas limit {gas_cap}")));
    }
    if request.gas_price.is_some() && (request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some()) {
        return Err(invalid_params("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified"));
    }
    let dynamic = request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some();
    let gas_price = request.gas_price.or(request.max_fee_per_gas).map(|p| p.to::<u128>()).unwrap_or(0);
    // As geth: a call that names no price runs with no base fee, so it needs no funds for gas.
    if gas_price == 0 {
        site.block.basefee = 0;
    }
    // The nonce decides a created contract's address: the request's, else the account's.
    let nonce = match request.nonce {
        Some(nonce) => nonce.to(),
        None => site.db.basic_ref(caller).map_err(database_error)?.map(|a| a.nonce).unwrap_or_default(),
    };
    if request.chain_id.is_some_and(|id| id.to::<u64>() != chain_id) {
        return Err(invalid_params(format!("invalid chain id: want {chain_id}")));
    }
    let tx_type = if dynamic { 2 } else if request.access_list.is_some() { 1 } else { 0 };
    Ok(TxEnv {
        tx_type,
        caller,
        gas_limit: gas,
        gas_price,
        kind: request.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: input,
        nonce,
        chain_id: Some(chain_id),
        access_list: request.access_list.clone().unwrap_or_default(),
        gas_priority_fee: if dynamic {
            Some(request.max_priority_fee_per_gas.map(|p| p.to::<u128>()).unwrap_or(0).min(gas_price))
        } else {
            None
        },
        ..Default::default()
    })
}

/// Runs `tx` with `gas` at `site`, changing nothing.
pub fn execute(site: &CallSite, chain_id: u64, tx: &TxEnv, gas: u64) -> Result<ExecutionResult, ErrorObjectOwned> {
    simulate::execute(&site.simulation(chain_id), tx, gas).map_err(evm_error)
}

pub fn evm_error(error: EVMError<SnapshotDbError, InvalidTransaction>) -> ErrorObjectOwned {
    match error {
        EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee { .. }) => {
            server_error("insufficient funds for gas * price + value")
        }
        EVMError::Transaction(error) => server_error(error.to_string()),
        EVMError::Database(error) => super::error::internal(error.0),
        other => server_error(other.to_string()),
    }
}

fn halted(reason: &HaltReason, gas: u64) -> ErrorObjectOwned {
    match reason {
        HaltReason::OutOfGas(_) => server_error(format!("gas required exceeds allowance ({gas})")),
        other => server_error(format!("execution halted: {other:?}")),
    }
}

/// (request, block, state overrides): the parameters eth_call and eth_estimateGas share.
fn call_params(params: &jsonrpsee::types::Params) -> RpcResult<(CallRequest, Option<BlockRef>, Option<StateOverrides>)> {
    let mut seq = params.sequence();
    let request: CallRequest = seq.next()?;
    let block: Option<BlockRef> = seq.optional_next()?;
    let overrides: Option<StateOverrides> = seq.optional_next()?;
    if seq.optional_next::<Value>()?.is_some() {
        return Err(invalid_params("too many arguments: want [call, block, state overrides]"));
    }
    Ok((request, block, overrides))
}

/// A read-only call of `data` on `to` at the head, as `eth_call` answers it (for the node's own
/// methods that read contracts).
pub fn view(ctx: &RpcContext, to: Address, data: Bytes) -> RpcResult<Bytes> {
    let request = CallRequest { to: Some(to), data: Some(data), ..Default::default() };
    let mut site = call_site(ctx, Some(BlockRef::Latest), LatestMeans::Head, None)?;
    let tx = prepare_tx(&mut site, ctx.chain_id, &request)?;
    match execute(&site, ctx.chain_id, &tx, tx.gas_limit)? {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(reverted(&output)),
        ExecutionResult::Halt { reason, .. } => Err(halted(&reason, tx.gas_limit)),
    }
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_call", |params, ctx, _| -> RpcResult<Bytes> {
        let (request, block, overrides) = call_params(&params)?;
        let mut site = call_site(&ctx, block, LatestMeans::Head, overrides)?;
        let tx = prepare_tx(&mut site, ctx.chain_id, &request)?;
        match execute(&site, ctx.chain_id, &tx, tx.gas_limit)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(reverted(&output)),
            ExecutionResult::Halt { reason, .. } => Err(halted(&reason, tx.gas_limit)),
        }
    })?;
    module.register_blocking_method("eth_estimateGas", |params, ctx, _| -> RpcResult<String> {
        let (request, block, overrides) = call_params(&params)?;
        let mut site = call_site(&ctx, block, LatestMeans::Pending, overrides)?;
        let tx = prepare_tx(&mut site, ctx.chain_id, &request)?;
        estimate(&site, ctx.chain_id, tx).map(quantity)
    })?;
    module.register_blocking_method("eth_createAccessList", |params, ctx, _| -> RpcResult<Value> {
        let mut seq = params.sequence();
        let request: CallRequest = seq.next()?;
        let block: Option<BlockRef> = seq.optional_next()?;
        if seq.optional_next::<Value>()?.is_some() {
            return Err(invalid_params("too many arguments: want [call, block]"));
        }
        let mut site = call_site(&ctx, block, LatestMeans::Pending, None)?;
        let tx = prepare_tx(&mut site, ctx.chain_id, &request)?;
        create_access_list(&site, ctx.chain_id, tx)
    })?;
    Ok(())
}

/// geth's eth_createAccessList: run, collect what was touched, run again with that list, until
/// the list stops changing; the sender, the recipient and precompiles are left out (they are
/// warm anyway).
fn create_access_list(site: &CallSite, chain_id: u64, mut tx: TxEnv) -> RpcResult<Value> {
    if tx.tx_type == 0 {
        tx.tx_type = 1;
    }
    let mut list = tx.access_list.clone();
    for _ in 0..ACCESS_LIST_ROUNDS {
        let inspector = AccessListInspector::new(list.clone());
        let mut evm = evm::build_inspecting_evm(&site.db, simulate::call_cfg(chain_id), site.block.clone(), site.precompiles.clone(), inspector);
        let result = evm.inspect_one_tx(TxEnv { access_list: list.clone(), ..tx.clone() }).map_err(evm_error)?;
        let found: AccessList = evm.inspector.into_access_list();
        if found == list {
            let mut answer = json!({ "accessList": found, "gasUsed": quantity(result.tx_gas_used()) });
            match &result {
                ExecutionResult::Revert { output, .. } => answer["error"] = json!(reverted(output).message()),
                ExecutionResult::Halt { reason, .. } => answer["error"] = json!(halted(reason, tx.gas_limit).message()),
                ExecutionResult::Success { .. } => {}
            }
            return Ok(answer);
        }
        list = found;
    }
    Err(server_error("the access list did not settle: the call touches different state on every run"))
}

/// The least gas with which the transaction does not fail (`zg_systems::chain::simulate`),
/// with geth's errors.
pub fn estimate(site: &CallSite, chain_id: u64, tx: TxEnv) -> RpcResult<u64> {
    simulate::estimate(&site.simulation(chain_id), &tx).map_err(|error| match error {
        SimulationError::Evm(error) => evm_error(error),
        SimulationError::Database(error) => database_error(error),
        SimulationError::InsufficientFunds => server_error("insufficient funds for transfer"),
        SimulationError::Reverted(output) => reverted(&output),
        SimulationError::Halted { reason, gas } => halted(&reason, gas),
    })
}
