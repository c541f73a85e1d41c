//! Index resources: from addresses and hashes to the entities that hold them.

use alloy_primitives::{Address, B256};
use bevy_ecs::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Resource, Clone, Debug, Default)]
pub struct AccountIndex(pub HashMap<Address, Entity>);

#[derive(Resource, Clone, Debug, Default)]
pub struct BlockIndex {
    pub by_number: BTreeMap<u64, Entity>,
    pub by_hash: HashMap<B256, Entity>,
}

#[derive(Resource, Clone, Debug, Default)]
pub struct MempoolIndex {
    pub by_hash: HashMap<B256, Entity>,
    pub by_sender: HashMap<Address, BTreeMap<u64, Entity>>,
    /// Counts arrivals, so ties break by who came first.
    pub arrivals: u64,
}

impl MempoolIndex {
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}
