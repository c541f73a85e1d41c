//! The `da_*` JSON-RPC methods on the node's Ethereum RPC port: submit a blob, follow its
//! status, get it back, sample it.

use alloy_primitives::{B256, Bytes};
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use std::sync::Arc;

use super::{BlobReport, DaNode, DisperseError, Listener, RetrieveError, root_of_request};
use crate::rpc::RpcContext;
use crate::rpc::error::{RpcResult, invalid_params, server_error};

/// Samples a `da_sample` call draws when not told; the most it may ask for.
pub const DEFAULT_SAMPLES: usize = 16;
/// At most this many shares a call: 64 clean samples already put the chance of missing an
/// unrecoverable square below 1e-7, and each sample may ask peers.
pub const MAX_SAMPLES: usize = 64;

fn da(context: &RpcContext) -> RpcResult<&Arc<DaNode>> {
    context.roles.get::<Arc<DaNode>>().ok_or_else(|| server_error("this node does not run the DA role"))
}

/// JSON for a blob's status (the names and numbers of 0G's disperser.proto).
pub fn report_json(report: &BlobReport) -> Value {
    json!({
        "dataRoot": report.data_root,
        "status": report.status.name(),
        "statusCode": report.status.code(),
        "epoch": report.epoch,
        "quorumId": report.quorum,
        "uploadedAt": report.uploaded_at,
        "confirmedAt": report.confirmed_at,
        "detail": report.detail,
    })
}

pub fn disperse_error(error: DisperseError) -> ErrorObjectOwned {
    match error {
        DisperseError::NoDisperser => server_error(error.to_string()),
        DisperseError::Encoding(_) | DisperseError::Keep(_) => server_error(error.to_string()),
        DisperseError::Empty | DisperseError::Size(_) => invalid_params(error.to_string()),
        DisperseError::Busy { .. } | DisperseError::NotServedHere | DisperseError::BadApiKey | DisperseError::Quota { .. } => server_error(error.to_string()),
    }
}

pub fn retrieve_error(error: RetrieveError) -> ErrorObjectOwned {
    server_error(error.to_string())
}

/// A request id (40 bytes) or a data root (32 bytes), as hex.
fn root_param(raw: &Bytes) -> RpcResult<B256> {
    match raw.len() {
        32 => Ok(B256::from_slice(raw)),
        40 => root_of_request(raw).ok_or_else(|| invalid_params("not a request id")),
        n => Err(invalid_params(format!("expected a 40-byte request id or a 32-byte data root, got {n} bytes"))),
    }
}

pub fn register(module: &mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_async_method("da_submitBlob", |params, context, _| async move {
        let mut params = params.sequence();
        let data: Bytes = params.next()?;
        let api_key: Option<String> = params.optional_next()?;
        let node = da(&context)?.clone();
        let (id, root) = node.submit(data.to_vec(), Listener::JsonRpc, api_key.as_deref()).await.map_err(disperse_error)?;
        Ok::<_, ErrorObjectOwned>(json!({ "requestId": Bytes::from(id), "dataRoot": root, "status": "PROCESSING" }))
    })?;
    module.register_async_method("da_getBlobStatus", |params, context, _| async move {
        let (id,): (Bytes,) = params.parse()?;
        let root = root_param(&id)?;
        let node = da(&context)?.clone();
        let report = tokio::task::spawn_blocking(move || node.status(&root)).await.map_err(|e| server_error(e.to_string()))?;
        let report = report.ok_or_else(|| server_error(format!("no blob {root} is known to this node or the DA entrance")))?;
        Ok::<_, ErrorObjectOwned>(report_json(&report))
    })?;
    module.register_async_method("da_retrieveBlob", |params, context, _| async move {
        let (id,): (Bytes,) = params.parse()?;
        let root = root_param(&id)?;
        let node = da(&context)?.clone();
        let blob = node.retrieve(&root).await.map_err(retrieve_error)?;
        Ok::<_, ErrorObjectOwned>(Bytes::from(blob))
    })?;
    module.register_async_method("da_pieces", |params, context, _| async move {
        let (id,): (Bytes,) = params.parse()?;
        let root = root_param(&id)?;
        let node = da(&context)?.clone();
        let pieces = tokio::task::spawn_blocking(move || node.pieces(&root)).await.map_err(|e| server_error(e.to_string()))?;
        let (k, held, assigned) = pieces.ok_or_else(|| server_error(format!("this node keeps no pieces of {root}")))?;
        Ok::<_, ErrorObjectOwned>(json!({ "k": k, "heldAxes": held, "assignedAxes": assigned }))
    })?;
    module.register_async_method("da_sample", |params, context, _| async move {
        let mut params = params.sequence();
        let id: Bytes = params.next()?;
        let samples: Option<usize> = params.optional_next()?;
        let root = root_param(&id)?;
        let samples = samples.unwrap_or(DEFAULT_SAMPLES);
        if samples == 0 || samples > MAX_SAMPLES {
            return Err(invalid_params(format!("samples must be 1..={MAX_SAMPLES}")));
        }
        let node = da(&context)?.clone();
        let report = node.sample(&root, samples).await.map_err(retrieve_error)?;
        Ok::<_, ErrorObjectOwned>(serde_json::to_value(report).unwrap_or(Value::Null))
    })?;
    Ok(())
}
