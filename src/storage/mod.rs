//! The storage node role: 0G's storage JSON-RPC (`zgs_*`) on its own port, over the files the
//! chain published and the segments uploaded for them (`../shared/0g/storage-sdk.md` §4).
//!
//! An uploaded segment is checked against the file's on-chain root with its Merkle proof (the
//! flow padding added here, as the SDK leaves it out), then committed to redb before the call
//! returns. A file is reported finalized only when every data segment is held, or (with erasure
//! coding) a shard of every segment reached this node.

mod cache;
mod file_bytes;
pub mod client;
mod admin;
mod contracts;
mod flow_rpc;
mod indexer;
pub mod kv;
pub mod miner;
pub mod restore;
pub mod role;
mod tables;
mod rpc;
pub use rpc::{SegmentUpload, check_upload};
mod shards;
mod signed_answers;
mod status;

pub use cache::{Rebuilt, RebuiltSegments};
pub use shards::{ShardPlacement, ShardWorker, StoredShards, cut_shards, decode_checked, shard_checks_out};
/// Segments the shard worker codes in one batch.
pub use shards::place_batch::MAX_BATCH as SHARD_BATCH_SEGMENTS;

pub use contracts::{MINE_REWARD_POOL_TOKENS, dev_mine_params, mine_account, storage_contracts};

use jsonrpsee::server::{RpcModule, Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;

use zg_components::storage::StorageEvent;

use crate::config::StorageSection;
use crate::store::ChainStore;

/// What the handlers reach.
#[derive(Clone)]
pub struct StorageContext {
    pub chain_id: u64,
    pub store: ChainStore,
    pub events: crossbeam_channel::Sender<StorageEvent>,
    /// Erasure coding across the validator network's nodes, when configured.
    pub shards: Option<ShardPlacement>,
    /// Segments rebuilt for downloads (erasure coding only).
    pub rebuilt: RebuiltSegments,
    /// The validator network, when the chain has one (connected peers for zgs_getStatus).
    pub network: Option<crate::net::NetHandle>,
    /// `http://<bound address>`, set once the service listens (the indexer lists it).
    pub own_url: std::sync::Arc<std::sync::OnceLock<String>>,
    /// The other storage nodes the indexer lists (`storage.indexer_nodes`).
    pub indexer_nodes: Vec<String>,
    /// The KV layer's index (its replayer started by the storage role).
    pub kv: kv::KvHandle,
    /// The miner key this node stakes with, when the chain has the PoRA mine: it signs the
    /// segments the node serves (`zgs_downloadSegmentWithProofSigned`), so a corrupted one is
    /// evidence against its stake.
    pub answer_key: Option<alloy_signer_local::PrivateKeySigner>,
    /// `storage.fault_drill_corrupt_segments`.
    pub corrupt_segments: bool,
}

/// Starts the storage JSON-RPC server; returns the bound address and its handle.
pub async fn start(section: &StorageSection, context: StorageContext) -> Result<(SocketAddr, ServerHandle), crate::rpc::error::ServerStartError> {
    let config = ServerConfig::builder()
        .max_request_body_size(section.max_request_bytes)
        .max_response_body_size(section.max_request_bytes)
        .max_connections(section.max_connections)
        .build();
    let server = Server::builder().set_config(config).build(section.addr).await?;
    let addr = server.local_addr()?;
    // Listening on every interface: clients on this machine reach it on loopback.
    let reachable = if addr.ip().is_unspecified() { SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port()) } else { addr };
    let _ = context.own_url.set(format!("http://{reachable}"));
    let mut module = RpcModule::new(context);
    rpc::register(&mut module)?;
    indexer::register(&mut module)?;
    admin::register(&mut module)?;
    kv::register(&mut module)?;
    flow_rpc::register(&mut module)?;
    signed_answers::register(&mut module)?;
    Ok((addr, server.start(module)))
}
