//! The node: one `World`, one tick `Schedule`, the database, and the loop that drives them.
//!
//! [`Node`] is the in-process core (a game studio can tick it from its own loop);
//! [`RunningNode`] adds the driver thread, JSON-RPC server and metrics, as `zgnode dev` runs it.

use alloy_consensus::Header;
use alloy_primitives::B256;
use bevy_ecs::prelude::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

use zg_components::chain::{ChainHead, ChainSpec, Genesis, GenesisError};
use zg_components::node::{Inbox, NodeEvent, NodeRequest, TickClock, TickProfile};
use zg_systems::chain::io::{BlockStoreHandle, EventSink, EventSinkHandle, NodeFault};
use zg_components::consensus::{ConsensusSettings, Height, NetEvent, NetInbox, ValidatorAddress};
use zg_systems::chain::{ChainPlugin, genesis};
use zg_systems::consensus::driver::{ConsensusEngine, NetSinkHandle};
use zg_systems::consensus::engine::Engine;
use zg_systems::consensus::{ConsensusPlugin, staking};
use zg_systems::storage::{FileStoreHandle, StoragePlugin, flow};
use zg_systems::{NodePlugin, tick_schedule};

use crate::config::NodeConfig;
use crate::rpc::{self, RpcContext};
use crate::store::{ChainStore, RestoreError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    #[error(
        "the data directory holds a different chain (genesis {stored}, chain id {stored_chain_id:?}; \
         configured: genesis {configured}, chain id {configured_chain_id}); \
         use another --data-dir or the genesis it was created with"
    )]
    GenesisMismatch { stored: B256, stored_chain_id: Option<u64>, configured: B256, configured_chain_id: u64 },
    #[error("node stopped: {0}")]
    Fault(String),
    #[error("cannot start JSON-RPC on {addr}: {message}")]
    Rpc { addr: SocketAddr, message: String },
    #[error("cannot read genesis {path}: {message}")]
    GenesisFile { path: String, message: String },
    #[error("consensus: {0}")]
    Consensus(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("network: {0}")]
    Net(#[from] crate::net::NetError),
}

/// What a node that takes part in consensus needs beyond a dev node.
pub struct ConsensusSetup {
    pub key: malachite_ed25519::PrivateKey,
    /// Checked before every signature (the durable last-signed record beside the key).
    pub guard: Arc<dyn zg_systems::consensus::engine::SignGuard>,
    pub timeouts: malachite_types::LinearTimeouts,
    /// The proposer's pause after a decision.
    pub block_time_ms: u64,
}

/// Requests that may wait for the next tick before new ones are refused as busy.
pub const INBOX_CAPACITY: usize = 100_000;

/// The world, its schedule and its database.
pub struct Node {
    world: World,
    schedule: Schedule,
    requests: crossbeam_channel::Sender<NodeRequest>,
    store: ChainStore,
}

impl Node {
    /// Opens the node on `store`: restores the persisted chain, or writes genesis into an empty
    /// database. Blocks come from the single producer.
    pub fn new(spec: ChainSpec, genesis: &Genesis, store: ChainStore) -> Result<Self, NodeError> {
        Self::open(spec, genesis, store, None).map(|(node, _)| node)
    }

    /// Opens a node whose blocks are decided by BFT consensus with the validators the genesis
    /// staking contract names. Returns the sender the network delivers validator messages to.
    pub fn new_validator(
        spec: ChainSpec,
        genesis: &Genesis,
        store: ChainStore,
        setup: ConsensusSetup,
    ) -> Result<(Self, crossbeam_channel::Sender<NetEvent>), NodeError> {
        let (node, events) = Self::open(spec, genesis, store, Some(setup))?;
        Ok((node, events.expect("consensus nodes get a network inbox")))
    }

    fn open(
        spec: ChainSpec,
        genesis: &Genesis,
        store: ChainStore,
        consensus: Option<ConsensusSetup>,
    ) -> Result<(Self, Option<crossbeam_channel::Sender<NetEvent>>), NodeError> {
        let mut world = World::new();
        world.insert_resource(spec);
        let mut plugins: Vec<&dyn NodePlugin> = vec![&ChainPlugin];
        if consensus.is_some() {
            plugins.push(&ConsensusPlugin);
        }
        let storage = genesis.accounts.contains_key(&flow::FLOW_ADDRESS);
        if storage {
            plugins.push(&StoragePlugin);
        }
        let schedule = tick_schedule(&mut world, &plugins);
        // Bounded, so a flood of requests is refused at the door instead of growing memory.
        let (requests, inbox) = crossbeam_channel::bounded(INBOX_CAPACITY);
        world.insert_resource(Inbox(inbox));
        world.insert_resource(BlockStoreHandle(Arc::new(store.clone())));

        if store.head_number()?.is_some() {
            // Check whose chain this is before loading all of its state.
            let configured = genesis_hash(genesis)?;
            let stored = store.block_hash(0)?.unwrap_or_default();
            let stored_chain_id = store.chain_id()?;
            if stored != configured || stored_chain_id != Some(genesis.chain_id) {
                return Err(NodeError::GenesisMismatch {
                    stored,
                    stored_chain_id,
                    configured,
                    configured_chain_id: genesis.chain_id,
                });
            }
            let started = Instant::now();
            if let Some((header, hash)) = crate::store::restore_into(&mut world, &store)? {
                tracing::info!(
                    head = header.number,
                    %hash,
                    accounts = world.resource::<zg_components::chain::AccountIndex>().0.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "restored the chain from disk; state root verified"
                );
            }
        } else {
            let block = genesis::build_genesis(&mut world, genesis)?;
            store.write_genesis(&block, genesis.chain_id)?;
            tracing::info!(hash = %block.hash, chain_id = genesis.chain_id, "wrote genesis");
        }
        let events = match consensus {
            Some(setup) => Some(install_consensus(&mut world, genesis, &store, setup)?),
            None => {
                world.insert_resource(crate::store::rewind::StoreRewinder::handle(&store));
                // The single producer commits block N while it executes N+1.
                let writer = zg_systems::chain::writer::BlockWriter::spawn(Arc::new(store.clone()))
                    .map_err(|e| NodeError::Fault(format!("cannot start the block writer: {e}")))?;
                world.insert_resource(writer);
                None
            }
        };
        if storage {
            world.insert_resource(FileStoreHandle(Arc::new(store.clone())));
            restore_files(&mut world, &store)?;
        }
        Ok((Self { world, schedule, requests, store }, events))
    }

    /// Runs one tick at time `now_ms` (milliseconds since the Unix epoch).
    pub fn tick(&mut self, now_ms: u64) -> Result<(), NodeError> {
        {
            let mut clock = self.world.resource_mut::<TickClock>();
            clock.tick += 1;
            clock.now_ms = now_ms;
        }
        self.schedule.run(&mut self.world);
        match &self.world.resource::<NodeFault>().0 {
            Some(fault) => Err(NodeError::Fault(fault.clone())),
            None => Ok(()),
        }
    }

    pub fn set_event_sink(&mut self, sink: Arc<dyn EventSink>) {
        self.world.insert_resource(EventSinkHandle(sink));
    }

    pub fn requests(&self) -> crossbeam_channel::Sender<NodeRequest> {
        self.requests.clone()
    }

    /// The chain clock block timestamps come from, shared with RPC and dev controls.
    pub fn chain_clock(&self) -> zg_components::chain::ChainClock {
        self.world.get_resource::<zg_components::chain::ChainClock>().cloned().unwrap_or_default()
    }

    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The tick schedule, for embedders that add their own systems.
    pub fn schedule_mut(&mut self) -> &mut Schedule {
        &mut self.schedule
    }

    pub fn head(&self) -> (Header, B256) {
        let head = self.world.resource::<ChainHead>();
        (head.header.clone(), head.hash)
    }
}

/// Loads the published files and PoRA miner records into the world, and reads the `Submit` and
/// PoRA events of blocks persisted after they were last recorded (a crash between the two writes
/// loses nothing).
fn restore_files(world: &mut World, store: &ChainStore) -> Result<(), NodeError> {
    let head = world.resource::<ChainHead>().number();
    let indexed = store.storage_indexed()?;
    let snapshot = store.reader().snapshot()?;
    let mut miners = store.miner_records()?;
    let mut late = Vec::new();
    let mut changed = Vec::new();
    for number in indexed.map(|n| n + 1).unwrap_or(0)..=head {
        for receipt in snapshot.block_receipts(number)? {
            late.extend(receipt.logs.iter().filter_map(|log| flow::decode_submit(log, number)));
            let events = receipt.logs.iter().filter_map(zg_systems::storage::shards::decode_miner_event);
            changed.extend(events.filter_map(|event| zg_systems::storage::shards::apply_miner_event(&mut miners, event)));
        }
    }
    if indexed != Some(head) {
        store.write_files(&late, &changed, head)?;
    }
    world.insert_resource(miners);
    let files = store.files()?;
    for record in files {
        let held = store.segment_count(record.tx_seq)?;
        let finalized = held >= record.data_segments();
        // Segments held before a restart were handed out for placement then (audits and repair
        // cover any shard that did not arrive): nothing per segment is restored.
        zg_systems::storage::track_file(world, record, held, finalized);
    }
    Ok(())
}

/// Adds the validator set, engine and network inbox to a world whose chain is open.
fn install_consensus(
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

/// The hash genesis gets, computed in a scratch world.
pub fn genesis_hash(genesis: &Genesis) -> Result<B256, GenesisError> {
    let mut world = World::new();
    let plugins: [&dyn NodePlugin; 1] = [&ChainPlugin];
    let _ = tick_schedule(&mut world, &plugins);
    Ok(genesis::build_genesis(&mut world, genesis)?.hash)
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// Forwards node events into a tokio broadcast channel for RPC subscriptions.
struct BroadcastSink(broadcast::Sender<NodeEvent>);

impl EventSink for BroadcastSink {
    fn publish(&self, event: NodeEvent) {
        // No subscriber is fine: nobody is listening.
        let _ = self.0.send(event);
    }
}

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
    /// Must be called inside a tokio runtime.
    pub async fn start(config: &NodeConfig, genesis: &Genesis) -> Result<Self, NodeError> {
        let store = if config.node.ephemeral {
            ChainStore::in_memory()?
        } else {
            std::fs::create_dir_all(&config.node.data_dir).map_err(|e| StoreError::Corrupt {
                what: "data directory",
                detail: format!("{}: {e}", config.node.data_dir.display()),
            })?;
            ChainStore::open(&config.node.data_dir.join("chain.redb"))?
        }
        .with_history(config.history_policy());
        let spec = chain_spec(config, genesis);
        let chain_id = spec.chain_id;
        let max_tx_bytes = spec.max_tx_bytes;
        let (mut node, network, node_key) = if genesis.consensus.is_some() {
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
            let identity = crate::net::identity::Identity::load_or_create(&config.key_file())
                .map_err(crate::net::NetError::from)?;
            let node_key = identity.key.clone();
            let guard = crate::sign_guard::FileSignGuard::open(&crate::sign_guard::FileSignGuard::path_for(&config.key_file()))
                .map_err(|e| NodeError::Config(e.to_string()))?;
            let setup = ConsensusSetup {
                guard: Arc::new(guard),
                key: identity.key.clone(),
                timeouts: config.timeouts(),
                block_time_ms: config.chain.block_time_ms,
            };
            let (mut node, events) = Node::new_validator(spec, genesis, store, setup)?;
            let validators = node.world().resource::<zg_components::consensus::ValidatorSet>().clone();
            let genesis_hash = node.world().resource::<zg_components::consensus::ConsensusSettings>().genesis_hash.0;
            let network = crate::net::NetHandle::start(crate::net::NetworkSetup {
                genesis_hash,
                identity,
                listen: config.network.listen,
                peers: config.peers(),
                validators,
                chain_id,
                max_tx_bytes,
                events,
                requests: node.requests(),
                store: node.store().clone(),
            })?;
            node.world_mut().insert_resource(NetSinkHandle(Arc::new(network.clone())));
            (node, Some(network), Some(node_key))
        } else {
            (Node::new(spec, genesis, store)?, None, None)
        };
        let (events, _) = broadcast::channel(1024);
        node.set_event_sink(Arc::new(BroadcastSink(events.clone())));

        // One flag stops the tick thread and the storage node's background tasks.
        let stop = Arc::new(AtomicBool::new(false));
        let mut storage_shards = None;
        let (storage_addr, storage_rpc) = if config.storage.enabled && genesis.accounts.contains_key(&flow::FLOW_ADDRESS) {
            let (sender, inbox) = crossbeam_channel::bounded(INBOX_CAPACITY);
            node.world_mut().insert_resource(zg_components::storage::StorageInbox(inbox));
            let shards = match (&network, config.storage.erasure_data_shards, config.storage.erasure_parity_shards) {
                (Some(network), data, parity) if data > 0 && parity > 0 => {
                    let setup = zg_components::storage::shard::ShardSetup {
                        own: network.own_key(),
                        members: network.members().to_vec(),
                        data_shards: data,
                        parity_shards: parity,
                    };
                    network.report_shards_to(sender.clone(), zg_systems::storage::erasure::ErasureConfig { data_shards: data, parity_shards: parity });
                    let view = zg_components::storage::shard::PlacementView::default();
                    node.world_mut().insert_resource(view.clone());
                    let placement = crate::zgs::ShardPlacement {
                        network: network.clone(),
                        setup: setup.clone(),
                        view,
                        runtime: tokio::runtime::Handle::current(),
                    };
                    let worker = crate::zgs::ShardWorker { placement: placement.clone(), store: node.store().clone(), events: sender.clone() };
                    zg_systems::storage::shards::install_sharding(node.world_mut(), setup, Arc::new(worker));
                    Some(placement)
                }
                _ => None,
            };
            let rebuilt = crate::zgs::RebuiltSegments::with_budget(config.storage.rebuilt_cache_mib.saturating_mul(1 << 20));
            let context = crate::zgs::StorageContext { chain_id, store: node.store().clone(), events: sender, shards, rebuilt, network: network.clone() };
            storage_shards = context.shards.as_ref().map(crate::zgs::ShardPlacement::config);
            let (addr, handle) = crate::zgs::start(&config.storage, context)
                .await
                .map_err(|message| NodeError::Rpc { addr: config.storage.addr, message })?;
            (Some(addr), Some(handle))
        } else {
            (None, None)
        };
        let store_for_miner = node.store().clone();
        let context = RpcContext::new(config, chain_id, node.store().reader(), node.requests(), events.clone()).with_network(network.clone())
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
        let (rpc_addr, rpc) = rpc::start(&config.rpc, context)
            .await
            .map_err(|message| NodeError::Rpc { addr: config.rpc.addr, message })?;

        let tick = Duration::from_millis(config.node.tick_ms);
        let driver_stop = stop.clone();
        let driver = std::thread::Builder::new()
            .name("zgnode-tick".into())
            .spawn(move || drive(node, tick, driver_stop))
            .map_err(|e| NodeError::Fault(format!("cannot start the tick thread: {e}")))?;
        let mut miner_address = None;
        if let (Some(_), Some(key)) = (storage_addr, &config.storage.miner_key)
            && genesis.accounts.contains_key(&zg_systems::storage::pora::MINE_ADDRESS)
        {
            let key: alloy_signer_local::PrivateKeySigner = key
                .trim()
                .parse()
                .map_err(|e| NodeError::Config(format!("storage.miner_key: {e}")))?;
            // The miner registers this node's network key (signed by it), so its standing moves
            // the node's shards; only a node that keeps shards has one to register.
            let node_key = node_key.filter(|_| storage_shards.is_some());
            let miner =
                crate::zgs::miner::Miner::new(&format!("http://{rpc_addr}"), store_for_miner, key, node_key, storage_shards, chain_id, stop.clone())
                .map_err(|e| NodeError::Fault(e.to_string()))?;
            miner_address = Some(miner.address());
            tokio::spawn(miner.run());
        }
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

pub fn chain_spec(config: &NodeConfig, genesis: &Genesis) -> ChainSpec {
    ChainSpec {
        chain_id: genesis.chain_id,
        block_gas_limit: genesis.gas_limit,
        block_time_ms: config.chain.block_time_ms,
        seal_empty_blocks: config.chain.seal_empty_blocks,
        coinbase: config.chain.coinbase,
        max_pool_size: config.txpool.max_size,
        max_nonce_gap: config.txpool.max_nonce_gap,
        max_tx_bytes: 128 * 1024,
    }
}

/// The tick loop: one schedule run per `tick` (back to back when zero) until told to stop.
fn drive(mut node: Node, tick: Duration, stop: Arc<AtomicBool>) -> Result<(), NodeError> {
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        node.tick(now_ms())?;
        let elapsed = started.elapsed();
        crate::metrics::record_tick(elapsed, &node.world().resource::<TickProfile>().take_last_tick());
        if let Some(rest) = tick.checked_sub(elapsed) {
            std::thread::sleep(rest);
        }
    }
    Ok(())
}
