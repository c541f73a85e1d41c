//! `zgnode bench rpc --against anvil`: one client and one load against `zgnode dev` and anvil
//! (Foundry's dev node, also on revm), side by side in one run, in the same block mode
//! (automine against automine, 1 s blocks against 1 s blocks), zgnode both in memory and on disk.
//!
//! The load: pre-signed legacy transfers from many senders (funded on both nodes with
//! `anvil_setBalance`, which both serve), sent as JSON-RPC batches over several HTTP
//! connections, each sender's nonces in order on one connection; then the client polls the
//! receipt of every sender's last transfer until all exist (a sender's last in a block means
//! its earlier ones are: nonces). Only the load's own transactions count — the dev node's own
//! (PoRA proofs, the provider's registrations) are in its blocks but not in the figures, and
//! the cost of the poll does not grow with the number of blocks (anvil's automine makes one per
//! transaction). Accepted tx/s counts to the last batch's answer; included tx/s to the moment
//! the last receipt was seen.

use alloy_consensus::{SignableTransaction, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use crate::rpc::quantity_of as quantity;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The anvil release the figures were taken with, from npm (its binary ships in the package).
pub const ANVIL_PACKAGE: &str = "@foundry-rs/anvil-linux-amd64@1.7.1";
const CHAIN_ID: u64 = 31337;
/// Block gas limit for both nodes: ample, so neither is capped by it.
const GAS_LIMIT: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub transactions: usize,
    pub senders: usize,
    pub batch: usize,
    pub connections: usize,
}

#[derive(Clone, Debug)]
pub struct LoadResult {
    pub accepted_tps: f64,
    pub included_tps: f64,
    pub accept_s: f64,
    pub include_s: f64,
    /// Blocks from the first after the load started to the one with its last transaction.
    pub blocks: u64,
}

/// How both nodes make blocks in a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// A block as soon as transactions arrive (anvil's default; zgnode's `--block-time-ms 0`).
    Automine,
    /// A block every this many seconds (anvil's `--block-time`).
    EverySeconds(u64),
}

impl std::fmt::Display for BlockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Automine => write!(f, "automine"),
            Self::EverySeconds(s) => write!(f, "{s} s blocks"),
        }
    }
}

/// A node process that is killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Signed legacy transfers: transaction i from sender i % senders, nonces in order.
fn transfers(load: &Load) -> (Vec<PrivateKeySigner>, Vec<Vec<String>>) {
    let keys: Vec<PrivateKeySigner> = (0..load.senders as u64)
        .map(|i| PrivateKeySigner::from_bytes(&alloy_primitives::keccak256(format!("anvil-bench-{i}"))).expect("valid key"))
        .collect();
    let mut by_sender: Vec<Vec<String>> = vec![Vec::new(); load.senders];
    for i in 0..load.transactions {
        let sender = i % load.senders;
        let tx = TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce: (i / load.senders) as u64,
            gas_price: 100_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(Address::from_word(alloy_primitives::keccak256((i as u64).to_be_bytes()))),
            value: U256::from(1),
            input: Default::default(),
        };
        let signature = keys[sender].sign_hash_sync(&tx.signature_hash()).expect("local keys sign");
        let envelope: alloy_consensus::TxEnvelope = tx.into_signed(signature).into();
        by_sender[sender].push(alloy_primitives::hex::encode_prefixed(envelope.encoded_2718()));
    }
    (keys, by_sender)
}

async fn wait_ready(client: &HttpClient, child: &mut Child, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client.request::<Value, _>("eth_chainId", rpc_params![]).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("{what} exited before serving RPC: {status}");
        }
        anyhow::ensure!(Instant::now() < deadline, "{what} did not serve RPC within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Funds the senders, sends the load, and waits until every transaction is in a block.
async fn drive(url: &str, load: &Load, keys: &[PrivateKeySigner], by_sender: &[Vec<String>]) -> anyhow::Result<LoadResult> {
    let control = HttpClientBuilder::default().request_timeout(Duration::from_secs(120)).build(url)?;
    for key in keys {
        let _: Value = control
            .request("anvil_setBalance", rpc_params![key.address(), "0x56bc75e2d63100000000"])
            .await?;
    }
    let start_block = quantity(&control.request::<Value, _>("eth_blockNumber", rpc_params![]).await?);
    // Each connection owns whole senders, so every sender's nonces arrive in order; within a
    // connection senders interleave, so a batch carries many senders, as real traffic does.
    let lanes: Vec<Vec<String>> = (0..load.connections)
        .map(|lane| {
            let senders: Vec<&Vec<String>> = by_sender.iter().skip(lane).step_by(load.connections).collect();
            let depth = senders.iter().map(|s| s.len()).max().unwrap_or(0);
            (0..depth).flat_map(|n| senders.iter().filter_map(move |s| s.get(n).cloned())).collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in lanes {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(120))
            .max_request_size(64 * 1024 * 1024)
            .max_response_size(64 * 1024 * 1024)
            .build(url)?;
        let batch = load.batch;
        tasks.push(tokio::spawn(async move {
            for chunk in lane.chunks(batch) {
                let mut request = BatchRequestBuilder::new();
                for raw in chunk {
                    request.insert("eth_sendRawTransaction", rpc_params![raw])?;
                }
                let answers = client.batch_request::<Value>(request).await?;
                if let Some(error) = answers.into_iter().find_map(Result::err) {
                    anyhow::bail!("a transaction was refused: {error}");
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let accepted = started.elapsed();
    // Every sender's last transfer, by hash: when all have receipts, the whole load is in.
    let mut waiting: Vec<alloy_primitives::B256> = by_sender
        .iter()
        .filter_map(|sent| sent.last())
        .map(|raw| alloy_primitives::hex::decode(raw).map(alloy_primitives::keccak256))
        .collect::<Result<_, _>>()?;
    let mut last_block = start_block;
    let waiting_since = Instant::now();
    // A node whose head has not moved for this long while transfers wait has stalled: in
    // automine nothing new arrives to make it mine (the way anvil stalls, foundry#10122), and
    // with 1 s blocks it would be many blocks late. Waiting out the 120 s added two minutes to
    // the suite whenever anvil stalled.
    const STALLED: Duration = Duration::from_secs(15);
    let (mut head, mut head_moved) = (u64::MAX, Instant::now());
    while !waiting.is_empty() {
        let now_head = quantity(&control.request::<Value, _>("eth_blockNumber", rpc_params![]).await?);
        if now_head != head {
            (head, head_moved) = (now_head, Instant::now());
        }
        anyhow::ensure!(
            waiting_since.elapsed() < Duration::from_secs(120) && head_moved.elapsed() < STALLED,
            "{} of {} senders' last transfers not in blocks {:.0} s after the load was accepted; head block {head}, unchanged for {:.0} s",
            waiting.len(),
            by_sender.len(),
            waiting_since.elapsed().as_secs_f64(),
            head_moved.elapsed().as_secs_f64()
        );
        // A hundred at a time, so the poll stays light on a node with thousands of blocks.
        let asked: Vec<alloy_primitives::B256> = waiting.iter().take(100).copied().collect();
        let mut request = BatchRequestBuilder::new();
        for hash in &asked {
            request.insert("eth_getTransactionReceipt", rpc_params![hash])?;
        }
        let receipts = control.batch_request::<Value>(request).await?;
        let mut found = std::collections::HashSet::new();
        for (hash, receipt) in asked.iter().zip(receipts) {
            if let Ok(receipt) = receipt
                && !receipt.is_null()
            {
                last_block = last_block.max(quantity(&receipt["blockNumber"]));
                found.insert(*hash);
            }
        }
        waiting.retain(|hash| !found.contains(hash));
        if found.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let included_at = started.elapsed();
    let blocks = last_block.saturating_sub(start_block);
    Ok(LoadResult {
        accepted_tps: load.transactions as f64 / accepted.as_secs_f64(),
        included_tps: load.transactions as f64 / included_at.as_secs_f64(),
        accept_s: accepted.as_secs_f64(),
        include_s: included_at.as_secs_f64(),
        blocks,
    })
}


/// `zgnode dev` as its own process with the same gas limit as anvil: in memory, or on disk in
/// `data_dir` (the node's durable mode: every block committed to redb with fsync).
pub async fn run_zgnode(load: &Load, mode: BlockMode, data_dir: Option<&Path>) -> anyhow::Result<LoadResult> {
    let port = free_port()?;
    let block_time_ms = match mode {
        BlockMode::Automine => 0,
        BlockMode::EverySeconds(s) => s * 1000,
    };
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["dev", "--rpc-addr", &format!("127.0.0.1:{port}"), "--storage-addr", "127.0.0.1:0", "--da-grpc-addr", "127.0.0.1:0"]);
    match data_dir {
        Some(dir) => command.arg("--data-dir").arg(dir),
        None => command.arg("--ephemeral"),
    };
    command.args(["--block-time-ms", &block_time_ms.to_string(), "--gas-limit", &GAS_LIMIT.to_string()]);
    spawn_and_drive(command, port, "zgnode dev", load).await
}

async fn spawn_and_drive(mut command: Command, port: u16, what: &str, load: &Load) -> anyhow::Result<LoadResult> {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&HttpClientBuilder::default().build(&url)?, &mut child, what).await?;
    let _process = Process(child);
    let (keys, by_sender) = transfers(load);
    drive(&url, load, &keys, &by_sender).await
}

/// Finds anvil: `ZG_ANVIL`, then the npm package under `dir`, installing it there if missing.
pub fn find_or_install_anvil(dir: &Path) -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("ZG_ANVIL") {
        return Ok(PathBuf::from(path));
    }
    let binary = dir.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if binary.exists() {
        return Ok(binary);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg(ANVIL_PACKAGE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("npm is not available to install {ANVIL_PACKAGE}: {e}"))?;
    if !status.success() || !binary.exists() {
        return Err(format!("npm could not install {ANVIL_PACKAGE} (offline, or not linux-amd64)"));
    }
    Ok(binary)
}

/// anvil in `mode` with the same gas limit.
pub async fn run_anvil(binary: &Path, load: &Load, mode: BlockMode) -> anyhow::Result<LoadResult> {
    let port = free_port()?;
    let mut command = Command::new(binary);
    command.args(["--port", &port.to_string(), "--host", "127.0.0.1"]);
    if let BlockMode::EverySeconds(s) = mode {
        command.args(["--block-time", &s.to_string()]);
    }
    command.args(["--gas-limit", &GAS_LIMIT.to_string(), "--chain-id", &CHAIN_ID.to_string(), "--silent"]);
    spawn_and_drive(command, port, "anvil", load).await
}

fn print_result(name: &str, r: &LoadResult) {
    println!("  {name:<36} accepted {:>8.0} tx/s ({:.2} s), included {:>8.0} tx/s ({:.2} s, {} blocks)", r.accepted_tps, r.accept_s, r.included_tps, r.include_s, r.blocks);
}

/// The side-by-side bench: per block mode, zgnode in memory and on disk, then anvil, with the
/// ratios of each zgnode run to anvil's in the same mode.
pub async fn side_by_side(load: &Load) -> anyhow::Result<()> {
    println!(
        "rpc side by side: {} legacy transfers from {} senders, batches of {} over {} connections, until every one is in a block (only the load's own transactions counted)",
        load.transactions, load.senders, load.batch, load.connections
    );
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target"));
    let anvil = find_or_install_anvil(&target.join("anvil"));
    if let Err(reason) = &anvil {
        println!("  anvil: not run ({reason}); zgnode's figures below stand alone");
    }
    for mode in [BlockMode::Automine, BlockMode::EverySeconds(1)] {
        println!(" {mode}:");
        let memory = run_zgnode(load, mode, None).await?;
        print_result("zgnode dev, in memory", &memory);
        let dir = tempfile::tempdir()?;
        let disk = run_zgnode(load, mode, Some(dir.path())).await?;
        print_result("zgnode dev, on disk (redb, fsync)", &disk);
        if let Ok(binary) = &anvil {
            // A node that does not get the load into blocks is a finding, not the bench's end.
            let theirs = match run_anvil(binary, load, mode).await {
                Ok(theirs) => theirs,
                Err(error) => {
                    println!("  anvil 1.7.1 (in memory)              did not finish: {error:#}");
                    if mode == BlockMode::Automine {
                        println!("    (anvil's auto mode is known to leave ready transactions pending under concurrent senders: foundry-rs/foundry#10122)");
                    }
                    continue;
                }
            };
            print_result("anvil 1.7.1 (in memory)", &theirs);
            for (name, ours) in [("in memory", &memory), ("on disk", &disk)] {
                println!(
                    "  ratio zgnode ({name}) / anvil: accepted {:.2}, included {:.2}",
                    ours.accepted_tps / theirs.accepted_tps,
                    ours.included_tps / theirs.included_tps
                );
            }
        }
    }
    Ok(())
}
