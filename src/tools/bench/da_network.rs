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

/// Starts four validators in this process, disperses a blob of each size from node 0 and
/// stops them.
pub async fn disperse(sizes: &[usize]) -> anyhow::Result<Vec<DisperseRun>> {
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
    let mut runs = Vec::new();
    for (n, size) in sizes.iter().enumerate() {
        let blob: Vec<u8> = (0..*size).map(|i| ((i * 131 + 7 + n) % 251) as u8).collect();
        let started = Instant::now();
        let (_, root) = da.submit(blob, crate::da::Listener::JsonRpc, None).await?;
        loop {
            let status = da.status(&root).map(|r| (r.status, r.detail));
            match status {
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
        let report = da
            .dispersals()
            .into_iter()
            .rev()
            .find(|r| r.data_root == root)
            .ok_or_else(|| anyhow::anyhow!("no dispersal report for {root}"))?;
        runs.push(DisperseRun { report, to_confirmed_s });
    }
    for node in nodes {
        node.stop().await?;
    }
    Ok(runs)
}
