//! The `admin_*` methods of 0G's storage node that its indexer and tools ask about files:
//! `admin_findFile`, `admin_getFileLocation`, `admin_getSyncStatus`. A zgnode does not sync
//! files from peers as 0G's node does (uploads land on a node, shards are placed and repaired),
//! so "find" has nothing to start and a file's sync status is whether it is finalized here.

use jsonrpsee::server::RpcModule;
use serde_json::{Value, json};

use super::StorageContext;
use super::indexer::{holders, host_of};
use super::rpc::FileRef;
use crate::rpc::error::{RpcResult, server_error};

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_blocking_method("admin_findFile", |params, ctx, _| -> RpcResult<Value> {
        let (seq,): (u64,) = params.parse()?;
        ctx.file_by_seq(seq)?.ok_or_else(|| server_error("tx not found"))?;
        Ok(Value::Null)
    })?;
    module.register_blocking_method("admin_getSyncStatus", |params, ctx, _| -> RpcResult<String> {
        let (seq,): (u64,) = params.parse()?;
        let Some(record) = ctx.file_by_seq(seq)? else { return Ok("unknown".into()) };
        Ok(if ctx.is_finalized(&record)? { "Completed" } else { "Idle" }.into())
    })?;
    // Where the file is kept: this node and the indexer's other nodes that have it finalized,
    // each by IP with its shard config (every segment). With `allShards`, null when none does.
    module.register_async_method("admin_getFileLocation", |params, ctx, _| async move {
        let mut values = params.sequence();
        let seq: u64 = values.next()?;
        let all_shards: Option<bool> = values.optional_next()?;
        let holders = holders(ctx.clone(), FileRef::Seq(seq)).await?;
        if holders.here.is_none() {
            return Err(server_error("tx not found"));
        }
        let locations: Vec<Value> = holders.urls(ctx.own_url()?).iter().filter_map(|url| host_of(url)).map(|ip| json!({"ip": ip, "shardConfig": {"shardId": 0, "numShard": 1}})).collect();
        if all_shards == Some(true) && locations.is_empty() {
            return Ok::<Value, jsonrpsee::types::ErrorObjectOwned>(Value::Null);
        }
        Ok(Value::Array(locations))
    })?;
    Ok(())
}
