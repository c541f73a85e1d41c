//! 0G's indexer API (`indexer_*`), served on the storage port, so the official clients' indexer
//! paths (`new Indexer(url)` in the TS SDK, `--indexer` in the Go client) work against a zgnode:
//! the node lists itself and the storage nodes of `storage.indexer_nodes` (a validator network's
//! other nodes, as `zgnode init --validators` writes them) as trusted nodes, each holding every
//! segment (`numShard` 1: a zgnode serves a whole file, rebuilding from shards where it keeps
//! only its own), and says which of them hold a file, asking the others over JSON-RPC.
//!
//! What 0G's indexer adds and this one does not: discovering storage nodes over 0G's p2p network
//! and looking up their IP locations (`indexer_getNodeLocations` answers an empty map).

use alloy_primitives::B256;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::server::RpcModule;
use serde_json::{Value, json};
use std::time::Duration;

use super::StorageContext;
use super::rpc::FileRef;
use crate::rpc::error::{RpcResult, invalid_params, server_error};

/// How long another node gets to say whether it holds a file.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// A storage node as 0G's indexer lists it (`shard.ShardedNode`).
fn sharded_node(url: &str) -> Value {
    let since = crate::wall_clock::now_secs();
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
    pub(super) fn own_url(&self) -> RpcResult<String> {
        self.own_url.get().cloned().ok_or_else(|| server_error("the storage service is still starting"))
    }

    /// Every node the indexer lists: this one first, then `storage.indexer_nodes`.
    fn trusted_urls(&self) -> RpcResult<Vec<String>> {
        let mut urls = vec![self.own_url()?];
        urls.extend(self.indexer_nodes.iter().filter(|url| !urls.contains(url)).cloned().collect::<Vec<_>>());
        Ok(urls)
    }

}

/// What another storage node says of a file: Some(finalized) when it knows it; None when it
/// does not, or does not answer in time.
async fn ask_finalized(url: &str, file: FileRef) -> Option<bool> {
    let client = jsonrpsee::http_client::HttpClientBuilder::default().request_timeout(ASK_TIMEOUT).build(url).ok()?;
    let info: Value = match file {
        FileRef::Root(root) => client.request("zgs_getFileInfo", jsonrpsee::rpc_params![root, true]).await.ok()?,
        FileRef::Seq(seq) => client.request("zgs_getFileInfoByTxSeq", jsonrpsee::rpc_params![seq]).await.ok()?,
    };
    (!info.is_null()).then(|| info["finalized"] == true)
}

/// Who has a file: this node (None: it does not know the file) and each of
/// `storage.indexer_nodes` (None: it does not know it, or did not answer in time).
pub(super) struct Holders {
    pub here: Option<bool>,
    pub others: Vec<(String, Option<bool>)>,
}

impl Holders {
    /// Whether any node knows the file.
    pub fn known(&self) -> bool {
        self.here.is_some() || self.others.iter().any(|(_, answer)| answer.is_some())
    }

    /// The URLs of the nodes that have it finalized, this one (`own`) first.
    pub fn urls(&self, own: String) -> Vec<String> {
        let here = (self.here == Some(true)).then_some(own);
        here.into_iter().chain(self.others.iter().filter(|(_, answer)| *answer == Some(true)).map(|(url, _)| url.clone())).collect()
    }
}

/// Asks this node (off the async workers) and the listed ones (in parallel) about `file`.
pub(super) async fn holders(ctx: std::sync::Arc<StorageContext>, file: FileRef) -> RpcResult<Holders> {
    let here = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || ctx.file_of(file)?.map(|record| ctx.is_finalized(&record)).transpose())
            .await
            .map_err(|e| server_error(e.to_string()))??
    };
    let others = futures::future::join_all(ctx.indexer_nodes.iter().map(|url| async move { (url.clone(), ask_finalized(url, file).await) })).await;
    Ok(Holders { here, others })
}

/// The host of an `http(s)://host:port` URL.
pub(super) fn host_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    (!host.is_empty()).then(|| host.trim_start_matches('[').trim_end_matches(']').to_string())
}

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_method("indexer_getShardedNodes", |_, ctx, _| -> RpcResult<Value> {
        let trusted: Vec<Value> = ctx.trusted_urls()?.iter().map(|url| sharded_node(url)).collect();
        Ok(json!({ "trusted": trusted, "discovered": [] }))
    })?;
    // The Go client's selection, done here: `expectedReplica` whole copies from the trusted
    // nodes (each holds every segment: one copy each), skipping `dropped` URLs; `method` is
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
        let dropped = dropped.unwrap_or_default();
        let mut available: Vec<String> = if shard_count_ok { ctx.trusted_urls()? } else { Vec::new() };
        available.retain(|url| !dropped.contains(url));
        if method == "random" && !available.is_empty() {
            let turn = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as usize);
            let len = available.len();
            available.rotate_left(turn % len);
        }
        if replicas > available.len() as u64 {
            return Err(server_error(format!(
                "cannot select a subset from the trusted nodes that meets the replication requirement: {replicas} copies asked, {} available",
                available.len()
            )));
        }
        let trusted: Vec<Value> = available.iter().take(replicas as usize).map(|url| sharded_node(url)).collect();
        Ok(json!({ "trusted": trusted, "discovered": [] }))
    })?;
    module.register_method("indexer_getNodeLocations", |_, _, _| -> RpcResult<Value> { Ok(json!({})) })?;
    // The nodes holding the file (finalized there); "file not found" when none knows it, as
    // 0G's indexer answers.
    module.register_async_method("indexer_getFileLocations", |params, ctx, _| async move {
        let (root,): (String,) = params.parse()?;
        let root: B256 = root.parse().map_err(|_| invalid_params(format!("{root:.80} is not a 32-byte data root")))?;
        let holders = holders(ctx.clone(), FileRef::Root(root)).await?;
        if !holders.known() {
            return Err(server_error("file not found"));
        }
        let holding: Vec<Value> = holders.urls(ctx.own_url()?).iter().map(|url| sharded_node(url)).collect();
        Ok::<Value, jsonrpsee::types::ErrorObjectOwned>(Value::Array(holding))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn hosts_come_out_of_urls_and_junk_gives_none() {
        assert_eq!(host_of("http://127.0.0.1:5678").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("https://node.example:443/rpc").as_deref(), Some("node.example"));
        assert_eq!(host_of("http://[::1]:5678").as_deref(), Some("::1"));
        assert_eq!(host_of("http://example").as_deref(), Some("example"));
        assert_eq!(host_of("ftp://x:1"), None);
        assert_eq!(host_of("http://:5678"), None);
    }
}
