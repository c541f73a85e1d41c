//! The I/O side of erasure coding: the storage systems decide which segments to encode and
//! place and which shards to rebuild (`zg_systems::storage::shards`); this runs that work off
//! the tick (coding on the rayon pool, fetching over QUIC) and reports back through the storage
//! inbox. Downloads of segments this node does not hold use the same reconstruction.

use alloy_primitives::B256;

use zg_components::consensus::Shard;
use zg_components::storage::shard::{HolderKey, PlacementView, ShardSetup, ShardWork};
use zg_components::storage::{FileRecord, Proof, StorageEvent, merkle};
use zg_systems::storage::erasure::{self, ErasureConfig};
use zg_systems::storage::pora::shard_proof;
use zg_systems::storage::shards::{ShardExecutor, holders_of};

use crate::store::ChainStore;

/// Erasure coding across the validator network's storage nodes.
#[derive(Clone)]
pub struct ShardPlacement {
    pub network: crate::net::NetHandle,
    pub setup: ShardSetup,
    /// Holders out of placement (penalized by PoRA), kept current by the storage systems.
    pub view: PlacementView,
    pub runtime: tokio::runtime::Handle,
}

impl ShardPlacement {
    pub fn config(&self) -> ErasureConfig {
        ErasureConfig { data_shards: self.setup.data_shards, parity_shards: self.setup.parity_shards }
    }

    /// Who holds each shard of `segment` now.
    pub fn holders(&self, segment: u64) -> Vec<HolderKey> {
        holders_of(segment, &self.setup, &self.view.out())
    }

    /// Rebuilds a segment from any `k` shards held at `holders` (this node's own from disk),
    /// checked against the file root with the proof the shards carry. None when too few shards
    /// answered or they do not match.
    pub async fn reconstruct(&self, store: &ChainStore, record: &FileRecord, segment: u64, holders: &[HolderKey]) -> Option<(Vec<u8>, Proof)> {
        let own = self.network.own_key();
        let config = self.config();
        // Shards on this node's disk first; the network only when they are not enough.
        let local: Vec<Option<Shard>> = (0..holders.len()).map(|index| store.shard(record.tx_seq, segment, index as u8).ok().flatten()).collect();
        let enough_here = local.iter().flatten().count() >= config.data_shards;
        let fetches = holders.iter().zip(local).enumerate().map(|(index, (holder, here))| {
            let (network, seq, holder) = (self.network.clone(), record.tx_seq, *holder);
            async move {
                match here {
                    Some(shard) => Some(shard),
                    None if holder == own || enough_here => None,
                    None => network.fetch_shard(holder, seq, segment, index as u8).await,
                }
            }
        });
        let found: Vec<Option<Shard>> = futures::future::join_all(fetches).await;
        let record = record.clone();
        // Decoding and hashing are CPU work: off the async workers.
        tokio::task::spawn_blocking(move || decode_checked(config, &record, segment, found)).await.ok().flatten()
    }

    /// Encodes a stored segment and sends each shard to its holder (this node's own to disk).
    fn place(&self, store: &ChainStore, events: &crossbeam_channel::Sender<StorageEvent>, tx_seq: u64, segment: u64, holders: &[HolderKey]) -> anyhow::Result<()> {
        let data = store.segment(tx_seq, segment)?.ok_or_else(|| anyhow::anyhow!("segment {segment} of tx seq {tx_seq} is not stored"))?;
        let proof = store.segment_proof(tx_seq, segment)?.ok_or_else(|| anyhow::anyhow!("segment {segment} of tx seq {tx_seq} has no proof"))?;
        let record = store.file(tx_seq)?.ok_or_else(|| anyhow::anyhow!("tx seq {tx_seq} is not a published file"))?;
        let own = self.network.own_key();
        for (index, shard) in cut_shards(self.config(), &record, segment, &data, &proof)?.into_iter().enumerate() {
            match holders.get(index) {
                Some(holder) if *holder == own => {
                    store.put_shard(&shard)?;
                    let _ = events.send(StorageEvent::ShardHeld { tx_seq, segment, index: index as u8 });
                }
                Some(holder) => self.network.place_shard(*holder, shard),
                None => {}
            }
        }
        Ok(())
    }
}

/// Every shard of a segment (data first, then parity), each carrying the segment's proof so any
/// holder can check a rebuild, and each data shard the chunk-tree nodes it needs to prove its
/// chunks for PoRA.
pub fn cut_shards(config: ErasureConfig, record: &FileRecord, segment: u64, data: &[u8], proof: &Proof) -> Result<Vec<Shard>, erasure::ErasureError> {
    let mut hashes = merkle::chunk_hashes(data);
    let chunks = hashes.len();
    hashes.resize(shard_proof::segment_width(record, segment).max(chunks), merkle::empty_chunk_hash());
    let tree = merkle::MerkleTree::build(hashes);
    let shards = erasure::encode_segment(config, data)?;
    Ok(shards
        .into_iter()
        .enumerate()
        .map(|(index, bytes)| Shard {
            tx_seq: record.tx_seq,
            segment,
            index: index as u8,
            segment_len: data.len() as u32,
            data: bytes,
            proof_lemma: proof.lemma.iter().map(|h| h.0).collect(),
            proof_path: proof.path.clone(),
            boundary: if index < config.data_shards {
                shard_proof::boundary(&tree, &config.data_shard_chunks(chunks, index))
            } else {
                Vec::new()
            },
        })
        .collect())
}

/// Decodes a segment from the shards found and checks it against the file root.
fn decode_checked(config: ErasureConfig, record: &FileRecord, segment: u64, found: Vec<Option<Shard>>) -> Option<(Vec<u8>, Proof)> {
    let sample = found.iter().flatten().next().cloned()?;
    let shards: Vec<Option<Vec<u8>>> = found.into_iter().map(|s| s.map(|s| s.data)).collect();
    let data = erasure::decode_segment(config, &shards, sample.segment_len as usize).ok()?;
    let proof = Proof { lemma: sample.proof_lemma.iter().map(|h| B256::from(*h)).collect(), path: sample.proof_path.clone() };
    let leaf = merkle::segment_root(record.size, segment, &merkle::chunk_hashes(&data));
    if proof.validate(&record.root(), &leaf, segment as usize, record.padded_segments() as usize).is_err() {
        tracing::warn!(seq = record.tx_seq, segment, "reconstructed segment does not match the file root");
        return None;
    }
    Some((data, proof))
}

/// Runs the storage systems' shard work.
#[derive(Clone)]
pub struct ShardWorker {
    pub placement: ShardPlacement,
    pub store: ChainStore,
    pub events: crossbeam_channel::Sender<StorageEvent>,
}

impl ShardExecutor for ShardWorker {
    fn run(&self, work: ShardWork) {
        let worker = self.clone();
        match work {
            ShardWork::Place { tx_seq, segment, holders } => rayon::spawn(move || {
                if let Err(error) = worker.placement.place(&worker.store, &worker.events, tx_seq, segment, &holders) {
                    // Nothing is lost: the holders' repair rebuilds what did not arrive.
                    tracing::warn!(%error, seq = tx_seq, segment, "placing shards failed");
                }
            }),
            ShardWork::Repair { tx_seq, segment, wanted, holders } => {
                self.placement.runtime.spawn(async move { worker.repair(tx_seq, segment, wanted, holders).await });
            }
        }
    }
}

impl ShardWorker {
    async fn repair(&self, tx_seq: u64, segment: u64, wanted: Vec<u8>, holders: Vec<HolderKey>) {
        let done = self.try_repair(tx_seq, segment, &wanted, &holders).await;
        match done {
            Ok(true) => tracing::debug!(seq = tx_seq, segment, ?wanted, "repaired shards"),
            Ok(false) => {
                let _ = self.events.send(StorageEvent::RepairFailed { tx_seq, segment, wanted });
            }
            Err(error) => {
                tracing::warn!(%error, seq = tx_seq, segment, "shard repair failed");
                let _ = self.events.send(StorageEvent::RepairFailed { tx_seq, segment, wanted });
            }
        }
    }

    /// Rebuilds and keeps the wanted shards; false when the segment cannot be restored yet.
    async fn try_repair(&self, tx_seq: u64, segment: u64, wanted: &[u8], holders: &[HolderKey]) -> anyhow::Result<bool> {
        let Some(record) = self.store.file(tx_seq)? else { return Ok(false) };
        let held = match (self.store.segment(tx_seq, segment)?, self.store.segment_proof(tx_seq, segment)?) {
            (Some(data), Some(proof)) => Some((data, proof)),
            _ => self.placement.reconstruct(&self.store, &record, segment, holders).await,
        };
        let Some((data, proof)) = held else { return Ok(false) };
        let (config, store, events, wanted) = (self.placement.config(), self.store.clone(), self.events.clone(), wanted.to_vec());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let shards = cut_shards(config, &record, segment, &data, &proof)?;
            for index in wanted {
                let Some(shard) = shards.get(index as usize) else { continue };
                store.put_shard(shard)?;
                let _ = events.send(StorageEvent::ShardHeld { tx_seq, segment, index });
            }
            Ok(())
        })
        .await??;
        Ok(true)
    }
}
