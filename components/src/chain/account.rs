//! Accounts as entities: an address, its balance/nonce/code hash, its storage slots and the
//! storage trie that commits to them.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY};
use bevy_ecs::prelude::*;
use std::collections::HashMap;

use super::trie::MerkleTrie;

/// Identifies an account entity; the [`super::AccountIndex`] maps it back.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountAddress(pub Address);

/// The account fields that go into the state trie (with the storage root).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountInfo {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

impl Default for AccountInfo {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, code_hash: KECCAK_EMPTY }
    }
}

impl AccountInfo {
    /// EIP-161: an account with no nonce, balance or code does not exist in the trie.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK_EMPTY
    }

    pub fn has_code(&self) -> bool {
        self.code_hash != KECCAK_EMPTY
    }

    /// The RLP the state trie stores for this account: `[nonce, balance, storage_root, code_hash]`.
    pub fn trie_value(&self, storage_root: B256) -> Vec<u8> {
        #[derive(RlpEncodable)]
        struct TrieAccount {
            nonce: u64,
            balance: U256,
            storage_root: B256,
            code_hash: B256,
        }
        alloy_rlp::encode(TrieAccount {
            nonce: self.nonce,
            balance: self.balance,
            storage_root,
            code_hash: self.code_hash,
        })
    }
}

/// An account's non-zero storage slots and the trie committing to them.
#[derive(Component, Clone, Debug, Default)]
pub struct AccountStorage {
    pub slots: HashMap<U256, U256>,
    pub trie: MerkleTrie,
}

impl AccountStorage {
    pub fn get(&self, slot: &U256) -> U256 {
        self.slots.get(slot).copied().unwrap_or_default()
    }

    /// Writes a slot, keeping slots and trie in step; zero deletes, as in Ethereum.
    pub fn set(&mut self, slot: U256, value: U256) {
        let key = keccak256(slot.to_be_bytes::<32>());
        if value.is_zero() {
            self.slots.remove(&slot);
            self.trie.remove(key);
        } else {
            self.slots.insert(slot, value);
            self.trie.insert(key, alloy_rlp::encode(value));
        }
    }

    pub fn root(&mut self) -> B256 {
        if self.slots.is_empty() { EMPTY_ROOT_HASH } else { self.trie.root() }
    }
}

/// Contract code by hash; shared because identical code is deployed many times.
#[derive(Resource, Clone, Debug, Default)]
pub struct CodeStore {
    pub by_hash: HashMap<B256, Bytes>,
}

/// The world state trie: keccak(address) -> account RLP.
#[derive(Resource, Clone, Debug, Default)]
pub struct StateTrie(pub MerkleTrie);
