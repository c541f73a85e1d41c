//! A node with its driver thread, JSON-RPC server and, per its config, the validator and
//! storage roles running: what `zgnode dev` and `zgnode run` start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::broadcast;

use zg_components::chain::Genesis;
use zg_components::node::NodeEvent;
use zg_systems::chain::io::EventSink;
use zg_systems::storage::flow;

use super::{Node, NodeError, driver, storage_role, validator_role};
use crate::config::NodeConfig;
use crate::rpc::{self, RpcContext};
use crate::store::{ChainStore, StoreError};

/// Forwards node events into a tokio broadcast channel for RPC subscriptions.
struct BroadcastSink(broadcast::Sender<NodeEvent>);

impl EventSink for BroadcastSink {
    fn publish(&self, event: NodeEvent) {
        // No subscriber is fine: nobody is listening.
        let _ = self.0.send(event);
    }
}

/// A node with its driver thread and JSON-RPC server running.
/// A node with its driver thread and JSON-RPC server running.
pub struct RunningNode {
    pub rpc_addr: SocketAddr,
    pub chain_id: u64,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<Result<(), NodeError>>>,
    rpc: jsonrpsee::server::ServerHandle,
    events: broadcast::Sender<NodeEvent>,
    network: Option<crate::net::NetHandle>,
    /// The storage JSON-RPC address, when the storage role is on.
    pub storage_addr: Option<SocketAddr>,
    storage_rpc: Option<jsonrpsee::server::ServerHandle>,
    /// The account answering PoRA challenges, when mining.
    pub miner_address: Option<alloy_primitives::Address>,
}

impl RunningNode {
    /// Opens the database, restores or creates the chain, and starts ticking and serving RPC.
    /// Must be called inside a tokio runtime. The roles, in order: the chain (always), the
    /// validator role when the genesis has consensus, the storage role when configured and the
    /// chain has the Flow contract, JSON-RPC, the driver thread, and the PoRA miner.
    pub async fn start(config: &NodeConfig, genesis: &Genesis) -> Result<Self, NodeError> {
        let store = open_store(config)?;
        let spec = super::chain_spec(config, genesis);
        let chain_id = spec.chain_id;
        let (mut node, network, node_key) = if genesis.consensus.is_some() {
            let validator = validator_role::open(config, spec, genesis, store)?;
            (validator.node, Some(validator.network), Some(validator.key))
        } else {
            (Node::new(spec, genesis, store)?, None, None)
        };
        let (events, _) = broadcast::channel(1024);
        node.set_event_sink(Arc::new(BroadcastSink(events.clone())));

        // One flag stops the tick thread and the storage node's background tasks.
        let stop = Arc::new(AtomicBool::new(false));
        let storage = if config.storage.enabled && genesis.accounts.contains_key(&flow::FLOW_ADDRESS) {
            Some(storage_role::start(config, chain_id, &mut node, network.as_ref()).await?)
        } else {
            None
        };
        let store_for_miner = node.store().clone();
        let (rpc_addr, rpc) = start_rpc(config, chain_id, &node, &events, network.clone()).await?;
        let driver = driver::spawn(node, Duration::from_millis(config.node.tick_ms), stop.clone())?;
        let miner_address = match &storage {
            Some(service) => storage_role::start_miner(
                config,
                genesis,
                rpc_addr,
                store_for_miner,
                node_key,
                service.shards,
                chain_id,
                stop.clone(),
            )?,
            None => None,
        };
        let storage_addr = storage.as_ref().map(|service| service.addr);
        let storage_rpc = storage.map(|service| service.handle);
        Ok(Self { rpc_addr, chain_id, stop, driver: Some(driver), rpc, events, network, storage_addr, storage_rpc, miner_address })
    }

    /// The validator network, on a chain with consensus.
    pub fn network(&self) -> Option<&crate::net::NetHandle> {
        self.network.as_ref()
    }

    /// Blocks as they are persisted, for embedders and benchmarks.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc_addr)
    }

    /// Whether the driver stopped by itself (a fault).
    pub fn is_finished(&self) -> bool {
        self.driver.as_ref().is_none_or(|d| d.is_finished())
    }

    /// Stops ticking and serving; returns the driver's fault if it had one.
    pub async fn stop(mut self) -> Result<(), NodeError> {
        self.shutdown().await
    }

    async fn shutdown(&mut self) -> Result<(), NodeError> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(network) = &self.network {
            network.close();
        }
        if let Some(storage) = &self.storage_rpc {
            let _ = storage.stop();
            storage.clone().stopped().await;
        }
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        match self.driver.take() {
            Some(driver) => tokio::task::spawn_blocking(move || driver.join())
                .await
                .map_err(|e| NodeError::Fault(e.to_string()))?
                .map_err(|_| NodeError::Fault("the tick thread panicked".into()))?,
            None => Ok(()),
        }
    }

    /// Waits until the driver stops by itself (it only does on a fault).
    pub async fn wait(&mut self) -> Result<(), NodeError> {
        while !self.is_finished() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shutdown().await
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(storage) = &self.storage_rpc {
            let _ = storage.stop();
        }
        if let Some(network) = &self.network {
            network.close();
        }
        let _ = self.rpc.stop();
    }
}

/// The chain database: in memory with `--ephemeral`, else `chain.redb` in the data directory.
fn open_store(config: &NodeConfig) -> Result<ChainStore, NodeError> {
    let store = if config.node.ephemeral {
        ChainStore::in_memory()?
    } else {
        std::fs::create_dir_all(&config.node.data_dir).map_err(|e| StoreError::Corrupt {
            what: "data directory",
            detail: format!("{}: {e}", config.node.data_dir.display()),
        })?;
        ChainStore::open(&config.node.data_dir.join("chain.redb"))?
    };
    Ok(store.with_history(config.history_policy()))
}

/// The Ethereum JSON-RPC server over the node's store, inbox and events (with the dev accounts
/// unlocked when dev methods are on).
async fn start_rpc(
    config: &NodeConfig,
    chain_id: u64,
    node: &Node,
    events: &broadcast::Sender<NodeEvent>,
    network: Option<crate::net::NetHandle>,
) -> Result<(SocketAddr, jsonrpsee::server::ServerHandle), NodeError> {
    let context = RpcContext::new(config, chain_id, node.store().reader(), node.requests(), events.clone())
        .with_network(network)
        .with_clock(node.chain_clock());
    let context = if config.rpc.dev_methods {
        let signers = crate::dev::dev_accounts()
            .iter()
            .filter_map(|account| alloy_signer_local::PrivateKeySigner::from_bytes(&account.private_key).ok())
            .collect();
        context.with_dev_accounts(signers)
    } else {
        context
    };
    rpc::start(&config.rpc, context).await.map_err(|source| NodeError::Rpc { addr: config.rpc.addr, source })
}
