//! `zgnode chaos`: a seeded fault campaign on a local validator network with storage. N nodes run
//! as processes on 127.0.0.1 under transaction and upload load while a schedule drawn from the
//! seed kills nodes (SIGKILL) and restarts them, cuts one off from the others, delays and
//! reorders frames, and flips bits in segment files on disk. At the end everything is healed and
//! the campaign checks: one chain (the same hash at every height on every node), every receipt
//! it saw still there in the same block, every acknowledged file downloadable from every node,
//! and blocks still coming after the last fault. The schedule ([`ChaosSchedule`]) is decided from
//! the seed before anything runs, so the same seed replays the same faults at the same times.

use alloy_primitives::{Address, B256, U256};
use anyhow::{Context, bail};
use crate::rpc::quantity_of as quantity;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::chaos_schedule::{ChaosSchedule, Fault, ScheduledFault};
use crate::tools::testnet::{NetworkPlan, NodeLayout, write_network};

#[derive(Clone, Debug)]
pub struct ChaosPlan {
    pub schedule: ChaosSchedule,
    pub dir: PathBuf,
    /// The zgnode binary to run nodes with.
    pub binary: PathBuf,
}

#[derive(Clone, Debug, Default)]
pub struct ChaosReport {
    /// Each fault and heal as it happened: when, and how late against the schedule.
    pub faults: Vec<String>,
    pub height: u64,
    pub receipts_checked: usize,
    pub files_checked: usize,
    pub transactions_sent: usize,
}

use crate::tools::seeded::SeededRng as Rng;

/// An acknowledged upload: its root and its bytes.
type UploadedFile = (B256, Vec<u8>);

/// Streams of the seed besides the schedule's: ports, and which node each transfer goes to.
const LAYOUT_STREAM: u64 = 0x1a70;
const LOAD_STREAM: u64 = 0x10ad;

struct NodeRun {
    layout: NodeLayout,
    rpc: String,
    storage: String,
    child: Option<Child>,
}

impl NodeRun {
    fn start(&mut self, binary: &Path) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.layout.dir.join("node.log"))?;
        let child = Command::new(binary)
            .args(["run", "--config", &self.layout.config.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: no shutdown path runs.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn alive(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for NodeRun {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_ports(n: usize, udp: bool) -> anyhow::Result<Vec<u16>> {
    if udp {
        let sockets: Vec<_> = (0..n).map(|_| std::net::UdpSocket::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
        sockets.iter().map(|s| Ok(s.local_addr()?.port())).collect()
    } else {
        let sockets: Vec<_> = (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
        sockets.iter().map(|s| Ok(s.local_addr()?.port())).collect()
    }
}

/// A base port with `n` consecutive free TCP ports above it (storage RPC is `base + i`).
fn consecutive_free_ports(n: usize, rng: &mut Rng) -> anyhow::Result<u16> {
    for _ in 0..200 {
        let base = 20_000 + rng.below(30_000) as u16;
        if (0..n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no {n} consecutive free ports found")
}

async fn call(client: &jsonrpsee::http_client::HttpClient, method: &str, params: Value) -> anyhow::Result<Value> {
    use jsonrpsee::core::client::ClientT;
    let params = match params {
        Value::Array(items) => {
            let mut builder = jsonrpsee::core::params::ArrayParams::new();
            for item in items {
                builder.insert(item)?;
            }
            builder
        }
        _ => jsonrpsee::core::params::ArrayParams::new(),
    };
    Ok(client.request(method, params).await?)
}

fn client(url: &str) -> anyhow::Result<jsonrpsee::http_client::HttpClient> {
    Ok(jsonrpsee::http_client::HttpClientBuilder::default().request_timeout(Duration::from_secs(5)).build(url)?)
}


async fn head(url: &str) -> Option<u64> {
    let client = client(url).ok()?;
    call(&client, "eth_blockNumber", json!([])).await.ok().map(|v| quantity(&v))
}

async fn block_hash(url: &str, number: u64) -> Option<String> {
    let client = client(url).ok()?;
    let block = call(&client, "eth_getBlockByNumber", json!([format!("{number:#x}"), false])).await.ok()?;
    block["hash"].as_str().map(str::to_string)
}

async fn set_faults(node: &NodeRun, blocked: &[[u8; 32]], max_delay_ms: u64) {
    if !node.alive() {
        return;
    }
    let keys: Vec<String> = blocked.iter().map(hex::encode).collect();
    if let Ok(client) = client(&node.rpc) {
        let _ = call(&client, "zgnode_setNetFaults", json!([keys, max_delay_ms])).await;
    }
}

/// Every node: nobody blocked, frames delayed up to `max_delay_ms` (0: faults healed).
async fn set_faults_everywhere(nodes: &[NodeRun], max_delay_ms: u64) {
    for node in nodes {
        set_faults(node, &[], max_delay_ms).await;
    }
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) -> anyhow::Result<()> {
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn lay_out(plan: &ChaosPlan, rng: &mut Rng) -> anyhow::Result<Vec<NodeRun>> {
    let nodes = plan.schedule.nodes;
    let storage_base = consecutive_free_ports(nodes, rng)?;
    let network = NetworkPlan {
        chain_id: crate::dev::DEV_CHAIN_ID,
        rpc_ports: free_ports(nodes, false)?,
        p2p_ports: free_ports(nodes, true)?,
        block_time_ms: 200,
        epoch_length: 1_000,
        genesis_validators: None,
        storage_port: Some(storage_base),
    };
    let layout = write_network(&plan.dir, &network, true)?;
    layout
        .into_iter()
        .enumerate()
        .map(|(i, layout)| {
            let text = std::fs::read_to_string(&layout.config)?;
            let text = text
                .replace("fault_injection = false", "fault_injection = true")
                .replace("timeout_propose_ms = 1500", "timeout_propose_ms = 600");
            std::fs::write(&layout.config, text)?;
            let rpc = format!("http://127.0.0.1:{}", network.rpc_ports[i]);
            let storage = format!("http://127.0.0.1:{}", storage_base as usize + i);
            Ok(NodeRun { layout, rpc, storage, child: None })
        })
        .collect()
}

/// Runs the campaign; Err names the first check that failed (with the seed to replay it).
pub async fn run(plan: &ChaosPlan) -> anyhow::Result<ChaosReport> {
    let schedule = &plan.schedule;
    schedule.validate()?;
    let seed = schedule.seed;
    schedule.save(&plan.dir.join("schedule.json"))?;
    let mut nodes = lay_out(plan, &mut Rng::new(seed ^ LAYOUT_STREAM))?;
    for node in nodes.iter_mut() {
        node.start(&plan.binary)?;
    }
    let urls: Vec<String> = nodes.iter().map(|n| n.rpc.clone()).collect();
    wait_until("every node to reach block 3", Duration::from_secs(90), async || {
        for url in &urls {
            if head(url).await.unwrap_or(0) < 3 {
                return false;
            }
        }
        true
    })
    .await?;
    let keys: Vec<[u8; 32]> = nodes.iter().map(|n| n.layout.peer.key).collect();
    let mut report = ChaosReport::default();
    let mut receipts: BTreeMap<B256, String> = BTreeMap::new();
    let mut pending: Vec<B256> = Vec::new();
    let accounts = crate::dev::dev_accounts();
    let signers: Vec<alloy_signer_local::PrivateKeySigner> = accounts[..4]
        .iter()
        .map(|a| alloy_signer_local::PrivateKeySigner::from_bytes(&a.private_key))
        .collect::<Result<_, _>>()?;
    let mut nonces = [0u64; 4];
    let mut load_rng = Rng::new(seed ^ LOAD_STREAM);
    // Uploads run beside the loop, so a slow one never shifts the faults' times.
    let uploads_done: std::sync::Arc<std::sync::Mutex<Vec<UploadedFile>>> = Default::default();
    let mut upload_tasks = Vec::new();
    let mut next_upload = 0;
    let mut next_fault = 0;
    // The fault holding now (one at a time), and when it heals (campaign milliseconds).
    let mut holding: Option<(&ScheduledFault, u64)> = None;
    let started = Instant::now();
    let elapsed_ms = || started.elapsed().as_millis() as u64;
    // Until the end, and until every scheduled fault has run (a late heal can push the last).
    while elapsed_ms() < schedule.duration_ms || next_fault < schedule.faults.len() {
        // Load: a transfer from each account to a live node.
        for (account, signer) in signers.iter().enumerate() {
            let target = load_rng.below(nodes.len() as u64) as usize;
            if !nodes[target].alive() {
                continue;
            }
            let tx = crate::signing::sign_eip1559(signer, crate::dev::DEV_CHAIN_ID, alloy_primitives::TxKind::Call(Address::repeat_byte(0x5c)), U256::from(1), Default::default(), nonces[account], 21_000);
            let raw = alloy_eips::eip2718::Encodable2718::encoded_2718(&tx);
            if let Ok(client) = client(&nodes[target].rpc)
                && call(&client, "eth_sendRawTransaction", json!([alloy_primitives::hex::encode_prefixed(&raw)])).await.is_ok()
            {
                pending.push(*tx.tx_hash());
                report.transactions_sent += 1;
            }
            // A nonce that did not land (its node was killed) is sent again next time.
            if let Ok(client) = client(&nodes[target].rpc)
                && let Ok(count) = call(&client, "eth_getTransactionCount", json!([signer.address(), "pending"])).await
            {
                nonces[account] = quantity(&count);
            }
        }
        // Receipts seen become the record every node must keep.
        let live = nodes.iter().position(NodeRun::alive).unwrap_or(0);
        if let Ok(client) = client(&nodes[live].rpc) {
            let mut still = Vec::new();
            for hash in pending.drain(..) {
                match call(&client, "eth_getTransactionReceipt", json!([hash])).await {
                    Ok(receipt) if receipt["blockHash"].is_string() => {
                        receipts.insert(hash, receipt["blockHash"].as_str().unwrap_or_default().to_string());
                    }
                    _ => still.push(hash),
                }
            }
            pending = still.into_iter().rev().take(2_000).collect();
        }
        // The uploads now due (to a node the schedule holds no fault on; one it acknowledges
        // is held by it, or its shards are placed).
        while let Some(upload) = schedule.uploads.get(next_upload).filter(|u| u.at_ms <= elapsed_ms()) {
            next_upload += 1;
            let data: Vec<u8> = (0..upload.bytes).map(|i| (i as u64 ^ seed).wrapping_mul(31) as u8).collect();
            let uploader = alloy_signer_local::PrivateKeySigner::from_bytes(&accounts[5 + next_upload % 3].private_key)?;
            let storage = crate::storage::client::StorageClient::new(&nodes[upload.node].rpc, &nodes[upload.node].storage)?;
            let done = uploads_done.clone();
            upload_tasks.push(tokio::spawn(async move {
                if let Ok(Ok(uploaded)) = tokio::time::timeout(Duration::from_secs(20), storage.upload(&data, &uploader, |_| ())).await {
                    done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((uploaded.root, data));
                }
            }));
        }
        // Faults: heal the holding one when due, then start the next when its time has come.
        let now_ms = elapsed_ms();
        if let Some((fault, heal_at)) = holding
            && now_ms >= heal_at
        {
            match fault.fault {
                Fault::Kill => nodes[fault.node].start(&plan.binary)?,
                Fault::Partition | Fault::Delay { .. } => set_faults_everywhere(&nodes, 0).await,
                Fault::Corrupt { .. } => {}
            }
            report.faults.push(format!("{:>6.1}s healed node {} ({} ms late)", now_ms as f64 / 1e3, fault.node, now_ms - heal_at));
            holding = None;
        }
        if holding.is_none()
            && let Some(fault) = schedule.faults.get(next_fault).filter(|f| f.at_ms <= now_ms)
        {
            next_fault += 1;
            let index = fault.node;
            let kind = match &fault.fault {
                Fault::Kill => {
                    nodes[index].kill();
                    "kill"
                }
                Fault::Partition => {
                    for (i, node) in nodes.iter().enumerate() {
                        let blocked: Vec<[u8; 32]> = if i == index { keys.iter().copied().filter(|k| *k != keys[index]).collect() } else { vec![keys[index]] };
                        set_faults(node, &blocked, 0).await;
                    }
                    "partition"
                }
                Fault::Delay { max_delay_ms } => {
                    set_faults_everywhere(&nodes, *max_delay_ms).await;
                    "delay"
                }
                Fault::Corrupt { draw } => {
                    corrupt_a_segment(&nodes[index].layout, &mut Rng::new(*draw));
                    "corrupt"
                }
            };
            report.faults.push(format!(
                "{:>6.1}s node {index}: {kind} for {:.1}s ({} ms late)",
                now_ms as f64 / 1e3,
                fault.hold_ms as f64 / 1e3,
                now_ms - fault.at_ms
            ));
            holding = Some((fault, now_ms + fault.hold_ms));
        }
        // The next load round, or sooner when the schedule's next step is due.
        let next_due = [holding.map(|(_, heal_at)| heal_at), schedule.faults.get(next_fault).filter(|_| holding.is_none()).map(|f| f.at_ms), schedule.uploads.get(next_upload).map(|u| u.at_ms)]
            .into_iter()
            .flatten()
            .min();
        let pause = next_due.map_or(300, |due| due.saturating_sub(elapsed_ms()).min(300));
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    for task in upload_tasks {
        let _ = task.await;
    }
    let files = std::mem::take(&mut *uploads_done.lock().unwrap_or_else(std::sync::PoisonError::into_inner));

    // Heal everything; then the chain must move again and every check must hold.
    for node in nodes.iter_mut() {
        if !node.alive() {
            node.start(&plan.binary)?;
        }
    }
    set_faults_everywhere(&nodes, 0).await;
    let mut top = 0;
    for url in &urls {
        top = top.max(head(url).await.unwrap_or(0));
    }
    let target = top + 5;
    wait_until(&format!("every node past block {target} after the last fault (seed {})", seed), Duration::from_secs(120), async || {
        for url in &urls {
            if head(url).await.unwrap_or(0) < target {
                return false;
            }
        }
        true
    })
    .await?;
    for number in 1..=target {
        let mut hashes = Vec::new();
        for url in &urls {
            hashes.push(block_hash(url, number).await);
        }
        if hashes.iter().any(|h| h.is_none() || *h != hashes[0]) {
            bail!("fork or gap at height {number}: {hashes:?} (seed {})", seed);
        }
    }
    report.height = target;
    for (hash, block) in &receipts {
        for url in &urls {
            let client = client(url)?;
            let receipt = call(&client, "eth_getTransactionReceipt", json!([hash])).await?;
            if receipt["blockHash"].as_str() != Some(block.as_str()) {
                bail!("receipt {hash} seen in block {block} is {} on {url} (seed {})", receipt["blockHash"], seed);
            }
        }
    }
    report.receipts_checked = receipts.len();
    // A node that was away during an upload holds its shards once its audits and repairs ran
    // (rebuilds back off up to a minute while peers were unreachable): files must become
    // downloadable everywhere within that, byte for byte.
    let deadline = Instant::now() + Duration::from_secs(180);
    for (root, data) in &files {
        for node in &nodes {
            let storage = crate::storage::client::StorageClient::new(&node.rpc, &node.storage)?;
            loop {
                let attempt = tokio::time::timeout(Duration::from_secs(60), storage.download(*root, |_| ())).await;
                match attempt {
                    Ok(Ok(got)) if got == *data => break,
                    Ok(Ok(_)) => bail!("file {root} from {} differs (seed {})", node.storage, seed),
                    Ok(Err(error)) if Instant::now() < deadline => tracing::debug!(%error, "not downloadable yet"),
                    Ok(Err(error)) => bail!("file {root} not downloadable from {} within 3 min of the last fault (seed {}): {error:#}", node.storage, seed),
                    Err(_) => bail!("download of {root} from {} timed out (seed {})", node.storage, seed),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    report.files_checked = files.len();
    Ok(report)
}

/// A flipped bit models a disk failing over time: only segment files untouched this long are
/// hit. A flip inside the window between an upload's acknowledgement and its shards' placement
/// (milliseconds) loses that segment, as with any store that acknowledges one copy (0G's
/// nodes too); the campaign does not count that window against the node.
const SETTLED_SEGMENTS: Duration = Duration::from_secs(10);

/// Flips one bit, in place, in a settled segment file of the node's data dir, if it has any.
fn corrupt_a_segment(layout: &NodeLayout, rng: &mut Rng) {
    let Ok(config) = crate::NodeConfig::load(&layout.config) else { return };
    let Ok(entries) = std::fs::read_dir(config.node.data_dir.join("segments")) else { return };
    let settled = |entry: &std::fs::DirEntry| {
        entry.metadata().and_then(|m| m.modified()).ok().and_then(|at| at.elapsed().ok()).is_some_and(|age| age >= SETTLED_SEGMENTS)
    };
    let mut files: Vec<PathBuf> = entries.flatten().filter(settled).map(|e| e.path()).collect();
    files.sort();
    if files.is_empty() {
        return;
    }
    let path = &files[rng.below(files.len() as u64) as usize];
    // One byte rewritten where it lies: a reader never sees the file shorter than it is.
    use std::os::unix::fs::FileExt;
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(path) else { return };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return };
    if len == 0 {
        return;
    }
    let at = rng.below(len);
    let mut byte = [0u8; 1];
    if file.read_exact_at(&mut byte, at).is_ok() {
        byte[0] ^= 1 << rng.below(8);
        let _ = file.write_all_at(&byte, at);
    }
}
