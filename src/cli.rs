//! The command line: `zgnode dev | run | init | version`.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use zg_components::chain::Genesis;

use crate::config::{CONFIG_TEMPLATE, NodeConfig};
use crate::dev::{DEV_CHAIN_ID, dev_accounts, dev_genesis};
use crate::node::RunningNode;

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
pub enum BenchCommand {
    /// Block execution through the node's pipeline (pool -> block -> revm -> state root -> redb)
    /// against bare revm on the same transactions.
    Execution {
        #[arg(long, value_enum, default_value = "eth-transfers")]
        workload: crate::bench::Workload,
        #[arg(long, default_value_t = 2_000)]
        txs: usize,
        #[arg(long, default_value_t = 200)]
        senders: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Also run this many blocks of --txs each in a row through the node's schedule
        /// (commit inline against the writer thread overlapping it).
        #[arg(long, default_value_t = 0)]
        sustained_blocks: usize,
    },
    /// The disk cost of state history: the same blocks of transfers written in archive mode and
    /// with one block of history, database sizes compared.
    History {
        #[arg(long, default_value_t = 500)]
        blocks: usize,
        #[arg(long, default_value_t = 200)]
        txs_per_block: usize,
        #[arg(long, default_value_t = 200)]
        senders: usize,
    },
    /// Tick overhead: an idle tick, and a tick with a system touching N account entities.
    Tick {
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
        #[arg(long, default_value_t = 200)]
        ticks: usize,
    },
    /// Validators on loopback QUIC under load: block interval, time to finality, throughput,
    /// and the gap a stopped validator causes.
    Consensus {
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Transaction rates to run, one phase each (the first is the idle baseline).
        #[arg(long, value_delimiter = ',', default_value = "5,1000,2000,3000,4000,5000")]
        rates: Vec<u64>,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
        /// Skip stopping a validator at the end.
        #[arg(long)]
        no_kill: bool,
    },
    /// What tracking a huge published file costs a storage node: tick time (against an empty
    /// tick in the same run) and memory, with every shard it should keep missing.
    ShardTracking {
        /// Segments in the file (10^7 = 2.4 TiB).
        #[arg(long, default_value_t = 10_000_000)]
        segments: u64,
        /// Ticks measured (after tracking settled).
        #[arg(long, default_value_t = 20_000)]
        ticks: usize,
    },
    /// Storage: file commitment vs a bare keccak loop; upload and download through a dev node.
    Storage {
        /// File sizes in MiB for the upload/download runs.
        #[arg(long, value_delimiter = ',', default_value = "1,64,1024")]
        sizes_mib: Vec<u64>,
    },
    /// Sustained eth_sendRawTransaction over HTTP on loopback into sealed blocks.
    Rpc {
        #[arg(long, default_value_t = 20_000)]
        txs: usize,
        #[arg(long, default_value_t = 1_000)]
        senders: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
        /// Run the same client and load against `zgnode dev` and this node side by side (only
        /// "anvil": from the npm package, installed under target/anvil when missing, or ZG_ANVIL).
        #[arg(long)]
        against: Option<String>,
        /// With --against: transactions per JSON-RPC batch.
        #[arg(long, default_value_t = 50)]
        batch: usize,
        /// With --against: HTTP connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
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
    #[arg(long, default_value_t = crate::testnet::DEFAULT_EPOCH_LENGTH)]
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("zgnode {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Init(args) => match args.validators {
            Some(validators) => init_network(&args, validators),
            None => init(&args),
        },
        Command::Testnet(args) => testnet(args).await,
        Command::Bench(command) => bench(command).await,
        Command::Chaos(args) => chaos(args).await,
        Command::Storage(command) => storage(command).await,
        Command::Dev(args) => {
            let mut config = NodeConfig::default();
            config.node.data_dir = PathBuf::from("zgnode-data/dev");
            // The dev chain is also a storage node, on 0G's default port, mining PoRA with the
            // last dev account.
            config.storage.enabled = true;
            config.storage.miner_key = Some(dev_accounts()[crate::dev::DEV_MINER_ACCOUNT].private_key.to_string());
            config.rpc.dev_methods = true;
            args.overrides.apply(&mut config);
            config.validate()?;
            let mut genesis = dev_genesis(args.chain_id);
            if let Some(gas_limit) = args.gas_limit {
                genesis.gas_limit = gas_limit;
                genesis.validate().map_err(|e| anyhow::anyhow!("--gas-limit: {e}"))?;
            }
            serve(config, genesis, true).await
        }
        Command::Run(args) => {
            let mut config = NodeConfig::load(&args.config)?;
            args.overrides.apply(&mut config);
            config.validate()?;
            let genesis = match &config.chain.genesis {
                Some(path) => load_genesis(path)?,
                None => crate::dev::network_genesis(),
            };
            serve(config, genesis, false).await
        }
    }
}

pub fn load_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read genesis {}", path.display()))?;
    Genesis::from_json(&text).with_context(|| format!("invalid genesis {}", path.display()))
}

#[derive(clap::Args, Debug)]
pub struct ChaosArgs {
    /// Seed of the fault schedule (the same seed replays the same schedule). Default: random.
    #[arg(long)]
    pub seed: Option<u64>,
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

async fn chaos(args: ChaosArgs) -> anyhow::Result<()> {
    anyhow::ensure!((4..=7).contains(&args.nodes), "--nodes must be 4..=7");
    anyhow::ensure!(args.seconds > 0 && args.fault_every > 0, "--seconds and --fault-every must be positive");
    let seed = args.seed.unwrap_or_else(rand::random);
    let temporary = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    let plan = crate::chaos::ChaosPlan {
        seed,
        nodes: args.nodes,
        duration: std::time::Duration::from_secs(args.seconds),
        fault_every: std::time::Duration::from_secs(args.fault_every),
        dir: dir.clone(),
        binary: std::env::current_exe()?,
    };
    println!("chaos: seed {seed}, {} nodes, {} s of faults, network in {}", args.nodes, args.seconds, dir.display());
    match crate::chaos::run(&plan).await {
        Ok(report) => {
            for fault in &report.faults {
                println!("  {fault}");
            }
            println!(
                "chaos passed (seed {seed}): {} faults; one chain through block {} on every node; {} receipts and {} files checked on every node; {} transactions sent",
                report.faults.iter().filter(|f| !f.contains("healed")).count(),
                report.height,
                report.receipts_checked,
                report.files_checked,
                report.transactions_sent
            );
            Ok(())
        }
        Err(error) => {
            let _ = temporary.keep();
            bail!("chaos failed (seed {seed}; network kept in {}): {error:#}", dir.display())
        }
    }
}

async fn bench(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Execution { workload, txs, senders, rounds, sustained_blocks } => {
            anyhow::ensure!(txs > 0 && senders > 0, "--txs and --senders must be positive");
            anyhow::ensure!(
                txs <= crate::bench::MAX_BLOCK_TXS,
                "--txs must be at most {} (the bench seals them all in one block)",
                crate::bench::MAX_BLOCK_TXS
            );
            let report = tokio::task::spawn_blocking(move || crate::bench::execution(workload, txs, senders, rounds)).await?;
            println!("execution {:?}: {} transactions, median of {rounds} rounds", report.workload, report.transactions);
            println!("  node pipeline (pool, block, revm, state root, redb commit): {:>10.0} tx/s  {:.1} Mgas/s", report.pipeline_tps, report.mgas_per_s);
            println!("  bare revm (CacheDB, transact_commit):                      {:>10.0} tx/s", report.bare_revm_tps);
            let b = report.breakdown;
            println!(
                "  pipeline breakdown: admit {:.1} ms, seal (select + revm + apply + roots) {:.1} ms, redb commit {:.1} ms",
                b.admit.as_secs_f64() * 1e3, b.seal.as_secs_f64() * 1e3, b.persist.as_secs_f64() * 1e3
            );
            println!("  ratio node / bare revm: {:.2}", report.ratio());
            let bare_ms = txs as f64 / report.bare_revm_tps * 1e3;
            println!(
                "  the block's commitments alone (state trie update + root, transactions and receipts roots; both cores): {:.1} ms = {:.2}x bare revm's whole time ({:.1} ms); a pipeline at 0.5 of bare revm has {:.1} ms for everything",
                b.commitments.as_secs_f64() * 1e3,
                b.commitments.as_secs_f64() * 1e3 / bare_ms,
                bare_ms,
                2.0 * bare_ms
            );
            if sustained_blocks > 0 {
                anyhow::ensure!(sustained_blocks.saturating_mul(txs) <= 200_000, "--sustained-blocks × --txs must be at most 200,000");
                let s = tokio::task::spawn_blocking(move || crate::bench::sustained(workload, sustained_blocks, txs, senders)).await?;
                println!("  {} blocks of {} in a row through the node's schedule (automine, pool filled first):", s.blocks, s.per_block);
                println!("    commit inline:                 {:>10.0} tx/s  ratio to bare revm {:.2}", s.inline_tps, s.inline_tps / s.bare_revm_tps);
                println!("    commit overlapped (dev chain): {:>10.0} tx/s  ratio to bare revm {:.2}", s.overlapped_tps, s.overlapped_tps / s.bare_revm_tps);
                println!("    bare revm, same transactions:  {:>10.0} tx/s; overlapped / inline {:.2}", s.bare_revm_tps, s.overlapped_tps / s.inline_tps);
            }
        }
        BenchCommand::History { blocks, txs_per_block, senders } => {
            anyhow::ensure!(blocks > 0 && txs_per_block > 0 && senders > 0, "--blocks, --txs-per-block and --senders must be positive");
            anyhow::ensure!(blocks.saturating_mul(txs_per_block) <= 1_000_000, "at most 1,000,000 transactions in all");
            let report = tokio::task::spawn_blocking(move || crate::bench::history_cost(blocks, txs_per_block, senders)).await?;
            println!("state history: {} blocks of {} ETH transfers ({} senders)", report.blocks, report.per_block, senders);
            println!("  archive (every block's history): {:>12} bytes on disk, {:.2} ms per block written", report.archive_bytes, report.archive_ms_per_block);
            println!("  one block of history (baseline): {:>12} bytes on disk, {:.2} ms per block written", report.minimal_bytes, report.minimal_ms_per_block);
            println!(
                "  archive adds {:.0} bytes per block ({:.0} per transfer); write time ratio {:.2}",
                report.history_bytes_per_block(),
                report.history_bytes_per_block() / report.per_block as f64,
                report.archive_ms_per_block / report.minimal_ms_per_block
            );
        }
        BenchCommand::Tick { accounts, ticks } => {
            let report = tokio::task::spawn_blocking(move || crate::bench::tick(accounts, ticks)).await?;
            println!("tick: idle {:.1} µs/tick; with a system touching {} accounts {:.1} µs/tick", report.idle_us, report.accounts, report.touching_us);
            for (system, us) in &report.systems_us {
                println!("  {system}: {us:.1} µs per run");
            }
        }
        BenchCommand::Consensus { validators, rates, seconds, block_time_ms, no_kill } => {
            anyhow::ensure!(!rates.is_empty() && seconds > 0, "--rates and --seconds must be given");
            let report = crate::consensus_bench::consensus(validators, &rates, seconds, block_time_ms, !no_kill).await?;
            println!("consensus: {} validators on loopback QUIC, {} ms block time, {seconds} s per phase", report.validators, report.block_time_ms);
            println!("  rate tx/s | accepted tx/s | committed  achieved tx/s | blocks  interval p50/p99 ms | finality p50/p99 ms");
            for p in &report.phases {
                println!(
                    "  {:>9} | {:>13.0} | {:>9}  {:>12.0} | {:>6}  {:>8.0} / {:<8.0} | {:>6.0} / {:<6.0}",
                    p.target_tps, p.accepted_tps, p.committed, p.achieved_tps, p.blocks, p.interval_p50_ms, p.interval_p99_ms, p.finality_p50_ms, p.finality_p99_ms
                );
            }
            let best = report.phases.iter().map(|p| p.achieved_tps).fold(0.0, f64::max);
            println!(
                "  per core: {:.0} validator-transactions/s at the highest throughput ({} validators each recover, execute and persist every transaction on {} cores)",
                best * report.validators as f64 / report.cores as f64,
                report.validators,
                report.cores
            );
            println!(
                "  sender recovery, one core, same run: {:.1} us per transaction; at 5,000 tx/s the {} validators need {:.2} cores for recovery alone",
                report.recovery_us,
                report.validators,
                5_000.0 * report.validators as f64 * report.recovery_us / 1e6
            );
            match report.max_sustained_tps() {
                Some(tps) => println!("  max sustained (>= 95% of target, interval <= 2x idle): {tps} tx/s"),
                None => println!("  max sustained: none of the loaded rates kept up"),
            }
            if let Some(kill) = &report.kill {
                println!(
                    "  one validator stopped: next {} blocks interval p50 {:.0} ms, longest gap {:.0} ms (propose timeout {} ms)",
                    kill.blocks, kill.interval_p50_ms, kill.max_gap_ms, kill.propose_timeout_ms
                );
            }
        }
        BenchCommand::ShardTracking { segments, ticks } => {
            anyhow::ensure!(segments > 0 && ticks > 0, "--segments and --ticks must be positive");
            let report = tokio::task::spawn_blocking(move || crate::tracking_bench::shard_tracking(segments, ticks)).await?;
            println!(
                "shard tracking: a published file of {} segments, none uploaded (4 storage nodes, 2+2 shards)",
                report.segments
            );
            println!(
                "  storage systems' tick once settled: p50 {:.1} µs, p99 {:.1} µs; the same systems tracking no file p50 {:.1} µs (ratio {:.2})",
                report.tick_p50.as_secs_f64() * 1e6,
                report.tick_p99.as_secs_f64() * 1e6,
                report.idle_node_tick_p50.as_secs_f64() * 1e6,
                report.tick_p50.as_secs_f64() / report.idle_node_tick_p50.as_secs_f64().max(1e-9)
            );
            println!(
                "  tracking: {} entities, {} segments queued for rebuilding (bounded), memory grown {}",
                report.entities,
                report.queued_repairs,
                report.resident_bytes.map(|b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64)).unwrap_or_else(|| "unknown".into())
            );
        }
        BenchCommand::Storage { sizes_mib } => {
            anyhow::ensure!(!sizes_mib.is_empty() && sizes_mib.iter().all(|s| *s > 0 && *s <= 4096), "--sizes-mib must be 1..=4096");
            let merkle = tokio::task::spawn_blocking(|| crate::storage_bench::merkle(64 << 20, 5)).await?;
            println!("storage: file commitment of {} MiB (chunk hashes, segment and file trees, submission; all cores)", merkle.bytes >> 20);
            println!("  commitment {:>8.0} MB/s   bare keccak256 loop over the same chunks (one core) {:>8.0} MB/s   ratio {:.2}", merkle.commitment_mb_s, merkle.bare_keccak_mb_s, merkle.commitment_mb_s / merkle.bare_keccak_mb_s);
            let ec = tokio::task::spawn_blocking(|| crate::storage_bench::erasure(256 << 20, 9)).await?;
            println!(
                "  erasure coding 8+4 of {} MiB of segments: node encoder {:.0} MB/s ({:.0} MB/s with the data shards copied out for placing); bare reed-solomon-simd one thread {:.0} MB/s, on the rayon pool {:.0} MB/s; ratio to the pooled baseline {:.2} ({:.2} with copies); node decode with 4 of 12 shards lost {:.0} MB/s",
                ec.bytes >> 20,
                ec.encode_mb_s,
                ec.encode_with_copies_mb_s,
                ec.bare_encode_mb_s,
                ec.bare_encode_parallel_mb_s,
                ec.encode_mb_s / ec.bare_encode_parallel_mb_s,
                ec.encode_with_copies_mb_s / ec.bare_encode_parallel_mb_s,
                ec.decode_mb_s
            );
            let sizes: Vec<u64> = sizes_mib.iter().map(|m| m << 20).collect();
            let (reports, pora) = crate::storage_bench::transfers_and_pora(&sizes).await?;
            println!("  size MiB | upload MB/s end to end (hash, publish, block, segments) | segments alone | download MB/s (root checked)");
            for r in reports {
                println!("  {:>8} | {:>61.1} | {:>14.1} | {:>28.1}", r.bytes >> 20, r.upload_mb_s, r.segments_mb_s, r.download_mb_s);
            }
            println!(
                "  PoRA: build a sector proof {:.0} µs, check it off chain {:.1} µs; submitProof on chain {} gas (median of {} proofs the dev miner landed)",
                pora.prove_us,
                pora.verify_us,
                pora.submit_gas.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                pora.proofs_on_chain
            );
        }
        BenchCommand::Rpc { txs, senders, block_time_ms, against: Some(against), batch, connections, .. } => {
            anyhow::ensure!(against == "anvil", "--against takes \"anvil\" (got {against:?})");
            anyhow::ensure!(txs > 0 && senders > 0 && batch > 0 && connections > 0, "--txs, --senders, --batch and --connections must be positive");
            let load = crate::anvil_bench::Load { transactions: txs, senders, batch, connections: connections.min(senders) };
            println!(
                "rpc side by side: {txs} legacy transfers from {senders} senders, batches of {batch} over {} connections, until all are in blocks",
                load.connections
            );
            let ours = crate::anvil_bench::run_zgnode(&load, block_time_ms).await?;
            let print = |name: &str, r: &crate::anvil_bench::LoadResult| {
                println!(
                    "  {name:<28} accepted {:>8.0} tx/s ({:.2} s), included {:>8.0} tx/s ({:.2} s, {} blocks)",
                    r.accepted_tps, r.accept_s, r.included_tps, r.include_s, r.blocks
                )
            };
            print(&format!("zgnode dev ({block_time_ms} ms blocks)"), &ours);
            let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
            match crate::anvil_bench::find_or_install_anvil(&target.join("anvil")) {
                Ok(binary) => {
                    let theirs = crate::anvil_bench::run_anvil(&binary, &load).await?;
                    print("anvil 1.7.1 (1 s blocks)", &theirs);
                    println!(
                        "  ratio zgnode / anvil: accepted {:.2}, included {:.2}",
                        ours.accepted_tps / theirs.accepted_tps,
                        ours.included_tps / theirs.included_tps
                    );
                }
                Err(reason) => println!("  anvil: not run ({reason}); zgnode's figures above stand alone"),
            }
        }
        BenchCommand::Rpc { txs, senders, concurrency, block_time_ms, .. } => {
            anyhow::ensure!(txs > 0 && senders > 0, "--txs and --senders must be positive");
            let report = crate::bench::rpc_ingestion(txs, senders, concurrency, block_time_ms).await?;
            println!(
                "rpc ingestion: {} transactions from {} HTTP clients into {} blocks: {:.0} tx/s; send-to-receipt p50 {:.0} ms, p99 {:.0} ms",
                report.transactions, report.concurrency, report.blocks, report.tps, report.p50_ms, report.p99_ms
            );
        }
    }
    Ok(())
}

fn init(args: &InitArgs) -> anyhow::Result<()> {
    let config_path = args.dir.join("config.toml");
    let genesis_path = args.dir.join("genesis.json");
    let key_path = args.dir.join("node.key");
    if !args.force {
        for path in [&config_path, &genesis_path, &key_path] {
            if path.exists() {
                bail!("{} exists; pass --force to overwrite", path.display());
            }
        }
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let genesis = if args.dev_accounts { dev_genesis(args.chain_id) } else { Genesis::zero_gravity(args.chain_id) };
    genesis.validate()?;
    let signer = alloy_signer_local::PrivateKeySigner::random();
    let coinbase = signer.address();
    let config = CONFIG_TEMPLATE.replace(
        "coinbase = \"0x00000000000000000000000000000000000000c0\"",
        &format!("coinbase = \"{coinbase}\""),
    );
    write_file(&config_path, config.as_bytes(), false)?;
    write_file(&genesis_path, genesis.to_json().as_bytes(), false)?;
    write_file(&key_path, format!("{}\n", alloy_primitives::hex::encode_prefixed(signer.to_bytes())).as_bytes(), true)?;
    println!("wrote {}", config_path.display());
    println!("wrote {} (chain id {})", genesis_path.display(), genesis.chain_id);
    println!("wrote {} (node address {coinbase}, the block producer's coinbase)", key_path.display());
    println!("start it with: zgnode run --config {}", config_path.display());
    Ok(())
}

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn mb_per_s(bytes: u64, took: std::time::Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64().max(1e-9)
}

async fn storage(command: StorageCommand) -> anyhow::Result<()> {
    use crate::zgs::client::StorageClient;
    match command {
        StorageCommand::Upload { file, endpoints, key } => {
            let key: alloy_signer_local::PrivateKeySigner =
                key.trim().parse().map_err(|e| anyhow::anyhow!("--key is not a private key: {e}"))?;
            let data = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let client = StorageClient::new(&endpoints.rpc, &endpoints.storage)?;
            let bar = progress_bar(data.len() as u64, "upload");
            let report = client.upload(&data, &key, |done| bar.set_position(done)).await?;
            bar.finish();
            println!("root     {}", report.root);
            println!("tx seq   {}", report.tx_seq);
            match report.tx_hash {
                Some(hash) => println!("tx       {hash}"),
                None => println!("tx       none: the node already held the whole file"),
            }
            println!(
                "stored   {} bytes in {:.2} s ({:.1} MB/s, hashing and publishing included; segments alone {:.2} s, {:.1} MB/s)",
                report.bytes,
                report.took.as_secs_f64(),
                mb_per_s(report.bytes, report.took),
                report.transfer.as_secs_f64(),
                mb_per_s(report.bytes, report.transfer)
            );
        }
        StorageCommand::Download { root, out, endpoints } => {
            let client = StorageClient::new(&endpoints.rpc, &endpoints.storage)?;
            let started = std::time::Instant::now();
            let size = client
                .file_info(root)
                .await?
                .and_then(|info| info["tx"]["size"].as_u64())
                .with_context(|| format!("file {root} not found on {}", endpoints.storage))?;
            let bar = progress_bar(size, "download");
            let data = client.download(root, |done| bar.set_position(done)).await?;
            bar.finish();
            std::fs::write(&out, &data).with_context(|| format!("cannot write {}", out.display()))?;
            let took = started.elapsed();
            println!("wrote {} ({} bytes, root verified) in {:.2} s ({:.1} MB/s)", out.display(), data.len(), took.as_secs_f64(), mb_per_s(data.len() as u64, took));
        }
        StorageCommand::Status { root, endpoints } => {
            let client = StorageClient::new(&endpoints.rpc, &endpoints.storage)?;
            match client.file_info(root).await? {
                Some(info) => {
                    println!("root        {root}");
                    println!("tx seq      {}", info["tx"]["seq"]);
                    println!("size        {} bytes", info["tx"]["size"]);
                    println!("segments    {} of {} held", info["uploadedSegNum"], zg_components::storage::merkle::data_segments(info["tx"]["size"].as_u64().unwrap_or(0)));
                    println!("finalized   {}", info["finalized"]);
                    let shards = client.shard_status(root).await?;
                    if shards["erasureCoding"] == true {
                        println!(
                            "shards      {} of the {} this node keeps held ({}+{} per segment; out of placement: {})",
                            shards["held"],
                            shards["responsible"],
                            shards["dataShards"],
                            shards["parityShards"],
                            shards["outOfPlacement"].as_array().map(|out| out.len()).unwrap_or(0)
                        );
                    }
                }
                None => bail!("file {root} is not known to {}", endpoints.storage),
            }
        }
    }
    Ok(())
}

fn network_plan(validators: usize, chain_id: u64, network: &NetworkArgs) -> anyhow::Result<crate::testnet::NetworkPlan> {
    if network.epoch_length == 0 {
        bail!("--epoch-length must be at least 1");
    }
    Ok(crate::testnet::NetworkPlan {
        block_time_ms: network.network_block_time_ms,
        epoch_length: network.epoch_length,
        storage_port: (!network.no_storage).then_some(network.storage_port),
        ..crate::testnet::NetworkPlan::consecutive(validators, chain_id, network.rpc_port, network.p2p_port)?
    })
}

fn init_network(args: &InitArgs, validators: usize) -> anyhow::Result<()> {
    let plan = network_plan(validators, args.chain_id, &args.network)?;
    let layout = crate::testnet::write_network(&args.out, &plan, args.force)?;
    println!("wrote a {validators}-validator network (chain id {}) to {}", args.chain_id, args.out.display());
    for (i, node) in layout.iter().enumerate() {
        println!("  node{i}: {}  rpc {}  p2p {}  operator {}", node.config.display(), node.rpc_url, node.peer.addr, node.operator);
    }
    println!("start it with: zgnode testnet --nodes {validators} --out {}", args.out.display());
    Ok(())
}

async fn testnet(args: TestnetArgs) -> anyhow::Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let layout = if args.out.join("genesis.json").exists() {
        crate::testnet::read_network(&args.out, args.nodes)
            .with_context(|| format!("{} holds a network with fewer than {} nodes?", args.out.display(), args.nodes))?
    } else {
        crate::testnet::write_network(&args.out, &network_plan(args.nodes, args.chain_id, &args.network)?, false)?
    };
    let exe = std::env::current_exe().context("cannot find the zgnode executable")?;
    let mut children = Vec::new();
    for (i, node) in layout.iter().enumerate() {
        let log_path = node.dir.join("node.log");
        let log = std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = tokio::process::Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(&node.config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start node{i}"))?;
        children.push(child);
    }
    // Ready means every node answers JSON-RPC (opening a database and genesis takes a moment).
    for (i, node) in layout.iter().enumerate() {
        let addr: SocketAddr = node.rpc_url.trim_start_matches("http://").parse().context("node RPC address")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = children[i].try_wait() {
                stop_children(&mut children).await;
                bail!("node{i} exited during start ({status}); see {}", node.dir.join("node.log").display());
            }
            if std::time::Instant::now() > deadline {
                stop_children(&mut children).await;
                bail!("node{i} did not open {addr} within 60 s; see {}", node.dir.join("node.log").display());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    println!("zgnode testnet: {} validators, chain id {} ({})", layout.len(), args.chain_id, args.out.display());
    for (i, node) in layout.iter().enumerate() {
        println!("  node{i}: JSON-RPC {}  p2p {}  log {}", node.rpc_url, node.peer.addr, node.dir.join("node.log").display());
    }
    println!("ready (Ctrl-C stops every node)");
    let outcome = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        (index, status) = first_exit(&mut children) => Err(anyhow::anyhow!(
            "node{index} exited ({status}); see {}", layout[index].dir.join("node.log").display()
        )),
    };
    stop_children(&mut children).await;
    outcome
}

/// Waits until one child exits; returns its index and status.
async fn first_exit(children: &mut [tokio::process::Child]) -> (usize, String) {
    loop {
        for (i, child) in children.iter_mut().enumerate() {
            if let Ok(Some(status)) = child.try_wait() {
                return (i, status.to_string());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// SIGTERM to each node (a clean stop), then SIGKILL to any still running after 10 s.
async fn stop_children(children: &mut [tokio::process::Child]) {
    for child in children.iter() {
        if let Some(pid) = child.id() {
            #[cfg(unix)]
            // SAFETY: kill(2) on a pid we spawned and still own; no memory is involved.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
    }
    for child in children.iter_mut() {
        if tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

/// Writes a whole file durably (temporary file, fsync, rename, folder fsync); a secret is
/// owner-only from its first byte.
pub(crate) fn write_file(path: &Path, contents: &[u8], secret: bool) -> anyhow::Result<()> {
    let mode = if secret { 0o600 } else { 0o644 };
    crate::store::durable::write_atomically(path, contents, mode).with_context(|| format!("cannot write {}", path.display()))
}

async fn serve(config: NodeConfig, genesis: Genesis, dev: bool) -> anyhow::Result<()> {
    if config.metrics.enabled {
        crate::metrics::install_exporter(config.metrics.addr).map_err(anyhow::Error::msg)?;
    }
    let mut node = RunningNode::start(&config, &genesis).await?;
    print_banner(&config, &genesis, &node, dev);
    tokio::select! {
        result = node.wait() => {
            result?;
            bail!("the node stopped unexpectedly")
        }
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            node.stop().await?;
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn print_banner(config: &NodeConfig, genesis: &Genesis, node: &RunningNode, dev: bool) {
    println!("zgnode {} — chain id {}", env!("CARGO_PKG_VERSION"), node.chain_id);
    println!("JSON-RPC (HTTP): {}", node.rpc_url());
    println!("JSON-RPC (WS):   {}", node.ws_url());
    if config.metrics.enabled {
        println!("Metrics:         http://{}/metrics", config.metrics.addr);
    }
    if let Some(addr) = node.storage_addr {
        println!("Storage RPC:     http://{addr}  (Flow {}, market {}, PoRA {})", zg_systems::storage::flow::FLOW_ADDRESS, zg_systems::storage::flow::MARKET_ADDRESS, zg_systems::storage::pora::MINE_ADDRESS);
        if let Some(miner) = node.miner_address {
            println!("PoRA miner:      {miner}");
        }
    }
    if config.node.ephemeral {
        println!("Data:            in memory (--ephemeral)");
    } else {
        println!("Data:            {}", config.node.data_dir.display());
    }
    println!("Block time:      {} ms; native token {} ({} decimals, max supply {})", config.chain.block_time_ms, genesis.token_symbol, genesis.token_decimals, genesis.max_supply);
    if dev {
        println!();
        println!("Dev accounts ({} {} each), mnemonic \"{}\":", crate::dev::DEV_ACCOUNT_TOKENS, genesis.token_symbol, crate::dev::DEV_MNEMONIC);
        for (i, account) in dev_accounts().iter().enumerate() {
            println!("({i}) {}  key {}", account.address, account.private_key);
        }
    }
    println!();
    println!("ready");
}
