//! The command line: every command, its arguments and their defaults.

use super::*;

#[derive(Parser, Debug)]
#[command(name = "zgnode", version, about = "A data-oriented node for decentralized AI infrastructure: EVM chain, storage, DA and compute")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an all-in-one dev chain: funded dev accounts, fast blocks, JSON-RPC on 127.0.0.1:8545.
    Dev(DevArgs),
    /// Run a node from a config file.
    Run(RunArgs),
    /// Write a config, a genesis and a node key into a directory; with --validators, a whole
    /// local validator network.
    Init(InitArgs),
    /// Start a local validator network on 127.0.0.1 (one process per node) and stop it with Ctrl-C.
    Testnet(TestnetArgs),
    /// Store files on a storage node and get them back (the 0G SDK's JSON-RPC surface).
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Data availability through a DA node's JSON-RPC: submit blobs, follow them, get them
    /// back, sample them.
    #[command(subcommand)]
    Da(DaCommand),
    /// The compute marketplace as a user: the ledger, provider sub-accounts, services on offer.
    #[command(subcommand)]
    Compute(ComputeCommand),
    /// Run an AI alignment node's auditor: audits drawn from the chain each epoch, a report per
    /// epoch from the operator's key (see docs/alignment.md for the config file).
    Alignment(AlignmentArgs),
    /// Measure throughput against a baseline in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// A seeded fault campaign on a local validator network with storage (SIGKILL and restarts,
    /// partitions, delayed and reordered frames, bits flipped on disk), then checks one chain,
    /// no lost receipt or file, and progress after the last fault.
    Chaos(ChaosArgs),
    /// Print the version.
    Version,
}

/// Where the chain and the storage node are, and who pays.
#[derive(Args, Debug, Clone)]
pub struct StorageEndpoints {
    /// The chain's JSON-RPC.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// The storage node's JSON-RPC.
    #[arg(long, default_value = "http://127.0.0.1:5678")]
    pub storage: String,
}

#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Publish FILE on the Flow contract, upload it and wait until the node holds all of it.
    Upload {
        file: PathBuf,
        #[command(flatten)]
        endpoints: StorageEndpoints,
        /// The paying account's private key (hex); or set ZG_PRIVATE_KEY. `zgnode dev` prints its keys.
        #[arg(long, env = "ZG_PRIVATE_KEY", hide_env_values = true)]
        key: String,
    },
    /// Download the file with this root into OUT, checked against the root.
    Download {
        root: alloy_primitives::B256,
        out: PathBuf,
        #[command(flatten)]
        endpoints: StorageEndpoints,
    },
    /// What the storage node knows about a root.
    Status {
        root: alloy_primitives::B256,
        #[command(flatten)]
        endpoints: StorageEndpoints,
    },
}

#[derive(Subcommand, Debug)]
pub enum DaCommand {
    /// A light sampler: draw SAMPLES random shares of the blob from the DA nodes, check each
    /// proof against the data root, and print the confidence that the blob is available.
    Sample {
        /// The blob's data root (or a request id).
        root: String,
        #[arg(long, default_value_t = crate::da::rpc::DEFAULT_SAMPLES)]
        samples: usize,
        /// The DA node's JSON-RPC.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// Submit FILE as a blob and wait until it is CONFIRMED (or FINALIZED with --final).
    Submit {
        file: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
        /// Wait for FINALIZED instead of CONFIRMED.
        #[arg(long)]
        r#final: bool,
    },
    /// A blob's status by data root or request id.
    Status {
        root: String,
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// Get a blob back into OUT, rebuilt from the DA nodes' pieces.
    Retrieve {
        root: String,
        out: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
}


/// Flags that override the config file.
#[derive(Args, Debug, Default, Clone)]
pub struct Overrides {
    /// Database directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory; nothing survives a restart.
    #[arg(long)]
    pub ephemeral: bool,
    /// Keep the state of every block (state reads at any block), not only the last 256.
    #[arg(long)]
    pub archive: bool,
    /// JSON-RPC address (HTTP and WebSocket).
    #[arg(long)]
    pub rpc_addr: Option<SocketAddr>,
    /// Milliseconds between blocks (0: automine, a block as soon as transactions arrive; dev chain only).
    #[arg(long)]
    pub block_time_ms: Option<u64>,
    /// Seal blocks only when transactions are pending.
    #[arg(long)]
    pub no_empty_blocks: bool,
    /// Milliseconds between ticks (0: back to back).
    #[arg(long)]
    pub tick_ms: Option<u64>,
    /// Serve Prometheus metrics on this address.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Serve the storage JSON-RPC (zgs_*) on this address.
    #[arg(long)]
    pub storage_addr: Option<SocketAddr>,
    /// Serve 0G's disperser gRPC (DisperseBlob, GetBlobStatus, RetrieveBlob) on this address.
    #[arg(long)]
    pub da_grpc_addr: Option<SocketAddr>,
}

impl Overrides {
    pub fn apply(&self, config: &mut NodeConfig) {
        if let Some(dir) = &self.data_dir {
            config.node.data_dir = dir.clone();
        }
        config.node.ephemeral |= self.ephemeral;
        config.node.archive |= self.archive;
        if let Some(addr) = self.rpc_addr {
            config.rpc.addr = addr;
        }
        if let Some(ms) = self.block_time_ms {
            config.chain.block_time_ms = ms;
        }
        if self.no_empty_blocks {
            config.chain.seal_empty_blocks = false;
        }
        if let Some(ms) = self.tick_ms {
            config.node.tick_ms = ms;
        }
        if let Some(addr) = self.metrics_addr {
            config.metrics.enabled = true;
            config.metrics.addr = addr;
        }
        if let Some(addr) = self.storage_addr {
            config.storage.enabled = true;
            config.storage.addr = addr;
        }
        if let Some(addr) = self.da_grpc_addr {
            config.da.enabled = true;
            config.da.grpc_addr = Some(addr);
        }
    }
}

#[derive(Args, Debug)]
pub struct DevArgs {
    #[command(flatten)]
    pub overrides: Overrides,
    /// Chain id of the dev chain.
    #[arg(long, default_value_t = DEV_CHAIN_ID)]
    pub chain_id: u64,
    /// Block gas limit of the dev chain (anvil's flag of the same name).
    #[arg(long)]
    pub gas_limit: Option<u64>,
    /// Where the built-in compute provider's HTTP API listens (0G's provider API; dev account 7
    /// registers it and owns the marketplace).
    #[arg(long, default_value = "127.0.0.1:3080")]
    pub compute_addr: SocketAddr,
    /// Run no built-in compute provider.
    #[arg(long)]
    pub no_compute_provider: bool,
    /// Run no built-in alignment auditor (dev account 5, licence 6).
    #[arg(long)]
    pub no_alignment: bool,
    /// Fault drills only: the storage node serves (and signs) every segment corrupted, so the
    /// alignment audit and the PoRA mine's penalty can be watched end to end.
    #[arg(long, hide = true)]
    pub fault_drill_corrupt_segments: bool,
}

#[derive(Args, Debug)]
pub struct AlignmentArgs {
    /// The auditor's TOML file: rpc_url, storage_url, operator_key, licences, holder_key,
    /// storage_segments_per_epoch, da_blobs_per_epoch, da_samples, poll_ms.
    #[arg(long, short)]
    pub config: PathBuf,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The config file (see `zgnode init`).
    #[arg(long, short)]
    pub config: PathBuf,
    #[command(flatten)]
    pub overrides: Overrides,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Directory to write config.toml, genesis.json and node.key into.
    #[arg(long, alias = "data-dir", default_value = "zgnode-home")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 16600)]
    pub chain_id: u64,
    /// Fund the anvil/Hardhat dev accounts in the genesis.
    #[arg(long)]
    pub dev_accounts: bool,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// Write a local network of this many validators (one genesis, a directory per node).
    #[arg(long)]
    pub validators: Option<usize>,
    /// Where the network goes (with --validators).
    #[arg(long, default_value = "zgnode-testnet")]
    pub out: PathBuf,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Shape of a local validator network.
#[derive(Args, Debug, Clone)]
pub struct NetworkArgs {
    /// Node i serves JSON-RPC on 127.0.0.1:<rpc-port + i>.
    #[arg(long, default_value_t = 8545)]
    pub rpc_port: u16,
    /// Node i listens for validators (QUIC) on 127.0.0.1:<p2p-port + i>.
    #[arg(long, default_value_t = 30300)]
    pub p2p_port: u16,
    /// The proposer's pause between blocks, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub network_block_time_ms: u64,
    /// Blocks per epoch (validator set changes take effect at epoch boundaries).
    #[arg(long, default_value_t = crate::tools::testnet::DEFAULT_EPOCH_LENGTH)]
    pub epoch_length: u64,
    /// Node i serves the storage JSON-RPC on 127.0.0.1:<storage-port + i>, erasure-coding
    /// uploads across the nodes (half of them may be away).
    #[arg(long, default_value_t = 5678)]
    pub storage_port: u16,
    /// Leave the storage role off.
    #[arg(long)]
    pub no_storage: bool,
}

#[derive(Args, Debug)]
pub struct TestnetArgs {
    /// How many validator nodes.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// The network directory; written by `zgnode init --validators` or created here when empty.
    #[arg(long, default_value = "zgnode-testnet")]
    pub out: PathBuf,
    #[arg(long, default_value_t = DEV_CHAIN_ID)]
    pub chain_id: u64,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(clap::Args, Debug)]
pub struct ChaosArgs {
    /// Seed of the fault schedule: the schedule (every fault, upload and the time of each) is
    /// decided from it alone, so the same seed replays the same campaign. Default: random.
    #[arg(long, conflicts_with = "replay")]
    pub seed: Option<u64>,
    /// Run a schedule a campaign wrote (`schedule.json` in its network folder), or one trimmed
    /// by hand to find the fault that matters, instead of drawing one.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Print the schedule the seed stands for and stop.
    #[arg(long)]
    pub print_schedule: bool,
    /// Validators (each also a storage node).
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// How long faults are injected, in seconds.
    #[arg(long, default_value_t = 120)]
    pub seconds: u64,
    /// Mean seconds between faults.
    #[arg(long, default_value_t = 4)]
    pub fault_every: u64,
    /// Where the network is written (kept for inspection: node logs, data dirs). Default: a
    /// temporary folder, removed after a clean run.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
