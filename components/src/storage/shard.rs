//! Erasure-coded shards as a storage node tracks them: the storage nodes that hold shards
//! (holders), this node's part in each file (ranges, not shards), the segments it must rebuild,
//! and the work handed to the I/O side.

use bevy_ecs::prelude::*;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// A storage node's network key (ed25519), as in `consensus::PeerKey`.
pub type HolderKey = [u8; 32];

/// A PoRA miner's record that changed in one of this tick's blocks, kept by `Persist`.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct MinerChanged(pub MinerRecord);

/// A PoRA miner as the chain's events describe it: the storage node it registered for, and its
/// latest settled epoch.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct MinerRecord {
    pub miner: [u8; 20],
    pub node: HolderKey,
    /// The latest epoch settled for it, and whether it missed challenges then.
    pub settled: Option<(u64, bool)>,
}

impl MinerRecord {
    pub fn penalized_in(&self) -> Option<u64> {
        self.settled.and_then(|(epoch, missed)| missed.then_some(epoch))
    }
}

/// Every registered PoRA miner by address (persisted with the published files, so standings
/// survive a restart).
#[derive(Resource, Clone, Debug, Default)]
pub struct MinerRecords(pub BTreeMap<[u8; 20], MinerRecord>);

/// How a holder stands with the PoRA contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Passed its last settled epoch, or not settled yet.
    Good,
    /// Missed challenges in a settled epoch: its shards go to other holders.
    Penalized { epoch: u64 },
}

/// One storage node of the network that keeps shards (an entity per member).
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct ShardHolder {
    pub key: HolderKey,
    /// Position in the member ring (members ordered by key).
    pub ring: usize,
    pub standing: Standing,
}

/// This node's part in erasure coding one published file (an entity per file): nothing per
/// segment or shard. Which of its shards this node lacks is found by audits that run off the
/// tick over a bounded range of segments at a time; only what is missing enters the
/// [`RepairQueue`]. A file of 10^7 segments costs this entity and a bounded queue, not 10^7 of
/// anything.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct FileShards {
    pub tx_seq: u64,
    pub segments: u64,
    /// Segments before this one were audited since the last (re)start or placement change.
    pub audited_to: u64,
    /// An audit of the range starting at `audited_to` is running off the tick.
    pub auditing: bool,
}

/// One segment's shards this node should hold and lacks, waiting to be rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRepair {
    pub wanted: Vec<u8>,
    /// Failed rebuilds in a row (for back-off).
    pub failures: u32,
    /// When the next rebuild may start; once one started, when it is given up on.
    pub due_at: u64,
}

/// Segments to rebuild, by (tx seq, segment) and by due time, bounded in size: audits stop
/// (and resume later) while it is full, so its memory never follows the size of the files.
#[derive(Resource, Clone, Debug, Default)]
pub struct RepairQueue {
    pub segments: BTreeMap<(u64, u64), SegmentRepair>,
    pub by_due: BTreeSet<(u64, u64, u64)>,
}

impl RepairQueue {
    /// Most segments queued at once.
    pub const CAPACITY: usize = 4_096;

    pub fn is_full(&self) -> bool {
        self.segments.len() >= Self::CAPACITY
    }

    /// Queues (or merges) wanted shards of a segment, due at `due_at`.
    pub fn add(&mut self, tx_seq: u64, segment: u64, wanted: &[u8], due_at: u64) {
        match self.segments.get_mut(&(tx_seq, segment)) {
            Some(entry) => {
                for index in wanted {
                    if !entry.wanted.contains(index) {
                        entry.wanted.push(*index);
                    }
                }
            }
            None => {
                let entry = SegmentRepair { wanted: wanted.to_vec(), failures: 0, due_at };
                self.segments.insert((tx_seq, segment), entry);
                self.by_due.insert((due_at, tx_seq, segment));
            }
        }
    }

    /// Moves a queued segment's due time.
    pub fn reschedule(&mut self, tx_seq: u64, segment: u64, due_at: u64) {
        if let Some(entry) = self.segments.get_mut(&(tx_seq, segment)) {
            self.by_due.remove(&(entry.due_at, tx_seq, segment));
            entry.due_at = due_at;
            self.by_due.insert((due_at, tx_seq, segment));
        }
    }

    /// A shard arrived: it is no longer wanted (the segment leaves when nothing is).
    pub fn held(&mut self, tx_seq: u64, segment: u64, index: u8) {
        let Some(entry) = self.segments.get_mut(&(tx_seq, segment)) else { return };
        entry.wanted.retain(|w| *w != index);
        if entry.wanted.is_empty() {
            let due_at = entry.due_at;
            self.segments.remove(&(tx_seq, segment));
            self.by_due.remove(&(due_at, tx_seq, segment));
        }
    }

    /// The segments due at `now_ms`, earliest first, at most `limit`.
    pub fn due(&self, now_ms: u64, limit: usize) -> Vec<(u64, u64)> {
        self.by_due.iter().take_while(|(due, _, _)| *due <= now_ms).take(limit).map(|(_, seq, segment)| (*seq, *segment)).collect()
    }
}

/// Erasure coding across the network: on only on nodes configured for it.
#[derive(Resource, Clone, Debug)]
pub struct ShardSetup {
    pub own: HolderKey,
    /// The ring: this node and its peers, ordered by key.
    pub members: Vec<HolderKey>,
    pub data_shards: usize,
    pub parity_shards: usize,
}

impl ShardSetup {
    pub fn total(&self) -> usize {
        self.data_shards + self.parity_shards
    }
}

/// Holder entities by key.
#[derive(Resource, Clone, Debug, Default)]
pub struct ShardIndex {
    pub holders: HashMap<HolderKey, Entity>,
}

/// Holders out of placement, shared with the I/O side (downloads and repairs ask the current
/// holder of a shard). Written only by the storage systems.
#[derive(Resource, Clone, Debug, Default)]
pub struct PlacementView(pub Arc<RwLock<BTreeSet<HolderKey>>>);

impl PlacementView {
    /// The holders out of placement now.
    pub fn out(&self) -> BTreeSet<HolderKey> {
        self.0.read().map(|out| out.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

/// Work for the I/O side: encoding and placing a stored segment's shards, rebuilding shards
/// this node lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardWork {
    /// A segment this node stored whole: encode it and send shard `i` to `holders[i]`.
    Place { tx_seq: u64, segment: u64, holders: Vec<HolderKey> },
    /// Rebuild these shards of a segment from any `k` shards at `holders` (shard `i` asked of
    /// `holders[i]`) and keep them.
    Repair { tx_seq: u64, segment: u64, wanted: Vec<u8>, holders: Vec<HolderKey> },
    /// Find which shards placement gives this node in segments `first..first + count` of a file
    /// it does not hold; answered with `StorageEvent::Audited`.
    Audit { tx_seq: u64, first: u64, count: u64, out: Vec<HolderKey> },
}

/// One shard of a segment with the segment's proof (so a reconstructed segment can be checked
/// against the file root).
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub tx_seq: u64,
    pub segment: u64,
    pub index: u8,
    /// Byte length of the segment the shards were cut from.
    pub segment_len: u32,
    pub data: Vec<u8>,
    pub proof_lemma: Vec<[u8; 32]>,
    pub proof_path: Vec<bool>,
    /// For a data shard: the nodes of the segment's chunk tree (level, index, hash) outside its
    /// chunks that proofs of its chunks need (PoRA). Empty for parity shards.
    pub boundary: Vec<(u8, u16, [u8; 32])>,
}

impl Shard {
    /// The segment's proof to the file root that the shard carries.
    pub fn segment_proof(&self) -> crate::storage::Proof {
        crate::storage::Proof { lemma: self.proof_lemma.iter().map(|h| alloy_primitives::B256::from(*h)).collect(), path: self.proof_path.clone() }
    }
}
