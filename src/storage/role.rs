//! The storage role: the storage inbox and (on a validator network with erasure coding) shard
//! placement wired into the world, the storage JSON-RPC service on its own port, and the PoRA
//! miner once the node serves JSON-RPC.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use zg_components::chain::Genesis;
use zg_systems::storage::erasure::ErasureConfig;
use zg_systems::storage::flow;

use crate::config::NodeConfig;
use crate::node::role::{Assembly, Role, RoleFuture, Serving};
use crate::node::{INBOX_CAPACITY, Node, NodeError};
use crate::store::ChainStore;

/// The storage role (a node whose genesis has no Flow contract leaves it idle).
#[derive(Default)]
pub struct StorageRole {
    service: Option<StorageService>,
    /// The account answering PoRA challenges, when mining.
    pub miner_address: Option<alloy_primitives::Address>,
}

impl StorageRole {
    /// Where the storage JSON-RPC listens, once assembled.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.service.as_ref().map(|service| service.addr)
    }
}

impl Role for StorageRole {
    fn name(&self) -> &'static str {
        "storage"
    }

    fn assemble<'a>(&'a mut self, assembly: Assembly<'a>) -> RoleFuture<'a> {
        Box::pin(async move {
            if !assembly.genesis.accounts.contains_key(&flow::FLOW_ADDRESS) {
                return Ok(());
            }
            let mine = assembly.genesis.accounts.contains_key(&zg_systems::storage::pora::MINE_ADDRESS);
            let sections = assembly.rpc_state.get::<crate::rpc::node_status::StatusSections>().cloned();
            let Assembly { config, chain_id, node, network, accelerator, .. } = assembly;
            self.service = Some(start(config, chain_id, node, network, accelerator.clone(), mine, sections).await?);
            Ok(())
        })
    }

    fn serve<'a>(&'a mut self, serving: Serving<'a>) -> RoleFuture<'a> {
        Box::pin(async move {
            let (Some(service), Some(rpc_addr)) = (&self.service, serving.rpc_addr) else { return Ok(()) };
            self.miner_address = start_miner(
                serving.config,
                serving.genesis,
                rpc_addr,
                serving.store.clone(),
                serving.node_key.cloned(),
                service.shards,
                serving.chain_id,
                serving.stop.clone(),
            )?;
            Ok(())
        })
    }

    fn stop(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Some(service) = &self.service {
                service.stop_replayer();
                let _ = service.handle.stop();
                service.handle.clone().stopped().await;
            }
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Drop for StorageRole {
    fn drop(&mut self) {
        if let Some(service) = &self.service {
            service.stop_replayer();
            let _ = service.handle.stop();
        }
    }
}

/// The storage service a running node serves.
struct StorageService {
    pub addr: SocketAddr,
    pub handle: jsonrpsee::server::ServerHandle,
    /// The erasure coding of placed shards, when shards are placed over the network.
    pub shards: Option<ErasureConfig>,
    /// Stops the KV replayer thread.
    kv_stop: Arc<AtomicBool>,
    kv: crate::storage::kv::KvHandle,
}

impl StorageService {
    fn stop_replayer(&self) {
        self.kv_stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.kv.poke();
    }
}

/// Wires the storage inbox (and, on a network with erasure coding configured, shard placement)
/// into the node and starts the storage JSON-RPC service.
async fn start(
    config: &NodeConfig,
    chain_id: u64,
    node: &mut Node,
    network: Option<&crate::net::NetHandle>,
    accelerator: zg_systems::erasure::accel::Accelerator,
    mine: bool,
    sections: Option<crate::rpc::node_status::StatusSections>,
) -> Result<StorageService, NodeError> {
    let (sender, inbox) = crossbeam_channel::bounded(INBOX_CAPACITY);
    node.world_mut().insert_resource(zg_components::storage::StorageInbox(inbox));
    let shards = match (network, config.storage.erasure_data_shards, config.storage.erasure_parity_shards) {
        (Some(network), data, parity) if data > 0 && parity > 0 => {
            let setup = zg_components::storage::shard::ShardSetup {
                own: network.own_key(),
                members: network.members().to_vec(),
                data_shards: data,
                parity_shards: parity,
            };
            let coding = ErasureConfig { data_shards: data, parity_shards: parity };
            network.serve_shards(Arc::new(crate::storage::StoredShards { store: node.store().clone(), coding, events: sender.clone() }));
            let view = zg_components::storage::shard::PlacementView::default();
            node.world_mut().insert_resource(view.clone());
            let placement = crate::storage::ShardPlacement {
                network: network.clone(),
                setup: setup.clone(),
                view,
                runtime: tokio::runtime::Handle::current(),
                repairs: Default::default(),
            };
            let worker = crate::storage::ShardWorker {
                placement: placement.clone(),
                store: node.store().clone(),
                events: sender.clone(),
                place_queue: None,
                accelerator,
            }
                .with_batched_placement();
            zg_systems::storage::shards::install_sharding(node.world_mut(), setup, Arc::new(worker));
            Some(placement)
        }
        _ => None,
    };
    let rebuilt = crate::storage::RebuiltSegments::with_budget(config.storage.rebuilt_cache_mib.saturating_mul(1 << 20));
    let configured_streams = config
        .storage
        .kv_streams
        .iter()
        .map(|id| id.parse().map_err(|_| NodeError::Config(format!("storage.kv_streams: {id:.80} is not a 32-byte hex stream id"))))
        .collect::<Result<Vec<alloy_primitives::B256>, _>>()?;
    let kv = crate::storage::kv::KvHandle::new(crate::storage::kv::restore_index(node.store(), &configured_streams)?);
    let context = crate::storage::StorageContext {
        chain_id,
        store: node.store().clone(),
        events: sender,
        shards,
        rebuilt,
        network: network.cloned(),
        own_url: Default::default(),
        indexer_nodes: config.storage.indexer_nodes.clone(),
        kv: kv.clone(),
        answer_key: match &config.storage.miner_key {
            Some(key) if mine => Some(key.trim().parse().map_err(|e| NodeError::Config(format!("storage.miner_key: {e}")))?),
            _ => None,
        },
        corrupt_segments: config.storage.fault_drill_corrupt_segments,
    };
    let shards = context.shards.as_ref().map(crate::storage::ShardPlacement::config);
    if let Some(sections) = sections {
        let read = context.clone();
        sections.add("storage", move || read.status_section());
    }
    let kv_stop = Arc::new(AtomicBool::new(false));
    let replayer = crate::storage::kv::Replayer { ctx: context.clone(), kv: kv.clone(), configured: configured_streams, stop: kv_stop.clone() };
    std::thread::Builder::new()
        .name("kv-replay".into())
        .spawn(move || replayer.run())
        .map_err(|e| NodeError::Config(format!("cannot start the KV replayer thread: {e}")))?;
    let (addr, handle) =
        crate::storage::start(&config.storage, context).await.map_err(|source| NodeError::Rpc { addr: config.storage.addr, source })?;
    Ok(StorageService { addr, handle, shards, kv_stop, kv })
}

/// Starts the PoRA miner when a miner key is configured and the chain has the mine contract;
/// returns the account it answers challenges with.
#[allow(clippy::too_many_arguments)]
fn start_miner(
    config: &NodeConfig,
    genesis: &Genesis,
    rpc_addr: SocketAddr,
    store: ChainStore,
    node_key: Option<malachite_ed25519::PrivateKey>,
    shards: Option<ErasureConfig>,
    chain_id: u64,
    stop: Arc<AtomicBool>,
) -> Result<Option<alloy_primitives::Address>, NodeError> {
    let Some(key) = &config.storage.miner_key else { return Ok(None) };
    if !genesis.accounts.contains_key(&zg_systems::storage::pora::MINE_ADDRESS) {
        return Ok(None);
    }
    let key: alloy_signer_local::PrivateKeySigner =
        key.trim().parse().map_err(|e| NodeError::Config(format!("storage.miner_key: {e}")))?;
    // The miner registers this node's network key (signed by it), so its standing moves the
    // node's shards; only a node that keeps shards has one to register.
    let node_key = node_key.filter(|_| shards.is_some());
    let miner = crate::storage::miner::Miner::new(&format!("http://{rpc_addr}"), store, key, node_key, shards, chain_id, stop)
        .map_err(NodeError::MinerClient)?;
    let address = miner.address();
    tokio::spawn(miner.run());
    Ok(Some(address))
}

