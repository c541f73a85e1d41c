//! 0G's indexer API (`indexer_*`), served on the storage port, so the official clients' indexer
//! paths (`new Indexer(url)` in the TS SDK, `--indexer` in the Go client) work against a zgnode:
//! the node lists itself as the trusted storage node (its URL as it was reached, its shard
//! config: every segment, `numShard` 1) and says which of its nodes hold a file.
//!
//! What 0G's indexer adds and this one does not: discovering storage nodes over 0G's p2p network
//! and looking up their IP locations (`indexer_getNodeLocations` answers an empty map).

use alloy_primitives::B256;
use jsonrpsee::server::RpcModule;
use serde_json::{Value, json};

use super::StorageContext;
use crate::rpc::error::{RpcResult, invalid_params, server_error};

/// A storage node as 0G's indexer lists it (`shard.ShardedNode`).
fn sharded_node(url: &str) -> Value {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    json!({
        "url": url,
        "grpcUrl": "",
        "config": {"shardId": 0, "numShard": 1},
        "latency": 0,
        "since": since,
    })
}

impl StorageContext {
    /// This node's storage URL, as clients reach it (its bound address).
    fn own_url(&self) -> RpcResult<String> {
        self.own_url.get().cloned().ok_or_else(|| server_error("the storage service is still starting"))
    }
}

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_method("indexer_getShardedNodes", |_, ctx, _| -> RpcResult<Value> {
        Ok(json!({ "trusted": [sharded_node(&ctx.own_url()?)], "discovered": [] }))
    })?;
    // The Go client's selection, done here: `expectedReplica` whole copies from the trusted
    // nodes (this one holds every segment: one copy), skipping `dropped` URLs; `method` is
    // min / max / random, or a shard count the nodes must have.
    module.register_method("indexer_getSelectedNodes", |params, ctx, _| -> RpcResult<Value> {
        let mut values = params.sequence();
        let replicas: u64 = values.next()?;
        let method: Option<String> = values.optional_next()?;
        let _full_trusted: Option<bool> = values.optional_next()?;
        let dropped: Option<Vec<String>> = values.optional_next()?;
        let method = method.unwrap_or_else(|| "min".to_string());
        let shard_count_ok = match method.as_str() {
            "min" | "max" | "random" => true,
            other => match other.parse::<u64>() {
                Ok(count) if count > 0 => count == 1,
                _ => return Err(invalid_params(format!("method {other:.40} is not min, max, random or a positive shard count"))),
            },
        };
        let own = ctx.own_url()?;
        let available = shard_count_ok && !dropped.unwrap_or_default().contains(&own);
        if replicas > u64::from(available) {
            return Err(server_error(format!(
                "cannot select a subset from the trusted nodes that meets the replication requirement: {replicas} copies asked, {} available",
                u64::from(available)
            )));
        }
        let trusted: Vec<Value> = if replicas == 0 { Vec::new() } else { vec![sharded_node(&own)] };
        Ok(json!({ "trusted": trusted, "discovered": [] }))
    })?;
    module.register_method("indexer_getNodeLocations", |_, _, _| -> RpcResult<Value> { Ok(json!({})) })?;
    // The nodes holding the file (finalized there); "file not found" when none knows it, as
    // 0G's indexer answers.
    module.register_blocking_method("indexer_getFileLocations", |params, ctx, _| -> RpcResult<Value> {
        let (root,): (String,) = params.parse()?;
        let root: B256 = root.parse().map_err(|_| invalid_params(format!("{root:.80} is not a 32-byte data root")))?;
        let Some(record) = ctx.file_by_root(&root)? else {
            return Err(server_error("file not found"));
        };
        let finalized = ctx.held(&record)? >= record.data_segments() || ctx.recoverable(&record)?;
        Ok(if finalized { json!([sharded_node(&ctx.own_url()?)]) } else { json!([]) })
    })?;
    Ok(())
}
