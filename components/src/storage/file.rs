//! Files published on the Flow contract, as storage nodes track them.

use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::{BTreeMap, HashMap};

use super::merkle;

/// A `Submit` event: one file appended to the flow.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// The submission index (0G's "txSeq").
    pub tx_seq: u64,
    /// The file's data root.
    pub root: [u8; 32],
    /// Exact size in bytes.
    pub size: u64,
    /// Where it starts in the flow, in sectors.
    pub start_entry_index: u64,
    /// Sectors it occupies in the flow (padded).
    pub sectors: u64,
    /// The submission's pieces: (root, height).
    pub nodes: Vec<([u8; 32], u64)>,
    pub submitter: [u8; 20],
    pub block_number: u64,
    /// The submission's tags (a KV write: `sha256("STREAM")` then the stream ids it touches).
    pub tags: Vec<u8>,
    /// Who sent the transaction (`tx.from`; `submitter` is the Flow's `msg.sender`, a contract
    /// when one submits on a user's behalf): the account a KV write is checked against.
    pub tx_from: [u8; 20],
}

impl FileRecord {
    /// The record a submission of `commitment` at `tx_seq` makes (flow start 0, block 0): what
    /// tests, benches and fuzz targets track without a chain.
    pub fn from_commitment(tx_seq: u64, commitment: &merkle::FileCommitment) -> Self {
        Self {
            tx_seq,
            root: commitment.root().0,
            size: commitment.size,
            start_entry_index: 0,
            sectors: commitment.submission.nodes.iter().map(|(_, height)| 1u64 << height).sum(),
            nodes: commitment.submission.nodes.iter().map(|(root, height)| (root.0, *height)).collect(),
            submitter: [0; 20],
            block_number: 0,
            tags: Vec::new(),
            tx_from: [0; 20],
        }
    }

    pub fn root(&self) -> B256 {
        B256::from(self.root)
    }

    /// Whether `proof` shows `segment_root` as segment `index` of this file.
    pub fn check_segment_root(&self, index: u64, segment_root: &B256, proof: &merkle::Proof) -> Result<(), merkle::ProofError> {
        let position = usize::try_from(index).map_err(|_| merkle::ProofError::WrongPosition)?;
        proof.validate(&self.root(), segment_root, position, self.padded_segments() as usize)
    }

    /// Whether `data` (as stored: last chunk zero-padded) is segment `index` of this file.
    pub fn check_segment(&self, index: u64, data: &[u8], proof: &merkle::Proof) -> Result<(), merkle::ProofError> {
        self.check_segment_root(index, &merkle::segment_root(self.size, index, &merkle::chunk_hashes(data)), proof)
    }

    pub fn submitter(&self) -> Address {
        Address::from(self.submitter)
    }

    /// Segments that carry data (what must be uploaded).
    pub fn data_segments(&self) -> u64 {
        merkle::data_segments(self.size)
    }

    /// Segments of the padded file (the leaves of its root).
    pub fn padded_segments(&self) -> u64 {
        merkle::padded_segments(self.size)
    }
}

/// A published file on a storage node's entity.
#[derive(Component, Clone, Debug)]
pub struct StoredFile {
    pub record: FileRecord,
    pub uploaded_segments: u64,
    pub finalized: bool,
}

/// A segment this node stored whole whose shards are still to be handed out for placement (an
/// entity from the upload until then; only with erasure coding).
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct HeldSegment {
    pub tx_seq: u64,
    pub index: u64,
}

/// Files by submission index and by root (one root may be published more than once).
#[derive(Resource, Clone, Debug, Default)]
pub struct FileIndex {
    pub by_seq: BTreeMap<u64, Entity>,
    pub by_root: HashMap<B256, Vec<u64>>,
}

/// A file published (a Flow `Submit` event) in one of this tick's blocks: tracked by storage,
/// kept by `Persist`.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct FilePublished(pub FileRecord);

/// What the storage node's I/O tells the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageEvent {
    /// A segment of this file was stored durably (for the first time).
    SegmentStored { tx_seq: u64, index: u64 },
    /// A shard is on this node's disk (placed by a peer, by this node, or rebuilt).
    ShardHeld { tx_seq: u64, segment: u64, index: u8 },
    /// Rebuilding these shards of a segment failed (too few shards reachable, or they did not
    /// match the file root).
    RepairFailed { tx_seq: u64, segment: u64, wanted: Vec<u8> },
    /// An audit of segments `first..through` found these segments lacking these shards (the
    /// audit stopped early at `through` when it had found enough to fill the repair queue).
    Audited { tx_seq: u64, first: u64, through: u64, missing: Vec<(u64, Vec<u8>)> },
}

/// The receiving end of the storage I/O channel, drained in `Ingest`.
#[derive(Resource, Clone, Debug)]
pub struct StorageInbox(pub crossbeam_channel::Receiver<StorageEvent>);
