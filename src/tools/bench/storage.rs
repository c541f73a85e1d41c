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
pub struct PoraReport {
    /// Median µs to build one sector proof from stored segments (64 MiB file).
    pub prove_us: f64,
    /// Median µs to check one proof off chain with the same folding the contract does.
    pub verify_us: f64,
    /// Gas of `submitProof` transactions the dev node's miner sent (median), if any landed.
    pub submit_gas: Option<u64>,
    pub proofs_on_chain: usize,
}

#[derive(Clone, Debug)]
pub struct TransferReport {
    pub bytes: u64,
    /// End to end: hashing, publishing, the block, the segments.
    pub upload_mb_s: f64,
    /// The segments alone, once the node knows the file.
    pub segments_mb_s: f64,
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

#[derive(Clone, Debug)]
pub struct ErasureReport {
    pub bytes: usize,
    pub encode_mb_s: f64,
    /// Parity plus the data shards copied out for the wire (what placing a segment costs).
    pub encode_with_copies_mb_s: f64,
    pub bare_encode_mb_s: f64,
    pub bare_encode_parallel_mb_s: f64,
    pub decode_mb_s: f64,
}

/// 8+4 erasure coding of `size` bytes of segments: the node's encoder (parity of each segment
/// straight from the segment's bytes, rayon across segments; and with the data shards copied out
/// as placing does) vs bare `reed_solomon_simd::encode` on pre-split shards, one thread and on the
/// rayon pool; then the node's decoder with four shards of every segment lost.
pub fn erasure(size: usize, rounds: usize) -> ErasureReport {
    use rayon::prelude::*;
    use zg_components::storage::merkle::SEGMENT_SIZE;
    use zg_systems::storage::erasure::{self, ErasureConfig};
    let config = ErasureConfig::DEFAULT;
    let bytes = data(size);
    let segments: Vec<&[u8]> = bytes.chunks(SEGMENT_SIZE).collect();
    let shard_len = config.shard_len(SEGMENT_SIZE);
    let split: Vec<Vec<Vec<u8>>> = segments.iter().map(|s| s.chunks(shard_len).map(<[u8]>::to_vec).collect()).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let rate = |started: Instant| size as f64 / 1e6 / started.elapsed().as_secs_f64();
    let mut ours = Vec::new();
    let mut with_copies = Vec::new();
    let mut bare = Vec::new();
    let mut bare_parallel = Vec::new();
    let mut decode = Vec::new();
    let encoded = erasure::encode_segments(config, &segments).expect("encodes");
    for round in 0..rounds.max(1) {
        // As the node's shard worker does: each segment coded on the rayon pool, its output
        // handed on (here dropped) before the next.
        let mut run_ours = || {
            let started = Instant::now();
            segments.par_iter().for_each(|segment| {
                std::hint::black_box(erasure::encode_parity(config, segment).expect("encodes"));
            });
            ours.push(rate(started));
            let started = Instant::now();
            segments.par_iter().for_each(|segment| {
                std::hint::black_box(erasure::encode_segment(config, segment).expect("encodes"));
            });
            with_copies.push(rate(started));
        };
        let mut run_bare_parallel = || {
            let started = Instant::now();
            split.par_iter().for_each(|shards| {
                std::hint::black_box(reed_solomon_simd::encode(config.data_shards, config.parity_shards, shards).expect("encodes"));
            });
            bare_parallel.push(rate(started));
        };
        // Alternate which goes first, so neither always meets a warmer (or busier) machine.
        if round % 2 == 0 {
            run_ours();
            run_bare_parallel();
        } else {
            run_bare_parallel();
            run_ours();
        }
        let started = Instant::now();
        for shards in &split {
            std::hint::black_box(reed_solomon_simd::encode(config.data_shards, config.parity_shards, shards).expect("encodes"));
        }
        bare.push(rate(started));
        let started = Instant::now();
        encoded.par_iter().zip(segments.par_iter()).for_each(|(parity, segment)| {
            let shards = (0..config.data_shards).map(|i| erasure::data_shard(config, segment, i)).chain(parity.iter().cloned());
            let partial: Vec<Option<Vec<u8>>> = shards.enumerate().map(|(i, s)| (![0, 3, 6, 9].contains(&i)).then_some(s)).collect();
            let back = erasure::decode_segment(config, &partial, segment.len()).expect("decodes");
            assert_eq!(back.len(), segment.len());
        });
        decode.push(rate(started));
    }
    ErasureReport {
        bytes: size,
        encode_mb_s: median(ours),
        encode_with_copies_mb_s: median(with_copies),
        bare_encode_mb_s: median(bare),
        bare_encode_parallel_mb_s: median(bare_parallel),
        decode_mb_s: median(decode),
    }
}

/// Proof building and checking costs on a 64 MiB file, off chain.
pub fn pora_offchain(samples: usize) -> (f64, f64) {
    use zg_components::storage::merkle::{SEGMENT_SIZE, hash_pair};
    use zg_components::storage::FileRecord;
    use zg_systems::storage::pora;
    let bytes = data(64 << 20);
    let commitment = FileCommitment::of(&bytes);
    let record = FileRecord {
        tx_seq: 0,
        root: commitment.root().0,
        size: bytes.len() as u64,
        start_entry_index: 0,
        sectors: commitment.submission.nodes.iter().map(|(_, h)| 1u64 << h).sum(),
        nodes: vec![],
        submitter: [0; 20],
        block_number: 0,
        tags: Vec::new(),
        tx_from: [0; 20],
    };
    let proofs: Vec<_> = (0..samples.max(1) as u64).map(|i| (i * 7919) % record.sectors).collect();
    let mut prove_times = Vec::new();
    let mut built = Vec::new();
    for chunk in &proofs {
        let started = Instant::now();
        let proof = pora::prove(&record, *chunk, |segment| {
            let start = segment as usize * SEGMENT_SIZE;
            Some((bytes[start..start + SEGMENT_SIZE].to_vec(), commitment.tree.proof(segment as usize)?))
        })
        .expect("held");
        prove_times.push(started.elapsed().as_secs_f64() * 1e6);
        built.push((*chunk, proof));
    }
    let mut verify_times = Vec::new();
    for (chunk, proof) in &built {
        let started = Instant::now();
        // The contract's fold: inside the segment, then across segments.
        let fold = |mut node: alloy_primitives::B256, mut position: u64, mut width: u64, siblings: &mut std::slice::Iter<'_, alloy_primitives::B256>| {
            while width > 1 {
                if !(position == width - 1 && width % 2 == 1) {
                    let sibling = siblings.next().expect("enough siblings");
                    node = if position.is_multiple_of(2) { hash_pair(&node, sibling) } else { hash_pair(sibling, &node) };
                }
                position /= 2;
                width = width.div_ceil(2);
            }
            node
        };
        let mut siblings = proof.siblings.iter();
        let segment = chunk / 1024;
        let width = (record.sectors - segment * 1024).min(1024);
        let node = fold(keccak256(&proof.chunk), chunk % 1024, width, &mut siblings);
        let root = fold(node, segment, record.sectors.div_ceil(1024), &mut siblings);
        assert_eq!(root, commitment.root());
        verify_times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    (median(prove_times), median(verify_times))
}

/// Uploads and downloads files of these sizes through a dev node (redb on disk).
pub async fn transfers(sizes: &[u64]) -> anyhow::Result<Vec<TransferReport>> {
    transfers_and_pora(sizes).await.map(|(reports, _)| reports)
}

/// The storage benches' dev node: chain and segments in `dir`, 100 ms blocks, JSON-RPC and the
/// storage port on free loopback ports.
pub(super) fn dev_storage_config(dir: &std::path::Path) -> anyhow::Result<crate::NodeConfig> {
    let mut config = crate::NodeConfig::default();
    config.node.data_dir = dir.to_path_buf();
    config.rpc.addr = "127.0.0.1:0".parse()?;
    config.chain.block_time_ms = 100;
    config.storage.enabled = true;
    config.storage.addr = "127.0.0.1:0".parse()?;
    Ok(config)
}

/// Transfers, then two PoRA epochs of the dev node's miner: the gas its proofs cost on chain.
pub async fn transfers_and_pora(sizes: &[u64]) -> anyhow::Result<(Vec<TransferReport>, PoraReport)> {
    let dir = tempfile::tempdir()?;
    let mut config = dev_storage_config(dir.path())?;
    config.storage.miner_key = Some(crate::dev::dev_accounts()[crate::dev::DEV_MINER_ACCOUNT].private_key.to_string());
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let node = crate::RunningNode::start(&config, &genesis).await?;
    let storage = node.storage_addr.ok_or_else(|| anyhow::anyhow!("storage role did not start"))?;
    let client = crate::storage::client::StorageClient::new(&node.rpc_url().ok_or_else(|| anyhow::anyhow!("JSON-RPC is off"))?, &format!("http://{storage}"))?;
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
            segments_mb_s: size as f64 / 1e6 / upload.transfer.as_secs_f64(),
            download_mb_s: size as f64 / 1e6 / download.as_secs_f64(),
        });
    }
    // Two PoRA epochs (20 blocks of 100 ms each) with data in the flow.
    let reader = node.rpc_url().ok_or_else(|| anyhow::anyhow!("JSON-RPC is off"))?;
    let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&reader)?;
    use jsonrpsee::core::client::ClientT;
    let start: alloy_primitives::U256 = client.request("eth_blockNumber", jsonrpsee::rpc_params![]).await?;
    let start = start.to::<u64>();
    let wait_until = start + 45;
    loop {
        let head: alloy_primitives::U256 = client.request("eth_blockNumber", jsonrpsee::rpc_params![]).await?;
        if head.to::<u64>() >= wait_until {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut gas = Vec::new();
    for number in start..=wait_until {
        let receipts: Vec<serde_json::Value> =
            client.request("eth_getBlockReceipts", jsonrpsee::rpc_params![format!("0x{number:x}")]).await?;
        for receipt in receipts {
            let to_mine = receipt["to"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(&format!("{:#x}", zg_systems::storage::pora::MINE_ADDRESS)));
            let passed = receipt["logs"].as_array().is_some_and(|logs| !logs.is_empty());
            if to_mine && passed && receipt["status"] == "0x1" {
                gas.push(u64::from_str_radix(receipt["gasUsed"].as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)?);
            }
        }
    }
    gas.sort();
    let (prove_us, verify_us) = tokio::task::spawn_blocking(|| pora_offchain(64)).await?;
    let pora = PoraReport { prove_us, verify_us, submit_gas: gas.get(gas.len() / 2).copied(), proofs_on_chain: gas.len() };
    node.stop().await?;
    Ok((reports, pora))
}
