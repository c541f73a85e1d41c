//! eth_call and eth_estimateGas: revm over a read snapshot, never touching the world.

use alloy_primitives::{Address, TxKind};
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use revm::ExecuteEvm;
use revm::context::TxEnv;
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};

use zg_systems::chain::evm;

use super::RpcContext;
use super::error::{RpcResult, invalid_params, reverted, server_error};
use super::eth::state_block;
use super::types::{BlockRef, CallRequest};
use crate::store::{SnapshotDbError, StateSnapshot};

/// geth's tolerance when narrowing an estimate: stop within 1.5% of the true minimum.
const ESTIMATE_ERROR_RATIO: f64 = 0.015;

struct Prepared {
    tx: TxEnv,
    block: revm::context::BlockEnv,
    gas_cap: u64,
}

fn prepare(snapshot: &StateSnapshot, chain_id: u64, request: &CallRequest) -> RpcResult<Prepared> {
    let head = snapshot.head_number().unwrap_or_default();
    let (header, _) = snapshot.header(head)?.ok_or_else(|| server_error("header not found"))?;
    let mut block = evm::block_env_of(&header);
    let input = request.input()?;
    let caller = request.from.unwrap_or(Address::ZERO);
    let gas_cap = header.gas_limit;
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
        block.basefee = 0;
    }
    let nonce = snapshot.account(&caller)?.map(|a| a.nonce).unwrap_or_default();
    if request.chain_id.is_some_and(|id| id.to::<u64>() != chain_id) {
        return Err(invalid_params(format!("invalid chain id: want {chain_id}")));
    }
    let tx_type = if dynamic { 2 } else if request.access_list.is_some() { 1 } else { 0 };
    let tx = TxEnv {
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
    };
    Ok(Prepared { tx, block, gas_cap })
}

fn execute(
    snapshot: &StateSnapshot,
    chain_id: u64,
    prepared: &Prepared,
    gas: u64,
) -> Result<ExecutionResult, ErrorObjectOwned> {
    let mut cfg = evm::cfg_env(chain_id);
    cfg.disable_nonce_check = true;
    let mut evm = evm::build_evm(snapshot, cfg, prepared.block.clone());
    let tx = TxEnv { gas_limit: gas, ..prepared.tx.clone() };
    evm.transact_one(tx).map_err(evm_error)
}

fn evm_error(error: EVMError<SnapshotDbError, InvalidTransaction>) -> ErrorObjectOwned {
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

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_call", |params, ctx, _| -> RpcResult<alloy_primitives::Bytes> {
        let (request, block) = call_params(&params)?;
        let snapshot = ctx.reader.snapshot()?;
        state_block(&snapshot, block)?;
        let prepared = prepare(&snapshot, ctx.chain_id, &request)?;
        match execute(&snapshot, ctx.chain_id, &prepared, prepared.tx.gas_limit)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(reverted(&output)),
            ExecutionResult::Halt { reason, .. } => Err(halted(&reason, prepared.tx.gas_limit)),
        }
    })?;
    module.register_blocking_method("eth_estimateGas", |params, ctx, _| -> RpcResult<String> {
        let (request, block) = call_params(&params)?;
        let snapshot = ctx.reader.snapshot()?;
        state_block(&snapshot, block)?;
        let prepared = prepare(&snapshot, ctx.chain_id, &request)?;
        estimate(&snapshot, ctx.chain_id, &prepared).map(super::types::quantity)
    })?;
    Ok(())
}

fn call_params(params: &jsonrpsee::types::Params) -> RpcResult<(CallRequest, Option<BlockRef>)> {
    let mut seq = params.sequence();
    let request: CallRequest = seq.next()?;
    let block: Option<BlockRef> = seq.optional_next()?;
    if seq.optional_next::<serde_json::Value>()?.is_some() {
        return Err(invalid_params("state overrides are not supported"));
    }
    Ok((request, block))
}

/// Binary search for the least gas that does not fail, as geth does.
fn estimate(snapshot: &StateSnapshot, chain_id: u64, prepared: &Prepared) -> RpcResult<u64> {
    let mut hi = prepared.tx.gas_limit.min(prepared.gas_cap);
    let succeeds = |gas: u64| -> RpcResult<Result<ExecutionResult, ExecutionResult>> {
        let result = execute(snapshot, chain_id, prepared, gas)?;
        Ok(if result.is_success() { Ok(result) } else { Err(result) })
    };
    let first = match succeeds(hi)? {
        Ok(result) => result,
        Err(ExecutionResult::Revert { output, .. }) => return Err(reverted(&output)),
        Err(ExecutionResult::Halt { reason, .. }) => return Err(halted(&reason, hi)),
        Err(ExecutionResult::Success { .. }) => unreachable!("success is Ok"),
    };
    let used = first.tx_gas_used();
    // Without refunds or the 63/64 rule in play (plain transfers, simple calls) exactly what
    // was used is enough: answer that, as geth does for a transfer's 21,000.
    if used < hi && succeeds(used)?.is_ok() {
        return Ok(used);
    }
    // Nothing below what the successful run used can succeed.
    let mut lo = used.saturating_sub(1);
    // Most calls need little more than what they used (refunds and the 63/64 rule aside).
    let optimistic = (used + first.gas().final_refunded() + 2_300) * 64 / 63;
    if optimistic < hi {
        match succeeds(optimistic) {
            Ok(Ok(_)) => hi = optimistic,
            Ok(Err(_)) => lo = optimistic,
            Err(error) => return Err(error),
        }
    }
    while lo + 1 < hi {
        if (hi - lo) as f64 / hi as f64 <= ESTIMATE_ERROR_RATIO {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        match succeeds(mid) {
            Ok(Ok(_)) => hi = mid,
            Ok(Err(_)) | Err(_) => lo = mid,
        }
    }
    Ok(hi)
}
