//! The I/O side of erasure coding: the storage systems decide which segments to encode and
//! place and which shards to rebuild (`zg_systems::storage::shards`); this runs that work off
//! the tick (coding on the rayon pool, fetching over QUIC) and reports back through the storage
//! inbox. Downloads of segments this node does not hold use the same reconstruction.

use zg_components::consensus::Shard;
use zg_components::storage::shard::{HolderKey, PlacementView, ShardSetup, ShardWork};
use zg_components::storage::{FileRecord, Proof, StorageEvent, merkle};
use zg_systems::storage::erasure::{self, ErasureConfig};
use zg_systems::storage::pora::shard_proof;
use zg_systems::storage::shards::{ShardExecutor, holders_of};

use crate::store::ChainStore;

mod decode;
pub mod place_batch;
mod repairs;

pub use decode::decode_checked;
pub use repairs::RepairProgress;
#[cfg(test)]
use decode::subsets;

/// Erasure coding across the validator network's storage nodes.
#[derive(Clone)]
pub struct ShardPlacement {
    pub network: crate::net::NetHandle,
    pub setup: ShardSetup,
    /// Holders out of placement (penalized by PoRA), kept current by the storage systems.
    pub view: PlacementView,
    pub runtime: tokio::runtime::Handle,
    /// Repairs under way and done (the status page and metrics read it).
    pub repairs: std::sync::Arc<RepairProgress>,
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
    /// checked against the file root with the proof the shards carry. When the holders have
    /// too few (a placement that never reached them: the uploader was cut off, or its read
    /// failed), the other members are asked for the missing shards: a node holding the
    /// segment whole (the uploader) cuts any of them. None when too few shards answered or
    /// they do not match.
    pub async fn reconstruct(&self, store: &ChainStore, record: &FileRecord, segment: u64, holders: &[HolderKey]) -> Option<(Vec<u8>, Proof)> {
        let own = self.network.own_key();
        let config = self.config();
        // Shards on this node's disk first; the network only when they are not enough.
        let local: Vec<Option<Shard>> = (0..holders.len()).map(|index| store.shard(record.tx_seq, segment, index as u8).ok().flatten()).collect();
        let enough_here = local.iter().flatten().count() >= config.data_shards;
        let held_here = local.clone();
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
        let mut found: Vec<Option<Shard>> = futures::future::join_all(fetches).await;
        self.ask_others_for_missing(record, segment, holders, &mut found).await;
        let record = record.clone();
        let store = store.clone();
        // Decoding and hashing are CPU work: off the async workers.
        tokio::task::spawn_blocking(move || {
            let rebuilt = decode_checked(config, &record, segment, found)?;
            replace_bad_local_shards(config, &store, &record, segment, &rebuilt, &held_here);
            Some(rebuilt)
        })
        .await
        .ok()
        .flatten()
    }

    /// Fills `found` up to `k` shards that check out by asking members other than each shard's
    /// holder, one member at a time (all its missing indices at once), until enough are in.
    async fn ask_others_for_missing(&self, record: &FileRecord, segment: u64, holders: &[HolderKey], found: &mut [Option<Shard>]) {
        let config = self.config();
        // Each shard is checked once: those found first, then each member's answers as they come.
        let checks_out = |index: usize, shard: &Option<Shard>| shard.as_ref().is_some_and(|s| s.index as usize == index && shard_checks_out(config, record, s));
        let mut usable = found.iter().enumerate().filter(|(index, shard)| checks_out(*index, shard)).count();
        if usable >= config.data_shards {
            return;
        }
        let own = self.network.own_key();
        for member in self.setup.members.iter().filter(|member| **member != own) {
            let missing: Vec<usize> = (0..found.len()).filter(|index| found[*index].is_none() && holders.get(*index) != Some(member)).collect();
            if missing.is_empty() {
                continue;
            }
            let fetches = missing.iter().map(|index| self.network.fetch_shard(*member, record.tx_seq, segment, *index as u8));
            let answers = futures::future::join_all(fetches).await;
            for (index, answer) in missing.into_iter().zip(answers) {
                usable += usize::from(checks_out(index, &answer));
                found[index] = answer;
            }
            if usable >= config.data_shards {
                tracing::info!(seq = record.tx_seq, segment, member = %alloy_primitives::hex::encode(&member[..6]), "shards not at their holders came from another member");
                return;
            }
        }
    }

    /// Sends each shard of a segment to its holder (this node's own to disk).
    fn send(&self, store: &ChainStore, events: &crossbeam_channel::Sender<StorageEvent>, (tx_seq, segment): (u64, u64), shards: Vec<Shard>, holders: &[HolderKey]) -> anyhow::Result<()> {
        let own = self.network.own_key();
        for (index, shard) in shards.into_iter().enumerate() {
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

/// Shards on this node's disk that differ from the ones a verified rebuild yields (a parity
/// shard a peer poisoned, a shard damaged on disk) are replaced: the rebuild was checked against
/// the file root, so its shards are the true ones.
fn replace_bad_local_shards(config: ErasureConfig, store: &ChainStore, record: &FileRecord, segment: u64, rebuilt: &(Vec<u8>, Proof), local: &[Option<Shard>]) {
    if local.iter().all(Option::is_none) {
        return;
    }
    let Ok(truth) = cut_shards(config, record, segment, &rebuilt.0, &rebuilt.1) else { return };
    for (held, true_shard) in local.iter().zip(&truth) {
        if let Some(held) = held
            && held.data != true_shard.data
        {
            tracing::warn!(seq = record.tx_seq, segment, index = held.index, "a stored shard does not match the verified rebuild; replacing it");
            metrics::counter!("zgnode_storage_bad_shards_replaced_total").increment(1);
            if let Err(error) = store.replace_shard(true_shard) {
                tracing::error!(%error, "cannot replace a bad shard");
            }
        }
    }
}

/// The storage role's answer to shard traffic (see [`crate::net::ShardService`]): a placed
/// shard is kept only for a published file, within its segments, no bigger than a segment, and
/// (a data shard) when its chunks prove against the file root; a request is answered from kept
/// shards, or by cutting the shard from a segment this node holds whole (it uploaded it, or
/// placement moved).
pub struct StoredShards {
    pub store: ChainStore,
    pub coding: ErasureConfig,
    /// Where kept shards are reported to the storage systems.
    pub events: crossbeam_channel::Sender<StorageEvent>,
}

impl crate::net::ShardService for StoredShards {
    fn keep(&self, shard: &Shard) -> Result<(), crate::net::BadShard> {
        let record = self.store.file(shard.tx_seq).ok().flatten().ok_or(crate::net::BadShard)?;
        let segment_size = merkle::SEGMENT_SIZE;
        let fits = shard.segment < record.data_segments()
            && shard.data.len() <= segment_size
            && shard.segment_len as usize <= segment_size;
        if !fits || !shard_checks_out(self.coding, &record, shard) {
            return Err(crate::net::BadShard);
        }
        match self.store.put_shard(shard) {
            Ok(_) => {
                let _ = self.events.send(StorageEvent::ShardHeld { tx_seq: shard.tx_seq, segment: shard.segment, index: shard.index });
            }
            Err(error) => tracing::warn!(%error, "cannot keep a placed shard"),
        }
        Ok(())
    }

    fn find(&self, tx_seq: u64, segment: u64, index: u8) -> Option<Shard> {
        if let Some(shard) = self.store.shard(tx_seq, segment, index).ok().flatten() {
            return Some(shard);
        }
        let data = self.store.segment(tx_seq, segment).ok().flatten()?;
        let proof = self.store.segment_proof(tx_seq, segment).ok().flatten()?;
        let record = self.store.file(tx_seq).ok().flatten()?;
        // A segment damaged on disk would give shards that rebuild nothing: none are cut from it.
        record.check_segment(segment, &data, &proof).ok()?;
        cut_shards(self.coding, &record, segment, &data, &proof).ok()?.into_iter().nth(index as usize)
    }
}

/// Every shard of a segment (data first, then parity), each carrying the segment's proof so any
/// holder can check a rebuild, and each data shard the chunk-tree nodes it needs to prove its
/// chunks for PoRA.
pub fn cut_shards(config: ErasureConfig, record: &FileRecord, segment: u64, data: &[u8], proof: &Proof) -> Result<Vec<Shard>, erasure::ErasureError> {
    let parity = erasure::encode_parity(config, data)?;
    cut_shards_with_parity(config, record, segment, data, proof, parity)
}

/// [`cut_shards`] with the segment's parity shards already coded (a batch coded them).
pub fn cut_shards_with_parity(config: ErasureConfig, record: &FileRecord, segment: u64, data: &[u8], proof: &Proof, parity: Vec<Vec<u8>>) -> Result<Vec<Shard>, erasure::ErasureError> {
    let mut hashes = merkle::chunk_hashes(data);
    let chunks = hashes.len();
    hashes.resize(shard_proof::segment_width(record, segment).max(chunks), merkle::empty_chunk_hash());
    let tree = merkle::MerkleTree::build(hashes);
    Ok(erasure::segment_shards(config, data, parity)
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

/// Whether a shard placed here is what it claims to be, as far as it alone can show: its index
/// and lengths fit the file and the coding, and a data shard's chunks (with its boundary nodes
/// and the segment's proof) lead to the file root. A parity shard cannot be checked alone; a
/// rebuild checks it (and tries other shards when the result does not match the root).
pub fn shard_checks_out(config: ErasureConfig, record: &FileRecord, shard: &Shard) -> bool {
    // The segment first: everything after multiplies by it (libFuzzer found the overflow).
    if shard.segment >= record.data_segments() || (shard.index as usize) >= config.total() {
        return false;
    }
    let segment_size = merkle::SEGMENT_SIZE as u64;
    let expected_len = record.size.saturating_sub(shard.segment * segment_size).min(segment_size) as usize;
    let whole_chunks = expected_len.div_ceil(merkle::CHUNK_SIZE) * merkle::CHUNK_SIZE;
    let len_ok = shard.segment_len as usize == expected_len || shard.segment_len as usize == whole_chunks;
    if !len_ok || shard.data.len() != config.shard_len(shard.segment_len as usize) {
        return false;
    }
    if (shard.index as usize) >= config.data_shards {
        return true;
    }
    let chunks = (shard.segment_len as usize).div_ceil(merkle::CHUNK_SIZE);
    let range = config.data_shard_chunks(chunks, shard.index as usize);
    if range.is_empty() {
        return shard.data.iter().all(|b| *b == 0);
    }
    let Some(root) = shard_proof::segment_root_from_shard(record, shard.segment, range, &shard.data, &shard.boundary) else {
        return false;
    };
    record.check_segment_root(shard.segment, &root, &shard.segment_proof()).is_ok()
}

/// Runs the storage systems' shard work.
#[derive(Clone)]
pub struct ShardWorker {
    pub placement: ShardPlacement,
    pub store: ChainStore,
    pub events: crossbeam_channel::Sender<StorageEvent>,
    /// With a GPU: placements queue for batched coding (`place_batch`).
    pub place_queue: Option<crossbeam_channel::Sender<place_batch::PlaceJob>>,
    /// The node's erasure accelerator (its GPU, or the CPU).
    pub accelerator: zg_systems::erasure::accel::Accelerator,
}

impl ShardExecutor for ShardWorker {
    fn run(&self, work: ShardWork) {
        let worker = self.clone();
        match work {
            ShardWork::Place { tx_seq, segment, holders } => match &self.place_queue {
                Some(queue) => {
                    let _ = queue.send(place_batch::PlaceJob { tx_seq, segment, holders });
                }
                None => rayon::spawn(move || {
                    let placed = worker.load_segment(tx_seq, segment).and_then(|s| {
                        let shards = cut_shards(worker.placement.config(), &s.record, segment, &s.data, &s.proof)?;
                        worker.send_shards(tx_seq, segment, shards, &holders)
                    });
                    if let Err(error) = placed {
                        // Nothing is lost: the holders' repair rebuilds what did not arrive.
                        tracing::warn!(%error, seq = tx_seq, segment, "placing shards failed");
                    }
                }),
            },
            ShardWork::Repair { tx_seq, segment, wanted, holders } => {
                self.placement.runtime.spawn(async move { worker.repair(tx_seq, segment, wanted, holders).await });
            }
            ShardWork::Audit { tx_seq, first, count, out } => {
                self.placement.runtime.spawn_blocking(move || worker.audit(tx_seq, first, count, out));
            }
        }
    }
}


impl ShardWorker {
    /// With the node's erasure accelerator (a GPU) installed, placements go through one
    /// batching thread so many segments are coded per launch; otherwise nothing changes.
    pub fn with_batched_placement(mut self) -> Self {
        if self.accelerator.installed() {
            let inner = Self { place_queue: None, ..self.clone() };
            match place_batch::start(inner) {
                Ok(queue) => self.place_queue = Some(queue),
                Err(error) => tracing::warn!(%error, "no placement batching thread; placing one segment at a time"),
            }
        }
        self
    }

    /// A stored segment with its file and proof, for placement: refused when it no longer
    /// matches the file root (damaged on disk), so no shard is cut from it.
    pub fn load_segment(&self, tx_seq: u64, segment: u64) -> anyhow::Result<place_batch::Loaded> {
        let data = self.store.segment(tx_seq, segment)?.ok_or_else(|| anyhow::anyhow!("segment {segment} of tx seq {tx_seq} is not stored"))?;
        let proof = self.store.segment_proof(tx_seq, segment)?.ok_or_else(|| anyhow::anyhow!("segment {segment} of tx seq {tx_seq} has no proof"))?;
        let record = self.store.file(tx_seq)?.ok_or_else(|| anyhow::anyhow!("tx seq {tx_seq} is not a published file"))?;
        record.check_segment(segment, &data, &proof).map_err(|error| anyhow::anyhow!("segment {segment} of tx seq {tx_seq} does not match the file root: {error}"))?;
        Ok(place_batch::Loaded { record, segment, data, proof })
    }

    /// Sends a segment's shards to their holders (this node's own to disk).
    pub fn send_shards(&self, tx_seq: u64, segment: u64, shards: Vec<Shard>, holders: &[HolderKey]) -> anyhow::Result<()> {
        self.placement.send(&self.store, &self.events, (tx_seq, segment), shards, holders)
    }

    fn audit(&self, tx_seq: u64, first: u64, count: u64, out: Vec<HolderKey>) {
        let out = out.into_iter().collect();
        let held = match self.store.held_shards(tx_seq, first, first.saturating_add(count)) {
            Ok(held) => held,
            Err(error) => {
                // Nothing found held: what is there is rebuilt again at worst, nothing is missed.
                tracing::warn!(%error, seq = tx_seq, first, "cannot read held shards for an audit");
                Default::default()
            }
        };
        let (through, missing) = zg_systems::storage::shards::audit_range(&self.placement.setup, &out, &held, first, count);
        let _ = self.events.send(StorageEvent::Audited { tx_seq, first, through, missing });
    }

    async fn repair(&self, tx_seq: u64, segment: u64, wanted: Vec<u8>, holders: Vec<HolderKey>) {
        let progress = self.placement.repairs.clone();
        let running = progress.start();
        let done = self.try_repair(tx_seq, segment, &wanted, &holders).await;
        drop(running);
        match done {
            Ok(true) => {
                progress.rebuilt();
                tracing::debug!(seq = tx_seq, segment, ?wanted, "repaired shards");
            }
            Ok(false) => {
                progress.failed();
                let _ = self.events.send(StorageEvent::RepairFailed { tx_seq, segment, wanted });
            }
            Err(error) => {
                progress.failed();
                tracing::warn!(%error, seq = tx_seq, segment, "shard repair failed");
                let _ = self.events.send(StorageEvent::RepairFailed { tx_seq, segment, wanted });
            }
        }
    }

    /// Rebuilds and keeps the wanted shards; false when the segment cannot be restored yet.
    async fn try_repair(&self, tx_seq: u64, segment: u64, wanted: &[u8], holders: &[HolderKey]) -> anyhow::Result<bool> {
        let Some(record) = self.store.file(tx_seq)? else { return Ok(false) };
        // A segment held whole is used only if it still matches the root (a bit flipped on disk
        // must not spread into shards); otherwise the segment is rebuilt from the network.
        let held = match (self.store.segment(tx_seq, segment)?, self.store.segment_proof(tx_seq, segment)?) {
            (Some(data), Some(proof)) if record.check_segment(segment, &data, &proof).is_ok() => Some((data, proof)),
            _ => self.placement.reconstruct(&self.store, &record, segment, holders).await,
        };
        let Some((data, proof)) = held else { return Ok(false) };
        let (config, store, events, wanted) = (self.placement.config(), self.store.clone(), self.events.clone(), wanted.to_vec());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let shards = cut_shards(config, &record, segment, &data, &proof)?;
            for index in wanted {
                let Some(shard) = shards.get(index as usize) else { continue };
                // Cut from a segment checked against the root: it replaces anything stored.
                store.replace_shard(shard)?;
                let _ = events.send(StorageEvent::ShardHeld { tx_seq, segment, index });
            }
            Ok(())
        })
        .await??;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zg_components::storage::merkle::FileCommitment;

    fn file(len: usize) -> (FileRecord, Vec<u8>, FileCommitment) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let commitment = FileCommitment::of(&data);
        (FileRecord::from_commitment(1, &commitment), data, commitment)
    }

    fn segment_of(data: &[u8], commitment: &FileCommitment, segment: u64) -> (Vec<u8>, Proof) {
        commitment.stored_segment(data, segment as usize).unwrap()
    }

    /// A one-segment file coded 2+2: the coding, the record, the segment and its four shards.
    fn one_segment_coded_2_plus_2() -> (ErasureConfig, FileRecord, Vec<u8>, Vec<Shard>) {
        let config = ErasureConfig { data_shards: 2, parity_shards: 2 };
        let (record, data, commitment) = file(merkle::SEGMENT_SIZE);
        let (bytes, proof) = segment_of(&data, &commitment, 0);
        let shards = cut_shards(config, &record, 0, &bytes, &proof).unwrap();
        (config, record, bytes, shards)
    }

    #[test]
    fn a_verified_rebuild_replaces_a_poisoned_shard_on_disk() {
        let (config, record, _, shards) = one_segment_coded_2_plus_2();
        let store = ChainStore::in_memory().unwrap();
        let mut poisoned = shards[3].clone();
        poisoned.data[5] ^= 0xff;
        assert!(store.put_shard(&poisoned).unwrap(), "a peer placed it first");
        assert!(!store.put_shard(&shards[3]).unwrap(), "placement keeps the first");
        let local = vec![None, None, None, Some(poisoned)];
        let found = vec![Some(shards[0].clone()), Some(shards[1].clone()), None, local[3].clone()];
        let rebuilt = decode_checked(config, &record, 0, found).unwrap();
        replace_bad_local_shards(config, &store, &record, 0, &rebuilt, &local);
        assert_eq!(store.shard(1, 0, 3).unwrap().unwrap().data, shards[3].data, "the true shard replaced it");
    }

    #[test]
    fn subsets_cover_every_choice_once() {
        let all: Vec<Vec<usize>> = subsets(&[1, 3, 5, 7], 2).collect();
        assert_eq!(all, vec![vec![1, 3], vec![1, 5], vec![1, 7], vec![3, 5], vec![3, 7], vec![5, 7]]);
        assert_eq!(subsets(&[1], 2).count(), 0);
    }

    #[test]
    fn placed_shards_check_out_and_poisoned_ones_do_not() {
        let config = ErasureConfig { data_shards: 2, parity_shards: 2 };
        let (record, data, commitment) = file(merkle::SEGMENT_SIZE + 5_000);
        for segment in 0..record.data_segments() {
            let (bytes, proof) = segment_of(&data, &commitment, segment);
            let shards = cut_shards(config, &record, segment, &bytes, &proof).unwrap();
            for shard in &shards {
                assert!(shard_checks_out(config, &record, shard), "segment {segment} shard {}", shard.index);
            }
            let mut poisoned = shards[0].clone();
            poisoned.data[10] ^= 1;
            assert!(!shard_checks_out(config, &record, &poisoned), "a flipped data byte");
            let mut short = shards[3].clone();
            short.data.pop();
            assert!(!shard_checks_out(config, &record, &short), "a parity shard of the wrong length");
            let mut elsewhere = shards[1].clone();
            elsewhere.segment = record.data_segments();
            assert!(!shard_checks_out(config, &record, &elsewhere), "a segment the file does not have");
        }
    }

    #[test]
    fn a_rebuild_with_a_poisoned_parity_shard_tries_other_shards() {
        let (config, record, bytes, shards) = one_segment_coded_2_plus_2();
        let mut junk = shards[2].clone();
        junk.data.iter_mut().for_each(|b| *b = b.wrapping_add(1));
        // Data shard 0 lost; parity 2 poisoned: only {1, 3} rebuilds the segment.
        let found = vec![None, Some(shards[1].clone()), Some(junk), Some(shards[3].clone())];
        let (rebuilt, _) = decode_checked(config, &record, 0, found).expect("rebuilt from the honest pair");
        assert_eq!(rebuilt, bytes);
        let hopeless = vec![None, Some(shards[1].clone()), { let mut j = shards[2].clone(); j.data[0] ^= 1; Some(j) }, None];
        assert!(decode_checked(config, &record, 0, hopeless).is_none());
    }
}
