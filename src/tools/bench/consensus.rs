//! `zgnode bench consensus`: validators in this process on loopback QUIC, transactions sent at
//! fixed rates over JSON-RPC to all of them, and what node 0 sees: block interval, time to
//! finality (send -> decided, executed and persisted), achieved throughput; then one validator
//! stopped, and the longest gap it causes.

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zg_components::chain::GrantEntry;
use zg_components::node::NodeEvent;

use super::{percentile, sorted};
use crate::tools::testnet::{NetworkPlan, write_network};

/// Accounts sending the load (each sends its own nonces in order).
const SENDERS: u64 = 400;
/// Concurrent JSON-RPC clients.
const CLIENTS: usize = 32;
/// Most transactions in one batch call.
const MAX_BATCH: usize = 50;

#[derive(Clone, Debug)]
pub struct PhaseReport {
    pub target_tps: u64,
    pub sent: usize,
    pub committed: usize,
    pub achieved_tps: f64,
    /// How fast the clients got their transactions accepted (sent / time to the last answer):
    /// below the target, intake rather than consensus held the rate back.
    pub accepted_tps: f64,
    pub blocks: usize,
    pub interval_p50_ms: f64,
    pub interval_p99_ms: f64,
    pub finality_p50_ms: f64,
    pub finality_p99_ms: f64,
    /// Every committed transaction's finality (sent to committed), ascending: the distribution.
    pub finality_ms: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct KillReport {
    pub blocks: usize,
    pub interval_p50_ms: f64,
    pub max_gap_ms: f64,
    pub propose_timeout_ms: u64,
}

#[derive(Clone, Debug)]
pub struct ConsensusReport {
    pub validators: usize,
    pub block_time_ms: u64,
    pub phases: Vec<PhaseReport>,
    pub kill: Option<KillReport>,
    /// One sender recovery on one core, measured in the same run: every validator does one per
    /// transaction, the floor of what a transaction costs the machine.
    pub recovery_us: f64,
    /// Cores the validators share.
    pub cores: usize,
}

impl ConsensusReport {
    /// The highest rate whose throughput kept up (95%) without stretching the block interval
    /// past twice the idle one.
    pub fn max_sustained_tps(&self) -> Option<u64> {
        let idle = self.phases.first()?.interval_p50_ms;
        self.phases
            .iter()
            .filter(|p| p.target_tps > 10)
            .filter(|p| p.achieved_tps >= 0.95 * p.target_tps as f64 && p.interval_p50_ms <= 2.0 * idle.max(1.0))
            .map(|p| p.target_tps)
            .max()
    }
}

fn sender_key(index: u64) -> PrivateKeySigner {
    let mut bytes = [0x22u8; 32];
    bytes[24..].copy_from_slice(&(index + 1).to_be_bytes());
    PrivateKeySigner::from_slice(&bytes).expect("valid key")
}

/// The load's transfer: 1 wei from `key` at `nonce`.
fn load_transfer(key: &PrivateKeySigner, nonce: u64) -> alloy_consensus::TxEnvelope {
    crate::signing::sign_eip1559(key, crate::tools::bench::BENCH_CHAIN_ID, TxKind::Call(Address::with_last_byte(0x77)), U256::from(1), Bytes::new(), nonce, 21_000)
}


/// Commits node 0 announced: when, and which transactions.
#[derive(Default)]
struct Commits {
    blocks: Vec<Instant>,
    txs: HashMap<B256, Instant>,
}

pub async fn consensus(validators: usize, rates: &[u64], seconds: u64, block_time_ms: u64, kill: bool) -> anyhow::Result<ConsensusReport> {
    anyhow::ensure!(validators >= 1, "at least one validator");
    let dir = tempfile::tempdir()?;
    let sockets: Vec<_> = (0..validators).map(|_| std::net::UdpSocket::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    let p2p_ports = sockets.iter().map(|s| s.local_addr().map(|a| a.port())).collect::<Result<Vec<_>, _>>()?;
    drop(sockets);
    let plan = NetworkPlan {
        chain_id: crate::tools::bench::BENCH_CHAIN_ID,
        rpc_ports: vec![0; validators],
        p2p_ports,
        block_time_ms,
        epoch_length: 1_000_000,
        genesis_validators: None,
        storage_port: None,
    };
    let layout = write_network(dir.path(), &plan, false)?;
    let genesis_path = dir.path().join("genesis.json");
    let mut genesis = crate::local_files::load_genesis(&genesis_path)?;
    genesis.gas_limit = 200_000_000;
    genesis.grants.extend((0..SENDERS).map(|i| GrantEntry { address: sender_key(i).address(), tokens: 1_000, from: "ecosystem".into() }));
    genesis.validate()?;

    let mut nodes = Vec::new();
    for node in &layout {
        let mut config = crate::NodeConfig::load(&node.config)?;
        config.txpool.max_size = 500_000;
        config.txpool.max_nonce_gap = 100_000;
        config.node.tick_ms = 2;
        nodes.push(crate::RunningNode::start(&config, &genesis).await?);
    }
    let urls: Vec<String> = nodes.iter().filter_map(|n| n.rpc_url()).collect();
    let propose_timeout_ms = crate::NodeConfig::load(&layout[0].config)?.consensus.timeout_propose_ms;

    let commits: Arc<Mutex<Commits>> = Arc::default();
    let mut events = nodes[0].subscribe();
    let watch = commits.clone();
    tokio::spawn(async move {
        while let Ok(NodeEvent::BlockCommitted(block)) = events.recv().await {
            let now = Instant::now();
            let mut commits = watch.lock().expect("not poisoned");
            commits.blocks.push(now);
            for receipt in &block.receipts {
                commits.txs.insert(receipt.tx_hash, now);
            }
        }
    });
    // Let the network connect and settle.
    let settle = Instant::now() + Duration::from_secs(30);
    while commits.lock().expect("not poisoned").blocks.len() < 5 {
        anyhow::ensure!(Instant::now() < settle, "the validators decided no block within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let keys: Vec<PrivateKeySigner> = (0..SENDERS).map(sender_key).collect();
    let mut nonces = vec![0u64; SENDERS as usize];
    let mut phases = Vec::new();
    for &rate in rates {
        phases.push(run_phase(rate, seconds, &keys, &mut nonces, &urls, &commits).await?);
    }

    let kill_report = if kill && validators >= 4 {
        let blocks_before = commits.lock().expect("not poisoned").blocks.len();
        let stopped = nodes.pop().expect("at least four");
        stopped.stop().await?;
        let observed = 12;
        let deadline = Instant::now() + Duration::from_secs(120);
        while commits.lock().expect("not poisoned").blocks.len() < blocks_before + observed {
            anyhow::ensure!(Instant::now() < deadline, "blocks stopped after one validator was stopped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let commits = commits.lock().expect("not poisoned");
        let gaps: Vec<f64> = commits.blocks[blocks_before - 1..]
            .windows(2)
            .map(|w| w[1].duration_since(w[0]).as_secs_f64() * 1e3)
            .collect();
        let gaps = sorted(gaps);
        Some(KillReport {
            blocks: gaps.len(),
            interval_p50_ms: percentile(&gaps, 0.5),
            max_gap_ms: gaps.last().copied().unwrap_or_default(),
            propose_timeout_ms,
        })
    } else {
        None
    };
    for node in nodes {
        node.stop().await?;
    }
    let recovery_us = recovery_cost_us(&keys);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(ConsensusReport { validators, block_time_ms, phases, kill: kill_report, recovery_us, cores })
}

/// Microseconds one sender recovery takes on one core (the median of five passes over 400
/// signed transfers).
fn recovery_cost_us(keys: &[PrivateKeySigner]) -> f64 {
    use alloy_consensus::transaction::SignerRecoverable;
    let txs: Vec<_> = keys.iter().enumerate().map(|(i, key)| load_transfer(key, i as u64)).collect();
    let passes: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for tx in &txs {
                std::hint::black_box(tx.recover_signer().ok());
            }
            started.elapsed()
        })
        .collect();
    super::median(passes).as_secs_f64() * 1e6 / txs.len().max(1) as f64
}

async fn run_phase(
    rate: u64,
    seconds: u64,
    keys: &[PrivateKeySigner],
    nonces: &mut [u64],
    urls: &[String],
    commits: &Arc<Mutex<Commits>>,
) -> anyhow::Result<PhaseReport> {
    use jsonrpsee::core::client::ClientT;
    let count = (rate * seconds) as usize;
    // Pre-signed, so signing never limits the rate; lane j owns senders j, j+CLIENTS, ...
    let mut lanes: Vec<Vec<(Duration, B256, String)>> = vec![Vec::new(); CLIENTS];
    for i in 0..count {
        let sender = i % keys.len();
        let tx = load_transfer(&keys[sender], nonces[sender]);
        nonces[sender] += 1;
        let at = Duration::from_secs_f64(i as f64 / rate.max(1) as f64);
        lanes[sender % CLIENTS].push((at, *tx.tx_hash(), alloy_primitives::hex::encode_prefixed(tx.encoded_2718())));
    }
    let blocks_before = commits.lock().expect("not poisoned").blocks.len();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (j, lane) in lanes.into_iter().enumerate() {
        let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&urls[j % urls.len()])?;
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::with_capacity(lane.len());
            let mut next = 0;
            while next < lane.len() {
                tokio::time::sleep_until((started + lane[next].0).into()).await;
                // Whatever is due goes in one batch call, as wallets and relayers under load do;
                // one HTTP request per transaction would make the load generator, which shares
                // this machine's cores with the validators, the bottleneck.
                let due = started.elapsed();
                let end = (next + lane[next..].iter().take_while(|(at, _, _)| *at <= due).count().max(1)).min(next + MAX_BATCH);
                let mut request = jsonrpsee::core::params::BatchRequestBuilder::new();
                for (_, _, raw) in &lane[next..end] {
                    request.insert("eth_sendRawTransaction", jsonrpsee::rpc_params![raw])?;
                }
                let at = Instant::now();
                let answers = client.batch_request::<B256>(request).await?;
                if let Some(error) = answers.into_iter().find_map(Result::err) {
                    anyhow::bail!("a transaction was refused: {error}");
                }
                sent.extend(lane[next..end].iter().map(|(_, hash, _)| (*hash, at)));
                next = end;
            }
            anyhow::Ok(sent)
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for task in tasks {
        sent.extend(task.await??);
    }
    let sending = started.elapsed().as_secs_f64().max(1e-3);
    let window_end = started + Duration::from_secs(seconds);
    tokio::time::sleep_until(window_end.into()).await;
    // Wait for what was sent to land (bounded), then measure.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = {
            let commits = commits.lock().expect("not poisoned");
            sent.iter().all(|(hash, _)| commits.txs.contains_key(hash))
        };
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let commits = commits.lock().expect("not poisoned");
    let finality = sorted(
        sent.iter()
            .filter_map(|(hash, at)| commits.txs.get(hash).map(|c| c.saturating_duration_since(*at).as_secs_f64() * 1e3))
            .collect(),
    );
    let phase_blocks: Vec<Instant> = commits.blocks[blocks_before..].iter().copied().filter(|t| *t <= window_end).collect();
    let intervals = sorted(phase_blocks.windows(2).map(|w| w[1].duration_since(w[0]).as_secs_f64() * 1e3).collect());
    let committed = finality.len();
    let last = sent.iter().filter_map(|(hash, _)| commits.txs.get(hash)).max().copied().unwrap_or(started);
    let span = last.duration_since(started).as_secs_f64().max(seconds as f64);
    Ok(PhaseReport {
        target_tps: rate,
        sent: sent.len(),
        committed,
        achieved_tps: if rate == 0 { 0.0 } else { committed as f64 / span },
        accepted_tps: sent.len() as f64 / sending,
        blocks: phase_blocks.len(),
        interval_p50_ms: percentile(&intervals, 0.5),
        interval_p99_ms: percentile(&intervals, 0.99),
        finality_p50_ms: percentile(&finality, 0.5),
        finality_p99_ms: percentile(&finality, 0.99),
        finality_ms: finality,
    })
}
