//! The `zgs_*` methods, with the shapes and error strings the official SDKs expect.

use alloy_primitives::B256;
use base64::Engine;
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use zg_components::storage::merkle::{self, CHUNK_SIZE, SEGMENT_CHUNKS, SEGMENT_SIZE};
use zg_components::storage::{FileRecord, Proof, StorageEvent};
use zg_systems::storage::flow::FLOW_ADDRESS;

use super::StorageContext;
// One error map for both servers: the codes and shapes the Ethereum RPC uses (geth's).
use crate::rpc::error::{INVALID_PARAMS, RpcResult, internal, invalid_params as invalid, server_error as server};

/// Most chunks one download call may ask for (four segments).
pub const MAX_DOWNLOAD_CHUNKS: u64 = 4 * SEGMENT_CHUNKS as u64;
/// Most segments one upload call may carry.
pub const MAX_UPLOAD_SEGMENTS: usize = 64;

/// The error the SDK treats as success for a file that is complete already.
fn already_finalized() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, "Invalid params", Some("already uploaded and finalized"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentWithProof {
    pub root: B256,
    /// Standard base64.
    pub data: String,
    /// File-relative segment index.
    pub index: u64,
    pub proof: Proof,
    pub file_size: u64,
}

/// A segment as uploaded, its data borrowed from the request (base64 has no escapes, so it is
/// never copied before it is decoded).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentUpload<'a> {
    pub root: B256,
    #[serde(borrow)]
    pub data: std::borrow::Cow<'a, str>,
    pub index: u64,
    pub proof: Proof,
    pub file_size: u64,
}

/// Checks an uploaded segment against a published file (root, size, index, exact length, base64,
/// proof at its position); returns the bytes to store. Every upload goes through it; so does the
/// `segment_upload` fuzz target.
pub fn check_upload(segment: &SegmentUpload<'_>, record: &FileRecord) -> RpcResult<Vec<u8>> {
    if segment.root != record.root() {
        return Err(invalid(format!("segment root {} is not the root {} of tx seq {}", segment.root, record.root(), record.tx_seq)));
    }
    if segment.file_size != record.size {
        return Err(invalid(format!("fileSize {} is not the submitted length {}", segment.file_size, record.size)));
    }
    let segments = record.data_segments();
    if segment.index >= segments {
        return Err(invalid(format!("segment index {} out of range: the file has {segments} segments", segment.index)));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(segment.data.as_bytes())
        .map_err(|e| invalid(format!("segment data is not base64: {e}")))?;
    let chunks = merkle::chunk_count(record.size);
    let expected = if segment.index + 1 == segments {
        ((chunks - segment.index * SEGMENT_CHUNKS as u64) as usize) * CHUNK_SIZE
    } else {
        SEGMENT_SIZE
    };
    if data.len() != expected {
        return Err(invalid(format!("segment {} must be {expected} bytes, got {}", segment.index, data.len())));
    }
    record.check_segment(segment.index, &data, &segment.proof).map_err(|e| invalid(format!("invalid segment proof: {e}")))?;
    Ok(data)
}

fn file_info(record: &FileRecord, held: u64, finalized: bool) -> Value {
    let nodes: Vec<Value> = record.nodes.iter().map(|(root, height)| json!([height, B256::from(*root)])).collect();
    json!({
        "tx": {
            "streamIds": zg_systems::storage::kv::stream_ids_of(&record.tags),
            // 0G's node serializes its `Vec<u8>` with serde: a JSON array of numbers, which Go
            // reads into `[]byte` (a "0x" string it cannot).
            "data": [],
            "dataMerkleRoot": record.root(),
            "merkleNodes": nodes,
            "startEntryIndex": record.start_entry_index,
            "size": record.size,
            "seq": record.tx_seq,
        },
        "finalized": finalized,
        "isCached": false,
        "uploadedSegNum": held,
        "pruned": false,
    })
}

/// A file as 0G's API names it: by tx seq or by data root (its `TxSeqOrRoot`).
#[derive(Clone, Copy, Debug)]
pub(super) enum FileRef {
    Seq(u64),
    Root(B256),
}

/// The info of a file as `zgs_getFileInfo*` answers it.
fn info_of(ctx: &StorageContext, record: &FileRecord) -> RpcResult<Value> {
    let held = ctx.held(record)?;
    Ok(file_info(record, held, ctx.finalized(record, held)?))
}

impl StorageContext {
    pub(super) fn file_by_seq(&self, seq: u64) -> RpcResult<Option<FileRecord>> {
        self.store.file(seq).map_err(internal)
    }

    /// The file a root names: the finalized submission if there is one, else the latest.
    pub(super) fn file_by_root(&self, root: &B256) -> RpcResult<Option<FileRecord>> {
        let mut candidates = self.store.files_with_root(root).map_err(internal)?;
        for file in candidates.iter().rev() {
            if self.store.segment_count(file.tx_seq).map_err(internal)? >= file.data_segments() {
                return Ok(Some(file.clone()));
            }
        }
        Ok(candidates.pop())
    }

    pub(super) fn held(&self, record: &FileRecord) -> RpcResult<u64> {
        self.store.segment_count(record.tx_seq).map_err(internal)
    }

    /// Whether the file is finalized here, given the segments it holds whole: all of them, or
    /// (erasure coding) a shard of every segment reached this node.
    pub(super) fn finalized(&self, record: &FileRecord, held: u64) -> RpcResult<bool> {
        if held >= record.data_segments() {
            return Ok(true);
        }
        Ok(self.shards.is_some() && self.store.sharded_segments(record.tx_seq).map_err(internal)? >= record.data_segments())
    }

    /// [`Self::finalized`], counting the held segments.
    pub(super) fn is_finalized(&self, record: &FileRecord) -> RpcResult<bool> {
        self.finalized(record, self.held(record)?)
    }

    /// Where a file's bytes can be read here: the file itself once finalized, else an earlier
    /// submission of the same root that is (the same bytes, as 0G's node copies them).
    pub(super) fn readable(&self, record: &FileRecord) -> RpcResult<Option<FileRecord>> {
        if self.is_finalized(record)? {
            return Ok(Some(record.clone()));
        }
        match self.file_by_root(&record.root())? {
            Some(twin) if self.is_finalized(&twin)? => Ok(Some(twin)),
            _ => Ok(None),
        }
    }

    /// The file a tx seq or a data root names.
    pub(super) fn file_of(&self, file: FileRef) -> RpcResult<Option<FileRecord>> {
        match file {
            FileRef::Seq(seq) => self.file_by_seq(seq),
            FileRef::Root(root) => self.file_by_root(&root),
        }
    }

    /// Rebuilds a segment this node does not hold from any `k` shards on the network (or takes
    /// it from the cache of rebuilt segments).
    fn reconstruct(&self, record: &FileRecord, segment: u64) -> Option<super::cache::Rebuilt> {
        let placement = self.shards.as_ref()?;
        if let Some(rebuilt) = self.rebuilt.get(record.tx_seq, segment) {
            return Some(rebuilt);
        }
        let holders = placement.holders(segment);
        let rebuilt = std::sync::Arc::new(placement.runtime.block_on(placement.reconstruct(&self.store, record, segment, &holders))?);
        self.rebuilt.insert(record.tx_seq, segment, rebuilt.clone());
        Some(rebuilt)
    }

    /// A segment held whole, checked against the file root before it is served: a bit flipped on
    /// disk is never passed on. A damaged segment is rebuilt from shards on the network (with
    /// erasure coding) and written back; otherwise the caller gets a clear error.
    fn checked_segment(&self, record: &FileRecord, index: u64) -> RpcResult<Option<(Vec<u8>, Proof)>> {
        let (Some(data), Some(proof)) = (
            self.store.segment(record.tx_seq, index).map_err(internal)?,
            self.store.segment_proof(record.tx_seq, index).map_err(internal)?,
        ) else {
            return Ok(None);
        };
        if record.check_segment(index, &data, &proof).is_ok() {
            return Ok(Some((data, proof)));
        }
        tracing::error!(seq = record.tx_seq, segment = index, "a stored segment does not match the file root: damaged on disk");
        metrics::counter!("zgnode_storage_damaged_segments_total").increment(1);
        let Some(rebuilt) = self.reconstruct(record, index) else {
            return Err(server(format!(
                "segment {index} of tx seq {} is damaged on this node's disk and cannot be rebuilt here; download it from another node",
                record.tx_seq
            )));
        };
        let (data, proof) = (rebuilt.0.clone(), rebuilt.1.clone());
        if let Err(error) = self.store.rewrite_segment(record.tx_seq, index, &data) {
            tracing::error!(%error, seq = record.tx_seq, segment = index, "cannot write a repaired segment back");
        } else {
            tracing::info!(seq = record.tx_seq, segment = index, "damaged segment rebuilt from shards and written back");
        }
        Ok(Some((data, proof)))
    }

    /// Checks a segment against the file's root; returns its bytes to store.
    fn check(&self, segment: &SegmentUpload<'_>, record: &FileRecord) -> RpcResult<Vec<u8>> {
        // A segment for another file is refused as such; for a complete file, the SDK's
        // "already finalized" comes before any check of the bytes.
        if segment.root == record.root() && segment.file_size == record.size && self.held(record)? >= record.data_segments() {
            return Err(already_finalized());
        }
        check_upload(segment, record)
    }

    fn upload_all(&self, segments: Vec<SegmentUpload<'_>>, seq: Option<u64>) -> RpcResult<Value> {
        if segments.len() > MAX_UPLOAD_SEGMENTS {
            return Err(invalid(format!("at most {MAX_UPLOAD_SEGMENTS} segments per call, got {}", segments.len())));
        }
        // Every segment is checked before any is stored; then all are committed together.
        let mut checked = Vec::with_capacity(segments.len());
        for segment in segments {
            let record = match seq {
                Some(seq) => self.file_by_seq(seq)?.ok_or_else(|| invalid(format!("no file with tx seq {seq}")))?,
                None => self
                    .file_by_root(&segment.root)?
                    .ok_or_else(|| invalid(format!("no file with root {} has been published", segment.root)))?,
            };
            let data = self.check(&segment, &record)?;
            checked.push((record.tx_seq, segment.index, data, segment.proof));
        }
        let batch: Vec<(u64, u64, &[u8], &Proof)> =
            checked.iter().map(|(seq, index, data, proof)| (*seq, *index, data.as_slice(), proof)).collect();
        let fresh = self.store.put_segments(&batch).map_err(internal)?;
        // The storage systems count them and (with erasure coding) have them encoded and placed.
        for (segment, fresh) in checked.iter().zip(fresh) {
            if fresh {
                let _ = self.events.send(StorageEvent::SegmentStored { tx_seq: segment.0, index: segment.1 });
            }
        }
        self.kv.poke();
        Ok(Value::Null)
    }

    /// Chunks `[start, end)` of a file as base64, or None when a segment is not held here.
    fn download(&self, record: &FileRecord, start: u64, end: u64) -> RpcResult<Option<String>> {
        let chunks = merkle::chunk_count(record.size);
        if start >= end || end > chunks {
            return Err(invalid(format!("chunk range [{start}, {end}) is outside the file's {chunks} chunks")));
        }
        if end - start > MAX_DOWNLOAD_CHUNKS {
            return Err(invalid(format!("at most {MAX_DOWNLOAD_CHUNKS} chunks per call")));
        }
        let from = start * CHUNK_SIZE as u64;
        let to = (end * CHUNK_SIZE as u64).min(merkle::padded_segments(record.size) * SEGMENT_SIZE as u64);
        Ok(self.file_bytes(record, from, to - from)?.map(|out| base64::engine::general_purpose::STANDARD.encode(out)))
    }

    /// Segment `index` of a file as stored (last chunk zero-padded): held whole, or rebuilt from
    /// shards; None when neither is possible here.
    pub(super) fn segment_data(&self, record: &FileRecord, index: u64) -> RpcResult<Option<std::sync::Arc<Vec<u8>>>> {
        if let Some((data, _)) = self.checked_segment(record, index)? {
            return Ok(Some(std::sync::Arc::new(data)));
        }
        Ok(self.reconstruct(record, index).map(|rebuilt| std::sync::Arc::new(rebuilt.0.clone())))
    }

    /// This node's part in erasure coding a file: the shards placement gives it now and how many
    /// of them it keeps, and the holders out of placement.
    fn shard_status(&self, record: &FileRecord) -> RpcResult<Value> {
        let Some(placement) = &self.shards else { return Ok(json!({ "erasureCoding": false })) };
        let own = placement.network.own_key();
        // Placement repeats every `n` segments: count one period, not every segment (a file
        // may have billions), and the shards held by one key-range scan.
        let segments = record.data_segments();
        let n = placement.setup.members.len().max(1) as u64;
        let responsible: u64 = (0..n.min(segments))
            .map(|residue| {
                let here = placement.holders(residue).into_iter().filter(|holder| *holder == own).count() as u64;
                let periods = segments / n + u64::from(residue < segments % n);
                here * periods
            })
            .sum();
        let held = self.store.shard_count(record.tx_seq).map_err(internal)?;
        let hex = |key: &[u8; 32]| format!("0x{}", alloy_primitives::hex::encode(key));
        let out: Vec<String> = placement.view.out().iter().map(hex).collect();
        Ok(json!({
            "erasureCoding": true,
            "dataShards": placement.setup.data_shards,
            "parityShards": placement.setup.parity_shards,
            "node": hex(&own),
            "members": placement.setup.members.iter().map(hex).collect::<Vec<_>>(),
            "outOfPlacement": out,
            "responsible": responsible,
            "held": held,
        }))
    }

    /// The proof of flow sector `sector` up to the data root of the file (published with
    /// `root`) it lies in: `lemma = [chunk hash, siblings…, root]`, `path` as in segment proofs
    /// (inside the segment first, then across segments). None when this node cannot read it.
    fn sector_proof(&self, sector: u64, root: &B256) -> RpcResult<Option<Proof>> {
        let files = self.store.files_with_root(root).map_err(internal)?;
        let Some(record) = files.iter().find(|f| (f.start_entry_index..f.start_entry_index + f.sectors).contains(&sector)) else {
            return Err(invalid(format!("sector {sector} is not in a file with root {root}")));
        };
        let within_file = sector - record.start_entry_index;
        let held = |segment: u64| -> Option<(Vec<u8>, Proof)> {
            match (self.store.segment(record.tx_seq, segment).ok().flatten(), self.store.segment_proof(record.tx_seq, segment).ok().flatten()) {
                (Some(data), Some(proof)) => Some((data, proof)),
                _ => self.reconstruct(record, segment).map(|rebuilt| rebuilt.as_ref().clone()),
            }
        };
        let Some(proof) = zg_systems::storage::pora::prove(record, within_file, held) else { return Ok(None) };
        let segment = within_file / SEGMENT_CHUNKS as u64;
        let within = (within_file % SEGMENT_CHUNKS as u64) as usize;
        let width = (record.sectors - segment * SEGMENT_CHUNKS as u64).min(SEGMENT_CHUNKS as u64) as usize;
        let mut path = merkle::expected_path(within, width);
        path.extend(merkle::expected_path(segment as usize, record.padded_segments() as usize));
        let mut lemma = vec![alloy_primitives::keccak256(&proof.chunk)];
        lemma.extend(proof.siblings);
        lemma.push(record.root());
        Ok(Some(Proof { lemma, path }))
    }

    /// A segment with its proof: held whole, or (a node keeping only shards) rebuilt from the
    /// network's shards, as plain downloads are.
    /// Segment `index` of the file as this node serves it (checked, or rebuilt from shards), with
    /// its proof; None when the node cannot produce it.
    pub(super) fn served_segment(&self, record: &FileRecord, index: u64) -> RpcResult<Option<(Vec<u8>, Proof)>> {
        if index >= record.data_segments() {
            return Err(invalid(format!("segment index {index} out of range: the file has {} segments", record.data_segments())));
        }
        let (mut data, proof) = match self.checked_segment(record, index)? {
            Some(held) => held,
            None => match self.reconstruct(record, index) {
                Some(rebuilt) => rebuilt.as_ref().clone(),
                None => return Ok(None),
            },
        };
        if self.corrupt_segments && !data.is_empty() {
            data[0] ^= 1;
        }
        Ok(Some((data, proof)))
    }

    fn segment_with_proof(&self, record: &FileRecord, index: u64) -> RpcResult<Option<SegmentWithProof>> {
        Ok(self.served_segment(record, index)?.map(|(data, proof)| SegmentWithProof {
            root: record.root(),
            data: base64::engine::general_purpose::STANDARD.encode(data),
            index,
            proof,
            file_size: record.size,
        }))
    }
}

fn seq_param<'a>(params: &'a Params<'_>) -> RpcResult<(Vec<SegmentUpload<'a>>, u64)> {
    params.parse::<(Vec<SegmentUpload<'a>>, u64)>().map_err(|e| invalid(e.message().to_string()))
}

pub fn register(module: &mut RpcModule<StorageContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    module.register_blocking_method("zgs_getStatus", |_, ctx, _| -> RpcResult<Value> {
        let indexed = ctx.store.storage_indexed().map_err(internal)?.unwrap_or(0);
        let block = ctx.store.block_hash(indexed).map_err(internal)?.unwrap_or_default();
        Ok(json!({
            "connectedPeers": ctx.network.as_ref().map_or(0, |n| n.connected().len()),
            "logSyncHeight": indexed,
            "logSyncBlock": block,
            "nextTxSeq": ctx.store.next_tx_seq().map_err(internal)?,
            "networkIdentity": {
                "chainId": ctx.chain_id,
                "flowAddress": FLOW_ADDRESS,
                "p2pProtocolVersion": {"major": 0, "minor": 4, "build": 0},
            },
        }))
    })?;
    module.register_method("zgs_getShardConfig", |_, _, _| -> RpcResult<Value> { Ok(json!({"shardId": 0, "numShard": 1})) })?;
    module.register_blocking_method("zgs_getFileInfo", |params, ctx, _| -> RpcResult<Value> {
        let mut seq = params.sequence();
        let root: B256 = seq.next()?;
        let _need_available: Option<bool> = seq.optional_next()?;
        match ctx.file_by_root(&root)? {
            Some(record) => info_of(&ctx, &record),
            None => Ok(Value::Null),
        }
    })?;
    module.register_blocking_method("zgs_getFileInfoByTxSeq", |params, ctx, _| -> RpcResult<Value> {
        let (seq,): (u64,) = params.parse()?;
        match ctx.file_by_seq(seq)? {
            Some(record) => info_of(&ctx, &record),
            None => Ok(Value::Null),
        }
    })?;
    // 0G's `TxSeqOrRoot`: a tx seq (a number) or a data root (a hex string). `true` once the
    // file is finalized here, `false` while it is published and not yet, null when unknown.
    module.register_blocking_method("zgs_checkFileFinalized", |params, ctx, _| -> RpcResult<Option<bool>> {
        let (which,): (Value,) = params.parse()?;
        let file = match &which {
            Value::Number(number) => FileRef::Seq(number.as_u64().ok_or_else(|| invalid(format!("tx seq {number} is not a whole number")))?),
            Value::String(text) => {
                FileRef::Root(text.parse().map_err(|_| invalid(format!("{text:.80} is neither a tx seq nor a 32-byte data root")))?)
            }
            _ => return Err(invalid("expected a tx seq (number) or a data root (0x-prefixed hex)")),
        };
        ctx.file_of(file)?.map(|record| ctx.is_finalized(&record)).transpose()
    })?;
    module.register_blocking_method("zgs_uploadSegmentsByTxSeq", |params, ctx, _| -> RpcResult<Value> {
        let (segments, seq) = seq_param(&params)?;
        ctx.upload_all(segments, Some(seq))
    })?;
    module.register_blocking_method("zgs_uploadSegmentByTxSeq", |params, ctx, _| -> RpcResult<Value> {
        let (segment, seq): (SegmentUpload<'_>, u64) = params.parse()?;
        ctx.upload_all(vec![segment], Some(seq))
    })?;
    module.register_blocking_method("zgs_uploadSegments", |params, ctx, _| -> RpcResult<Value> {
        let (segments,): (Vec<SegmentUpload<'_>>,) = params.parse()?;
        ctx.upload_all(segments, None)
    })?;
    module.register_blocking_method("zgs_uploadSegment", |params, ctx, _| -> RpcResult<Value> {
        let (segment,): (SegmentUpload<'_>,) = params.parse()?;
        ctx.upload_all(vec![segment], None)
    })?;
    module.register_blocking_method("zgs_getSectorProof", |params, ctx, _| -> RpcResult<Option<Proof>> {
        let (sector, root): (u64, B256) = params.parse()?;
        ctx.sector_proof(sector, &root)
    })?;
    // zgnode's own: erasure coding of a file on this node (not part of 0G's API).
    module.register_blocking_method("zgs_getShardStatus", |params, ctx, _| -> RpcResult<Value> {
        let (root,): (B256,) = params.parse()?;
        match ctx.file_by_root(&root)? {
            Some(record) => ctx.shard_status(&record),
            None => Ok(Value::Null),
        }
    })?;
    module.register_blocking_method("zgs_downloadSegmentByTxSeq", |params, ctx, _| -> RpcResult<Option<String>> {
        let (seq, start, end): (u64, u64, u64) = params.parse()?;
        match ctx.file_by_seq(seq)? {
            Some(record) => ctx.download(&record, start, end),
            None => Ok(None),
        }
    })?;
    module.register_blocking_method("zgs_downloadSegment", |params, ctx, _| -> RpcResult<Option<String>> {
        let (root, start, end): (B256, u64, u64) = params.parse()?;
        match ctx.file_by_root(&root)? {
            Some(record) => ctx.download(&record, start, end),
            None => Ok(None),
        }
    })?;
    module.register_blocking_method("zgs_downloadSegmentWithProof", |params, ctx, _| -> RpcResult<Option<SegmentWithProof>> {
        let (root, index): (B256, u64) = params.parse()?;
        match ctx.file_by_root(&root)? {
            Some(record) => ctx.segment_with_proof(&record, index),
            None => Ok(None),
        }
    })?;
    module.register_blocking_method(
        "zgs_downloadSegmentWithProofByTxSeq",
        |params, ctx, _| -> RpcResult<Option<SegmentWithProof>> {
            let (seq, index): (u64, u64) = params.parse()?;
            match ctx.file_by_seq(seq)? {
                Some(record) => ctx.segment_with_proof(&record, index),
                None => Ok(None),
            }
        },
    )?;
    Ok(())
}
