//! The node: one `World`, one tick `Schedule`, the database, and the loop that drives them.
//!
//! [`Node`] is the in-process core (a game studio can tick it from its own loop); the chain
//! and the validator role (`validator_role`) make it. The service roles join it through the
//! [`role::Role`] trait; the assembly puts the whole node together (`NodeBuilder`, the running
//! node with its driver thread and JSON-RPC, the bevy plugin).

pub mod driver;
pub mod events;
pub mod handle;
pub mod role;
pub mod signing_record;
mod validator_role;
mod waiting;

pub use events::{BlockEvent, LogEvent, LogFilter, Subscription, SubscriptionError};
pub use handle::{HandleError, NodeHandle, Submitted, TxRequest};
pub use validator_role::{Reach, Validator, open_validator, start_network};

use alloy_consensus::Header;
use alloy_primitives::B256;
use bevy_ecs::prelude::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use zg_components::chain::{ChainHead, ChainSpec, Genesis, GenesisError};
use zg_components::consensus::NetEvent;
use zg_components::node::{Inbox, NodeRequest, TickClock};
use zg_systems::chain::io::{BlockStoreHandle, EventSink, EventSinkHandle, NodeFault};
use zg_systems::chain::{ChainPlugin, genesis};
use zg_systems::consensus::ConsensusPlugin;
use zg_systems::storage::{FileStoreHandle, StoragePlugin, flow};
use zg_systems::{NodePlugin, tick_schedule};

use crate::config::NodeConfig;
use crate::store::{ChainStore, RestoreError, StoreError};
use crate::storage::restore::restore_files;
use validator_role::install_consensus;

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
    Fault(#[from] zg_systems::chain::fault::Fault),
    #[error("cannot start {what}: {source}")]
    Thread { what: &'static str, source: std::io::Error },
    #[error("the tick thread panicked")]
    TickThreadPanicked,
    #[error("the tick thread could not be joined: {0}")]
    TickThreadJoin(#[from] tokio::task::JoinError),
    #[error("the storage miner cannot reach this node's JSON-RPC: {0}")]
    MinerClient(#[source] jsonrpsee::core::ClientError),
    #[error("cannot start JSON-RPC on {addr}: {source}")]
    Rpc { addr: SocketAddr, source: crate::rpc::error::ServerStartError },
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
    events: Arc<events::EventHub>,
}

/// Whether a node follows the storage contracts (files published on chain, their segments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileTracking {
    /// When the genesis has the Flow contract: what a node that may serve storage needs.
    FromGenesis,
    /// Never: a node that will not serve storage (an embedded game chain) skips the work.
    Off,
}

/// Where a single-producer node's blocks are committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockCommits {
    /// On a writer thread of the node's own, block N while the world executes N+1 (`zgnode dev`).
    WriterThread,
    /// Inside the tick that sealed the block: no thread, the host's tick returns with it on disk.
    InTick,
}

impl Node {
    /// Opens the node on `store`: restores the persisted chain, or writes genesis into an empty
    /// database. Blocks come from the single producer.
    pub fn new(spec: ChainSpec, genesis: &Genesis, store: ChainStore) -> Result<Self, NodeError> {
        Self::open(spec, genesis, store, None, BlockCommits::WriterThread, FileTracking::FromGenesis).map(|(node, _)| node)
    }

    /// A single-producer node for a host that ticks it: where blocks are committed, and whether
    /// the storage contracts are followed.
    pub fn new_embedded(
        spec: ChainSpec,
        genesis: &Genesis,
        store: ChainStore,
        commits: BlockCommits,
        files: FileTracking,
    ) -> Result<Self, NodeError> {
        Self::open(spec, genesis, store, None, commits, files).map(|(node, _)| node)
    }

    /// Opens a node whose blocks are decided by BFT consensus with the validators the genesis
    /// staking contract names. Returns the sender the network delivers validator messages to.
    pub fn new_validator(
        spec: ChainSpec,
        genesis: &Genesis,
        store: ChainStore,
        setup: ConsensusSetup,
    ) -> Result<(Self, crossbeam_channel::Sender<NetEvent>), NodeError> {
        let (node, events) = Self::open(spec, genesis, store, Some(setup), BlockCommits::InTick, FileTracking::FromGenesis)?;
        Ok((node, events.expect("consensus nodes get a network inbox")))
    }

    fn open(
        spec: ChainSpec,
        genesis: &Genesis,
        store: ChainStore,
        consensus: Option<ConsensusSetup>,
        commits: BlockCommits,
        files: FileTracking,
    ) -> Result<(Self, Option<crossbeam_channel::Sender<NetEvent>>), NodeError> {
        let mut world = World::new();
        world.insert_resource(spec);
        let mut plugins: Vec<&dyn NodePlugin> = vec![&ChainPlugin];
        if consensus.is_some() {
            plugins.push(&ConsensusPlugin);
        }
        let storage = files == FileTracking::FromGenesis && genesis.accounts.contains_key(&flow::FLOW_ADDRESS);
        if storage {
            plugins.push(&StoragePlugin);
        }
        // Blob statuses follow the DA entrance wherever it is deployed (the node's own chain
        // decides; a host that ticks a node without it gets no DA systems).
        let da = files == FileTracking::FromGenesis && genesis.accounts.contains_key(&zg_systems::da::entrance::DA_ENTRANCE_ADDRESS);
        if da {
            plugins.push(&zg_systems::da::DaPlugin);
        }
        // Proof jobs (verifiable compute) run beside the other domains wherever the chain has
        // the ModelRegistry; the tick only hands them to the rayon pool and collects them.
        // One pool for proofs and key derivations, handed to both (never the pool sealing uses).
        let prover_pool = zg_systems::verifiable::jobs::ProverPool::new();
        world.insert_resource(prover_pool.clone());
        let proving = zg_systems::verifiable::jobs::ProvingPlugin::with_pool(prover_pool);
        let verifiable = genesis.accounts.contains_key(&zg_systems::verifiable::contracts::MODEL_REGISTRY_ADDRESS);
        if verifiable {
            // Every node verifies (block execution), so every node derives registered keys.
            plugins.push(&zg_systems::verifiable::warm::KeyWarmingPlugin);
        }
        if verifiable && files == FileTracking::FromGenesis {
            plugins.push(&proving);
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
        let network_inbox = match consensus {
            Some(setup) => Some(install_consensus(&mut world, genesis, &store, setup)?),
            None => {
                world.insert_resource(crate::store::rewind::StoreRewinder::handle(&store));
                if commits == BlockCommits::WriterThread {
                    // The single producer commits block N while it executes N+1.
                    let writer = zg_systems::chain::writer::BlockWriter::spawn(Arc::new(store.clone()))
                        .map_err(|source| NodeError::Thread { what: "the block writer", source })?;
                    world.insert_resource(writer);
                }
                None
            }
        };
        let events = events::EventHub::new();
        world.insert_resource(EventSinkHandle(events.clone()));
        if storage {
            world.insert_resource(FileStoreHandle(Arc::new(store.clone())));
            restore_files(&mut world, &store)?;
        }
        if verifiable {
            let pool = world.resource::<zg_systems::verifiable::jobs::ProverPool>().clone();
            zg_systems::verifiable::warm::warm_in_background(zg_systems::verifiable::warm::registered_models(&world), &pool);
        }
        if da {
            let windows = zg_systems::da::entrance::windows(&world)
                .ok_or_else(|| NodeError::Config("the genesis's DA entrance does not answer for its windows".into()))?;
            world.insert_resource(windows);
            world.insert_resource(zg_systems::ports::DaBlobStoreHandle(Arc::new(store.clone())));
            crate::da::restore::restore_blobs(&mut world, &store)?;
        }
        Ok((Self { world, schedule, requests, store, events }, network_inbox))
    }

    /// The handle for submitting proof jobs to this node's tick, when it runs them.
    pub fn prover(&self) -> Option<zg_systems::verifiable::jobs::ProverHandle> {
        self.world.get_resource::<zg_systems::verifiable::jobs::ProverHandle>().cloned()
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

    /// Replaces where committed blocks are announced (the node's [`events::EventHub`] by default,
    /// which feeds JSON-RPC and every [`NodeHandle`] subscription: those stop hearing of blocks).
    pub fn set_event_sink(&mut self, sink: Arc<dyn EventSink>) {
        self.world.insert_resource(EventSinkHandle(sink));
    }

    /// Where committed blocks are announced.
    pub fn events(&self) -> &Arc<events::EventHub> {
        &self.events
    }

    /// A typed handle on this node (see [`NodeHandle`]); `unlocked` are the accounts it signs for.
    pub fn handle_with(&self, unlocked: Vec<alloy_signer_local::PrivateKeySigner>) -> NodeHandle {
        let spec = self.world.resource::<ChainSpec>();
        NodeHandle::new(
            spec.chain_id,
            spec.max_tx_bytes,
            self.requests.clone(),
            self.store.reader(),
            self.chain_clock(),
            self.precompiles(),
            self.events.clone(),
            unlocked,
        )
    }

    /// A typed handle on this node that signs for no account.
    pub fn handle(&self) -> NodeHandle {
        self.handle_with(Vec::new())
    }

    pub fn requests(&self) -> crossbeam_channel::Sender<NodeRequest> {
        self.requests.clone()
    }

    /// The chain clock block timestamps come from, shared with RPC and dev controls.
    pub fn chain_clock(&self) -> zg_components::chain::ChainClock {
        self.world.get_resource::<zg_components::chain::ChainClock>().cloned().unwrap_or_default()
    }

    /// The chain's precompiles, as this world's blocks run them.
    pub fn precompiles(&self) -> zg_systems::chain::evm::PrecompileRegistry {
        // `tick_schedule` put it there when the world was assembled.
        self.world.resource::<zg_systems::chain::evm::PrecompileRegistry>().clone()
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

/// The hash genesis gets, computed in a scratch world.
pub fn genesis_hash(genesis: &Genesis) -> Result<B256, GenesisError> {
    let mut world = World::new();
    let plugins: [&dyn NodePlugin; 1] = [&ChainPlugin];
    let _ = tick_schedule(&mut world, &plugins);
    Ok(genesis::build_genesis(&mut world, genesis)?.hash)
}

pub use crate::wall_clock::now_ms;

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
