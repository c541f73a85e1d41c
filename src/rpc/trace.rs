//! debug_traceTransaction and debug_traceCall with geth's call tracer and its default struct
//! logger (revm-inspectors' TracingInspector), the traces Hardhat and Foundry users debug with.
//!
//! A mined transaction is traced by replaying its block up to it on the parent block's state,
//! so tracing reaches as far back as the kept state history (256 blocks, or all with --archive).

use alloy_primitives::B256;
use alloy_rpc_types_trace::geth::{GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions};
use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context::result::ExecutionResult;
use revm::database::CacheDB;
use revm::{ExecuteEvm, InspectEvm};
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};
use serde_json::Value;

use zg_systems::chain::evm;

use super::RpcContext;
use super::call::{CallDb, LatestMeans, StateOverrides, call_site, evm_error, prepare_tx};
use zg_systems::chain::simulate::call_cfg;
use super::error::{RpcResult, invalid_params, server_error};
use super::eth::{decode_stored, state_at};
use super::types::{BlockRef, CallRequest};

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("debug_traceTransaction", |params, ctx, _| -> RpcResult<Value> {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let options: Option<GethDebugTracingOptions> = seq.optional_next()?;
        let snapshot = ctx.reader.snapshot()?;
        let record = snapshot.transaction(&hash)?.ok_or_else(|| server_error(format!("transaction {hash} not found")))?;
        let (header, _) = snapshot.header(record.block_number)?.ok_or_else(|| server_error("header not found"))?;
        let earlier = snapshot.block_transactions(record.block_number)?;
        let parent = state_at(snapshot, Some(BlockRef::Number(record.block_number.saturating_sub(1))))?;
        let block = evm::block_env_of(&header);
        let mut prior = Vec::with_capacity(record.index as usize);
        for earlier in earlier.iter().take(record.index as usize) {
            prior.push(evm::tx_env(&decode_stored(&earlier.raw)?, earlier.sender));
        }
        let target = evm::tx_env(&decode_stored(&record.raw)?, record.sender);
        trace(CacheDB::new(parent), evm::cfg_env(ctx.chain_id), block, ctx.precompiles.provider(), &prior, target, options.unwrap_or_default())
    })?;
    module.register_blocking_method("debug_traceCall", |params, ctx, _| -> RpcResult<Value> {
        let mut seq = params.sequence();
        let request: CallRequest = seq.next()?;
        let block: Option<BlockRef> = seq.optional_next()?;
        let options: Option<Value> = seq.optional_next()?;
        // geth takes state overrides inside the options object.
        let (options, overrides) = split_overrides(options)?;
        let mut site = call_site(&ctx, block, LatestMeans::Head, overrides)?;
        let tx = prepare_tx(&mut site, ctx.chain_id, &request)?;
        trace(site.db, call_cfg(ctx.chain_id), site.block, site.precompiles, &[], tx, options)
    })?;
    Ok(())
}

fn split_overrides(options: Option<Value>) -> RpcResult<(GethDebugTracingOptions, Option<StateOverrides>)> {
    let Some(Value::Object(mut fields)) = options else {
        return match options {
            None | Some(Value::Null) => Ok((GethDebugTracingOptions::default(), None)),
            Some(_) => Err(invalid_params("tracing options must be an object")),
        };
    };
    let overrides = match fields.remove("stateOverrides") {
        Some(value) => Some(serde_json::from_value(value).map_err(|e| invalid_params(format!("stateOverrides: {e}")))?),
        None => None,
    };
    fields.remove("blockOverrides");
    let options = serde_json::from_value(Value::Object(fields)).map_err(|e| invalid_params(format!("tracing options: {e}")))?;
    Ok((options, overrides))
}

/// Runs `prior` without tracing, then `target` under the tracer the options name.
fn trace(
    db: CallDb,
    cfg: CfgEnv,
    block: BlockEnv,
    precompiles: evm::ChainPrecompiles,
    prior: &[TxEnv],
    target: TxEnv,
    options: GethDebugTracingOptions,
) -> RpcResult<Value> {
    enum Tracer {
        StructLogs,
        Calls(alloy_rpc_types_trace::geth::CallConfig),
    }
    let tracer = match &options.tracer {
        None => Tracer::StructLogs,
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => Tracer::Calls(
            options.tracer_config.clone().into_call_config().map_err(|e| invalid_params(format!("tracerConfig: {e}")))?,
        ),
        Some(other) => {
            return Err(invalid_params(format!(
                "tracer {other:?} is not supported: use callTracer or the default struct logger (no tracer)"
            )));
        }
    };
    let config = match &tracer {
        Tracer::StructLogs => TracingInspectorConfig::from_geth_config(&options.config),
        Tracer::Calls(call) => TracingInspectorConfig::from_geth_call_config(call),
    };
    let mut evm = evm::build_inspecting_evm(&db, cfg, block, precompiles, TracingInspector::new(config));
    for tx in prior {
        evm.transact_one(tx.clone()).map_err(evm_error)?;
    }
    let result = evm.inspect_one_tx(target).map_err(evm_error)?;
    let gas_used = result.tx_gas_used();
    let output = match &result {
        ExecutionResult::Success { output, .. } => output.data().clone(),
        ExecutionResult::Revert { output, .. } => output.clone(),
        ExecutionResult::Halt { .. } => Default::default(),
    };
    let builder = std::mem::replace(&mut evm.inspector, TracingInspector::new(TracingInspectorConfig::none()))
        .into_geth_builder();
    let value = match tracer {
        Tracer::StructLogs => serde_json::to_value(builder.geth_traces(gas_used, output, options.config)),
        Tracer::Calls(call) => serde_json::to_value(builder.geth_call_traces(call, gas_used)),
    };
    value.map_err(|e: serde_json::Error| -> ErrorObjectOwned { server_error(format!("trace encoding: {e}")) })
}
