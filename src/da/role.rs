//! The DA role: a [`DaNode`] over the node's store, network and handle, serving its peers' DA
//! requests, the `da_*` JSON-RPC methods and, when configured, 0G's disperser gRPC service.

use alloy_signer_local::PrivateKeySigner;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zg_components::da::DaView;

use crate::config::NodeConfig;
use crate::da::{DaNode, DaSetup};
use crate::node::role::{Assembly, Role, RoleFuture};
use crate::node::{Node, NodeError};

/// The DA role: its methods answer on every node ("this node does not run the DA role" where
/// the config or the chain leaves it off); the rest runs where the genesis has the entrance and
/// the config enables it.
#[derive(Default)]
pub struct DaRole {
    service: Option<DaService>,
}

impl DaRole {
    /// The DA node (blob submission, status, retrieval, sampling), when it runs.
    pub fn node(&self) -> Option<Arc<DaNode>> {
        self.service.as_ref().map(|service| service.node.clone())
    }

    /// Where the disperser gRPC service listens, when served.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.service.as_ref().and_then(|service| service.grpc_addr)
    }
}

impl Role for DaRole {
    fn name(&self) -> &'static str {
        "da"
    }

    fn assemble<'a>(&'a mut self, assembly: Assembly<'a>) -> RoleFuture<'a> {
        Box::pin(async move {
            assembly.rpc_methods.push(crate::da::rpc::register);
            let service = start(assembly.config, assembly.chain_id, assembly.node, assembly.network, assembly.node_key.cloned(), assembly.accelerator.clone()).await?;
            if let Some(service) = &service {
                assembly.rpc_state.insert(service.node.clone());
                if let Some(sections) = assembly.rpc_state.get::<crate::rpc::node_status::StatusSections>() {
                    let node = service.node.clone();
                    sections.add("da", move || node.status_section());
                }
            }
            self.service = service;
            Ok(())
        })
    }

    fn stop(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        // Dropping the sender stops the gRPC service.
        if let Some(service) = &mut self.service {
            service.grpc_stop.take();
        }
        Box::pin(async {})
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The DA role of a running node.
struct DaService {
    pub node: Arc<DaNode>,
    pub grpc_addr: Option<SocketAddr>,
    /// Dropping it stops the gRPC service.
    pub grpc_stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Starts the DA role when the genesis has the entrance and the config enables it. A validator
/// signs attestations with its network key; a chain without consensus with the dev signer.
async fn start(
    config: &NodeConfig,
    chain_id: u64,
    node: &mut Node,
    network: Option<&crate::net::NetHandle>,
    node_key: Option<malachite_ed25519::PrivateKey>,
    accelerator: zg_systems::erasure::accel::Accelerator,
) -> Result<Option<DaService>, NodeError> {
    if !config.da.enabled || !zg_systems::da::entrance::is_deployed(node.world()) {
        return Ok(None);
    }
    if !zg_systems::da::entrance::is_current(node.world()) {
        tracing::error!(
            "the DA entrance in this chain's state predates this node (no submitBlobs/kOf: a data directory from an older zgnode); \
             the DA role is off. Start with a fresh data directory to use DA"
        );
        return Ok(None);
    }
    let (tokens_per_vote, fixed_signers) = zg_systems::da::entrance::signer_rules(node.world())
        .ok_or_else(|| NodeError::Config("the genesis's DA entrance does not answer for its signers".into()))?;
    let disperser: Option<PrivateKeySigner> = match &config.da.disperser_key {
        Some(key) => Some(key.trim().parse().map_err(|e| NodeError::Config(format!("da.disperser_key: {e}")))?),
        None => None,
    };
    let sampler: Option<PrivateKeySigner> = match &config.da.sampler_key {
        Some(key) => Some(key.trim().parse().map_err(|e| NodeError::Config(format!("da.sampler_key: {e}")))?),
        None => None,
    };
    let view = node.world().get_resource::<DaView>().cloned().unwrap_or_default();
    // Bounded: phases arrive a few per dispersal; a stalled tick refuses them (logged) rather
    // than growing memory.
    let (phase_reports, reports) = crossbeam_channel::bounded(crate::node::INBOX_CAPACITY);
    node.world_mut().insert_resource(zg_components::da::DispersalReports(reports));
    let da = Arc::new(DaNode::new(DaSetup {
        chain_id,
        store: node.store().clone(),
        accelerator,
        signer: node_key.unwrap_or_else(crate::da::dev_signer),
        network: network.cloned(),
        view,
        phase_reports,
        fixed_signers,
        tokens_per_vote,
        handle: node.handle_with(disperser.iter().chain(sampler.iter()).cloned().collect()),
        disperser: disperser.map(|key| key.address()),
        sampler: sampler.map(|key| key.address()),
        attest_timeout: Duration::from_secs(config.da.attest_timeout_secs),
        submissions: crate::da::Submissions::new(
            Some(config.rpc.addr),
            config.da.grpc_addr,
            crate::da::SubmissionRules {
                public: config.da.public_submissions,
                max_concurrent: config.da.max_concurrent_dispersals,
                api_keys: config.da.api_keys.clone(),
                per_client_hour: config.da.blobs_per_client_hour,
            },
        ),
    }));
    if let Some(network) = network {
        network.serve_da(da.clone());
    }
    da.start_sampler();
    da.start_maintenance();
    let (grpc_addr, grpc_stop) = match config.da.grpc_addr {
        Some(addr) => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let bound = crate::da::grpc::serve(addr, da.clone(), async move {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| NodeError::Config(format!("da.grpc_addr {addr}: {e}")))?;
            (Some(bound), Some(stop))
        }
        None => (None, None),
    };
    Ok(Some(DaService { node: da, grpc_addr, grpc_stop }))
}

