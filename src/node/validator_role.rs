//! The validator role: the consensus engine, validator set and network inbox in the world, and
//! the QUIC network beside it. What a validator's config may not ask for is refused here.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use zg_components::chain::{ChainHead, ChainSpec, Genesis};
use zg_components::consensus::{ConsensusSettings, Height, NetEvent, NetInbox, ValidatorAddress};
use zg_systems::consensus::driver::{ConsensusEngine, NetSinkHandle};
use zg_systems::consensus::engine::Engine;
use zg_systems::consensus::staking;

use super::{ConsensusSetup, INBOX_CAPACITY, Node, NodeError};
use crate::config::NodeConfig;
use crate::store::ChainStore;

/// A validator's node with its network started.
pub struct Validator {
    pub node: Node,
    pub network: crate::net::NetHandle,
    pub key: malachite_ed25519::PrivateKey,
}

/// Checks the config, loads (or creates) the node key, opens the node as a validator and starts
/// its network. Must be called inside a tokio runtime.
pub fn open_validator(config: &NodeConfig, spec: ChainSpec, genesis: &Genesis, store: ChainStore) -> Result<Validator, NodeError> {
    if config.node.ephemeral {
        // The WAL would live in memory while the key persists: after a restart this key
        // could sign a second, different vote for a height it already voted at.
        return Err(NodeError::Config(
            "--ephemeral cannot run a chain with consensus: the consensus WAL would be kept in memory while the node key \
             persists, so a restart could double sign. Use a data directory (drop --ephemeral)"
                .into(),
        ));
    }
    if config.chain.block_time_ms == 0 {
        return Err(NodeError::Config(
            "chain.block_time_ms = 0 (automine) is for the dev chain: a validator network's blocks follow consensus rounds".into(),
        ));
    }
    if config.rpc.dev_methods {
        return Err(NodeError::Config(
            "rpc.dev_methods (evm_mine, anvil_setBalance, unlocked accounts...) cannot be served on a validator network".into(),
        ));
    }
    let chain_id = spec.chain_id;
    let max_tx_bytes = spec.max_tx_bytes;
    let identity = crate::net::identity::Identity::load_or_create(&config.key_file()).map_err(crate::net::NetError::from)?;
    let key = identity.key.clone();
    let guard = crate::sign_guard::FileSignGuard::open(&crate::sign_guard::FileSignGuard::path_for(&config.key_file()))
        .map_err(|e| NodeError::Config(e.to_string()))?;
    let setup = ConsensusSetup {
        guard: Arc::new(guard),
        key: identity.key.clone(),
        timeouts: config.timeouts(),
        block_time_ms: config.chain.block_time_ms,
    };
    let (mut node, events) = Node::new_validator(spec, genesis, store, setup)?;
    let reach = Reach { listen: config.network.listen, peers: config.peers(), transport: crate::net::Transport::Udp };
    let network = start_network(&mut node, events, identity, reach, chain_id, max_tx_bytes)?;
    Ok(Validator { node, network, key })
}

/// Where a validator listens, whom it dials and over what.
pub struct Reach {
    pub listen: std::net::SocketAddr,
    pub peers: Vec<crate::net::PeerAddress>,
    pub transport: crate::net::Transport,
}

/// Starts the validator network for a node opened with [`Node::new_validator`] (`events` is the
/// inbox sender it returned) and makes it the node's network sink. Must be called inside a tokio
/// runtime (a simulated host's, under `zgnode bench wan`).
pub fn start_network(
    node: &mut Node,
    events: crossbeam_channel::Sender<NetEvent>,
    identity: crate::net::identity::Identity,
    reach: Reach,
    chain_id: u64,
    max_tx_bytes: usize,
) -> Result<crate::net::NetHandle, NodeError> {
    let validators = node.world().resource::<zg_components::consensus::ValidatorSet>().clone();
    let genesis_hash = node.world().resource::<ConsensusSettings>().genesis_hash.0;
    let network = crate::net::NetHandle::start(crate::net::NetworkSetup {
        genesis_hash,
        identity,
        listen: reach.listen,
        peers: reach.peers,
        validators,
        chain_id,
        max_tx_bytes,
        events,
        requests: node.requests(),
        store: node.store().clone(),
        transport: reach.transport,
    })?;
    node.world_mut().insert_resource(NetSinkHandle(Arc::new(network.clone())));
    Ok(network)
}

/// Adds the validator set, engine and network inbox to a world whose chain is open.
pub(super) fn install_consensus(
    world: &mut World,
    genesis: &Genesis,
    store: &ChainStore,
    setup: ConsensusSetup,
) -> Result<crossbeam_channel::Sender<NetEvent>, NodeError> {
    let params = genesis
        .consensus
        .as_ref()
        .ok_or_else(|| NodeError::Consensus("the genesis has no consensus section".into()))?;
    if !staking::is_deployed(world) {
        return Err(NodeError::Consensus(format!("the genesis has no staking contract at {}", staking::STAKING_ADDRESS)));
    }
    let set = staking::current_validator_set(world).map_err(|e| NodeError::Consensus(e.to_string()))?;
    let genesis_hash = store.block_hash(0)?.unwrap_or_default();
    let head = world.resource::<ChainHead>().number();
    let chain_id = genesis.chain_id;
    let address = ValidatorAddress::from_public_key(&setup.key.public_key());
    let voting = set.get(&address).map(|v| v.voting_power);
    tracing::info!(
        validator = %address,
        key = %hex::encode(setup.key.public_key().as_bytes()),
        voting_power = voting.unwrap_or(0),
        validators = set.validators().len(),
        "consensus: {}",
        if voting.is_some() { "this node is a validator" } else { "this node follows (not in the validator set)" }
    );
    world.insert_resource(ConsensusSettings {
        genesis_hash,
        timeouts: setup.timeouts,
        block_time_ms: setup.block_time_ms,
        status_interval_ms: 500,
        epoch_length: params.epoch_length,
        block_reward: params.block_reward,
        reward_source: genesis.reward_source().unwrap_or_default(),
    });
    let engine = Engine::new(chain_id, setup.key, Height(head + 1), set.clone(), Arc::new(store.clone())).with_sign_guard(setup.guard);
    world.insert_resource(ConsensusEngine(engine));
    world.insert_resource(set);
    let (events, inbox) = crossbeam_channel::bounded(INBOX_CAPACITY);
    world.insert_resource(NetInbox(inbox));
    Ok(events)
}
