//! Erasure-coded shards as a storage node tracks them: the storage nodes that hold shards
//! (holders), the shards this node is responsible for, and the work handed to the I/O side.

use bevy_ecs::prelude::*;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// A storage node's network key (ed25519), as in `consensus::PeerKey`.
pub type HolderKey = [u8; 32];

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

/// A shard this node is responsible for keeping (an entity per shard).
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct OwnedShard {
    pub tx_seq: u64,
    pub segment: u64,
    pub index: u8,
    pub held: bool,
    /// A rebuild is running on the I/O side.
    pub repairing: bool,
    /// Failed rebuilds in a row (for back-off).
    pub failures: u32,
    /// Milliseconds (tick clock) at which the next rebuild may start; while repairing, when the
    /// running one started.
    pub retry_at: u64,
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

/// Entities of this node's shards by (tx seq, segment, index), and holders by key.
#[derive(Resource, Clone, Debug, Default)]
pub struct ShardIndex {
    pub owned: HashMap<(u64, u64, u8), Entity>,
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
}
