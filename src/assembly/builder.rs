//! [`NodeBuilder`]: the one place a node is assembled from the roles a host picks.
//!
//! In order: the chain (always), opened as a validator on a genesis with consensus; then each
//! service role of the list ([`NodeBuilder::roles`]: storage, DA, compute, and any the host
//! adds with [`NodeBuilder::with_role`]) joins the world and adds its JSON-RPC methods; then
//! JSON-RPC, the driver thread, and each role's clients of the running node (the PoRA miner,
//! the built-in compute provider). `zgnode dev` and `zgnode run` go through
//! [`NodeBuilder::from_config`]; an embedding host usually starts from [`NodeBuilder::dev`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;
use zg_components::chain::Genesis;

use super::running::RunningNode;
use crate::compute::role::ComputeRole;
use crate::config::NodeConfig;
use crate::da::role::DaRole;
use crate::node::role::{Assembly, Role, Serving};
use crate::node::{BlockCommits, FileTracking, Node, NodeError, driver, open_validator};
use crate::storage::role::StorageRole;
use crate::store::{ChainStore, StoreError};

/// Makes a role for each node started ([`NodeBuilder::with_role`]).
#[derive(Clone)]
struct RoleMaker(Arc<dyn Fn() -> Box<dyn Role> + Send + Sync>);

impl std::fmt::Debug for RoleMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0().name())
    }
}

/// Builds a [`Node`] the host ticks ([`NodeBuilder::build`]) or a [`RunningNode`] with its own
/// threads ([`NodeBuilder::start`]).
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    config: NodeConfig,
    genesis: Genesis,
    rpc: bool,
    storage: bool,
    validator: bool,
    /// A hand-ticked node commits blocks on a writer thread instead of inside its tick.
    commit_on_thread: bool,
    /// A hand-ticked node runs its systems on bevy's task pool instead of the host's thread.
    parallel_systems: bool,
    /// A hand-ticked node's state history (none by default).
    history: Option<crate::store::HistoryPolicy>,
    /// Where the built-in compute provider listens (the compute role), when on.
    compute: Option<SocketAddr>,
    /// Roles the host adds after the built-in ones.
    extra_roles: Vec<RoleMaker>,
}

impl NodeBuilder {
    /// The dev chain (`zgnode dev`'s: chain id 31337, ten funded dev accounts unlocked in the
    /// handle, every system contract), in memory, with no role but the chain until asked: no
    /// JSON-RPC, no storage service, no network. Blocks every 250 ms; see [`Self::block_time`].
    pub fn dev() -> Self {
        let mut config = NodeConfig::default();
        config.node.ephemeral = true;
        config.rpc.dev_methods = true;
        config.metrics.enabled = false;
        config.storage.enabled = false;
        let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
        Self { config, genesis, rpc: false, storage: false, validator: false, commit_on_thread: false, parallel_systems: false, history: None, compute: None, extra_roles: Vec::new() }
    }

    /// The node a config describes, as `zgnode run` / `zgnode dev` start it: JSON-RPC on, the
    /// storage role when the config enables it, the validator role when the genesis has consensus.
    pub fn from_config(config: NodeConfig, genesis: Genesis) -> Self {
        let storage = config.storage.enabled;
        let validator = genesis.consensus.is_some();
        // One thread runs the schedule: on 2 cores `zgnode bench schedules` measured bevy's
        // multi-threaded executor at 220-275 µs per idle tick against 2-4 µs, and 1.18x slower
        // on ticks sealing 200 transfers (the chain's hot path is exclusive systems, so there is
        // little to run side by side). `parallel_systems()` asks for the other.
        Self { config, genesis, rpc: true, storage, validator, commit_on_thread: true, parallel_systems: false, history: None, compute: None, extra_roles: Vec::new() }
    }

    /// Seal a block every `block_time` (down to one 60 Hz frame, 16 ms, on a dev chain; zero:
    /// a block per transaction batch as soon as it arrives).
    pub fn block_time(mut self, block_time: Duration) -> Self {
        self.config.chain.block_time_ms = block_time.as_millis() as u64;
        self
    }

    /// Start the chain from `genesis` instead (e.g. the dev genesis with the game's player
    /// accounts granted funds). Its chain id is the chain's.
    pub fn with_genesis(mut self, genesis: Genesis) -> Self {
        self.validator = self.validator && genesis.consensus.is_some();
        self.genesis = genesis;
        self
    }

    /// Seal blocks only when there are transactions to put in them.
    pub fn skip_empty_blocks(mut self) -> Self {
        self.config.chain.seal_empty_blocks = false;
        self
    }

    /// Let a hand-ticked node commit each block to its database on one thread of its own, while
    /// the host's next frame runs, instead of inside the tick that sealed it: the tick gets
    /// cheaper by the commit's cost, and a block's events come one tick later (once it is on disk).
    /// [`Self::start`] always does this.
    pub fn commit_on_thread(mut self) -> Self {
        self.commit_on_thread = true;
        self
    }

    /// Let a hand-ticked node run independent systems in parallel on bevy's compute task pool
    /// (shared with a bevy host's own systems) instead of one after another on the thread that
    /// calls [`Node::tick`]. Off by default, for [`Self::start`] too: on this project's 2-core
    /// machine one thread was faster (`zgnode bench schedules` measures it on yours).
    pub fn parallel_systems(mut self) -> Self {
        self.parallel_systems = true;
        self
    }

    /// Let a hand-ticked node keep older blocks' state readable (a `zgnode run` on its data dir
    /// later could serve it). By default it keeps the head's state only: its handle reads
    /// nothing older, and the history was a quarter of each block's commit.
    pub fn keep_history(mut self, policy: crate::store::HistoryPolicy) -> Self {
        self.history = Some(policy);
        self
    }

    /// Keep the chain in `data_dir` (restored from there on the next start) instead of memory.
    pub fn data_dir(mut self, data_dir: impl Into<PathBuf>) -> Self {
        self.config.node.data_dir = data_dir.into();
        self.config.node.ephemeral = false;
        self
    }

    /// Run the built-in compute provider on `addr` (the compute role, as `zgnode dev` does): dev
    /// account 7 serving the tiny model and the verifiable digit classifier. Needs JSON-RPC and
    /// the dev marketplace. A provider that cannot start (its port taken) is reported by
    /// [`RunningNode::compute_failure`]; the node runs on without it.
    pub fn with_compute_provider(mut self, addr: SocketAddr) -> Self {
        self.compute = Some(addr);
        self
    }

    /// Join a role of the host's own to every node [`Self::start`] starts (after the built-in
    /// ones): `make` is called once per start.
    pub fn with_role(mut self, make: impl Fn() -> Box<dyn Role> + Send + Sync + 'static) -> Self {
        self.extra_roles.push(RoleMaker(Arc::new(make)));
        self
    }

    /// The service roles [`Self::start`] joins to the node, in order: storage (when asked for),
    /// DA (its methods always; the rest where the chain and config have it), compute (its
    /// methods always; the built-in provider when asked for), then the host's.
    pub fn roles(&self) -> Vec<Box<dyn Role>> {
        let mut roles: Vec<Box<dyn Role>> = Vec::new();
        if self.storage {
            roles.push(Box::new(StorageRole::default()));
        }
        roles.push(Box::new(DaRole::default()));
        let storage = self.storage.then_some(self.config.storage.addr);
        roles.push(Box::new(self.compute.map_or_else(ComputeRole::default, |listen| ComputeRole::with_provider(listen).with_storage(storage))));
        roles.extend(self.extra_roles.iter().map(|make| make.0()));
        roles
    }

    /// Serve Ethereum JSON-RPC (HTTP and WebSocket) on `addr` (port 0: any free port).
    pub fn with_rpc(mut self, addr: SocketAddr) -> Self {
        self.config.rpc.addr = addr;
        self.rpc = true;
        self
    }

    /// Serve 0G storage (its JSON-RPC on `addr`, and PoRA mining); needs JSON-RPC, which the
    /// miner submits through.
    pub fn with_storage(mut self, addr: SocketAddr) -> Self {
        self.config.storage.addr = addr;
        self.config.storage.enabled = true;
        self.storage = true;
        self
    }

    /// Take part in consensus with the node key in `key_file` (created when missing), dialing
    /// `peers` (`<ed25519 key hex>@<host:port>`). The genesis must name validators.
    pub fn with_validator(mut self, key_file: impl Into<PathBuf>, peers: Vec<String>) -> Self {
        self.config.network.key_file = Some(key_file.into());
        self.config.network.peers = peers;
        self.validator = true;
        self
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    fn check(&self) -> Result<(), NodeError> {
        let valid = if self.validator { self.config.validate() } else { self.config.validate_dev() };
        valid.map_err(|e| NodeError::Config(e.to_string()))?;
        match (self.validator, self.genesis.consensus.is_some()) {
            (true, false) => {
                return Err(NodeError::Config("with_validator: this genesis has no consensus section (no validators)".into()));
            }
            (false, true) => {
                return Err(NodeError::Config(
                    "this genesis decides blocks by consensus: call with_validator(key_file, peers)".into(),
                ));
            }
            _ => {}
        }
        if self.storage && !self.rpc {
            return Err(NodeError::Config("with_storage needs with_rpc: the PoRA miner submits its proofs through it".into()));
        }
        Ok(())
    }

    /// The accounts the handle (and JSON-RPC) sign for: the dev accounts when dev methods are on
    /// (always on a `dev()` node), none otherwise.
    fn unlocked(&self) -> Vec<PrivateKeySigner> {
        if self.config.rpc.dev_methods { crate::dev::dev_signers() } else { Vec::new() }
    }

    /// A node the host ticks itself ([`Node::tick`] with the host's clock): no socket, and no
    /// thread unless asked for ([`Self::commit_on_thread`]): blocks committed inside the tick
    /// that seals them. The chain role only (with the storage
    /// contracts' systems when the genesis has them); JSON-RPC, storage service and validator need
    /// [`Self::start`].
    pub fn build(self) -> Result<(Node, crate::node::NodeHandle), NodeError> {
        self.check()?;
        if self.rpc || self.storage || self.validator {
            return Err(NodeError::Config(
                "build() makes a node the host ticks, with no threads or sockets: JSON-RPC, storage and validator roles \
                 need start()"
                    .into(),
            ));
        }
        // The handle reads the head's state only and nothing else can ask: keep no history
        // (it was a quarter of each block's commit) unless asked to.
        let history = self.history.unwrap_or(crate::store::HistoryPolicy::head_only());
        let store = open_store(&self.config)?.with_history(history);
        let spec = crate::node::chain_spec(&self.config, &self.genesis);
        let commits = if self.commit_on_thread { BlockCommits::WriterThread } else { BlockCommits::InTick };
        // No storage role here: following the storage contracts would be work nobody reads.
        let mut node = Node::new_embedded(spec, &self.genesis, store, commits, FileTracking::Off)?;
        if !self.parallel_systems {
            // The same order every tick, on the caller's thread: no task pool, no threads.
            node.schedule_mut().set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
        }
        let handle = node.handle_with(self.unlocked());
        Ok((node, handle))
    }

    /// Opens the database, restores or creates the chain, joins the roles ([`Self::roles`]) and
    /// starts a driver thread ticking the node. Must be called inside a tokio runtime.
    pub async fn start(self) -> Result<RunningNode, NodeError> {
        self.check()?;
        let config = &self.config;
        let genesis = &self.genesis;
        // Once per process: finds the GPU (or says why not) and routes big coding batches to it.
        // Its erasure accelerator (the GPU, or the CPU) is handed to the roles that code.
        let accelerator = crate::gpu::accel::init(&config.gpu).erasure.clone();
        let store = open_store(config)?;
        let spec = crate::node::chain_spec(config, genesis);
        let chain_id = spec.chain_id;
        let (mut node, network, node_key) = if self.validator {
            let validator = open_validator(config, spec, genesis, store)?;
            (validator.node, Some(validator.network), Some(validator.key))
        } else {
            (Node::new(spec, genesis, store)?, None, None)
        };
        if !self.parallel_systems {
            node.schedule_mut().set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
        }
        let unlocked = self.unlocked();
        let handle = node.handle_with(unlocked.clone());
        let hub = node.events().clone();

        let mut roles = self.roles();
        let mut rpc_methods = Vec::new();
        let mut rpc_state = crate::rpc::role_state::RoleState::default();
        // The roles add their sections of the status page (`zgnode_status`) as they assemble.
        let sections = crate::rpc::node_status::StatusSections::default();
        if let Some(key) = node_key.as_ref().filter(|_| self.validator) {
            let address = zg_components::consensus::ValidatorAddress::from_public_key(&key.public_key()).0;
            let record = crate::node::signing_record::SigningRecordReader::new(node.store().clone(), address);
            sections.add("validator", move || record.section());
        }
        rpc_state.insert(sections);
        for role in roles.iter_mut() {
            let assembly = Assembly {
                config,
                genesis,
                chain_id,
                node: &mut node,
                network: network.as_ref(),
                node_key: node_key.as_ref(),
                accelerator: &accelerator,
                rpc_methods: &mut rpc_methods,
                rpc_state: &mut rpc_state,
            };
            let name = role.name();
            role.assemble(assembly).await.inspect_err(|error| tracing::error!(role = name, %error, "a role could not join the node"))?;
        }
        // One flag stops the tick thread, the roles' background loops and the status page's streams.
        let stop = Arc::new(AtomicBool::new(false));
        let rpc = match self.rpc {
            true => Some(start_rpc(config, chain_id, &node, network.clone(), (unlocked, rpc_methods, rpc_state), stop.clone()).await?),
            false => None,
        };
        let store = node.store().clone();
        let prover = node.prover();
        let tick = Duration::from_millis(config.node.tick_ms);
        let pacing = driver::Pacing::from_config(config.node.idle_tick_ms, tick, self.validator);
        let driver = driver::spawn(node, tick, pacing, stop.clone())?;
        for role in roles.iter_mut() {
            let serving = Serving {
                config,
                genesis,
                chain_id,
                rpc_addr: rpc.as_ref().map(|(addr, _)| *addr),
                store: &store,
                node_key: node_key.as_ref(),
                prover: prover.clone(),
                stop: &stop,
            };
            role.serve(serving).await?;
        }
        let parts = super::running::Parts { chain_id, stop, driver, rpc, hub, handle, network, roles, prover };
        Ok(RunningNode::assemble(parts))
    }
}

/// The chain database: in memory when ephemeral, else `chain.redb` in the data directory.
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

/// The Ethereum JSON-RPC server over the node's store, inbox and events, signing for `unlocked`
/// (the dev accounts when dev methods are on).
async fn start_rpc(
    config: &NodeConfig,
    chain_id: u64,
    node: &Node,
    network: Option<crate::net::NetHandle>,
    (unlocked, methods, roles): (Vec<PrivateKeySigner>, Vec<crate::rpc::RoleMethods>, crate::rpc::role_state::RoleState),
    stopping: Arc<AtomicBool>,
) -> Result<(SocketAddr, jsonrpsee::server::ServerHandle), NodeError> {
    let events = node.events().broadcast().clone();
    let mut context = crate::rpc::RpcContext::new(config, chain_id, node.store().reader(), node.requests(), events)
        .with_network(network)
        .with_clock(node.chain_clock())
        .with_precompiles(node.precompiles());
    context.roles = roles;
    let context = if config.rpc.dev_methods { context.with_dev_accounts(unlocked) } else { context };
    crate::rpc::start(&config.rpc, context, &methods, stopping).await.map_err(|source| NodeError::Rpc { addr: config.rpc.addr, source })
}

impl RunningNode {
    /// The node `config` and `genesis` describe (see [`NodeBuilder::from_config`]), started.
    /// Must be called inside a tokio runtime.
    pub async fn start(config: &NodeConfig, genesis: &Genesis) -> Result<Self, NodeError> {
        NodeBuilder::from_config(config.clone(), genesis.clone()).start().await
    }
}
