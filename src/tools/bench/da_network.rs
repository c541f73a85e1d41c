//! `zgnode bench da-network`: blobs dispersed to a four-validator network on loopback (every
//! validator a DA node, QUIC between them), from DisperseBlob's entry point to CONFIRMED on
//! chain, with where the time went (encoding, the registration transaction, pieces out and
//! attestations back) and the dispersal throughput.

use std::time::{Duration, Instant};

use zg_components::da::BlobStatus;

use crate::da::DispersalReport;
use crate::tools::testnet::{NetworkPlan, write_network};

#[derive(Clone, Debug)]
pub struct DisperseRun {
    pub report: DispersalReport,
    /// DisperseBlob accepted it to CONFIRMED read back.
    pub to_confirmed_s: f64,
}

/// The blobs of one size: DisperseBlob -> CONFIRMED as a distribution, and where the time went.
#[derive(Clone, Debug)]
pub struct SizeSummary {
    pub blob_bytes: usize,
    pub runs: Vec<DisperseRun>,
}

impl SizeSummary {
    fn quantile(&self, of: impl Fn(&DisperseRun) -> f64, p: f64) -> f64 {
        super::percentile(&super::sorted(self.runs.iter().map(of).collect()), p)
    }

    /// DisperseBlob -> CONFIRMED, seconds, at quantile `p` (nearest rank).
    pub fn to_confirmed_s(&self, p: f64) -> f64 {
        self.quantile(|r| r.to_confirmed_s, p)
    }

    /// Blob megabytes per second from DisperseBlob to CONFIRMED, at the median blob.
    pub fn end_to_end_mb_s(&self) -> f64 {
        self.blob_bytes as f64 / 1e6 / self.to_confirmed_s(0.5)
    }
}

impl std::fmt::Display for SizeSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(first) = self.runs.first() else { return write!(f, "  {} bytes: no runs", self.blob_bytes) };
        let median = |of: fn(&DisperseRun) -> f64| self.quantile(of, 0.5);
        writeln!(
            f,
            "  {:>9} bytes (k = {:>3}), {} blobs: DisperseBlob -> CONFIRMED p50 {:.2} s, p99 {:.2} s (nearest rank) = {:.1} MB/s of blob end to end at p50",
            self.blob_bytes,
            first.report.k,
            self.runs.len(),
            self.to_confirmed_s(0.5),
            self.to_confirmed_s(0.99),
            self.end_to_end_mb_s()
        )?;
        write!(
            f,
            "    medians: encode and commit {:.1} ms, registration {:.1} ms, pieces out + attestations {:.1} ms ({:.1} MB of pieces to {} other members: \
             {:.0} MB/s of blob, {:.0} MB/s on the wire), signatures on chain {:.1} ms | {}/{} slots signed",
            median(|r| r.report.encode_s) * 1e3,
            median(|r| r.report.register_s) * 1e3,
            median(|r| r.report.distribute_s) * 1e3,
            median(|r| r.report.wire_bytes as f64) / 1e6,
            first.report.members.saturating_sub(1),
            median(DisperseRun::dispersal_mb_s),
            median(DisperseRun::wire_mb_s),
            median(|r| r.to_confirmed_s - r.report.encode_s - r.report.register_s - r.report.distribute_s) * 1e3,
            first.report.signed_slots,
            first.report.total_slots
        )
    }
}

impl DisperseRun {
    /// Blob megabytes per second of the distribution step (pieces out, attestations back).
    pub fn dispersal_mb_s(&self) -> f64 {
        self.report.blob_bytes as f64 / 1e6 / self.report.distribute_s
    }

    /// Piece megabytes on the wire per second of the same step.
    pub fn wire_mb_s(&self) -> f64 {
        self.report.wire_bytes as f64 / 1e6 / self.report.distribute_s
    }
}

/// Starts four validators in this process, disperses `runs` different blobs of each size from
/// node 0, one at a time, and stops them.
pub async fn disperse(sizes: &[usize], runs: usize) -> anyhow::Result<Vec<SizeSummary>> {
    let dir = tempfile::tempdir()?;
    let sockets: Vec<_> = (0..4).map(|_| std::net::UdpSocket::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    let plan = NetworkPlan {
        chain_id: 31337,
        rpc_ports: vec![0; 4],
        p2p_ports: sockets.iter().map(|s| s.local_addr().map(|a| a.port())).collect::<Result<_, _>>()?,
        block_time_ms: 100,
        epoch_length: 100_000,
        genesis_validators: Some(4),
        storage_port: None,
    };
    drop(sockets);
    let layout = write_network(dir.path(), &plan, false)?;
    let genesis = crate::local_files::load_genesis(&dir.path().join("genesis.json"))?;
    let mut nodes = Vec::new();
    for (i, node) in layout.iter().enumerate() {
        let mut config = crate::config::NodeConfig::load(&node.config)?;
        config.consensus.timeout_propose_ms = 300;
        config.consensus.timeout_prevote_ms = 100;
        config.consensus.timeout_precommit_ms = 100;
        config.metrics.enabled = false;
        if i == 0 {
            config.da.disperser_key = Some(crate::dev::dev_accounts()[crate::dev::DEV_DISPERSER_ACCOUNT].private_key.to_string());
        }
        nodes.push(crate::RunningNode::start(&config, &genesis).await?);
    }
    let da = nodes[0].da().ok_or_else(|| anyhow::anyhow!("node 0 has no DA role"))?;
    let handle = nodes[0].handle();
    let started = Instant::now();
    while handle.head()?.0 < 2 {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the network made no blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut summaries = Vec::new();
    for (n, size) in sizes.iter().enumerate() {
        let mut summary = SizeSummary { blob_bytes: *size, runs: Vec::new() };
        for run in 0..runs {
            summary.runs.push(disperse_one(&da, *size, n * runs + run).await?);
        }
        summaries.push(summary);
    }
    for node in nodes {
        node.stop().await?;
    }
    Ok(summaries)
}

/// One blob, different for each `nonce`, from DisperseBlob's entry point to CONFIRMED.
async fn disperse_one(da: &std::sync::Arc<crate::da::DaNode>, size: usize, nonce: usize) -> anyhow::Result<DisperseRun> {
    let mut blob: Vec<u8> = (0..size).map(|i| ((i * 131 + 7 + nonce * 13) % 251) as u8).collect();
    // The nonce in the first bytes too: the pattern alone repeats every 251 nonces, and a blob
    // sent again joins its first dispersal instead of timing a new one.
    let stamp = (nonce as u64).to_le_bytes();
    let stamped = stamp.len().min(size);
    blob[..stamped].copy_from_slice(&stamp[..stamped]);
    let started = Instant::now();
    let (_, root) = da.submit(blob, crate::da::Listener::JsonRpc, None).await?;
    loop {
        match da.status(&root).map(|r| (r.status, r.detail)) {
            Some((BlobStatus::Confirmed | BlobStatus::Finalized, _)) => break,
            Some((BlobStatus::Failed | BlobStatus::InsufficientSignatures, detail)) => {
                anyhow::bail!("the {size}-byte blob was not confirmed: {detail:?}")
            }
            _ => {}
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(300), "the {size}-byte blob was not confirmed in 5 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let to_confirmed_s = started.elapsed().as_secs_f64();
    // The chain may say CONFIRMED a moment before the dispersal task has written its report.
    let reported = Instant::now();
    loop {
        if let Some(report) = da.dispersals().into_iter().rev().find(|r| r.data_root == root) {
            return Ok(DisperseRun { report, to_confirmed_s });
        }
        anyhow::ensure!(reported.elapsed() < Duration::from_secs(10), "no dispersal report for {root}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(to_confirmed_s: f64, distribute_s: f64) -> DisperseRun {
        let report = DispersalReport {
            data_root: alloy_primitives::B256::ZERO,
            blob_bytes: 10_000_000,
            k: 198,
            encode_s: 0.1,
            register_s: 0.1,
            distribute_s,
            wire_bytes: 50_000_000,
            members: 4,
            signed_slots: 3072,
            total_slots: 3072,
        };
        DisperseRun { report, to_confirmed_s }
    }

    #[test]
    fn the_summary_reads_quantiles_of_the_blobs_and_throughput_at_the_median() {
        let summary = SizeSummary { blob_bytes: 10_000_000, runs: vec![run(2.0, 1.0), run(1.0, 0.5), run(4.0, 2.0), run(1.5, 0.8), run(3.0, 1.2)] };
        assert_eq!(summary.to_confirmed_s(0.5), 2.0);
        assert_eq!(summary.to_confirmed_s(0.99), 4.0, "nearest rank: the slowest of five");
        assert_eq!(summary.end_to_end_mb_s(), 5.0);
        let printed = summary.to_string();
        assert!(printed.contains("p50 2.00 s, p99 4.00 s") && printed.contains("5 blobs") && printed.contains("5.0 MB/s"), "{printed}");
        assert!(printed.contains("pieces out + attestations 1000.0 ms"), "the median step: {printed}");
        let none = SizeSummary { blob_bytes: 1, runs: Vec::new() };
        assert!(none.to_string().contains("no runs"));
    }
}
