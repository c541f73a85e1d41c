//! A node with its driver thread, JSON-RPC server and, per its config, the validator network
//! and its service roles running: what `zgnode dev` and `zgnode run` start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::broadcast;

use zg_components::node::NodeEvent;

use crate::compute::role::ComputeRole;
use crate::da::role::DaRole;
use crate::node::events::EventHub;
use crate::node::role::{Role, find_role};
use crate::node::{NodeError, NodeHandle};
use crate::storage::role::StorageRole;

/// What `NodeBuilder::start` started, handed over in one piece.
pub(super) struct Parts {
    pub chain_id: u64,
    pub stop: Arc<AtomicBool>,
    pub driver: JoinHandle<Result<(), NodeError>>,
    pub rpc: Option<(SocketAddr, jsonrpsee::server::ServerHandle)>,
    pub hub: Arc<EventHub>,
    pub handle: NodeHandle,
    pub network: Option<crate::net::NetHandle>,
    pub roles: Vec<Box<dyn Role>>,
    pub prover: Option<zg_systems::verifiable::jobs::ProverHandle>,
}

/// A node with its driver thread and, per the roles it was built with, JSON-RPC, the validator
/// network and the storage service running.
pub struct RunningNode {
    /// The JSON-RPC address, when JSON-RPC is on.
    pub rpc_addr: Option<SocketAddr>,
    pub chain_id: u64,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<Result<(), NodeError>>>,
    rpc: Option<jsonrpsee::server::ServerHandle>,
    hub: Arc<EventHub>,
    handle: NodeHandle,
    network: Option<crate::net::NetHandle>,
    /// The storage JSON-RPC address, when the storage role is on.
    pub storage_addr: Option<SocketAddr>,
    /// The account answering PoRA challenges, when mining.
    pub miner_address: Option<alloy_primitives::Address>,
    /// The disperser gRPC address, when served.
    pub da_grpc_addr: Option<SocketAddr>,
    /// Proof jobs run by this node's tick (off it, on the rayon pool), when the chain has the
    /// verifiable-compute contracts.
    prover: Option<zg_systems::verifiable::jobs::ProverHandle>,
    /// The service roles, in the order they joined (stopped last first).
    roles: Vec<Box<dyn Role>>,
}

impl RunningNode {
    pub(super) fn assemble(parts: Parts) -> Self {
        let (rpc_addr, rpc) = match parts.rpc {
            Some((addr, handle)) => (Some(addr), Some(handle)),
            None => (None, None),
        };
        let storage = find_role::<StorageRole>(&parts.roles);
        let storage_addr = storage.and_then(StorageRole::addr);
        let miner_address = storage.and_then(|role| role.miner_address);
        let da_grpc_addr = find_role::<DaRole>(&parts.roles).and_then(DaRole::grpc_addr);
        Self {
            rpc_addr,
            chain_id: parts.chain_id,
            stop: parts.stop,
            driver: Some(parts.driver),
            rpc,
            hub: parts.hub,
            handle: parts.handle,
            network: parts.network,
            storage_addr,
            miner_address,
            da_grpc_addr,
            prover: parts.prover,
            roles: parts.roles,
        }
    }

    /// The first service role of type `R` this node runs (e.g. `role::<DaRole>()`).
    pub fn role<R: Role>(&self) -> Option<&R> {
        find_role::<R>(&self.roles)
    }

    /// The names of the service roles, in the order they joined.
    pub fn role_names(&self) -> Vec<&'static str> {
        self.roles.iter().map(|role| role.name()).collect()
    }

    /// The built-in compute provider (the compute role), when it runs.
    pub fn compute(&self) -> Option<&crate::compute::provider::ProviderHandle> {
        self.role::<ComputeRole>()?.provider()
    }

    /// Why the built-in compute provider asked for did not start.
    pub fn compute_failure(&self) -> Option<&anyhow::Error> {
        self.role::<ComputeRole>()?.provider_failure()
    }

    /// Submits proof jobs to this node's tick (the built-in verifiable provider uses it).
    pub fn prover(&self) -> Option<zg_systems::verifiable::jobs::ProverHandle> {
        self.prover.clone()
    }

    /// The DA role (blob submission, status, retrieval, sampling), when on.
    pub fn da(&self) -> Option<Arc<crate::da::DaNode>> {
        self.role::<DaRole>()?.node()
    }

    /// The typed handle on this node (signing for the dev accounts on a dev chain).
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// The validator network, on a chain with consensus.
    pub fn network(&self) -> Option<&crate::net::NetHandle> {
        self.network.as_ref()
    }

    /// Blocks as they are persisted, untyped (what JSON-RPC subscriptions read; hosts want
    /// [`NodeHandle::blocks`]).
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.hub.broadcast().subscribe()
    }

    /// `http://<addr>` when JSON-RPC is on.
    pub fn rpc_url(&self) -> Option<String> {
        self.rpc_addr.map(|addr| format!("http://{addr}"))
    }

    /// `ws://<addr>` when JSON-RPC is on.
    pub fn ws_url(&self) -> Option<String> {
        self.rpc_addr.map(|addr| format!("ws://{addr}"))
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
        // The roles (the provider is the node's client) stop first, the last to join first.
        for role in self.roles.iter_mut().rev() {
            role.stop().await;
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(network) = &self.network {
            network.close();
        }
        if let Some(rpc) = &self.rpc {
            let _ = rpc.stop();
            rpc.clone().stopped().await;
        }
        let result = match self.driver.take() {
            Some(driver) => tokio::task::spawn_blocking(move || driver.join())
                .await?
                .map_err(|_| NodeError::TickThreadPanicked)?,
            None => Ok(()),
        };
        self.hub.close();
        result
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
        // Each role's own drop stops what it serves.
        self.roles.clear();
        if let Some(network) = &self.network {
            network.close();
        }
        if let Some(rpc) = &self.rpc {
            let _ = rpc.stop();
        }
        self.hub.close();
    }
}
