//! The DA role: a [`DaNode`] over the node's store, network and handle, serving its peers' DA
//! requests and, when configured, 0G's disperser gRPC service.

use alloy_signer_local::PrivateKeySigner;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zg_components::da::DaView;

use super::{Node, NodeError};
use crate::store::ChainStore;
use crate::config::NodeConfig;
use crate::da::{DaNode, DaSetup};

/// The DA role of a running node.
pub(super) struct DaService {
    pub node: Arc<DaNode>,
    pub grpc_addr: Option<SocketAddr>,
    /// Dropping it stops the gRPC service.
    pub grpc_stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Starts the DA role when the genesis has the entrance and the config enables it. A validator
/// signs attestations with its network key; a chain without consensus with the dev signer.
pub(super) async fn start(
    config: &NodeConfig,
    chain_id: u64,
    node: &Node,
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
    let da = Arc::new(DaNode::new(DaSetup {
        chain_id,
        store: node.store().clone(),
        accelerator,
        signer: node_key.unwrap_or_else(crate::da::dev_signer),
        network: network.cloned(),
        view,
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

/// Rebuilds the DA blob entities a previous run had: the kept records, brought up to the head
/// by the entrance events of the blocks after them (and written back when that changed them).
pub(super) fn restore_blobs(world: &mut bevy_ecs::world::World, store: &ChainStore) -> Result<(), NodeError> {
    let head = world.resource::<zg_components::chain::ChainHead>().number();
    let (kept, indexed) = store.da_blobs()?;
    let snapshot = store.reader().snapshot()?;
    let mut failure = None;
    let logs_of = |number: u64| match snapshot.block_receipts(number) {
        Ok(receipts) => receipts.into_iter().flat_map(|receipt| receipt.logs).collect(),
        Err(error) => {
            failure.get_or_insert(error);
            Vec::new()
        }
    };
    let blobs = zg_systems::da::blobs::replay_entrance_events(kept, indexed, head, logs_of);
    if let Some(error) = failure {
        return Err(error.into());
    }
    if indexed != Some(head) {
        store.write_da_blobs(&blobs.values().cloned().collect::<Vec<_>>(), head)?;
    }
    if !blobs.is_empty() {
        tracing::info!(blobs = blobs.len(), head, "restored the DA blobs");
    }
    zg_systems::da::blobs::install_blobs(world, blobs);
    Ok(())
}
