//! `zgnode bench alignment`: what auditing costs an epoch, against the network's own work in the
//! same run. A dev node (storage, DA, the PoRA miner; with `--provider` the dev compute provider
//! too, in the same process) holds F published files and B confirmed blobs; its process CPU is
//! measured over epochs without an auditor, then over epochs with one (8 segments and 2 blobs
//! drawn per epoch, and with a provider 1 chat answer re-run and 1 proved result), so the
//! difference is the auditor's and what it asks of the network; beside it, the bytes the auditor
//! fetched, its report's gas, and the gas the chain's own work used in the same epochs (PoRA
//! proofs, DA sampling rounds, settlements, the audit requests' payments).

use std::time::{Duration, Instant};

use anyhow::Context;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use serde_json::Value;

/// One load's figures, per epoch.
#[derive(Clone, Debug)]
pub struct AuditCost {
    pub files: usize,
    pub blobs: usize,
    pub provider: bool,
    pub epochs: u64,
    /// Process CPU seconds per epoch without and with the auditor.
    pub cpu_without_s: f64,
    pub cpu_with_s: f64,
    /// CPU seconds per epoch of the auditor's own threads.
    pub auditor_threads_s: f64,
    pub checks: f64,
    pub failed: u64,
    pub bytes_fetched: f64,
    pub check_wall_s: f64,
    pub report_gas: f64,
    /// Gas of every other transaction in the audited epochs, per epoch.
    pub network_gas: f64,
    /// Blocks per epoch.
    pub epoch_blocks: u64,
}

impl std::fmt::Display for AuditCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "  {:>4} files, {:>3} blobs{}: per {}-block epoch, process CPU {:.3} s without the auditor, {:.3} s with it ({:+.3} s); \
             the auditor's threads {:.3} s ({:.1} % of the node's own); {:.1} checks ({} failed), {:.0} KiB fetched, checks {:.0} ms wall; \
             report {:.0} gas vs the network's own {:.0} gas ({:.1} %)",
            self.files,
            self.blobs,
            if self.provider { ", 1 provider" } else { "" },
            self.epoch_blocks,
            self.cpu_without_s,
            self.cpu_with_s,
            self.cpu_with_s - self.cpu_without_s,
            self.auditor_threads_s,
            100.0 * self.auditor_threads_s / self.cpu_without_s.max(1e-9),
            self.checks,
            self.failed,
            self.bytes_fetched / 1024.0,
            self.check_wall_s * 1e3,
            self.report_gas,
            self.network_gas,
            100.0 * self.report_gas / self.network_gas.max(1.0)
        )
    }
}

/// CPU seconds (user + system) in a /proc `stat` file.
fn cpu_s_of(stat_path: &std::path::Path) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// This process's CPU seconds, from /proc; None elsewhere.
fn process_cpu_s() -> Option<f64> {
    cpu_s_of(std::path::Path::new("/proc/self/stat"))
}

/// CPU seconds of this process's threads named `alignment-*` (the auditor's tick, watcher and
/// checker: the hashing and proof checks run there; the node's side of its requests does not).
fn auditor_threads_cpu_s() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    tasks
        .flatten()
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.starts_with("alignment-")))
        .filter_map(|task| cpu_s_of(&task.path().join("stat")))
        .sum()
}

async fn head(eth: &jsonrpsee::http_client::HttpClient) -> anyhow::Result<u64> {
    let head: alloy_primitives::U256 = eth.request("eth_blockNumber", rpc_params![]).await?;
    Ok(head.try_into()?)
}

async fn wait_for_block(eth: &jsonrpsee::http_client::HttpClient, number: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while head(eth).await? < number {
        anyhow::ensure!(Instant::now() < deadline, "the chain stopped before block {number}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Gas of blocks `from..to` (the auditor's reports excluded when `reports_from` is given).
async fn gas_between(eth: &jsonrpsee::http_client::HttpClient, from: u64, to: u64, reports_from: Option<alloy_primitives::Address>) -> anyhow::Result<u64> {
    let mut gas = 0u64;
    for number in from..to {
        let block: Value = eth.request("eth_getBlockByNumber", rpc_params![format!("0x{number:x}"), true]).await?;
        for tx in block["transactions"].as_array().cloned().unwrap_or_default() {
            let from_auditor = reports_from.is_some_and(|a| tx["from"].as_str().is_some_and(|f| f.eq_ignore_ascii_case(&a.to_string())));
            if from_auditor {
                continue;
            }
            let receipt: Value = eth.request("eth_getTransactionReceipt", rpc_params![tx["hash"].clone()]).await?;
            gas += crate::rpc::quantity_of(&receipt["gasUsed"]);
        }
    }
    Ok(gas)
}

pub async fn audit_cost(loads: &[(usize, usize)], epochs: u64, provider: bool) -> anyhow::Result<Vec<AuditCost>> {
    let mut out = Vec::new();
    for &(files, blobs) in loads {
        out.push(one_load(files, blobs, epochs, provider).await?);
    }
    Ok(out)
}

/// The dev compute provider (chat and verifiable) against `rpc`, once its proving keys are made.
async fn start_provider(rpc: &str, dir: &std::path::Path) -> anyhow::Result<crate::compute::provider::ProviderHandle> {
    let mut config = crate::compute::dev_provider::dev_config(rpc, "127.0.0.1:0".parse()?, dir);
    config.verifiable = Some(crate::compute::dev_provider::dev_verifiable(dir)?);
    let handle = crate::compute::dev_provider::start(config).await?;
    let url = format!("http://{}", handle.addr);
    let deadline = Instant::now() + Duration::from_secs(300);
    while !crate::compute::verifiable::client::service_info(&url).await.is_ok_and(|info| info.ready) {
        anyhow::ensure!(Instant::now() < deadline, "the provider's proving keys were not made in 300 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(handle)
}

async fn one_load(files: usize, blobs: usize, epochs: u64, with_provider: bool) -> anyhow::Result<AuditCost> {
    let dir = tempfile::tempdir()?;
    let mut config = super::storage::dev_storage_config(dir.path())?;
    // One block a second: header timestamps are whole seconds and advance at least one a block,
    // so faster blocks run ahead of the wall clock and the producer pauses to let it catch up.
    config.chain.block_time_ms = 1_000;
    let accounts = crate::dev::dev_accounts();
    config.storage.miner_key = Some(accounts[crate::dev::DEV_MINER_ACCOUNT].private_key.to_string());
    config.da.disperser_key = Some(accounts[crate::dev::DEV_DISPERSER_ACCOUNT].private_key.to_string());
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let node = crate::RunningNode::start(&config, &genesis).await?;
    let rpc = node.rpc_url().context("JSON-RPC is off")?;
    let storage = node.storage_addr.context("the storage role did not start")?;
    let eth = jsonrpsee::http_client::HttpClientBuilder::default().request_timeout(Duration::from_secs(60)).build(&rpc)?;
    let client = crate::storage::client::StorageClient::new(&rpc, &format!("http://{storage}"))?;
    let key: alloy_signer_local::PrivateKeySigner = accounts[1].private_key.to_string().parse()?;
    for i in 0..files {
        let bytes: Vec<u8> = (0..600 * 1024).map(|j| ((i * 131 + j * 7) % 251) as u8).collect();
        client.upload(&bytes, &key, |_| ()).await?;
    }
    for i in 0..blobs {
        let blob: Vec<u8> = (0..100_000).map(|j| ((i * 17 + j * 3) % 253) as u8).collect();
        let submitted: Value = eth.request("da_submitBlob", rpc_params![alloy_primitives::hex::encode_prefixed(&blob)]).await?;
        let id = submitted["requestId"].clone();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status: Value = eth.request("da_getBlobStatus", rpc_params![id.clone()]).await?;
            if status["status"] == "CONFIRMED" || status["status"] == "FINALIZED" {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "blob {i} not confirmed in 120 s: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let provider = if with_provider { Some(start_provider(&rpc, &dir.path().join("provider")).await?) } else { None };
    let epoch_blocks = crate::alignment::dev_params().epoch_blocks;
    let next_epoch_start = |now: u64| (now / epoch_blocks + 1) * epoch_blocks;

    // Without an auditor: `epochs` whole epochs of the node's own work.
    let start = next_epoch_start(head(&eth).await?);
    wait_for_block(&eth, start).await?;
    let cpu0 = process_cpu_s().unwrap_or_default();
    wait_for_block(&eth, start + epochs * epoch_blocks).await?;
    let cpu_without = process_cpu_s().unwrap_or_default() - cpu0;

    // With one: from its first report on, `epochs` whole epochs.
    let settings = crate::alignment::dev_auditor_settings(rpc.clone(), Some(format!("http://{storage}")));
    let operator = settings.operator_key.address();
    let auditor = crate::alignment::auditor::start(settings, tokio::runtime::Handle::current())?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while auditor.stats().reports_sent == 0 {
        anyhow::ensure!(Instant::now() < deadline, "the auditor sent no report in 300 s: {:?}", auditor.stats());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let from = next_epoch_start(head(&eth).await?);
    wait_for_block(&eth, from).await?;
    let before = auditor.stats();
    let (cpu1, threads1) = (process_cpu_s().unwrap_or_default(), auditor_threads_cpu_s());
    wait_for_block(&eth, from + epochs * epoch_blocks).await?;
    let cpu_with = process_cpu_s().unwrap_or_default() - cpu1;
    let auditor_threads = auditor_threads_cpu_s() - threads1;
    // The last audited epoch's report lands in the next epoch.
    let reported = before.reports_sent + epochs;
    let deadline = Instant::now() + Duration::from_secs(300);
    while auditor.stats().reports_sent < reported {
        anyhow::ensure!(Instant::now() < deadline, "the auditor's reports stalled: {:?}", auditor.stats());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = auditor.stats();
    let network_gas = gas_between(&eth, from, from + epochs * epoch_blocks, Some(operator)).await?;
    tokio::task::spawn_blocking(move || auditor.stop()).await?;
    if let Some(provider) = provider {
        provider.stop().await;
    }
    node.stop().await?;
    let per = |x: f64| x / epochs as f64;
    Ok(AuditCost {
        files,
        blobs,
        provider: with_provider,
        epochs,
        cpu_without_s: per(cpu_without),
        cpu_with_s: per(cpu_with),
        auditor_threads_s: per(auditor_threads),
        checks: per((after.checks - before.checks) as f64),
        failed: after.failed - before.failed,
        bytes_fetched: per((after.bytes_fetched - before.bytes_fetched) as f64),
        check_wall_s: per(after.check_seconds - before.check_seconds),
        report_gas: (after.report_gas - before.report_gas) as f64 / (after.reports_sent - before.reports_sent).max(1) as f64,
        network_gas: per(network_gas as f64),
        epoch_blocks,
    })
}
