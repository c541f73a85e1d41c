//! A storage client over the same JSON-RPC surface the 0G SDK uses: publish a file's submission
//! on the Flow contract, upload its segments with proofs, download and verify it. Behind
//! `zgnode storage upload|download|status` and `zgnode bench storage`.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use anyhow::{Context, bail, ensure};
use base64::Engine;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use futures::StreamExt;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use zg_components::storage::merkle::{self, FileCommitment, SEGMENT_CHUNKS, SEGMENT_SIZE};
use zg_systems::storage::flow::{FLOW_ADDRESS, IFlow, IMarket, Submission, SubmissionData, SubmissionNode};

/// Segments per upload call, and calls in flight.
const SEGMENTS_PER_CALL: usize = 4;
const CALLS_IN_FLIGHT: usize = 6;
/// How often receipts and file info are polled while waiting for the chain.
const POLL: Duration = Duration::from_millis(10);

pub struct StorageClient {
    eth: HttpClient,
    storage: HttpClient,
}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct UploadReport {
    pub root: B256,
    pub tx_seq: u64,
    /// None when the file was already stored and finalized (nothing sent).
    pub tx_hash: Option<B256>,
    pub bytes: u64,
    /// Everything: hashing, publishing, waiting for the block, sending the segments.
    pub took: Duration,
    /// The segments' part alone: from the node knowing the file to every segment stored.
    pub transfer: Duration,
}

impl StorageClient {
    pub fn new(eth_url: &str, storage_url: &str) -> anyhow::Result<Self> {
        let build = |url: &str| {
            HttpClientBuilder::default()
                .max_request_size(128 * 1024 * 1024)
                .max_response_size(128 * 1024 * 1024)
                .request_timeout(Duration::from_secs(60))
                .build(url)
                .with_context(|| format!("bad URL {url}"))
        };
        Ok(Self { eth: build(eth_url)?, storage: build(storage_url)? })
    }

    async fn eth<T: serde::de::DeserializeOwned>(&self, method: &str, params: jsonrpsee::core::params::ArrayParams) -> anyhow::Result<T> {
        self.eth.request(method, params).await.with_context(|| format!("{method} on the chain's JSON-RPC"))
    }

    async fn zgs<T: serde::de::DeserializeOwned>(&self, method: &str, params: jsonrpsee::core::params::ArrayParams) -> anyhow::Result<T> {
        self.storage.request(method, params).await.with_context(|| format!("{method} on the storage node"))
    }

    pub async fn file_info(&self, root: B256) -> anyhow::Result<Option<Value>> {
        let info: Value = self.zgs("zgs_getFileInfo", rpc_params![root, true]).await?;
        Ok((!info.is_null()).then_some(info))
    }

    /// This node's part in erasure coding the file (zgnode's `zgs_getShardStatus`).
    pub async fn shard_status(&self, root: B256) -> anyhow::Result<Value> {
        self.zgs("zgs_getShardStatus", rpc_params![root]).await
    }

    async fn call_view(&self, to: Address, data: Vec<u8>) -> anyhow::Result<Bytes> {
        self.eth("eth_call", rpc_params![json!({"to": to, "data": Bytes::from(data)}), "latest"]).await
    }

    /// Sends the Flow submission for `commitment`, paying price per sector × sectors.
    async fn submit(&self, commitment: &FileCommitment, tags: &[u8], key: &PrivateKeySigner) -> anyhow::Result<B256> {
        let market = IFlow::marketCall::abi_decode_returns(&self.call_view(FLOW_ADDRESS, IFlow::marketCall {}.abi_encode()).await?)
            .context("the Flow contract did not name its market")?;
        let price = IMarket::pricePerSectorCall::abi_decode_returns(
            &self.call_view(market, IMarket::pricePerSectorCall {}.abi_encode()).await?,
        )
        .context("the market did not give a price")?;
        let sectors: u64 = commitment.submission.nodes.iter().map(|(_, h)| 1u64 << h).sum();
        let fee = price * U256::from(sectors);
        let nodes = commitment.submission.nodes.iter().map(|(root, height)| SubmissionNode { root: *root, height: U256::from(*height) }).collect();
        let input = IFlow::submitCall {
            submission: Submission {
                data: SubmissionData { length: U256::from(commitment.size), tags: Bytes::copy_from_slice(tags), nodes },
                submitter: key.address(),
            },
        }
        .abi_encode();
        crate::signing::send_and_wait(&self.eth, key, (FLOW_ADDRESS, fee, input.into()), 1_000_000, "the Flow submission").await
    }

    /// Publishes and uploads `data`; `progress(bytes_done)` is called as segments land.
    pub async fn upload(&self, data: &[u8], key: &PrivateKeySigner, progress: impl Fn(u64)) -> anyhow::Result<UploadReport> {
        self.upload_tagged(data, &[], key, progress).await
    }

    /// [`Self::upload`] with the submission's tags (a KV write's `sha256("STREAM")` + stream ids):
    /// a tagged file is always submitted, even when its bytes are stored already.
    pub async fn upload_tagged(&self, data: &[u8], tags: &[u8], key: &PrivateKeySigner, progress: impl Fn(u64)) -> anyhow::Result<UploadReport> {
        ensure!(!data.is_empty(), "an empty file cannot be stored");
        let started = Instant::now();
        let commitment = tokio::task::block_in_place(|| FileCommitment::of(data));
        let root = commitment.root();
        if let Some(info) = self.file_info(root).await?
            && info["finalized"] == true
            && tags.is_empty()
        {
            progress(data.len() as u64);
            return Ok(UploadReport { root, tx_seq: info["tx"]["seq"].as_u64().unwrap_or_default(), tx_hash: None, bytes: data.len() as u64, took: started.elapsed(), transfer: Duration::ZERO });
        }
        let tx_hash = self.submit(&commitment, tags, key).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let info = loop {
            if let Some(info) = self.file_info(root).await? {
                break info;
            }
            ensure!(Instant::now() < deadline, "the storage node did not see the submission within 60 s");
            tokio::time::sleep(POLL).await;
        };
        let tx_seq = info["tx"]["seq"].as_u64().context("file info without a tx seq")?;
        let transfer_started = Instant::now();
        let segments = merkle::data_segments(data.len() as u64) as usize;
        // Each call's JSON is built only when it is about to be sent, and CALLS_IN_FLIGHT calls
        // stay in flight, so encoding here overlaps checking and storing on the node.
        let calls = (0..segments).step_by(SEGMENTS_PER_CALL).map(|first| first..(first + SEGMENTS_PER_CALL).min(segments));
        let commitment = &commitment;
        let mut sends = futures::stream::iter(calls)
            .map(|indices| async move {
                let count = indices.len() as u64;
                let batch = segments_raw(data, commitment, indices)?;
                let result = self.storage.request::<Value, _>("zgs_uploadSegmentsByTxSeq", rpc_params![batch, tx_seq]).await;
                anyhow::Ok((result, count))
            })
            .buffer_unordered(CALLS_IN_FLIGHT);
        let mut done = 0u64;
        while let Some(sent) = sends.next().await {
            let (result, count) = sent?;
            if let Err(error) = result {
                let text = error.to_string();
                // A node that already has everything says so; that is success.
                if !text.contains("already uploaded and finalized") {
                    bail!("uploading segments failed: {text}");
                }
            }
            done += count;
            progress((done * SEGMENT_SIZE as u64).min(data.len() as u64));
        }
        drop(sends);
        let info = self.file_info(root).await?.context("the file disappeared from the storage node")?;
        ensure!(info["finalized"] == true, "uploaded every segment but the node does not report the file finalized: {info}");
        Ok(UploadReport {
            root,
            tx_seq,
            tx_hash: Some(tx_hash),
            bytes: data.len() as u64,
            took: started.elapsed(),
            transfer: transfer_started.elapsed(),
        })
    }

    /// Downloads a finalized file and checks it against its root.
    pub async fn download(&self, root: B256, progress: impl Fn(u64)) -> anyhow::Result<Vec<u8>> {
        let info = self.file_info(root).await?.with_context(|| format!("file {root} not found"))?;
        ensure!(info["finalized"] == true, "file {root} is not finalized on this node yet: {info}");
        let size = info["tx"]["size"].as_u64().context("file info without a size")?;
        let seq = info["tx"]["seq"].as_u64().context("file info without a tx seq")?;
        let chunks = merkle::chunk_count(size);
        let mut out = Vec::with_capacity(size as usize);
        let step = 4 * SEGMENT_CHUNKS as u64;
        // Several calls in flight, appended in order.
        let mut parts = futures::stream::iter((0..chunks).step_by(step as usize))
            .map(|start| async move {
                let end = (start + step).min(chunks);
                let part: Option<String> = self.zgs("zgs_downloadSegmentByTxSeq", rpc_params![seq, start, end]).await?;
                let part = part.with_context(|| format!("the node does not hold chunks {start}..{end}"))?;
                base64::engine::general_purpose::STANDARD.decode(part).context("the node sent bad base64")
            })
            .buffered(CALLS_IN_FLIGHT);
        while let Some(part) = parts.next().await {
            out.extend(part?);
            progress(out.len().min(size as usize) as u64);
        }
        drop(parts);
        out.truncate(size as usize);
        let got = tokio::task::block_in_place(|| FileCommitment::of(&out).root());
        ensure!(got == root, "downloaded data hashes to {got}, not {root}");
        Ok(out)
    }
}

/// Segments `indices` of `data` as one JSON array, written directly: base64 needs no escaping,
/// so the (large) data strings are not scanned and copied again by a JSON serializer.
fn segments_raw(data: &[u8], commitment: &FileCommitment, indices: std::ops::Range<usize>) -> anyhow::Result<Box<RawValue>> {
    use std::fmt::Write;
    let mut text = String::with_capacity(indices.len() * (SEGMENT_SIZE / 3 * 4 + 4096) + 2);
    text.push('[');
    for (n, index) in indices.enumerate() {
        let start = index * SEGMENT_SIZE;
        let end = (start + SEGMENT_SIZE).min(data.len());
        let proof = serde_json::to_string(&commitment.tree.proof(index))?;
        if n > 0 {
            text.push(',');
        }
        write!(text, r#"{{"root":"{}","index":{index},"fileSize":{},"proof":{proof},"data":""#, commitment.root(), commitment.size)?;
        let body = &data[start..end];
        let whole = body.len() - body.len() % 3;
        base64::engine::general_purpose::STANDARD.encode_string(&body[..whole], &mut text);
        // The last chunk is zero-padded to 256 bytes, as the SDK sends it.
        let mut tail = body[whole..].to_vec();
        tail.resize(body.len().div_ceil(256) * 256 - whole, 0);
        base64::engine::general_purpose::STANDARD.encode_string(&tail, &mut text);
        text.push_str("\"}");
    }
    text.push(']');
    Ok(RawValue::from_string(text)?)
}

/// Segment `index` of `data` as the SDK uploads it: the last chunk zero-padded, no flow padding.
/// (As a JSON value, for callers that alter it; the same text uploads send.)
pub fn segment_json(data: &[u8], commitment: &FileCommitment, index: usize) -> Value {
    let raw = segments_raw(data, commitment, index..index + 1).expect("a segment of the committed data");
    let mut batch: Vec<Value> = serde_json::from_str(raw.get()).expect("segments_raw writes valid JSON");
    batch.pop().unwrap_or(Value::Null)
}
