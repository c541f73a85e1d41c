//! The `admin_*` methods of 0G's storage node that its indexer and tools ask about files:
//! `admin_findFile`, `admin_getFileLocation`, `admin_getSyncStatus`; and about the node's
//! network: `admin_getNetworkInfo`, `admin_getPeers` (the validator network's QUIC peers, keyed
//! by their network keys; a dev node has none). A zgnode does not sync
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
    module.register_method("admin_getNetworkInfo", |_, ctx, _| -> RpcResult<Value> {
        let Some(network) = &ctx.network else {
            return Ok(json!({
                "peerId": "", "listenAddresses": [], "totalPeers": 0, "bannedPeers": 0, "disconnectedPeers": 0,
                "connectedPeers": 0, "connectedOutgoingPeers": 0, "connectedIncomingPeers": 0,
            }));
        };
        let peers = network.peers();
        let connected = peers.iter().filter(|p| p.address.is_some()).count();
        Ok(json!({
            "peerId": peer_id(&network.own_key()),
            "listenAddresses": [multiaddr(network.local_addr())],
            "totalPeers": peers.len(),
            "bannedPeers": peers.iter().filter(|p| p.banned).count(),
            "disconnectedPeers": peers.len() - connected,
            "connectedPeers": connected,
            // QUIC links are one per pair whoever dialed; the direction is not kept.
            "connectedOutgoingPeers": 0,
            "connectedIncomingPeers": 0,
        }))
    })?;
    module.register_method("admin_getPeers", |_, ctx, _| -> RpcResult<Value> {
        let Some(network) = &ctx.network else { return Ok(json!({})) };
        let peers: serde_json::Map<String, Value> = network
            .peers()
            .into_iter()
            .map(|peer| {
                let status = if peer.banned { "banned" } else if peer.address.is_some() { "connected" } else { "disconnected" };
                let info = json!({
                    "client": { "version": env!("CARGO_PKG_VERSION"), "os": std::env::consts::OS, "protocol": "zgnode/quic", "agent": "zgnode" },
                    "connectionStatus": { "status": status, "connectionsIn": 0, "connectionsOut": u8::from(peer.address.is_some()), "lastSeenSecs": 0 },
                    "listeningAddresses": peer.address.map(multiaddr).into_iter().collect::<Vec<_>>(),
                    "seenIps": peer.address.map(|a| a.ip().to_string()).into_iter().collect::<Vec<_>>(),
                    "isTrusted": peer.configured,
                    "connectionDirection": "",
                    "latencyMs": peer.latency_ms(),
                    "enr": "",
                });
                (peer_id(&peer.key), info)
            })
            .collect();
        Ok(Value::Object(peers))
    })?;
    Ok(())
}

fn peer_id(key: &[u8; 32]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(key))
}

/// A QUIC address the way libp2p writes one.
fn multiaddr(addr: std::net::SocketAddr) -> String {
    let family = if addr.is_ipv4() { "ip4" } else { "ip6" };
    format!("/{family}/{}/udp/{}/quic-v1", addr.ip(), addr.port())
}
