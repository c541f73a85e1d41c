//! Ethereum JSON-RPC over HTTP and WebSocket on one port (jsonrpsee).
//!
//! Reads are answered from a redb read snapshot on the blocking pool; anything that needs the
//! mempool goes to the world through the inbox and waits for the next tick's reply. Nothing here
//! holds the world.

mod batches;
pub mod call;
mod dev;
pub mod error;
mod eth;
mod faults;
mod filters;
mod logs;
pub mod node_status;
mod subscribe;
pub mod role_state;
mod trace;
mod txpool;
mod types;

pub use dev::DevAccess;
pub use error::revert_reason;
pub use types::{BlockRef, CallRequest, LogFilter, quantity_of};

use alloy_primitives::B256;
use jsonrpsee::core::traits::IdProvider;
use jsonrpsee::server::{BatchRequestConfig, RpcModule, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::SubscriptionId;
use std::net::SocketAddr;
use tokio::sync::broadcast;

use zg_components::node::{NodeEvent, NodeRequest, ReplyTo};

use crate::config::{NodeConfig, RpcSection};
use crate::store::ChainReader;
use error::{RpcResult, server_error};

/// What every handler can reach.
pub struct RpcContext {
    pub chain_id: u64,
    pub reader: ChainReader,
    pub requests: crossbeam_channel::Sender<NodeRequest>,
    pub events: broadcast::Sender<NodeEvent>,
    pub limits: RpcSection,
    pub max_tx_bytes: usize,
    /// The validator network, when the chain has consensus: peer counts and sync state.
    pub network: Option<crate::net::NetHandle>,
    /// The head when this node last found itself behind its peers (eth_syncing's startingBlock).
    pub sync_start: std::sync::Mutex<Option<u64>>,
    /// `network.fault_injection`: serve zgnode_setNetFaults (test networks only).
    pub fault_injection: bool,
    /// The chain clock the world seals with: calls simulate the next block's timestamp.
    pub clock: zg_components::chain::ChainClock,
    /// The chain's precompiles, as its blocks run them: calls see the same.
    pub precompiles: zg_systems::chain::evm::PrecompileRegistry,
    /// The dev methods' unlocked accounts (`rpc.dev_methods`).
    pub dev: Option<DevAccess>,
    /// Installed polled filters.
    pub filters: filters::FilterTable,
    /// What the roles' methods keep (the DA role's node, the compute role's probes).
    pub roles: role_state::RoleState,
}

impl RpcContext {
    pub fn new(
        config: &NodeConfig,
        chain_id: u64,
        reader: ChainReader,
        requests: crossbeam_channel::Sender<NodeRequest>,
        events: broadcast::Sender<NodeEvent>,
    ) -> Self {
        Self {
            chain_id,
            reader,
            requests,
            events,
            limits: config.rpc.clone(),
            max_tx_bytes: 128 * 1024,
            network: None,
            sync_start: std::sync::Mutex::new(None),
            fault_injection: config.network.fault_injection,
            clock: Default::default(),
            precompiles: zg_systems::chain_rules(),
            dev: None,
            filters: Default::default(),
            roles: Default::default(),
        }
    }

    /// Shares the world's chain clock (see [`crate::node::Node::chain_clock`]).
    pub fn with_clock(mut self, clock: zg_components::chain::ChainClock) -> Self {
        self.clock = clock;
        self
    }

    /// Shares the world's precompile registry (see [`crate::node::Node::precompiles`]).
    pub fn with_precompiles(mut self, precompiles: zg_systems::chain::evm::PrecompileRegistry) -> Self {
        self.precompiles = precompiles;
        self
    }

    /// Serves the dev methods with these unlocked accounts.
    pub fn with_dev_accounts(mut self, signers: Vec<alloy_signer_local::PrivateKeySigner>) -> Self {
        self.dev = Some(DevAccess::new(signers));
        self
    }

    pub fn with_network(mut self, network: Option<crate::net::NetHandle>) -> Self {
        self.network = network;
        self
    }

    /// Submits a checked transaction to the pool; tells the pending filters when admitted.
    pub async fn submit(&self, envelope: alloy_consensus::TxEnvelope, sender: alloy_primitives::Address) -> RpcResult<B256> {
        let envelope = Box::new(envelope);
        let result = self.ask(|reply| NodeRequest::SubmitTransaction { envelope, sender, reply }).await?;
        let hash = result.map_err(|e| server_error(e.to_string()))?;
        self.filters.pending_arrived(hash);
        Ok(hash)
    }

    /// Sends a request to the world and waits for the tick that answers it.
    pub async fn ask<T: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> NodeRequest,
    ) -> RpcResult<T> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = make(ReplyTo::new(move |value| {
            let _ = sender.send(value);
        }));
        self.requests.try_send(request).map_err(|error| match error {
            crossbeam_channel::TrySendError::Full(_) => server_error("node is busy: too many pending requests, retry later"),
            crossbeam_channel::TrySendError::Disconnected(_) => server_error("node is shutting down"),
        })?;
        receiver.await.map_err(|_| server_error("node is shutting down"))
    }
}

/// Subscription ids as geth writes them: 0x-prefixed hex.
#[derive(Debug)]
struct HexIdProvider;

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        let id: B256 = B256::random();
        SubscriptionId::Str(format!("0x{}", alloy_primitives::hex::encode(&id[..16])).into())
    }
}

/// Starts the server; returns the bound address (useful with port 0) and its handle.
/// A role's JSON-RPC methods (`da_*`, `compute_*`), registered beside the Ethereum ones by
/// whoever assembles the node: this module knows only the Ethereum surface.
pub type RoleMethods = fn(&mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError>;

/// `stopping`: the node's stop flag, set before it stops this server (it ends the status page's
/// event streams, which a stopping server would otherwise wait for).
pub async fn start(
    limits: &RpcSection,
    context: RpcContext,
    roles: &[RoleMethods],
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<(SocketAddr, ServerHandle), crate::rpc::error::ServerStartError> {
    let fault_injection = context.fault_injection;
    let mut module = RpcModule::new(context);
    eth::register(&mut module)?;
    call::register(&mut module)?;
    dev::register(&mut module)?;
    logs::register(&mut module)?;
    filters::register(&mut module)?;
    txpool::register(&mut module)?;
    trace::register(&mut module)?;
    subscribe::register(&mut module)?;
    node_status::register(&mut module)?;
    for register in roles {
        register(&mut module)?;
    }
    if fault_injection {
        faults::register(&mut module)?;
    }
    let config = ServerConfig::builder()
        .max_connections(limits.max_connections)
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
        .set_id_provider(HexIdProvider)
        .build();
    let max_response_bytes = limits.max_response_bytes as usize;
    let middleware = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(move |service| batches::ConcurrentBatches { service, max_response_bytes });
    // The status page answers its own GET paths and passes everything else on; off, the layer
    // is there but answers nothing itself.
    let status = limits.status_page.then(|| crate::status::StatusLayer::new(module.clone(), stopping));
    let server = Server::builder()
        .set_config(config)
        .set_rpc_middleware(middleware)
        .set_http_middleware(tower::ServiceBuilder::new().option_layer(status))
        .build(limits.addr)
        .await
        ?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module)))
}
