//! `zgnode bench storage`: the storage path measured on loopback, each against a bare baseline in
//! the same run: file commitment (chunk hashing, trees, submission) vs a bare keccak256 loop over
//! the same chunks; upload and download through a dev node's JSON-RPC (hashing, publishing,
//! proofs, redb) per file size.

use alloy_primitives::keccak256;
use std::time::Instant;

use zg_components::storage::merkle::{CHUNK_SIZE, FileCommitment};

#[derive(Clone, Debug)]
pub struct MerkleReport {
    pub bytes: usize,
    pub commitment_mb_s: f64,
    pub bare_keccak_mb_s: f64,
}

#[derive(Clone, Debug)]
pub struct TransferReport {
    pub bytes: u64,
    pub upload_mb_s: f64,
    pub download_mb_s: f64,
}

fn data(size: usize) -> Vec<u8> {
    // Not all zeros, not random (reproducible): the SDK vectors' pattern.
    (0..size).map(|i| ((i * 131 + 7) % 251) as u8).collect()
}

/// Commitment throughput (all cores) vs a bare single-threaded keccak loop over the same chunks.
pub fn merkle(size: usize, rounds: usize) -> MerkleReport {
    let bytes = data(size);
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let commitment = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(FileCommitment::of(&bytes).root());
            size as f64 / 1e6 / started.elapsed().as_secs_f64()
        })
        .collect();
    let bare = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            let mut acc = [0u8; 32];
            for chunk in bytes.chunks(CHUNK_SIZE) {
                let hash = keccak256(chunk);
                acc[0] ^= hash[0];
            }
            std::hint::black_box(acc);
            size as f64 / 1e6 / started.elapsed().as_secs_f64()
        })
        .collect();
    MerkleReport { bytes: size, commitment_mb_s: median(commitment), bare_keccak_mb_s: median(bare) }
}

/// Uploads and downloads files of these sizes through a dev node (redb on disk).
pub async fn transfers(sizes: &[u64]) -> anyhow::Result<Vec<TransferReport>> {
    let dir = tempfile::tempdir()?;
    let mut config = crate::NodeConfig::default();
    config.node.data_dir = dir.path().to_path_buf();
    config.rpc.addr = "127.0.0.1:0".parse()?;
    config.chain.block_time_ms = 100;
    config.storage.enabled = true;
    config.storage.addr = "127.0.0.1:0".parse()?;
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let node = crate::RunningNode::start(&config, &genesis).await?;
    let storage = node.storage_addr.ok_or_else(|| anyhow::anyhow!("storage role did not start"))?;
    let client = crate::zgs::client::StorageClient::new(&node.rpc_url(), &format!("http://{storage}"))?;
    let key: alloy_signer_local::PrivateKeySigner = crate::dev::dev_accounts()[0].private_key.to_string().parse()?;
    let mut reports = Vec::new();
    for &size in sizes {
        let bytes = data(size as usize);
        let upload = client.upload(&bytes, &key, |_| ()).await?;
        let started = Instant::now();
        let back = client.download(upload.root, |_| ()).await?;
        let download = started.elapsed();
        anyhow::ensure!(back == bytes, "downloaded bytes differ");
        reports.push(TransferReport {
            bytes: size,
            upload_mb_s: size as f64 / 1e6 / upload.took.as_secs_f64(),
            download_mb_s: size as f64 / 1e6 / download.as_secs_f64(),
        });
    }
    node.stop().await?;
    Ok(reports)
}
