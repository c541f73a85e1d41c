//! `zgnode bench kv`: the KV layer on one dev node over its storage port, as a client sees it.
//! Writes (batches submitted through the Flow, uploaded, replayed) against the storage upload of
//! the same bytes untagged; point reads (`kv_getValue`) against a one-chunk
//! `zgs_downloadSegmentByTxSeq` over the same HTTP client; range reads (`kv_getNext` walking the
//! stream); and the replay of a stream of 100k keys from the node's disk (`admin_addStream` on a
//! node that did not follow it), beside the pure replay of the same bytes in memory.

use alloy_primitives::B256;
use alloy_signer::SignerSync;
use base64::Engine;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use serde_json::Value;
use std::time::{Duration, Instant};

use zg_components::storage::kv::{FollowedStreams, KvIndex, KvTransaction};
use zg_systems::storage::kv::{self, StreamDataBuilder, tags_for};

pub struct KvLoad {
    pub batches: usize,
    pub keys_per_batch: usize,
    pub value_bytes: usize,
    pub reads: usize,
    pub replay_keys: usize,
}

pub struct KvReport {
    pub keys_written: usize,
    pub write_bytes: u64,
    /// Keys per second from the first submission to the last batch replayed.
    pub write_keys_s: f64,
    pub write_s: f64,
    /// The same bytes uploaded as plain files (no tags, so not replayed).
    pub baseline_upload_s: f64,
    pub point_reads_s: f64,
    pub baseline_chunk_reads_s: f64,
    pub range_keys_s: f64,
    pub replay_keys: usize,
    pub replay_submissions: usize,
    pub replay_s: f64,
    pub pure_replay_s: f64,
}

fn stream(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn batch(stream: B256, first_key: usize, keys: usize, value_bytes: usize) -> StreamDataBuilder {
    let mut data = StreamDataBuilder::new(u64::MAX);
    for k in first_key..first_key + keys {
        let value: Vec<u8> = (0..value_bytes).map(|i| ((k * 31 + i * 7) % 251) as u8).collect();
        data = data.write(stream, format!("key-{k:08}").as_bytes(), &value);
    }
    data
}

async fn applied(client: &jsonrpsee::http_client::HttpClient) -> anyhow::Result<u64> {
    let progress: Value = client.request("kv_getReplayProgress", rpc_params![]).await?;
    progress["appliedSeq"].as_u64().ok_or_else(|| anyhow::anyhow!("kv_getReplayProgress without appliedSeq: {progress}"))
}

async fn replayed_through(client: &jsonrpsee::http_client::HttpClient, seq: u64, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while applied(client).await? <= seq {
        anyhow::ensure!(started.elapsed() < limit, "kv replay did not reach seq {seq} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

pub async fn run(load: &KvLoad) -> anyhow::Result<KvReport> {
    anyhow::ensure!(load.batches > 0 && load.keys_per_batch > 0 && load.value_bytes > 0 && load.reads > 0, "every count must be positive");
    let dir = tempfile::tempdir()?;
    let mut config = super::storage::dev_storage_config(dir.path())?;
    // Follows the write stream; the replay stream is added later (replayed from disk then).
    config.storage.kv_streams = vec![stream(1).to_string()];
    let genesis = crate::dev::dev_genesis(crate::dev::DEV_CHAIN_ID);
    let node = crate::RunningNode::start(&config, &genesis).await?;
    let storage_url = format!("http://{}", node.storage_addr.ok_or_else(|| anyhow::anyhow!("storage role did not start"))?);
    let client = crate::storage::client::StorageClient::new(&node.rpc_url().ok_or_else(|| anyhow::anyhow!("JSON-RPC is off"))?, &storage_url)?;
    let rpc = jsonrpsee::http_client::HttpClientBuilder::default().max_response_size(64 << 20).build(&storage_url)?;
    let key: alloy_signer_local::PrivateKeySigner = crate::dev::dev_accounts()[0].private_key.to_string().parse()?;

    // Writes: each batch one submission, uploaded, then replayed; timed to the last replay.
    let batches: Vec<Vec<u8>> = (0..load.batches).map(|b| batch(stream(1), b * load.keys_per_batch, load.keys_per_batch, load.value_bytes).encode()).collect();
    let write_bytes: u64 = batches.iter().map(|b| b.len() as u64).sum();
    let started = Instant::now();
    let mut last = 0;
    for bytes in &batches {
        last = client.upload_tagged(bytes, &tags_for(&[stream(1)]), &key, |_| ()).await?.tx_seq;
    }
    replayed_through(&rpc, last, Duration::from_secs(120)).await?;
    let write_s = started.elapsed().as_secs_f64();
    // Baseline: the same bytes as plain files (one byte changed so no root repeats).
    let started = Instant::now();
    let mut plain_seq = 0;
    for bytes in &batches {
        let mut plain = bytes.clone();
        plain[0] ^= 0x80;
        plain_seq = client.upload(&plain, &key, |_| ()).await?.tx_seq;
    }
    let baseline_upload_s = started.elapsed().as_secs_f64();

    // Point reads of random written keys, and the baseline chunk reads over the same client.
    let keys_written = load.batches * load.keys_per_batch;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let started = Instant::now();
    for i in 0..load.reads {
        let k = (i * 7_919) % keys_written;
        let value: Value = rpc.request("kv_getValue", rpc_params![stream(1), b64(format!("key-{k:08}").as_bytes()), 0, 1 << 20]).await?;
        anyhow::ensure!(value["size"].as_u64() == Some(load.value_bytes as u64), "key-{k:08} read back wrong: {value}");
    }
    let point_reads_s = load.reads as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 0..load.reads {
        let chunk = (i as u64 * 7_919) % (batches[0].len() as u64 / 256).max(1);
        let _: Option<String> = rpc.request("zgs_downloadSegmentByTxSeq", rpc_params![plain_seq, chunk, chunk + 1]).await?;
    }
    let baseline_chunk_reads_s = load.reads as f64 / started.elapsed().as_secs_f64();
    // Range reads: walk the stream from its first key.
    let started = Instant::now();
    let mut walked = 0usize;
    let mut at: Value = rpc.request("kv_getFirst", rpc_params![stream(1), 0, 1 << 20]).await?;
    while !at.is_null() && walked < load.reads {
        walked += 1;
        let key = at["key"].as_str().unwrap_or_default().to_string();
        at = rpc.request("kv_getNext", rpc_params![stream(1), key, 0, 1 << 20, false]).await?;
    }
    let range_keys_s = walked as f64 / started.elapsed().as_secs_f64();

    // Replay: a stream of `replay_keys` keys written while the node did not follow it, then
    // added: the replayer starts over from seq 0 and reads every submission from disk.
    let per = 1_000.min(load.replay_keys.max(1));
    let replay_batches: Vec<Vec<u8>> = (0..load.replay_keys.div_ceil(per)).map(|b| batch(stream(2), b * per, per.min(load.replay_keys - b * per), 32).encode()).collect();
    let mut replay_last = 0;
    for bytes in &replay_batches {
        replay_last = client.upload_tagged(bytes, &tags_for(&[stream(2)]), &key, |_| ()).await?.tx_seq;
    }
    replayed_through(&rpc, replay_last, Duration::from_secs(120)).await?;
    let digest = crate::storage::kv::eip712::register_stream_digest(key.address(), stream(2), crate::dev::DEV_CHAIN_ID);
    let signature = format!("0x{}", alloy_primitives::hex::encode(key.sign_hash_sync(&digest)?.as_bytes()));
    let started = Instant::now();
    let added: bool = rpc.request("admin_addStream", rpc_params![stream(2), key.address(), signature]).await?;
    anyhow::ensure!(added, "admin_addStream refused");
    replayed_through(&rpc, replay_last, Duration::from_secs(600)).await?;
    let replay_s = started.elapsed().as_secs_f64();
    let probe: Value = rpc.request("kv_getValue", rpc_params![stream(2), b64(b"key-00000000"), 0, 64]).await?;
    anyhow::ensure!(probe["size"].as_u64() == Some(32), "the replayed stream lacks its first key: {probe}");
    node.stop().await?;

    // The same replay with the bytes in memory: the replay logic alone.
    let started = Instant::now();
    let mut index = KvIndex::new(FollowedStreams::All);
    for (seq, bytes) in replay_batches.iter().enumerate() {
        let tx = KvTransaction { seq: seq as u64, stream_ids: vec![stream(2)], sender: key.address(), size: bytes.len() as u64 };
        let replay = kv::replay(&tx, &index, &mut &bytes[..])?;
        kv::apply(&mut index, seq as u64, &replay);
    }
    let pure_replay_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(kv::value_of(&index, &stream(2), b"key-00000000", u64::MAX).is_some(), "the pure replay lost a key");

    Ok(KvReport {
        keys_written,
        write_bytes,
        write_keys_s: keys_written as f64 / write_s,
        write_s,
        baseline_upload_s,
        point_reads_s,
        baseline_chunk_reads_s,
        range_keys_s,
        replay_keys: load.replay_keys,
        replay_submissions: replay_batches.len(),
        replay_s,
        pure_replay_s,
    })
}

/// The report as `zgnode bench kv` prints it.
pub fn print(r: &KvReport) {
    println!(
        "  writes  {:>9.0} keys/s ({} keys, {:.1} MB in {:.2} s: submit, upload, replay) | the same bytes uploaded untagged: {:.2} s | ratio {:.2}",
        r.write_keys_s,
        r.keys_written,
        r.write_bytes as f64 / 1e6,
        r.write_s,
        r.baseline_upload_s,
        r.baseline_upload_s / r.write_s
    );
    println!(
        "  point reads {:>7.0} /s (kv_getValue) | one-chunk zgs_downloadSegmentByTxSeq over the same client {:>7.0} /s | ratio {:.2}",
        r.point_reads_s,
        r.baseline_chunk_reads_s,
        r.point_reads_s / r.baseline_chunk_reads_s
    );
    println!("  range reads {:>7.0} keys/s (kv_getFirst then kv_getNext)", r.range_keys_s);
    println!(
        "  replay of {} keys ({} submissions) from disk after admin_addStream: {:.2} s ({:.0} keys/s) | the replay logic alone on the bytes in memory: {:.3} s",
        r.replay_keys,
        r.replay_submissions,
        r.replay_s,
        r.replay_keys as f64 / r.replay_s,
        r.pure_replay_s
    );
}
